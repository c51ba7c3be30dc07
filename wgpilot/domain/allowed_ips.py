"""AllowedIPs by mode and role (SPEC §4).

| mode          | server side (the peer's routes)   | client .conf                          |
|---------------|-----------------------------------|---------------------------------------|
| gateway       | peer /32 (+ /128)                 | 0.0.0.0/0, ::/0 — or split CIDRs      |
| site-to-site  | peer /32 (+ /128) + site_networks | subnet(s) + the OTHER sites' networks |
| hub-routed    | peer /32 (+ /128)                 | subnet(s)                             |

A peer's own ``client_allowed_ips`` (split tunnel) replaces the client side in
every mode.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from wgpilot.domain.models import Mode, Network, Peer, Role

FULL_TUNNEL = ("0.0.0.0/0", "::/0")


def server_side(
    address: ipaddress.IPv4Address,
    address6: ipaddress.IPv6Address | None,
    role: Role,
    site_networks: Iterable[str],
) -> tuple[str, ...]:
    out = [f"{address}/32"]
    if address6 is not None:
        out.append(f"{address6}/128")
    if role is Role.SITE_GATEWAY:
        out.extend(site_networks)
    return tuple(out)


def client_side(network: Network, peer: Peer, others: Iterable[Peer]) -> tuple[str, ...]:
    """AllowedIPs written into ``peer``'s own config. ``others`` are the network's
    other peers (only site-to-site needs them)."""
    if peer.client_allowed_ips:
        return peer.client_allowed_ips
    if network.mode is Mode.GATEWAY:
        return FULL_TUNNEL
    out = [str(network.subnet)]
    if network.subnet6 is not None:
        out.append(str(network.subnet6))
    if network.mode is Mode.SITE_TO_SITE:
        for other in others:
            if other.id == peer.id or not other.enabled or other.role is not Role.SITE_GATEWAY:
                continue
            for cidr in other.site_networks:
                if cidr not in out:
                    out.append(cidr)
    return tuple(out)
