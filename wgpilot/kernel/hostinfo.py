"""Facts about the host that validation needs: its own addresses and free UDP ports."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket

from pyroute2 import AsyncIPRoute


async def host_networks(
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """(interface, network) of every address on the host, except loopback, link-local
    and interfaces in ``exclude`` (wgpilot's own)."""
    out: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    async with AsyncIPRoute() as ipr:
        names = {m["index"]: m.get("ifname") async for m in await ipr.link("dump")}
        async for a in await ipr.addr("dump"):
            address = a.get("address")
            name = names.get(a["index"], "?")
            if address is None or name in exclude:
                continue
            iface = ipaddress.ip_interface(f"{address}/{a['prefixlen']}")
            if iface.ip.is_loopback or iface.ip.is_link_local:
                continue
            out.append((name, iface.network))
    return out


def udp_port_free(port: int) -> bool:
    """True when nothing on this host (in this network namespace) holds UDP ``port``."""
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            continue  # address family not available here
        try:
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
        finally:
            s.close()
    return True


async def port_free(port: int) -> bool:
    return await asyncio.to_thread(udp_port_free, port)


async def default_source_address() -> str | None:
    """The address this host would use to reach the internet (the preferred source
    of the default route), without sending a packet anywhere."""
    async with AsyncIPRoute() as ipr:
        for dst in ("1.1.1.1", "2606:4700:4700::1111"):
            try:
                result = await ipr.route("get", dst=dst)
                routes = [r async for r in result] if hasattr(result, "__aiter__") else list(result)
            except Exception:  # noqa: S112 - no route for this family is a normal answer
                continue
            for r in routes:
                src = r.get("prefsrc")
                if src:
                    return str(src)
    return None


class HostInfo:
    """The real host (this network namespace). Tests pass a stand-in with the same methods."""

    async def networks(
        self, exclude: set[str]
    ) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
        return await host_networks(exclude)

    async def port_free(self, port: int) -> bool:
        return await port_free(port)

    async def public_address(self) -> str | None:
        return await default_source_address()

    async def addresses(self) -> set[str]:
        return await local_addresses()


async def local_addresses() -> set[str]:
    """Every address configured on this host (this network namespace)."""
    out: set[str] = set()
    async with AsyncIPRoute() as ipr:
        async for a in await ipr.addr("dump"):
            address = a.get("address")
            if address:
                out.add(str(ipaddress.ip_address(address)))
    return out
