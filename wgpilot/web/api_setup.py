"""/api/setup/*: the first-run wizard. Open before setup completes (step 1 needs the
install token, later steps the session step 1 issued); refused afterwards."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from wgpilot.domain.errors import AuthError
from wgpilot.services import views
from wgpilot.web import wire
from wgpilot.web.api import ApiRequest, Op
from wgpilot.web.api_auth import session_response
from wgpilot.web.state import WebState


async def _not_complete(state: WebState) -> None:
    await state.setup.refuse_if_complete()


async def _require_session(req: ApiRequest) -> None:
    if req.user is None and req.actor.username != "cli":
        raise AuthError("log in (or finish step 1) first", code="UNAUTHORIZED")


async def setup_status(req: ApiRequest) -> dict[str, Any]:
    return await req.state.setup.status()


async def setup_admin(req: ApiRequest) -> Response:
    b = req.body
    local = req.actor.username == "cli" and req.ip == "local"  # the root-only control socket
    token = None if local else b["install_token"]
    session = await req.state.setup.create_admin(token, b["username"], b["password"], req.ip)
    return session_response(req, session, status=201)


async def setup_server(req: ApiRequest) -> dict[str, Any]:
    await _require_session(req)
    b = req.body
    return await req.state.setup.server(req.actor, b["public_ip"], b.get("hostname"), b.get("dns_servers"))


async def setup_network(req: ApiRequest) -> Response:
    await _require_session(req)
    net, created = await req.state.setup.network(req.actor, req.body)
    return JSONResponse(views.network(net), status_code=201 if created else 200)


async def setup_peer(req: ApiRequest) -> Response:
    await _require_session(req)
    peer, config, created = await req.state.setup.peer(req.actor, req.body)
    return JSONResponse({"peer": views.peer(peer), "config": config}, status_code=201 if created else 200)


async def setup_import(req: ApiRequest) -> Response:
    await _require_session(req)
    nets, warnings = await req.state.setup.import_existing(
        req.actor, req.body.get("interfaces"), req.body.get("files")
    )
    return JSONResponse({"networks": [views.network(n) for n in nets], "warnings": warnings}, status_code=201)


OPS = [
    Op(
        "GET",
        "/api/setup/status",
        setup_status,
        "Which setup steps are done",
        "setup",
        response=wire.SETUP_STATUS,
        auth="public",
    ),
    Op(
        "POST",
        "/api/setup/admin",
        setup_admin,
        "Step 1: install token + first administrator",
        "setup",
        body=wire.SETUP_ADMIN,
        status=201,
        response=wire.SESSION,
        auth="public",
        precheck=_not_complete,
    ),
    Op(
        "PUT",
        "/api/setup/server",
        setup_server,
        "Step 2: server identity",
        "setup",
        body=wire.SETUP_SERVER,
        response=wire.SETTINGS,
        auth="setup",
        precheck=_not_complete,
    ),
    Op(
        "POST",
        "/api/setup/network",
        setup_network,
        "Step 3: first network",
        "setup",
        body=wire.NETWORK_CREATE,
        status=201,
        response=wire.NETWORK,
        auth="setup",
        precheck=_not_complete,
    ),
    Op(
        "POST",
        "/api/setup/peer",
        setup_peer,
        "Step 4: first peer and its config; completes setup",
        "setup",
        body=wire.SETUP_PEER,
        status=201,
        response=wire.PEER_WITH_CONFIG,
        auth="setup",
        precheck=_not_complete,
    ),
    Op(
        "POST",
        "/api/setup/import",
        setup_import,
        "Import existing WireGuard interfaces and wg-quick files",
        "setup",
        body=wire.SETUP_IMPORT,
        status=201,
        response=wire.IMPORT_RESULT,
        auth="setup",
        precheck=_not_complete,
    ),
]
