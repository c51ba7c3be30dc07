"""The ``inet wgpilot`` nftables table, applied through libnftables in one batch.

``apply`` first reads the live table and compares the chains and the ordered rule
comments (each rule is tagged with a hash of its expression, see
domain/nftrules.py); only when they differ is the table replaced — by a single
JSON batch ``add table; delete table; add table; chains; rules``, which the
kernel applies atomically or not at all. No other table is ever written.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wgpilot.domain.errors import KernelError
from wgpilot.domain.nftrules import FAMILY, TABLE, Ruleset, rule_tags
from wgpilot.kernel.nftables import Nftables

log = logging.getLogger(__name__)

_CHAINS = {
    "forward": ("filter", "forward", 0, "accept"),
    "postrouting": ("nat", "postrouting", 100, "accept"),
}


class NftFirewall:
    def __init__(self, nft: Nftables | None = None) -> None:
        self._nft = nft
        self._lock = asyncio.Lock()

    def _lib(self) -> Nftables:
        if self._nft is None:
            self._nft = Nftables()
        return self._nft

    async def _run(self, payload: dict[str, Any] | str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._lib().run, payload)

    async def live(self) -> list[dict[str, Any]] | None:
        """The live table as libnftables JSON objects, None when absent."""
        try:
            out = await self._run(f"list table {FAMILY} {TABLE}")
        except KernelError as exc:
            if "No such file" in str(exc) or "does not exist" in str(exc):
                return None
            raise
        return list((out or {}).get("nftables", []))

    @staticmethod
    def matches(live: list[dict[str, Any]], table: Ruleset) -> bool:
        chains: dict[str, tuple[Any, ...]] = {}
        tags: dict[str, list[str | None]] = {}
        for obj in live:
            if "chain" in obj:
                c = obj["chain"]
                chains[c["name"]] = (c.get("type"), c.get("hook"), c.get("prio"), c.get("policy"))
            elif "rule" in obj:
                r = obj["rule"]
                tags.setdefault(r["chain"], []).append(r.get("comment"))
        if chains != _CHAINS or any(obj.get("set") or obj.get("map") for obj in live):
            return False
        want = rule_tags(table)
        return all(tags.get(chain, []) == want.get(chain, []) for chain in _CHAINS)

    async def apply(self, table: Ruleset) -> bool:
        async with self._lock:
            if table.empty:
                return await self._remove()
            live = await self.live()
            if live is not None and self.matches(live, table):
                return False
            await self._run({"nftables": [{"metainfo": {"json_schema_version": 1}}, *table.commands]})
            log.info("firewall table replaced", extra={"rules": sum(table.rule_counts.values())})
            return True

    async def remove(self) -> bool:
        async with self._lock:
            return await self._remove()

    async def _remove(self) -> bool:
        if await self.live() is None:
            return False
        await self._run({"nftables": [{"delete": {"table": {"family": FAMILY, "name": TABLE}}}]})
        log.info("firewall table removed")
        return True

    async def diagnostics(self) -> list[str]:
        """Other tables' forward chains that drop by default block wgpilot's routing."""
        try:
            out = await self._run("list chains")
        except KernelError as exc:
            return [f"cannot read the nftables ruleset: {exc.message}"]
        notes = []
        for obj in (out or {}).get("nftables", []):
            c = obj.get("chain")
            if not c or (c.get("table") == TABLE and c.get("family") == FAMILY):
                continue
            if c.get("hook") == "forward" and c.get("policy") == "drop":
                notes.append(
                    f"table {c['family']} {c['table']} chain {c['name']} drops forwarded traffic "
                    "by default: peers may not reach the internet or each other unless it "
                    "accepts traffic from wgpilot's interfaces"
                )
        return notes
