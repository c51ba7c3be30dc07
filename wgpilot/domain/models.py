"""The data model of SPEC §3 as frozen dataclasses.

Secrets are deliberately NOT fields of these models: private and preshared keys
are loaded through separate repository calls (``NetworkRepo.private_key``,
``PeerRepo.secrets``), so a model can be serialised anywhere without leaking a key.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

IPv4Net = ipaddress.IPv4Network
IPv6Net = ipaddress.IPv6Network


class Mode(enum.StrEnum):
    GATEWAY = "gateway"
    SITE_TO_SITE = "site-to-site"
    HUB_ROUTED = "hub-routed"


class Role(enum.StrEnum):
    CLIENT = "client"
    SITE_GATEWAY = "site-gateway"


class Direction(enum.StrEnum):
    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"
    BIDIRECTIONAL = "bidirectional"


# Whether peers of one network may reach each other through the server, when the
# operator does not say: only gateway mode isolates its clients by default.
DEFAULT_INTER_PEER = {Mode.GATEWAY: False, Mode.SITE_TO_SITE: True, Mode.HUB_ROUTED: True}
DEFAULT_NAT = {Mode.GATEWAY: True, Mode.SITE_TO_SITE: False, Mode.HUB_ROUTED: False}
# A new peer gets a preshared key unless its creator says no (API, CLI, wizard, UI alike;
# the API's schema publishes it as the default): a second, symmetric secret hedges the
# handshake against a future break of X25519 at the cost of 32 bytes per peer.
DEFAULT_PRESHARED_KEY = True


@dataclass(frozen=True)
class Network:
    id: int
    name: str
    interface: str
    mode: Mode
    subnet: ipaddress.IPv4Network
    subnet6: ipaddress.IPv6Network | None
    listen_port: int
    public_key: str
    dns_servers: tuple[str, ...]
    mtu: int | None
    nat_enabled: bool
    inter_peer_routing: bool
    enabled: bool
    created_at: int
    updated_at: int

    @property
    def server_address(self) -> ipaddress.IPv4Address:
        from wgpilot.domain.ipam import server_address

        return server_address(self.subnet)

    @property
    def server_address6(self) -> ipaddress.IPv6Address | None:
        from wgpilot.domain.ipam import server_address6

        return server_address6(self.subnet6) if self.subnet6 is not None else None


@dataclass(frozen=True)
class Peer:
    id: int
    network_id: int
    name: str
    email: str | None
    public_key: str
    address: ipaddress.IPv4Address
    address6: ipaddress.IPv6Address | None
    allowed_ips: tuple[str, ...]
    client_allowed_ips: tuple[str, ...]
    endpoint: str | None
    persistent_keepalive: int | None
    role: Role
    site_networks: tuple[str, ...]
    enabled: bool
    expires_at: int | None
    created_at: int
    updated_at: int
    has_private_key: bool = False
    has_preshared_key: bool = False

    def expired(self, now: int) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class PeerSecrets:
    private_key: str | None
    preshared_key: str | None


@dataclass(frozen=True)
class Bridge:
    id: int
    network_a_id: int
    network_b_id: int
    direction: Direction
    allowed_cidrs: tuple[str, ...]
    enabled: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class User:
    id: int
    username: str
    password_hash: str
    role: str
    session_version: int
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class AuditEntry:
    id: int
    timestamp: int
    user_id: int | None
    username: str | None
    action: str
    resource: str
    detail: dict[str, object] = field(default_factory=dict)
    ip_address: str | None = None
    # What the resource is called: its name at the time of the action when the entry
    # recorded one, else its name now; None when neither is known (e.g. deleted long ago).
    resource_name: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who performs a change: recorded in the audit log."""

    user_id: int | None
    username: str
    ip_address: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        return cls(user_id=None, username="cli", ip_address=None)

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, username="system", ip_address=None)
