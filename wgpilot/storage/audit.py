"""Repository for the ``audit_log`` table, and the carrying of an audit trail across
a restore (``carry_over``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from wgpilot.domain.models import Actor, AuditEntry
from wgpilot.storage.db import Conn, Tx

_COLUMNS = "id, timestamp, user_id, username, action, resource, detail, ip_address"
# The name of an entry's resource ("peer:6" → the peer's name): the one the entry
# recorded at the time (detail.name, or detail.username for a user), else the
# resource's current name; for a bridge its two networks, for an alert its type.
_RESOURCE_NAME = """COALESCE(
    json_extract(detail, '$.name'),
    CASE
        WHEN resource LIKE 'peer:%' THEN
            (SELECT name FROM peers WHERE id = CAST(substr(resource, 6) AS INTEGER))
        WHEN resource LIKE 'network:%' THEN
            (SELECT name FROM networks WHERE id = CAST(substr(resource, 9) AS INTEGER))
        WHEN resource LIKE 'user:%' THEN COALESCE(
            json_extract(detail, '$.username'),
            (SELECT username FROM users WHERE id = CAST(substr(resource, 6) AS INTEGER)))
        WHEN resource LIKE 'bridge:%' THEN COALESCE(
            (SELECT a.name || ' \u2013 ' || b.name FROM network_bridges AS x
                JOIN networks AS a ON a.id = x.network_a_id JOIN networks AS b ON b.id = x.network_b_id
                WHERE x.id = CAST(substr(resource, 8) AS INTEGER)),
            (SELECT a.name || ' \u2013 ' || b.name FROM networks AS a, networks AS b
                WHERE a.id = json_extract(detail, '$.network_a_id')
                AND b.id = json_extract(detail, '$.network_b_id')))
        WHEN resource LIKE 'alert:%' THEN COALESCE(
            json_extract(detail, '$.type'),
            (SELECT type FROM alerts WHERE id = CAST(substr(resource, 7) AS INTEGER)))
    END
) AS resource_name"""


def _row(r: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=r["id"],
        timestamp=r["timestamp"],
        user_id=r["user_id"],
        username=r["username"],
        action=r["action"],
        resource=r["resource"],
        detail=json.loads(r["detail"] or "{}"),
        ip_address=r["ip_address"],
        resource_name=r["resource_name"],
    )


def _detail(detail: dict[str, Any]) -> str:
    """Compact, keys sorted, anything unusual (an address object) as its str()."""
    return orjson.dumps(detail, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


class AuditRepo:
    async def record(
        self, tx: Tx, actor: Actor, action: str, resource: str, detail: dict[str, Any], now: int
    ) -> None:
        await self.record_many(tx, [(actor, action, resource, detail, now)])

    async def record_many(
        self, tx: Tx, entries: Iterable[tuple[Actor, str, str, dict[str, Any], int]]
    ) -> None:
        """Several entries in one round trip: (actor, action, resource, detail, time)."""
        await tx.executemany(
            "INSERT INTO audit_log (timestamp, user_id, username, action, resource, detail,"
            " ip_address) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    now,
                    actor.user_id,
                    actor.username,
                    action,
                    resource,
                    _detail(detail),
                    actor.ip_address,
                )
                for actor, action, resource, detail, now in entries
            ],
        )

    @staticmethod
    def _filter(
        since: int | None, until: int | None, action: str | None, resource: str | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(since)
        if until is not None:
            clauses.append("timestamp <= ?")
            params.append(until)
        if action:
            if action.endswith("*") or action.endswith("."):
                clauses.append("action LIKE ?")
                params.append(action.rstrip("*").replace("%", "") + "%")
            else:
                clauses.append("action = ?")
                params.append(action)
        if resource:
            clauses.append("resource = ?")
            params.append(resource)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    async def query(
        self,
        conn: Conn,
        *,
        since: int | None = None,
        until: int | None = None,
        action: str | None = None,
        resource: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AuditEntry], int]:
        where, params = self._filter(since, until, action, resource)
        total = int(await conn.fetchval(f"SELECT COUNT(*) FROM audit_log{where}", params))
        rows = await conn.fetchall(
            f"SELECT {_COLUMNS}, {_RESOURCE_NAME} FROM audit_log{where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_row(r) for r in rows], total


def carry_over(conn: sqlite3.Connection, source: str) -> int:
    """Append to the audit log of ``conn``'s main database every entry of the attached
    database ``source`` (a schema name of the caller's, not input) that main does not
    hold — same id, same content —, oldest first; returns how many. A user id is kept
    where main has that user under the same name and dropped otherwise (the name
    stays): main may number its users differently. A ``source`` without a readable
    audit log (a broken database) carries nothing."""
    wanted = set(_COLUMNS.replace(" ", "").split(","))
    have = {r[0] for r in conn.execute("SELECT name FROM pragma_table_info('audit_log', ?)", (source,))}
    if not wanted <= have:
        return 0
    cur = conn.execute(
        "INSERT INTO main.audit_log (timestamp, user_id, username, action, resource, detail, ip_address)"
        " SELECT s.timestamp,"
        " (SELECT u.id FROM main.users u WHERE u.id = s.user_id AND u.username = s.username),"
        " s.username, s.action, s.resource, s.detail, s.ip_address"
        f" FROM {source}.audit_log s"
        " WHERE NOT EXISTS (SELECT 1 FROM main.audit_log m WHERE m.id = s.id"
        " AND m.timestamp = s.timestamp AND m.action = s.action AND m.resource = s.resource"
        " AND m.detail = s.detail AND m.username IS s.username AND m.ip_address IS s.ip_address)"
        " ORDER BY s.id"
    )
    return int(cur.rowcount)
