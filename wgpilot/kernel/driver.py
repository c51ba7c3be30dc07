"""The kernel-layer contract. Services and the reconciler talk to WireGuard only
through ``Driver`` and to the packet filter only through ``Firewall``.

Implementations:
    netlink.NetlinkDriver     kernel WireGuard: rtnetlink links + the "wireguard" genl family
    uapi.UserspaceDriver      wireguard-go/boringtun: rtnetlink links + the UAPI socket
    fake.FakeDriver           in memory, for unit and API tests only
    NullDriver (below)        kernel layer disabled ("none"): database-only mode

Keys are base64 strings, CIDRs canonical strings ("10.8.0.2/32"), times unix seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from wgpilot.domain.errors import KernelError
from wgpilot.domain.nftrules import Ruleset

MARK = "wgpilot"  # IFLA_IFALIAS of every link wgpilot created or adopted
# rtnetlink "protocol" of routes wgpilot installs, so it can tell them from others'.
ROUTE_PROTO = 0xF1


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """A peer as wgpilot wants it on the device."""

    public_key: str
    preshared_key: str | None = None
    allowed_ips: tuple[str, ...] = ()
    endpoint: str | None = None
    persistent_keepalive: int | None = None


class PeerState(NamedTuple):
    """A peer as the device reports it. A NamedTuple, not a dataclass: a poll builds
    10 000 of these, and tuples are built several times faster."""

    public_key: str
    preshared_key: str | None
    allowed_ips: tuple[str, ...]
    endpoint: str | None
    persistent_keepalive: int | None
    last_handshake: float  # unix seconds, 0.0 = never
    rx_bytes: int
    tx_bytes: int

    def config(self) -> PeerConfig:
        return PeerConfig(
            self.public_key,
            self.preshared_key,
            self.allowed_ips,
            self.endpoint,
            self.persistent_keepalive,
        )


@dataclass(frozen=True, slots=True)
class DeviceState:
    name: str
    private_key: str | None
    public_key: str | None
    listen_port: int
    fwmark: int
    peers: dict[str, PeerState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkState:
    name: str
    index: int
    kind: str  # "wireguard" (kernel) or "tun" (userspace daemon)
    marked: bool  # carries the wgpilot alias
    up: bool
    mtu: int
    addresses: tuple[str, ...]  # "10.8.0.1/24", "fd00::1/64"


@runtime_checkable
class Driver(Protocol):
    name: str

    async def links(self) -> list[LinkState]:
        """Every WireGuard link on the host (marked or not)."""
        ...

    async def held_names(self) -> set[str]:
        """Interface names a userspace WireGuard daemon holds through a live UAPI socket
        (``/var/run/wireguard/<name>.sock`` with a listener behind it), whichever network
        namespace its link is in: that directory is shared by all of them, so such a name
        cannot be given to a new interface here. A socket file nobody listens on is stale
        and holds nothing."""
        ...

    async def create(self, name: str) -> None:
        """Create a WireGuard link named ``name`` and mark it as wgpilot's."""
        ...

    async def delete(self, name: str) -> None:
        """Delete a link; refuses (KernelError) when it is not marked as wgpilot's."""
        ...

    async def mark(self, name: str) -> None:
        """Adopt an existing link (import): give it the wgpilot alias."""
        ...

    async def unmark(self, name: str) -> None:
        """Give an adopted link back (a failed import): remove the wgpilot alias."""
        ...

    async def set_link(self, name: str, *, addresses: Sequence[str], mtu: int, up: bool) -> None:
        """Converge addresses (add missing, remove others), MTU and admin state."""
        ...

    async def routes(self, name: str) -> list[str]:
        """Destination CIDRs of wgpilot-installed routes through ``name``."""
        ...

    async def set_routes(self, name: str, routes: Sequence[str]) -> None:
        """Converge wgpilot's routes through ``name`` to exactly ``routes``."""
        ...

    async def device(self, name: str) -> DeviceState:
        """Keys, port and every peer with its counters."""
        ...

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
        """Apply a device change in as few kernel operations as possible.

        ``peers`` are upserted (their AllowedIPs replaced), ``remove`` lists public
        keys to drop, ``replace_peers`` makes ``peers`` the complete peer set.
        """
        ...

    async def close(self) -> None: ...


class Firewall(Protocol):
    async def apply(self, table: Ruleset) -> bool:
        """Make ``inet wgpilot`` equal ``table`` (one atomic transaction); True if changed."""
        ...

    async def remove(self) -> bool:
        """Delete the ``inet wgpilot`` table if present; True if it existed."""
        ...

    async def diagnostics(self) -> list[str]:
        """Human-readable findings about the rest of the ruleset (never modified)."""
        ...


class NullDriver:
    """Kernel layer disabled: every query answers "nothing", every change is refused
    loudly by the services before it gets here (they check ``name == "none"``)."""

    name = "none"

    async def links(self) -> list[LinkState]:
        return []

    async def held_names(self) -> set[str]:
        return set()

    async def create(self, name: str) -> None:
        raise KernelError("no WireGuard driver is available (running with --driver none)")

    delete = mark = unmark = create

    async def set_link(self, name: str, *, addresses: Sequence[str], mtu: int, up: bool) -> None:
        raise KernelError("no WireGuard driver is available")

    async def routes(self, name: str) -> list[str]:
        return []

    async def set_routes(self, name: str, routes: Sequence[str]) -> None:
        raise KernelError("no WireGuard driver is available")

    async def device(self, name: str) -> DeviceState:
        raise KernelError("no WireGuard driver is available")

    async def configure(self, name: str, **_: object) -> None:
        raise KernelError("no WireGuard driver is available")

    async def close(self) -> None:
        return None
