"""/api/bridges"""

from __future__ import annotations

from typing import Any

from wgpilot.services import views
from wgpilot.web import wire
from wgpilot.web.api import ApiRequest, Op
from wgpilot.web.schemas import PAGE, Query

ONE = "/api/bridges/{bridge_id:id}"


async def list_bridges(req: ApiRequest) -> dict[str, Any]:
    items = await req.state.bridges.all()
    limit, offset = req.query.get("limit", 1000), req.query.get("offset", 0)
    return {"items": [views.bridge(b) for b in items[offset : offset + limit]], "total": len(items)}


async def create_bridge(req: ApiRequest) -> dict[str, Any]:
    return views.bridge(await req.state.bridges.create(req.actor, **req.body))


async def get_bridge(req: ApiRequest) -> dict[str, Any]:
    return views.bridge(await req.state.bridges.get(req.params["bridge_id"]))


async def update_bridge(req: ApiRequest) -> dict[str, Any]:
    return views.bridge(await req.state.bridges.update(req.actor, req.params["bridge_id"], **req.body))


async def delete_bridge(req: ApiRequest) -> None:
    await req.state.bridges.delete(req.actor, req.params["bridge_id"])


OPS = [
    Op(
        "GET",
        "/api/bridges",
        list_bridges,
        "List bridges",
        "bridges",
        query=Query(PAGE),
        response=wire.page("Bridge"),
    ),
    Op(
        "POST",
        "/api/bridges",
        create_bridge,
        "Bridge two networks",
        "bridges",
        body=wire.BRIDGE_CREATE,
        status=201,
        response=wire.BRIDGE,
    ),
    Op("GET", ONE, get_bridge, "One bridge", "bridges", response=wire.BRIDGE),
    Op(
        "PUT",
        ONE,
        update_bridge,
        "Change a bridge",
        "bridges",
        body=wire.BRIDGE_UPDATE,
        partial=True,
        response=wire.BRIDGE,
    ),
    Op("DELETE", ONE, delete_bridge, "Remove a bridge", "bridges", status=204),
]
