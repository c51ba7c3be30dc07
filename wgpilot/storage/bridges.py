"""Repository for the ``network_bridges`` table."""

from __future__ import annotations

import sqlite3
from typing import Any

from wgpilot.domain.models import Bridge, Direction
from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.rows import dump_list, load_list, set_clause

_COLUMNS = "id, network_a_id, network_b_id, direction, allowed_cidrs, enabled, created_at, updated_at"
_UPDATABLE = frozenset({"direction", "allowed_cidrs", "enabled", "updated_at"})


def _row(r: sqlite3.Row) -> Bridge:
    return Bridge(
        id=r["id"],
        network_a_id=r["network_a_id"],
        network_b_id=r["network_b_id"],
        direction=Direction(r["direction"]),
        allowed_cidrs=load_list(r["allowed_cidrs"]),
        enabled=bool(r["enabled"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


class BridgeRepo:
    async def all(self, conn: Conn) -> list[Bridge]:
        return [_row(r) for r in await conn.fetchall(f"SELECT {_COLUMNS} FROM network_bridges ORDER BY id")]

    async def get(self, conn: Conn, bridge_id: int) -> Bridge | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM network_bridges WHERE id = ?", (bridge_id,))
        return _row(r) if r else None

    async def between(self, conn: Conn, a: int, b: int) -> Bridge | None:
        """The bridge joining networks a and b, in either order."""
        r = await conn.fetchone(
            f"SELECT {_COLUMNS} FROM network_bridges WHERE (network_a_id = ? AND network_b_id = ?)"
            " OR (network_a_id = ? AND network_b_id = ?)",
            (a, b, b, a),
        )
        return _row(r) if r else None

    async def insert(
        self,
        tx: Tx,
        *,
        a: int,
        b: int,
        direction: Direction,
        allowed_cidrs: tuple[str, ...],
        enabled: bool,
        now: int,
    ) -> int:
        return await tx.execute(
            "INSERT INTO network_bridges (network_a_id, network_b_id, direction, allowed_cidrs,"
            " enabled, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
            (a, b, direction.value, dump_list(allowed_cidrs), int(enabled), now, now),
        )

    async def update(self, tx: Tx, bridge_id: int, changes: dict[str, Any]) -> None:
        changes = dict(changes)
        if "allowed_cidrs" in changes:
            changes["allowed_cidrs"] = dump_list(changes["allowed_cidrs"])
        if "direction" in changes:
            changes["direction"] = Direction(changes["direction"]).value
        if "enabled" in changes:
            changes["enabled"] = int(bool(changes["enabled"]))
        clause, values = set_clause(changes, _UPDATABLE)
        await tx.execute(f"UPDATE network_bridges SET {clause} WHERE id = ?", (*values, bridge_id))

    async def delete(self, tx: Tx, bridge_id: int) -> None:
        await tx.execute("DELETE FROM network_bridges WHERE id = ?", (bridge_id,))
