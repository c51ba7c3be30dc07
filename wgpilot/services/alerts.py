"""Alert rule use cases (``/api/alerts``): list, create, change, delete, with field
validation and an audit entry per change. The monitor re-reads the rules when told
through ``ctx.changed("alerts")``.

Views are the API's alert object: the rule plus ``state`` (``firing`` while one of
its incidents is open, else ``ok``) and ``last_delivery``, how its latest notice fared
(null before the first one).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from wgpilot.domain import validate
from wgpilot.domain.errors import NotFoundError, ValidationError
from wgpilot.domain.models import Actor
from wgpilot.services.common import UNSET, Fields
from wgpilot.services.context import Context
from wgpilot.storage.alerts import ALERT_TYPES, NOTIFY, Alert, AlertRepo, DeliveryState
from wgpilot.storage.db import Conn

MAX_SECONDS = 30 * 86400  # thresholds of the time-based rules
MAX_BYTES = 2**53  # JSON-safe integer
MAX_TARGET = 2048


def delivery_view(d: DeliveryState | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "status": d.status,
        "attempts": d.attempts,
        "error": d.error,
        "attempted_at": d.attempted_at,
        "sent_at": d.sent_at,
    }


def alert_view(a: Alert, firing: bool, delivery: DeliveryState | None = None) -> dict[str, Any]:
    return {
        "id": a.id,
        "type": a.type,
        "threshold": a.threshold,
        "notify": a.notify,
        "target": a.target,
        "enabled": a.enabled,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "state": "firing" if firing else "ok",
        "last_delivery": delivery_view(delivery),
    }


def _detail(a: Alert) -> dict[str, Any]:
    return {
        "type": a.type,
        "threshold": a.threshold,
        "notify": a.notify,
        "target": a.target,
        "enabled": a.enabled,
    }


def _type(value: object, field: str = "type") -> str:
    if value not in ALERT_TYPES:
        raise ValidationError.field(field, f"must be one of {', '.join(ALERT_TYPES)}")
    return str(value)


def _notify(value: object, field: str = "notify") -> str:
    if value not in NOTIFY:
        raise ValidationError.field(field, f"must be one of {', '.join(NOTIFY)}")
    return str(value)


def _threshold(value: object, kind: str, field: str = "threshold") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError.field(field, "must be an integer")
    if kind == "transfer_spike":
        if not 1 <= value <= MAX_BYTES:
            raise ValidationError.field(field, "must be a number of bytes per hour, at least 1")
    elif not 0 <= value <= MAX_SECONDS:
        raise ValidationError.field(field, f"must be between 0 and {MAX_SECONDS} seconds")
    return value


def _target(value: object, notify: str, field: str = "target") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError.field(field, "must be a string")
    if len(value) > MAX_TARGET:
        raise ValidationError.field(field, f"must be at most {MAX_TARGET} characters")
    if notify == "email":
        # Empty: mail the alert_email setting.
        return validate.email(value, field) or ""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError.field(field, "must be an http:// or https:// URL")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError.field(field, "must not contain spaces or control characters")
    return value


class AlertService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = AlertRepo()

    async def list(self) -> list[dict[str, Any]]:
        firing = await self.repo.firing(self.ctx.db)
        sent = await self.repo.deliveries(self.ctx.db)
        return [alert_view(a, a.id in firing, sent.get(a.id)) for a in await self.repo.all(self.ctx.db)]

    async def get(self, alert_id: int) -> dict[str, Any]:
        alert = await self._get(self.ctx.db, alert_id)
        sent = await self.repo.deliveries(self.ctx.db)
        return alert_view(alert, alert.id in await self.repo.firing(self.ctx.db), sent.get(alert.id))

    async def _get(self, conn: Conn, alert_id: int) -> Alert:
        alert = await self.repo.get(conn, alert_id)
        if alert is None:
            raise NotFoundError(f"alert {alert_id} does not exist", code="ALERT_NOT_FOUND")
        return alert

    async def create(
        self,
        actor: Actor,
        *,
        type: object,
        threshold: object,
        notify: object,
        target: object = "",
        enabled: object = True,
    ) -> dict[str, Any]:
        f = Fields()
        kind = f.check(_type, type)
        channel = f.check(_notify, notify)
        value = f.check(_threshold, threshold, kind) if kind else None
        dest = f.check(_target, target, channel) if channel else None
        on = f.check(validate.boolean, enabled, "enabled")
        f.raise_if_any()
        assert kind is not None and channel is not None and value is not None
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            aid = await self.repo.insert(
                tx, type=kind, threshold=value, notify=channel, target=dest or "", enabled=bool(on), now=now
            )
            alert = await self._get(tx, aid)
            await self.ctx.audit.record(tx, actor, "alert.create", f"alert:{aid}", _detail(alert), now)
        self.ctx.changed("alerts")
        return alert_view(alert, False)

    async def update(
        self,
        actor: Actor,
        alert_id: int,
        *,
        threshold: object = UNSET,
        notify: object = UNSET,
        target: object = UNSET,
        enabled: object = UNSET,
    ) -> dict[str, Any]:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            old = await self._get(tx, alert_id)
            f = Fields()
            changes: dict[str, Any] = {}
            if threshold is not UNSET:
                changes["threshold"] = f.check(_threshold, threshold, old.type)
            channel = old.notify
            if notify is not UNSET:
                channel = changes["notify"] = f.check(_notify, notify)
            if target is not UNSET or (channel != old.notify and channel is not None):
                # A new channel needs a target of its kind.
                new_target = old.target if target is UNSET else target
                changes["target"] = f.check(_target, new_target, channel) if channel else None
            if enabled is not UNSET:
                changes["enabled"] = f.check(validate.boolean, enabled, "enabled")
            f.raise_if_any()
            changes = {k: v for k, v in changes.items() if getattr(old, k) != v}
            if not changes:
                unchanged = (await self.repo.deliveries(tx)).get(old.id)
                return alert_view(old, old.id in await self.repo.firing(tx), unchanged)
            await self.repo.update(tx, alert_id, {**changes, "updated_at": now})
            if changes.get("enabled") is False or "threshold" in changes:
                # Incidents judged by the old rule end quietly; the new rule starts fresh.
                await self.repo.resolve_all(tx, alert_id, now)
            alert = await self._get(tx, alert_id)
            before, after = _detail(old), _detail(alert)
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            await self.ctx.audit.record(
                tx, actor, "alert.update", f"alert:{alert_id}", {"type": alert.type, "changes": diff}, now
            )
            firing = alert.id in await self.repo.firing(tx)
            delivery = (await self.repo.deliveries(tx)).get(alert.id)
        self.ctx.changed("alerts")
        return alert_view(alert, firing, delivery)

    async def delete(self, actor: Actor, alert_id: int) -> dict[str, Any]:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            alert = await self._get(tx, alert_id)
            await self.repo.delete(tx, alert_id)
            await self.ctx.audit.record(tx, actor, "alert.delete", f"alert:{alert_id}", _detail(alert), now)
        self.ctx.changed("alerts")
        return alert_view(alert, False)
