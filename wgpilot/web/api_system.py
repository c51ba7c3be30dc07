"""Status, settings, TLS, system info, backup/restore, audit log and /health."""

from __future__ import annotations

import os
import platform
import socket
import time
from typing import Any

from starlette.responses import JSONResponse, Response

from wgpilot.domain.errors import ConflictError, RuntimeFailure, UnavailableError
from wgpilot.services import backup_archive, views
from wgpilot.services import status as status_mod
from wgpilot.storage import migrate
from wgpilot.version import info as version_info
from wgpilot.web import wire
from wgpilot.web.api import ApiRequest, Op
from wgpilot.web.schemas import PAGE, Query, integer, string


async def get_status(req: ApiRequest) -> dict[str, Any]:
    if req.state.monitor is not None:
        return await req.state.monitor.status()
    st = await status_mod.collect(
        req.state.ctx, threshold=req.state.settings["monitor.online_threshold"], with_peers=True
    )
    return st.as_dict()


async def get_settings(req: ApiRequest) -> dict[str, Any]:
    return await req.state.settings_svc.view()


async def put_settings(req: ApiRequest) -> dict[str, Any]:
    return await req.state.settings_svc.update(req.actor, req.body)


def _tls(req: ApiRequest) -> Any:
    if req.state.tls is None:
        raise RuntimeFailure("this server process does not manage TLS", code="TLS_UNAVAILABLE")
    return req.state.tls


async def get_tls(req: ApiRequest) -> dict[str, Any]:
    return dict(_tls(req).status())


async def test_tls(req: ApiRequest) -> dict[str, Any]:
    return dict(await _tls(req).test())


async def test_smtp(req: ApiRequest) -> dict[str, Any]:
    if req.state.monitor is None:
        raise UnavailableError("the monitor is not running in this process", code="MONITOR_UNAVAILABLE")
    return dict(await req.state.monitor.send_test_mail(req.body.get("to"), req.actor))


async def system_info(req: ApiRequest) -> dict[str, Any]:
    v = version_info()
    ctx = req.state.ctx
    db_path = req.state.settings.db_path
    size = sum(os.path.getsize(p) for p in (db_path, f"{db_path}-wal") if os.path.exists(p))
    update: dict[str, Any] = {"available": False, "current": v["version"], "latest": None, "checked_at": None}
    if req.state.updates is not None:
        update = dict(req.state.updates.last())
    return {
        "version": v["version"],
        "commit": v["commit"],
        "build_date": v["date"],
        "uptime": int(time.time() - req.state.started_at),
        "driver": ctx.driver.name,
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "database": {
            "path": str(db_path),
            "size_bytes": size,
            "schema_version": await migrate.current_version(ctx.db),
        },
        "update": update,
    }


async def update_check(req: ApiRequest) -> dict[str, Any]:
    if req.state.updates is None:
        raise ConflictError(
            "no update source: this build names no release URL and update.release_url is empty",
            code="UPDATE_NOT_CONFIGURED",
        )
    return dict(await req.state.updates.check())


async def backup(req: ApiRequest) -> Response:
    archive = await req.state.backup.create(req.actor)
    return Response(
        archive.data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{archive.filename}"',
        },
    )


async def restore(req: ApiRequest) -> dict[str, Any]:
    # Streamed: the service writes the archive to disk as it arrives.
    return await req.state.backup.restore(req.actor, req.request.stream())


async def audit_log(req: ApiRequest) -> dict[str, Any]:
    q = req.query
    items, total = await req.state.ctx.audit.query(
        req.state.ctx.db,
        since=q.get("from"),
        until=q.get("to"),
        action=q.get("action"),
        resource=q.get("resource"),
        limit=q.get("limit", 50),
        offset=q.get("offset", 0),
    )
    return {"items": [views.audit(e) for e in items], "total": total}


async def health(req: ApiRequest) -> Response:
    if req.state.monitor is not None:
        doc = await req.state.monitor.health()
    else:
        ctx = req.state.ctx
        st = await status_mod.collect(ctx)
        db_ok = await ctx.db.ping()
        enabled = [n for n in st.networks if n.network.enabled]
        healthy = [n for n in enabled if n.healthy]
        degraded = ctx.driver.name == "none" or not db_ok or len(healthy) < len(enabled)
        doc = {
            "status": "degraded" if degraded else "healthy",
            "version": version_info()["version"],
            "uptime": int(time.time() - req.state.started_at),
            "networks": {"total": len(st.networks), "healthy": len(healthy)},
            "database": "ok" if db_ok else "error",
            "driver": ctx.driver.name,
        }
    return JSONResponse(doc, status_code=200)


AUDIT_QUERY = Query(
    {
        **PAGE,
        "from": integer(minimum=0, description="unix seconds"),
        "to": integer(minimum=0, description="unix seconds"),
        "action": string(max_length=64, description='exact action, or a prefix ending in "*" (e.g. peer.*)'),
        "resource": string(max_length=64, description='e.g. "peer:12"'),
    }
)
OPS = [
    Op(
        "GET",
        "/api/status",
        get_status,
        "Live state of every network and peer",
        "status",
        response=wire.STATUS,
    ),
    Op(
        "GET",
        "/api/settings",
        get_settings,
        "Server settings (secrets redacted)",
        "settings",
        response=wire.SETTINGS,
    ),
    Op(
        "PUT",
        "/api/settings",
        put_settings,
        "Change server settings",
        "settings",
        body=wire.SETTINGS_UPDATE,
        partial=True,
        response=wire.SETTINGS,
    ),
    Op(
        "POST",
        "/api/settings/smtp/test",
        test_smtp,
        "Send a test mail",
        "settings",
        body=wire.SMTP_TEST,
        response=wire.CHECK_RESULT,
    ),
    Op("GET", "/api/settings/tls", get_tls, "TLS certificate status", "settings", response=wire.GENERIC),
    Op(
        "POST",
        "/api/settings/tls/test",
        test_tls,
        "Dry-run the TLS configuration",
        "settings",
        response=wire.CHECK_RESULT,
    ),
    Op(
        "GET",
        "/api/system/info",
        system_info,
        "Version, uptime, database, update status",
        "system",
        response=wire.SYSTEM_INFO,
    ),
    Op(
        "POST",
        "/api/system/update/check",
        update_check,
        "Check for a newer release",
        "system",
        response=wire.GENERIC,
    ),
    Op(
        "POST",
        "/api/system/backup",
        backup,
        "Download a consistent backup (contains the master key)",
        "system",
        response="application/octet-stream",
    ),
    Op(
        "POST",
        "/api/system/restore",
        restore,
        "Restore a backup (validated before anything changes)",
        "system",
        raw_body="application/octet-stream",
        max_body=backup_archive.MAX_ARCHIVE,
        response=wire.RESTORE_RESULT,
    ),
    Op(
        "GET",
        "/api/audit-log",
        audit_log,
        "Audit log, newest first",
        "system",
        query=AUDIT_QUERY,
        response=wire.page("AuditEntry"),
    ),
    Op(
        "GET", "/health", health, "Liveness and health summary", "system", response=wire.HEALTH, auth="public"
    ),
]
