"""Repository for the ``alerts`` rules, their ``alert_incidents`` and the outcome of
their latest notice (``alert_deliveries``)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.rows import set_clause

ALERT_TYPES = ("peer_offline", "interface_down", "transfer_spike")
NOTIFY = ("email", "webhook")
_COLUMNS = "id, type, threshold, notify, target, enabled, created_at, updated_at"
_UPDATABLE = frozenset({"threshold", "notify", "target", "enabled", "updated_at"})


@dataclass(frozen=True)
class Alert:
    """A rule: ``threshold`` is seconds (peer_offline, interface_down) or bytes per hour
    (transfer_spike); ``target`` an e-mail address ("" = the alert_email setting) or a URL."""

    id: int
    type: str
    threshold: int
    notify: str
    target: str
    enabled: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class Incident:
    """One episode of a rule on one subject ("peer:12", "network:3")."""

    id: int
    alert_id: int
    subject: str
    started_at: int
    resolved_at: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryState:
    """How the latest notice of a rule fared: ``sent``, ``retrying`` (an attempt failed,
    another is due) or ``failed`` (given up); ``error`` of the last failed attempt;
    ``sent_at`` of the last notice that got through, if any."""

    alert_id: int
    status: str
    attempts: int
    error: str | None
    attempted_at: int
    sent_at: int | None


def _alert(r: sqlite3.Row) -> Alert:
    return Alert(
        id=r["id"],
        type=r["type"],
        threshold=r["threshold"],
        notify=r["notify"],
        target=r["target"],
        enabled=bool(r["enabled"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _incident(r: sqlite3.Row) -> Incident:
    return Incident(
        id=r["id"],
        alert_id=r["alert_id"],
        subject=r["subject"],
        started_at=r["started_at"],
        resolved_at=r["resolved_at"],
        detail=json.loads(r["detail"] or "{}"),
    )


class AlertRepo:
    # -- rules ------------------------------------------------------------------------------------
    async def all(self, conn: Conn, *, enabled_only: bool = False) -> list[Alert]:
        where = " WHERE enabled = 1" if enabled_only else ""
        return [_alert(r) for r in await conn.fetchall(f"SELECT {_COLUMNS} FROM alerts{where} ORDER BY id")]

    async def get(self, conn: Conn, alert_id: int) -> Alert | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return _alert(r) if r else None

    async def insert(
        self, tx: Tx, *, type: str, threshold: int, notify: str, target: str, enabled: bool, now: int
    ) -> int:
        return await tx.execute(
            "INSERT INTO alerts (type, threshold, notify, target, enabled, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (type, threshold, notify, target, int(enabled), now, now),
        )

    async def update(self, tx: Tx, alert_id: int, changes: dict[str, Any]) -> None:
        values = {k: int(v) if isinstance(v, bool) else v for k, v in changes.items()}
        clause, params = set_clause(values, _UPDATABLE)
        await tx.execute(f"UPDATE alerts SET {clause} WHERE id = ?", [*params, alert_id])

    async def delete(self, tx: Tx, alert_id: int) -> None:
        await tx.execute("DELETE FROM alerts WHERE id = ?", (alert_id,))

    # -- incidents --------------------------------------------------------------------------------
    async def open_incidents(self, conn: Conn) -> list[Incident]:
        rows = await conn.fetchall(
            "SELECT id, alert_id, subject, started_at, resolved_at, detail FROM alert_incidents"
            " WHERE resolved_at IS NULL ORDER BY id"
        )
        return [_incident(r) for r in rows]

    async def incidents(self, conn: Conn, alert_id: int, *, limit: int = 100) -> list[Incident]:
        """Newest first, open and resolved."""
        rows = await conn.fetchall(
            "SELECT id, alert_id, subject, started_at, resolved_at, detail FROM alert_incidents"
            " WHERE alert_id = ? ORDER BY id DESC LIMIT ?",
            (alert_id, limit),
        )
        return [_incident(r) for r in rows]

    async def firing(self, conn: Conn) -> set[int]:
        """Ids of rules with at least one open incident."""
        rows = await conn.fetchall("SELECT DISTINCT alert_id FROM alert_incidents WHERE resolved_at IS NULL")
        return {r[0] for r in rows}

    async def open_incident(
        self, tx: Tx, alert_id: int, subject: str, started_at: int, detail: dict[str, Any]
    ) -> int:
        return await tx.execute(
            "INSERT INTO alert_incidents (alert_id, subject, started_at, detail) VALUES (?, ?, ?, ?)",
            (alert_id, subject, started_at, json.dumps(detail, separators=(",", ":"), default=str)),
        )

    async def resolve(self, tx: Tx, incident_id: int, resolved_at: int) -> None:
        await tx.execute(
            "UPDATE alert_incidents SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
            (resolved_at, incident_id),
        )

    async def resolve_all(self, tx: Tx, alert_id: int, resolved_at: int) -> int:
        """Close every open incident of a rule (it was disabled or changed)."""
        return await tx.execute(
            "UPDATE alert_incidents SET resolved_at = ? WHERE alert_id = ? AND resolved_at IS NULL",
            (resolved_at, alert_id),
        )

    async def prune(self, tx: Tx, before: int) -> int:
        """Delete incidents resolved before ``before``."""
        return await tx.execute(
            "DELETE FROM alert_incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?", (before,)
        )

    # -- deliveries -------------------------------------------------------------------------------
    async def record_delivery(
        self, tx: Tx, alert_id: int, *, status: str, attempts: int, error: str | None, at: int
    ) -> None:
        """The outcome of one attempt to deliver a rule's notice (nothing when the rule
        was deleted meanwhile)."""
        await tx.execute(
            "INSERT INTO alert_deliveries (alert_id, status, attempts, error, attempted_at, sent_at)"
            " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM alerts WHERE id = ?)"
            " ON CONFLICT (alert_id) DO UPDATE SET status = excluded.status,"
            " attempts = excluded.attempts, error = excluded.error,"
            " attempted_at = excluded.attempted_at,"
            " sent_at = COALESCE(excluded.sent_at, alert_deliveries.sent_at)",
            (alert_id, status, attempts, error, at, at if status == "sent" else None, alert_id),
        )

    async def deliveries(self, conn: Conn) -> dict[int, DeliveryState]:
        rows = await conn.fetchall(
            "SELECT alert_id, status, attempts, error, attempted_at, sent_at FROM alert_deliveries"
        )
        return {
            r["alert_id"]: DeliveryState(
                r["alert_id"], r["status"], r["attempts"], r["error"], r["attempted_at"], r["sent_at"]
            )
            for r in rows
        }
