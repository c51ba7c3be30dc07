"""In-memory driver and firewall for unit and API tests. Same semantics as the real
ones (marking, refusing to delete foreign links, upsert/remove/replace of peers),
plus hooks for tests: inject failures, add foreign links, set counters, and count
the operations performed."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from wgpilot.domain import keys
from wgpilot.domain.errors import KernelError
from wgpilot.domain.nftrules import Ruleset
from wgpilot.kernel.driver import DeviceState, LinkState, PeerConfig, PeerState


@dataclass
class _Dev:
    index: int
    marked: bool
    up: bool = False
    mtu: int = 1420
    addresses: set[str] = field(default_factory=set)
    routes: set[str] = field(default_factory=set)
    private_key: str | None = None
    listen_port: int = 0
    peers: dict[str, PeerState] = field(default_factory=dict)


class FakeDriver:
    name = "fake"

    def __init__(self) -> None:
        self.devs: dict[str, _Dev] = {}
        self.held: set[str] = set()  # names a daemon in another namespace holds (UAPI sockets)
        self.ops: Counter[str] = Counter()
        self.fail_next: dict[str, str] = {}  # operation → error message
        self._next_index = 100

    # -- test hooks ------------------------------------------------------------
    def add_foreign(self, name: str, private_key: str | None = None, port: int = 51820) -> None:
        self._next_index += 1
        self.devs[name] = _Dev(
            self._next_index, marked=False, up=True, private_key=private_key, listen_port=port
        )

    def add_foreign_socket(self, name: str) -> None:
        """A userspace daemon in another network namespace holds ``name``."""
        self.held.add(name)

    def set_stats(self, name: str, public_key: str, *, rx: int, tx: int, handshake: float) -> None:
        dev = self.devs[name]
        dev.peers[public_key] = dev.peers[public_key]._replace(
            rx_bytes=rx, tx_bytes=tx, last_handshake=handshake
        )

    def _op(self, op: str) -> None:
        self.ops[op] += 1
        if op in self.fail_next:
            raise KernelError(self.fail_next.pop(op))

    def _dev(self, name: str) -> _Dev:
        if name not in self.devs:
            raise KernelError(f"interface {name} does not exist")
        return self.devs[name]

    # -- Driver ----------------------------------------------------------------
    async def links(self) -> list[LinkState]:
        return [
            LinkState(n, d.index, "wireguard", d.marked, d.up, d.mtu, tuple(sorted(d.addresses)))
            for n, d in sorted(self.devs.items())
        ]

    async def held_names(self) -> set[str]:
        return set(self.held)

    async def create(self, name: str) -> None:
        self._op("create")
        if name in self.held:
            raise KernelError(f"{name}: a WireGuard process outside this network namespace holds it")
        if name in self.devs:
            if not self.devs[name].marked:
                raise KernelError(f"{name}: an interface with this name exists")
            return
        self._next_index += 1
        self.devs[name] = _Dev(self._next_index, marked=True)

    async def delete(self, name: str) -> None:
        self._op("delete")
        dev = self.devs.get(name)
        if dev is None:
            return
        if not dev.marked:
            raise KernelError(f"{name} is not managed by wgpilot; refusing to delete it")
        del self.devs[name]

    async def mark(self, name: str) -> None:
        self._op("mark")
        self._dev(name).marked = True

    async def unmark(self, name: str) -> None:
        self._op("unmark")
        self._dev(name).marked = False

    async def set_link(self, name: str, *, addresses: Sequence[str], mtu: int, up: bool) -> None:
        self._op("set_link")
        dev = self._dev(name)
        dev.addresses = {str(ipaddress.ip_interface(a)) for a in addresses}
        dev.mtu, dev.up = mtu, up

    async def routes(self, name: str) -> list[str]:
        return sorted(self.devs[name].routes) if name in self.devs else []

    async def set_routes(self, name: str, routes: Sequence[str]) -> None:
        self._op("set_routes")
        self._dev(name).routes = {str(ipaddress.ip_network(r)) for r in routes}

    async def device(self, name: str) -> DeviceState:
        self._op("device")
        dev = self._dev(name)
        pub = keys.public_key(dev.private_key) if dev.private_key else None
        return DeviceState(name, dev.private_key, pub, dev.listen_port, 0, dict(dev.peers))

    async def configure(
        self,
        name: str,
        *,
        private_key: str | None = None,
        listen_port: int | None = None,
        peers: Sequence[PeerConfig] = (),
        remove: Sequence[str] = (),
        replace_peers: bool = False,
    ) -> None:
        self._op("configure")
        dev = self._dev(name)
        if listen_port is not None:
            for other_name, other in self.devs.items():
                if other_name != name and other.listen_port == listen_port:
                    raise KernelError(f"{name}: listen port {listen_port} is already in use")
        if private_key is not None:
            dev.private_key = private_key
        if listen_port is not None:
            dev.listen_port = listen_port
        if replace_peers:
            dev.peers = {}
        for pub in remove:
            dev.peers.pop(pub, None)
        for p in peers:
            old = dev.peers.get(p.public_key)
            dev.peers[p.public_key] = PeerState(
                p.public_key,
                p.preshared_key,
                tuple(p.allowed_ips),
                p.endpoint,
                p.persistent_keepalive or None,
                old.last_handshake if old else 0.0,
                old.rx_bytes if old else 0,
                old.tx_bytes if old else 0,
            )
        self.ops["peers_sent"] += len(peers) + len(remove)

    async def close(self) -> None:
        return None


class FakeFirewall:
    def __init__(self) -> None:
        self.table: Ruleset | None = None
        self.applied = 0
        self.fail_next: str | None = None
        self.foreign: list[str] = []

    async def apply(self, table: Ruleset) -> bool:
        if self.fail_next:
            msg, self.fail_next = self.fail_next, None
            raise KernelError(msg)
        if table.empty:
            return await self.remove()
        if self.table is not None and self.table.digest == table.digest:
            return False
        self.table = table
        self.applied += 1
        return True

    async def remove(self) -> bool:
        existed = self.table is not None
        self.table = None
        return existed

    async def diagnostics(self) -> list[str]:
        return list(self.foreign)
