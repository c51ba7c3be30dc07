"""The live state the poller keeps in memory and everyone else reads: one
``NetworkLive`` per network, holding one ``PeerStatus`` per peer the device reports.

Both are immutable once published. A poll builds new objects and swaps them in with
one assignment, so a reader (``/api/status``, the SSE hub, ``/metrics`` rendering in
a worker thread) always sees one consistent poll, never half of two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from wgpilot.domain.models import Network


class PeerStatus(NamedTuple):
    """The API's "peer status" object (docs/api-contract.md). A NamedTuple: a poll may
    build 10 000 of them and ``_asdict()`` gives the wire shape."""

    peer_id: int
    network_id: int
    public_key: str
    online: bool
    last_handshake: int | None  # unix seconds, None = never
    rx_bytes: int  # cumulative, as the device reports (bytes received from the peer)
    tx_bytes: int  # cumulative, bytes sent to the peer
    rx_rate: float  # bytes/s over the last poll interval
    tx_rate: float
    endpoint: str | None

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class PeerLabel(NamedTuple):
    """What the monitor knows of a peer from the database (for metrics and alerts)."""

    peer_id: int
    name: str
    enabled: bool


_EMPTY: MappingProxyType[int, PeerStatus] = MappingProxyType({})


@dataclass(frozen=True)
class NetworkLive:
    """One network as of one poll. ``peers`` maps peer id → status."""

    network: Network
    polled_at: float
    interface_present: bool = False
    interface_up: bool = False
    error: str | None = None
    down_since: float | None = None  # when an enabled network was first seen down
    peers: MappingProxyType[int, PeerStatus] = field(default_factory=lambda: _EMPTY)
    labels: MappingProxyType[int, PeerLabel] = field(default_factory=lambda: MappingProxyType({}))
    peers_total: int = 0
    peers_enabled: int = 0
    peers_online: int = 0
    generation: int = 0  # bumps whenever a peer status changed; caches key on it

    @property
    def down(self) -> bool:
        """An enabled network whose interface is missing or not up (kernel layer on)."""
        return self.down_since is not None

    @property
    def healthy(self) -> bool:
        return not self.network.enabled or (self.interface_up and self.error is None)

    def totals(self) -> tuple[int, int]:
        rx = tx = 0
        for p in self.peers.values():
            rx += p.rx_bytes
            tx += p.tx_bytes
        return rx, tx

    def as_dict(self) -> dict[str, Any]:
        """The API's network entry of ``GET /api/status``."""
        n = self.network
        rx, tx = self.totals()
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
            "rx_bytes": rx,
            "tx_bytes": tx,
            "error": self.error,
        }


@dataclass(frozen=True)
class LiveState:
    """Everything one poll saw: what ``/api/status``, ``/metrics`` and ``/health`` render."""

    driver: str
    polled_at: float | None = None  # None until the first poll finished
    networks: tuple[NetworkLive, ...] = ()
    foreign_interfaces: tuple[str, ...] = ()
    diagnostics: tuple[str, ...] = ()
    poll_seconds: float = 0.0

    @property
    def kernel_enabled(self) -> bool:
        return self.driver != "none"

    def network(self, network_id: int) -> NetworkLive | None:
        for n in self.networks:
            if n.network.id == network_id:
                return n
        return None

    def as_dict(self) -> dict[str, Any]:
        """The body of ``GET /api/status``."""
        return {
            "driver": self.driver,
            "kernel_enabled": self.kernel_enabled,
            "networks": [n.as_dict() for n in self.networks],
            "peers": [p._asdict() for n in self.networks for p in n.peers.values()],
            "foreign_interfaces": list(self.foreign_interfaces),
            "diagnostics": list(self.diagnostics),
        }
