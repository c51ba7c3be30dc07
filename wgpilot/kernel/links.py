"""rtnetlink through pyroute2's AsyncIPRoute: links, addresses, MTU, admin state and
wgpilot's own routes. Shared by the netlink and userspace drivers — both kinds of
WireGuard device are ordinary links once they exist.

Link-local IPv6 addresses (the kernel adds one to a TUN device) and routes the
kernel or other programs installed are never touched.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Sequence
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from wgpilot.domain.errors import KernelError
from wgpilot.kernel.driver import MARK, ROUTE_PROTO, LinkState

log = logging.getLogger(__name__)

IFF_UP = 0x1


async def _collect(result: Any) -> list[Any]:
    """pyroute2 answers "dump" with an async iterator and "get" with a list."""
    if hasattr(result, "__aiter__"):
        return [m async for m in result]
    return list(result)


def _canonical(cidr: str) -> str:
    iface = ipaddress.ip_interface(cidr)
    return f"{iface.ip}/{iface.network.prefixlen}"


class Links:
    def __init__(self) -> None:
        self._ipr: AsyncIPRoute | None = None
        self._lock = asyncio.Lock()

    async def _conn(self) -> AsyncIPRoute:
        if self._ipr is None:
            ipr = AsyncIPRoute()
            await ipr.setup_endpoint()
            self._ipr = ipr
        return self._ipr

    async def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def _call(self, what: str, fn: Callable[[AsyncIPRoute], Any]) -> Any:
        async with self._lock:
            ipr = await self._conn()
            try:
                return await fn(ipr)
            except NetlinkError as exc:
                raise KernelError(f"{what}: {exc.args[1] if len(exc.args) > 1 else exc}") from exc

    # -- queries ---------------------------------------------------------------
    async def dump(self, kinds: set[str]) -> list[LinkState]:
        async def run(ipr: AsyncIPRoute) -> list[LinkState]:
            links = [msg async for msg in await ipr.link("dump")]
            addrs: dict[int, list[str]] = {}
            async for a in await ipr.addr("dump"):
                address = a.get("address")
                if address is None:
                    continue
                ip = ipaddress.ip_address(address)
                if ip.is_link_local:
                    continue
                addrs.setdefault(a["index"], []).append(f"{ip}/{a['prefixlen']}")
            out = []
            for msg in links:
                kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
                if kind not in kinds:
                    continue
                out.append(
                    LinkState(
                        name=msg.get("ifname"),
                        index=msg["index"],
                        kind=kind,
                        marked=msg.get("ifalias") == MARK,
                        up=bool(msg["flags"] & IFF_UP),
                        mtu=msg.get("mtu") or 0,
                        addresses=tuple(sorted(addrs.get(msg["index"], []))),
                    )
                )
            return out

        return await self._call("listing links", run)

    async def index(self, name: str) -> int | None:
        found = await self._call(f"looking up {name}", lambda ipr: ipr.link_lookup(ifname=name))
        return found[0] if found else None

    async def require_index(self, name: str) -> int:
        idx = await self.index(name)
        if idx is None:
            raise KernelError(f"interface {name} does not exist")
        return idx

    async def alias(self, name: str) -> str | None:
        async def run(ipr: AsyncIPRoute) -> str | None:
            msgs = await _collect(await ipr.link("get", ifname=name))
            return msgs[0].get("ifalias") if msgs else None

        return await self._call(f"reading {name}", run)

    # -- changes ---------------------------------------------------------------
    async def add_wireguard(self, name: str) -> None:
        await self._call(
            f"creating WireGuard interface {name}",
            lambda ipr: ipr.link("add", ifname=name, kind="wireguard"),
        )

    async def mark(self, name: str) -> None:
        idx = await self.require_index(name)
        await self._call(f"marking {name}", lambda ipr: ipr.link("set", index=idx, ifalias=MARK))

    async def unmark(self, name: str) -> None:
        idx = await self.require_index(name)
        await self._call(f"unmarking {name}", lambda ipr: ipr.link("set", index=idx, ifalias=""))

    async def delete(self, name: str) -> None:
        idx = await self.index(name)
        if idx is None:
            return
        await self._call(f"deleting {name}", lambda ipr: ipr.link("del", index=idx))

    async def set_link(self, name: str, *, addresses: Sequence[str], mtu: int, up: bool) -> None:
        idx = await self.require_index(name)
        want = {_canonical(a) for a in addresses}

        async def run(ipr: AsyncIPRoute) -> None:
            msgs = await _collect(await ipr.link("get", index=idx))
            cur = msgs[0]
            if cur.get("mtu") != mtu:
                await ipr.link("set", index=idx, mtu=mtu)
            have: set[str] = set()
            async for a in await ipr.addr("dump", index=idx):
                address = a.get("address")
                if address is None or ipaddress.ip_address(address).is_link_local:
                    continue
                have.add(f"{ipaddress.ip_address(address)}/{a['prefixlen']}")
            for extra in sorted(have - want):
                ip, plen = extra.split("/")
                await ipr.addr("del", index=idx, address=ip, prefixlen=int(plen))
            for missing in sorted(want - have):
                ip, plen = missing.split("/")
                await ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))
            is_up = bool(cur["flags"] & IFF_UP)
            if is_up != up:
                await ipr.link("set", index=idx, state="up" if up else "down")

        await self._call(f"configuring {name}", run)

    async def routes(self, name: str) -> list[str]:
        idx = await self.index(name)
        if idx is None:
            return []

        async def run(ipr: AsyncIPRoute) -> list[str]:
            out = []
            for family in (2, 10):
                async for r in await ipr.route("dump", family=family, oif=idx):
                    if r["proto"] != ROUTE_PROTO or r.get("oif") != idx:
                        continue
                    out.append(f"{r.get('dst') or ('0.0.0.0' if family == 2 else '::')}/{r['dst_len']}")
            return sorted(out)

        return await self._call(f"listing routes of {name}", run)

    async def set_routes(self, name: str, routes: Sequence[str]) -> None:
        idx = await self.require_index(name)
        want = {str(ipaddress.ip_network(r)) for r in routes}
        have = set(await self.routes(name))

        async def run(ipr: AsyncIPRoute) -> None:
            for extra in sorted(have - want):
                await ipr.route("del", dst=extra, oif=idx, proto=ROUTE_PROTO)
            for missing in sorted(want - have):
                await ipr.route("replace", dst=missing, oif=idx, proto=ROUTE_PROTO)

        if want != have:
            await self._call(f"setting routes of {name}", run)
