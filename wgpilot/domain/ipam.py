"""Address planning: which addresses of a subnet are usable, and who gets which.

Addresses are handed out by *index* inside the subnet. The server always takes
the first usable index; a peer takes the lowest index nobody holds. The IPv6
address of a peer mirrors its IPv4 index inside ``subnet6`` (10.8.0.7 ↔ fd00::7),
which keeps the plan readable and lets one UNIQUE(network_id, ip_index) index in
SQLite guarantee that two concurrent creations can never receive the same address.

Edge cases: IPv4 /31 and IPv6 /127 are point-to-point links (RFC 3021, RFC 6164)
where both addresses are usable; /32 and /128 have no room for a peer and are
refused. The IPv4 network and broadcast addresses and the IPv6 subnet-router
anycast address (index 0) are never handed out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from wgpilot.domain.errors import ExhaustedError, ValidationError

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def usable_range(net: IPNet) -> tuple[int, int]:
    """Inclusive (first, last) usable host index of ``net``; (1, 0) when none."""
    size = net.num_addresses
    if size <= 1:
        return 1, 0
    if size == 2:
        return 0, 1
    if net.version == 4:
        return 1, size - 2
    return 1, size - 1


def server_index(net: IPNet) -> int:
    first, last = usable_range(net)
    if first > last:
        raise ValidationError.field("subnet", f"{net} has no usable address")
    return first


def peer_capacity(net: IPNet) -> int:
    first, last = usable_range(net)
    return max(0, last - first)  # one usable index belongs to the server


def server_address(net: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return net[server_index(net)]


def server_address6(net: ipaddress.IPv6Network) -> ipaddress.IPv6Address:
    return net[server_index(net)]


def address_at(net: IPNet, index: int) -> IPAddr:
    first, last = usable_range(net)
    if not first <= index <= last:
        raise ValueError(f"index {index} outside the usable range of {net}")
    return net[index]


def index_of(net: IPNet, addr: IPAddr) -> int:
    if addr not in net:
        raise ValueError(f"{addr} is not inside {net}")
    return int(addr) - int(net.network_address)


def _exhausted(net: IPNet) -> ExhaustedError:
    return ExhaustedError(f"subnet {net} is full: all {peer_capacity(net)} peer addresses are in use")


def lowest_free(net: IPNet, taken: Iterable[int]) -> int:
    """Lowest usable peer index not in ``taken``; raises ExhaustedError."""
    _first, last = usable_range(net)
    used = set(taken)
    candidate = server_index(net) + 1
    while candidate <= last:
        if candidate not in used:
            return candidate
        candidate += 1
    raise _exhausted(net)


def next_free_if_gapless(net: IPNet, count: int, lowest: int | None, highest: int | None) -> int | None:
    """Allocation fast path: when the ``count`` taken peer indexes form one run that
    starts right after the server's, the lowest free index is ``highest + 1``.
    Returns None when the run has gaps (the caller then looks for the lowest gap)."""
    _first, last = usable_range(net)
    start = server_index(net) + 1
    if count == 0 and lowest is None:
        candidate = start
    elif lowest == start and highest is not None and highest - lowest + 1 == count:
        candidate = highest + 1
    else:
        return None
    if candidate > last:
        raise _exhausted(net)
    return candidate


def mirror6(
    subnet: ipaddress.IPv4Network, subnet6: ipaddress.IPv6Network, addr: ipaddress.IPv4Address
) -> ipaddress.IPv6Address:
    """The IPv6 address that mirrors an IPv4 peer address inside subnet6."""
    return ipaddress.IPv6Address(int(subnet6.network_address) + index_of(subnet, addr))


def overlapping(net: IPNet, others: Iterable[tuple[str, IPNet]]) -> str | None:
    """Name of the first of ``others`` whose network overlaps ``net``; None if none."""
    for label, other in others:
        if other.version == net.version and net.overlaps(other):
            return label
    return None
