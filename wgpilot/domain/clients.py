"""Who a request comes from, for counting: the key that per-client limits (login
attempts, connection caps) are kept under.

An IPv4 client counts by its address. An IPv6 client counts by its /64: one host is
routinely given a whole /64 (SLAAC, privacy addresses), so counting single IPv6
addresses would hand anyone 2^64 fresh identities. An IPv4-mapped IPv6 address
(``::ffff:192.0.2.1``, as a dual-stack socket reports IPv4 peers) is its IPv4
address. Anything that is not an IP address (the local control socket's "local",
a test's host name) counts as itself; no address at all counts as "unknown".
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def client_key(ip: str | None) -> str:
    """The counting key of a client address: IPv4 as is, IPv6 as its /64 network."""
    if not ip:
        return "unknown"
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # a zone (fe80::1%eth0) is not the host
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, IPV6_PREFIX), strict=False))
    return str(addr)


def is_loopback(ip: str) -> bool:
    """The machine itself (127.0.0.0/8, ::1, or IPv4 loopback seen through IPv6)."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback
