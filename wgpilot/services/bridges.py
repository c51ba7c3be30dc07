"""Bridge use cases: let two wgpilot networks reach each other, in one or both
directions, optionally only towards some CIDRs. A bridge is firewall state only:
toggling one rewrites the ``inet wgpilot`` table atomically and nothing else."""

from __future__ import annotations

import sqlite3
from typing import Any

from wgpilot.domain import validate
from wgpilot.domain.errors import NotFoundError
from wgpilot.domain.models import Actor, Bridge
from wgpilot.services.common import UNSET, Fields, integrity_error
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler, Report
from wgpilot.storage.db import Conn, Tx


def bridge_detail(b: Bridge) -> dict[str, Any]:
    return {
        "network_a_id": b.network_a_id,
        "network_b_id": b.network_b_id,
        "direction": b.direction.value,
        "allowed_cidrs": list(b.allowed_cidrs),
        "enabled": b.enabled,
    }


class BridgeService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.reconciler = Reconciler(ctx)

    async def all(self) -> list[Bridge]:
        return await self.ctx.bridges.all(self.ctx.db)

    async def get(self, bridge_id: int) -> Bridge:
        return await self._get(self.ctx.db, bridge_id)

    async def _get(self, conn: Conn, bridge_id: int) -> Bridge:
        b = await self.ctx.bridges.get(conn, bridge_id)
        if b is None:
            raise NotFoundError(f"bridge {bridge_id} does not exist", code="BRIDGE_NOT_FOUND")
        return b

    async def _firewall(self, tx: Tx) -> None:
        if self.ctx.kernel_enabled:
            await self.reconciler.converge_firewall(tx, Report())

    async def create(
        self,
        actor: Actor,
        *,
        network_a_id: object,
        network_b_id: object,
        direction: object = "bidirectional",
        allowed_cidrs: object = None,
        enabled: object = True,
    ) -> Bridge:
        f = Fields()
        for field, value in (("network_a_id", network_a_id), ("network_b_id", network_b_id)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                f.add(field, "must be a network id")
        dir_v = f.check(validate.direction, direction, "direction")
        cidrs = f.check(validate.cidr_list, allowed_cidrs or [], "allowed_cidrs") or ()
        enabled_v = f.check(validate.boolean, enabled, "enabled")
        if not f.errors and network_a_id == network_b_id:
            f.add("network_b_id", "a bridge joins two different networks")
        f.raise_if_any()
        assert isinstance(network_a_id, int) and isinstance(network_b_id, int) and dir_v is not None
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            for field, nid in (("network_a_id", network_a_id), ("network_b_id", network_b_id)):
                if await self.ctx.networks.get(tx, nid) is None:
                    f.add(field, f"network {nid} does not exist")
            if await self.ctx.bridges.between(tx, network_a_id, network_b_id):
                f.add("network_b_id", "these networks are already bridged; edit that bridge instead")
            f.raise_if_any()
            try:
                bid = await self.ctx.bridges.insert(
                    tx,
                    a=network_a_id,
                    b=network_b_id,
                    direction=dir_v,
                    allowed_cidrs=cidrs,
                    enabled=bool(enabled_v),
                    now=now,
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error(exc, {"network_bridges": "network_b_id"}) from exc
            bridge = await self._get(tx, bid)
            await self.ctx.audit.record(
                tx, actor, "bridge.create", f"bridge:{bid}", bridge_detail(bridge), now
            )
            await self._firewall(tx)
        self.ctx.changed("bridges")
        return bridge

    async def update(
        self,
        actor: Actor,
        bridge_id: int,
        *,
        direction: object = UNSET,
        allowed_cidrs: object = UNSET,
        enabled: object = UNSET,
    ) -> Bridge:
        f = Fields()
        changes: dict[str, Any] = {}
        if direction is not UNSET:
            changes["direction"] = f.check(validate.direction, direction, "direction")
        if allowed_cidrs is not UNSET:
            changes["allowed_cidrs"] = f.check(validate.cidr_list, allowed_cidrs or [], "allowed_cidrs")
        if enabled is not UNSET:
            changes["enabled"] = f.check(validate.boolean, enabled, "enabled")
        f.raise_if_any()
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            old = await self._get(tx, bridge_id)
            changes = {k: v for k, v in changes.items() if getattr(old, k) != v}
            if not changes:
                return old
            await self.ctx.bridges.update(tx, bridge_id, {**changes, "updated_at": now})
            bridge = await self._get(tx, bridge_id)
            before, after = bridge_detail(old), bridge_detail(bridge)
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            await self.ctx.audit.record(
                tx, actor, "bridge.update", f"bridge:{bridge_id}", {"changes": diff}, now
            )
            await self._firewall(tx)
        self.ctx.changed("bridges")
        return bridge

    async def delete(self, actor: Actor, bridge_id: int) -> Bridge:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            bridge = await self._get(tx, bridge_id)
            await self.ctx.bridges.delete(tx, bridge_id)
            await self.ctx.audit.record(
                tx, actor, "bridge.delete", f"bridge:{bridge_id}", bridge_detail(bridge), now
            )
            await self._firewall(tx)
        self.ctx.changed("bridges")
        return bridge
