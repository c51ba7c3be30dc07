"""Helpers for the monitor tests: a network with peers on the fake driver, settings
with monitor options, and a way to set a peer's counters."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest

from tests.conftest import Clock
from wgpilot.config import OPTIONS, Settings
from wgpilot.domain.models import Actor, Network, Peer
from wgpilot.kernel.driver import PeerState
from wgpilot.kernel.fake import FakeDriver
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService

ACTOR = Actor.cli()


def settings(**changes: object) -> Settings:
    """Defaults of every option, with ``monitor__poll_interval=…`` style overrides."""
    return Settings({o.key: o.default for o in OPTIONS}, None).replace(**changes)


@dataclass
class Lab:
    ctx: Context
    clock: Clock
    net: Network
    peers: list[Peer]

    @property
    def driver(self) -> FakeDriver:
        return self.ctx.driver  # type: ignore[return-value]

    def stats(self, peer: Peer, *, rx: int = 0, tx: int = 0, handshake: float | None = None) -> None:
        """Set a peer's counters; ``handshake`` seconds ago (None = never)."""
        hs = 0.0 if handshake is None else self.clock.now - handshake
        self.driver.set_stats(self.net.interface, peer.public_key, rx=rx, tx=tx, handshake=hs)


async def make_lab(ctx: Context, clock: Clock, n: int = 2, name: str = "office") -> Lab:
    net = await NetworkService(ctx).create(ACTOR, name=name, subnet="10.8.0.0/24", listen_port=51820)
    svc = PeerService(ctx)
    peers = [await svc.create(ACTOR, net.id, name=f"peer{i}") for i in range(n)]
    return Lab(ctx, clock, net, peers)


async def bulk_peers(ctx: Context, net: Network, n: int) -> list[str]:
    """``n`` peers written straight into the database and the fake device (fast)."""
    now = ctx.now()
    rows = []
    pubs = []
    base = int(ipaddress.IPv4Network("10.100.0.0/16").network_address)
    for i in range(n):
        pub = f"{i:043d}="  # key-shaped; the fake driver never checks it
        pubs.append(pub)
        addr = ipaddress.IPv4Address(base + i + 2)
        rows.append(
            (net.id, f"b{i}", pub, 1000 + i, str(addr), f'["{addr}/32"]', "[]", "client", "[]", 1, now, now)
        )
    async with ctx.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO peers (network_id, name, public_key, ip_index, address, allowed_ips,"
            " client_allowed_ips, role, site_networks, enabled, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    dev = driver.devs[net.interface]
    for i, pub in enumerate(pubs):
        dev.peers[pub] = PeerState(pub, None, (f"{rows[i][4]}/32",), None, None, 0.0, 0, 0)
    return pubs


@pytest.fixture
async def lab(ctx: Context, clock: Clock) -> Lab:
    return await make_lab(ctx, clock)
