"""Server settings an administrator edits (identity, DNS defaults, SMTP, alerts,
update channel). Secrets are write-only: the view says whether one is set."""

from __future__ import annotations

import json
from typing import Any

from wgpilot.domain import validate
from wgpilot.domain.errors import ValidationError
from wgpilot.domain.models import Actor
from wgpilot.services.common import Fields
from wgpilot.services.context import Context
from wgpilot.storage.db import Conn

_PLAIN = ("public_ip", "hostname", "smtp_host", "smtp_username", "smtp_from", "alert_email")


def _smtp_port(value: object, field: str) -> int | None:
    return None if value is None else validate.port(value, field)


def _choice(*allowed: str) -> Any:
    def check(value: object, field: str) -> str:
        if value not in allowed:
            raise ValidationError.field(field, f"must be one of {', '.join(allowed)}")
        return str(value)

    return check


def _optional(fn: Any) -> Any:
    def check(value: object, field: str) -> Any:
        return None if value in (None, "") else fn(value, field)

    return check


VALIDATORS: dict[str, Any] = {
    "public_ip": _optional(validate.public_ip),
    "hostname": _optional(validate.hostname),
    "default_dns": lambda v, f: list(validate.dns_list(v or [], f)),
    "smtp_host": _optional(validate.hostname),
    "smtp_port": _smtp_port,
    "smtp_username": _optional(
        lambda v, f: validate.name(v, f) if "@" not in str(v) else validate.email(v, f)
    ),
    "smtp_password": lambda v, f: v,
    "smtp_from": _optional(validate.email),
    "smtp_security": _choice("starttls", "tls", "none"),
    "alert_email": _optional(validate.email),
    "update_channel": _choice("stable", "beta"),
}


def problems(view: dict[str, Any]) -> list[dict[str, str]]:
    """The saved values today's validation refuses (saved by an older, laxer version),
    each as the field error a PUT of it would get: the Settings page shows where to
    correct them."""
    found: list[dict[str, str]] = []
    for key, check in VALIDATORS.items():
        if key in view:
            try:
                check(view[key], key)
            except ValidationError as exc:
                found += [{"field": e.field, "message": e.message} for e in exc.fields]
    return found


class SettingsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def view(self, conn: Conn | None = None) -> dict[str, Any]:
        conn = conn or self.ctx.db
        s = await self.ctx.settings.all_public(conn)
        port = s.get("smtp_port")
        try:
            dns = json.loads(s.get("default_dns", "[]"))
        except ValueError:
            dns = [s["default_dns"]]  # shown as it is, and listed under problems
        view = {
            **{k: s.get(k) or None for k in _PLAIN},
            "default_dns": dns,
            "smtp_port": int(port) if port else None,
            "smtp_password_set": await self.ctx.settings.has(conn, "smtp_password"),
            "smtp_security": s.get("smtp_security", "starttls"),
            "update_channel": s.get("update_channel", "stable"),
        }
        view["problems"] = problems(view)
        return view

    async def update(self, actor: Actor, changes: dict[str, Any]) -> dict[str, Any]:
        f = Fields()
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in VALIDATORS:
                f.add(key, "unknown setting")
                continue
            clean[key] = f.check(VALIDATORS[key], value, key)
        f.raise_if_any()
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            for key, value in clean.items():
                if value is None:
                    await self.ctx.settings.delete(tx, key)
                elif key == "default_dns":
                    await self.ctx.settings.set(tx, key, json.dumps(value))
                else:
                    await self.ctx.settings.set(tx, key, str(value))
            detail = {k: ("(changed)" if k == "smtp_password" else v) for k, v in clean.items()}
            await self.ctx.audit.record(tx, actor, "settings.update", "settings", detail, now)
            view = await self.view(tx)
        self.ctx.changed("settings")
        return view
