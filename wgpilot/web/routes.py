"""The one list of everything the server answers. Tests walk it (every route needs
a session unless it is on the public allow-list) and openapi.py documents it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from wgpilot.web import api_auth, api_bridges, api_monitor, api_networks, api_setup, api_system
from wgpilot.web.api import Endpoint, Op
from wgpilot.web.dispatch import Route
from wgpilot.web.openapi import document
from wgpilot.web.static import StaticUI

OPERATIONS: list[Op] = [
    *api_auth.OPS,
    *api_setup.OPS,
    *api_networks.OPS,
    *api_bridges.OPS,
    *api_system.OPS,
    *api_monitor.OPS,
]


def extend(ops: list[Op]) -> None:
    """Parts that are optional at import time (the monitor) add their operations here."""
    known = {(o.method, o.path) for o in OPERATIONS}
    OPERATIONS.extend(o for o in ops if (o.method, o.path) not in known)


def build(static: StaticUI | None = None) -> list[BaseRoute]:
    spec = document(OPERATIONS)

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(spec)

    routes: list[BaseRoute] = [
        Route(op.path, Endpoint(op), methods=[op.method], name=op.operation_id) for op in OPERATIONS
    ]
    routes.append(Route("/api/openapi.json", openapi, methods=["GET"], name="openapi"))
    files = static or StaticUI()

    async def ui(request: Request) -> Response:
        return await files(request)

    ui.route_path = "static"  # type: ignore[attr-defined]
    openapi.route_path = "/api/openapi.json"  # type: ignore[attr-defined]

    routes.append(Route("/{path:path}", ui, methods=["GET", "HEAD"], name="ui"))
    return routes
