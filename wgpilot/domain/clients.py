"""Who a client is, for limits counted per client (connections, event streams, sign-in
attempts): one key per IPv4 address and one per IPv6 /64, the smallest network a
site is given, so one host cannot multiply itself by changing the low bits of its
address. An IPv4 client seen through a dual-stack socket (``::ffff:192.0.2.7``) is
its IPv4 address."""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def client_key(ip: str) -> str:
    """``"192.0.2.7"`` → itself; ``"2001:db8:1:2::7"`` → ``"2001:db8:1:2::/64"``;
    anything that is not an address (``"local"``, the control socket) → unchanged."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # without an IPv6 zone
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
