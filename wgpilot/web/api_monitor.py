"""Live monitoring over HTTP (SPEC §9): the per-network SSE stream, transfer
statistics, alert rules and the Prometheus ``/metrics`` scrape."""

from __future__ import annotations

from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.responses import Response

from wgpilot.domain.clients import client_key
from wgpilot.domain.errors import AuthError, UnavailableError
from wgpilot.monitor.hub import Subscription
from wgpilot.monitor.metrics import CONTENT_TYPE
from wgpilot.services import metrics_access
from wgpilot.services.alerts import AlertService
from wgpilot.web import wire
from wgpilot.web.api import ApiRequest, Op
from wgpilot.web.schemas import PAGE, Query, integer, string

NETWORK = "/api/networks/{network_id:id}"
ONE_ALERT = "/api/alerts/{alert_id:id}"


def _monitor(req: ApiRequest) -> Any:
    if req.state.monitor is None:
        raise UnavailableError("the monitor is not running in this process", code="MONITOR_UNAVAILABLE")
    return req.state.monitor


def _stream(sub: Subscription) -> Response:
    # X-Accel-Buffering: a reverse proxy in front must pass events through at once.
    return EventSourceResponse(
        sub.sse(), ping=None, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def _client(req: ApiRequest) -> str | None:
    """The stream's client for the per-address cap; the local CLI is not capped."""
    return None if req.ip in (None, "local") else client_key(req.ip)


async def network_events(req: ApiRequest) -> Response:
    return _stream(await _monitor(req).subscribe(req.params["network_id"], _client(req)))


async def all_events(req: ApiRequest) -> Response:
    return _stream(await _monitor(req).subscribe_all(_client(req)))


async def network_stats(req: ApiRequest) -> dict[str, Any]:
    q = req.query
    return dict(
        await _monitor(req).stats(
            req.params["network_id"],
            start=q.get("from"),
            end=q.get("to"),
            granularity=q.get("granularity", "hour"),
            peer_id=q.get("peer_id"),
        )
    )


def _alerts(req: ApiRequest) -> AlertService:
    return req.state.alerts


async def list_alerts(req: ApiRequest) -> dict[str, Any]:
    items = await _alerts(req).list()
    limit, offset = req.query.get("limit", 1000), req.query.get("offset", 0)
    return {"items": items[offset : offset + limit], "total": len(items)}


async def create_alert(req: ApiRequest) -> dict[str, Any]:
    return await _alerts(req).create(req.actor, **req.body)


async def get_alert(req: ApiRequest) -> dict[str, Any]:
    return await _alerts(req).get(req.params["alert_id"])


async def update_alert(req: ApiRequest) -> dict[str, Any]:
    return await _alerts(req).update(req.actor, req.params["alert_id"], **req.body)


async def delete_alert(req: ApiRequest) -> None:
    await _alerts(req).delete(req.actor, req.params["alert_id"])


async def metrics(req: ApiRequest) -> Response:
    configured = req.state.settings["metrics.token"]
    if not await metrics_access.accepts(req.state.ctx, configured, req.request.headers.get("authorization")):
        raise AuthError(
            "/metrics needs Authorization: Bearer <token>: the metrics token shown in Settings "
            "(or metrics.token from the configuration)",
            challenge="Bearer",
        )
    body = await _monitor(req).render_metrics()
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


async def metrics_token(req: ApiRequest) -> dict[str, Any]:
    return await metrics_access.view(req.state.ctx, req.state.settings["metrics.token"])


STATS_QUERY = Query(
    {
        "from": integer(minimum=0, description="unix seconds (default: one span before to)"),
        "to": integer(minimum=0, description="unix seconds (default: now)"),
        "granularity": string(enum=("raw", "hour", "day"), description="bucket size (default hour)"),
        "peer_id": integer(minimum=1, description="one peer of this network"),
    }
)

OPS = [
    Op(
        "GET",
        "/api/events",
        all_events,
        "Live peer status of every network in one stream (peers carry network_id)",
        "monitoring",
        response="text/event-stream",
    ),
    Op(
        "GET",
        f"{NETWORK}/events",
        network_events,
        "Live peer status (Server-Sent Events: snapshot, status, heartbeat)",
        "monitoring",
        response="text/event-stream",
    ),
    Op(
        "GET",
        f"{NETWORK}/stats",
        network_stats,
        "Bytes transferred per bucket",
        "monitoring",
        query=STATS_QUERY,
        response=wire.STATS,
    ),
    Op(
        "GET",
        "/api/alerts",
        list_alerts,
        "Alert rules",
        "monitoring",
        query=Query(PAGE),
        response=wire.page("Alert"),
    ),
    Op(
        "POST",
        "/api/alerts",
        create_alert,
        "Create an alert rule",
        "monitoring",
        body=wire.ALERT_CREATE,
        status=201,
        response=wire.ALERT,
    ),
    Op("GET", ONE_ALERT, get_alert, "One alert rule", "monitoring", response=wire.ALERT),
    Op(
        "PUT",
        ONE_ALERT,
        update_alert,
        "Change an alert rule",
        "monitoring",
        body=wire.ALERT_UPDATE,
        partial=True,
        response=wire.ALERT,
    ),
    Op("DELETE", ONE_ALERT, delete_alert, "Delete an alert rule", "monitoring", status=204),
    Op(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics (Authorization: Bearer <metrics token>)",
        "monitoring",
        response=CONTENT_TYPE.split(";")[0],
        auth="bearer",
    ),
    Op(
        "GET",
        "/api/settings/metrics-token",
        metrics_token,
        "The bearer token /metrics requires (null when metrics.token in the configuration sets it)",
        "settings",
        response=wire.METRICS_TOKEN,
    ),
]
