"""Live state: every network's interface and peers as the kernel reports them,
joined with the database, plus host diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wgpilot.domain.errors import WgpilotError
from wgpilot.domain.models import Network
from wgpilot.kernel.driver import DeviceState, PeerState
from wgpilot.services.context import Context

ONLINE_THRESHOLD = 180


@dataclass
class NetworkStatus:
    network: Network
    interface_present: bool = False
    interface_up: bool = False
    peers_total: int = 0
    peers_enabled: int = 0
    peers_online: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    error: str | None = None

    @property
    def healthy(self) -> bool:
        return not self.network.enabled or (self.interface_up and self.error is None)

    def as_dict(self) -> dict[str, Any]:
        n = self.network
        return {
            "id": n.id,
            "name": n.name,
            "interface": n.interface,
            "mode": n.mode.value,
            "enabled": n.enabled,
            "listen_port": n.listen_port,
            "interface_present": self.interface_present,
            "interface_up": self.interface_up,
            "healthy": self.healthy,
            "peers_total": self.peers_total,
            "peers_enabled": self.peers_enabled,
            "peers_online": self.peers_online,
            "rx_bytes": self.rx_bytes,
            "tx_bytes": self.tx_bytes,
            "error": self.error,
        }


@dataclass
class Status:
    driver: str
    networks: list[NetworkStatus] = field(default_factory=list)
    foreign_interfaces: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    peers: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "kernel_enabled": self.driver != "none",
            "networks": [n.as_dict() for n in self.networks],
            "peers": self.peers,
            "foreign_interfaces": self.foreign_interfaces,
            "diagnostics": self.diagnostics,
        }


def online(last_handshake: float, now: float, threshold: int = ONLINE_THRESHOLD) -> bool:
    return last_handshake > 0 and now - last_handshake < threshold


def peer_status(
    peer_id: int, network_id: int, p: PeerState, is_online: bool, rx_rate: float = 0.0, tx_rate: float = 0.0
) -> dict[str, Any]:
    """The API's "peer status" object."""
    return {
        "peer_id": peer_id,
        "network_id": network_id,
        "public_key": p.public_key,
        "online": is_online,
        "last_handshake": int(p.last_handshake) if p.last_handshake else None,
        "rx_bytes": p.rx_bytes,
        "tx_bytes": p.tx_bytes,
        "rx_rate": rx_rate,
        "tx_rate": tx_rate,
        "endpoint": p.endpoint,
    }


async def collect(ctx: Context, *, threshold: int = ONLINE_THRESHOLD, with_peers: bool = False) -> Status:
    status = Status(driver=ctx.driver.name)
    now = ctx.clock()
    counts = await ctx.peers.counts_by_network(ctx.db)
    links = {link.name: link for link in await ctx.driver.links()} if ctx.kernel_enabled else {}
    nets = await ctx.networks.all(ctx.db)
    ours = {n.interface for n in nets}
    status.foreign_interfaces = sorted(
        name for name, link in links.items() if not link.marked and name not in ours
    )
    for net in nets:
        ns = NetworkStatus(net)
        ns.peers_total, ns.peers_enabled = counts.get(net.id, (0, 0))
        link = links.get(net.interface)
        if link is not None:
            ns.interface_present, ns.interface_up = True, link.up
            if not link.marked:
                ns.error = f"{net.interface} exists but is not managed by wgpilot"
            else:
                try:
                    dev: DeviceState = await ctx.driver.device(net.interface)
                    ids = await ctx.peers.ids_by_key(ctx.db, net.id)
                    for p in dev.peers.values():
                        ns.rx_bytes += p.rx_bytes
                        ns.tx_bytes += p.tx_bytes
                        is_online = online(p.last_handshake, now, threshold)
                        if is_online:
                            ns.peers_online += 1
                        if with_peers and p.public_key in ids:
                            status.peers.append(peer_status(ids[p.public_key], net.id, p, is_online))
                except WgpilotError as exc:
                    ns.error = exc.message
        elif net.enabled and ctx.kernel_enabled:
            ns.error = f"{net.interface} is missing"
        status.networks.append(ns)
    if not ctx.kernel_enabled:
        status.diagnostics.append(
            "kernel layer disabled: no WireGuard driver (install wireguard-go or load the "
            "wireguard kernel module); changes are stored but not applied"
        )
    else:
        try:
            status.diagnostics.extend(await ctx.firewall.diagnostics())
        except WgpilotError as exc:
            status.diagnostics.append(exc.message)
    return status
