"""/api/networks and their peers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from wgpilot.domain import render
from wgpilot.services import views
from wgpilot.web import wire
from wgpilot.web.api import ApiRequest, Op
from wgpilot.web.schemas import PAGE, Query, string

NET = "/api/networks/{network_id:id}"
PEER = NET + "/peers/{peer_id:id}"


async def list_networks(req: ApiRequest) -> dict[str, Any]:
    nets = await req.state.networks.all()
    limit, offset = req.query.get("limit", 1000), req.query.get("offset", 0)
    return {"items": [views.network(n) for n in nets[offset : offset + limit]], "total": len(nets)}


async def create_network(req: ApiRequest) -> dict[str, Any]:
    return views.network(await req.state.networks.create(req.actor, **req.body))


async def get_network(req: ApiRequest) -> dict[str, Any]:
    return views.network(await req.state.networks.get(req.params["network_id"]))


async def update_network(req: ApiRequest) -> dict[str, Any]:
    return views.network(await req.state.networks.update(req.actor, req.params["network_id"], **req.body))


async def delete_network(req: ApiRequest) -> None:
    await req.state.networks.delete(req.actor, req.params["network_id"])


async def enable_network(req: ApiRequest) -> dict[str, Any]:
    return views.network(await req.state.networks.set_enabled(req.actor, req.params["network_id"], True))


async def disable_network(req: ApiRequest) -> dict[str, Any]:
    return views.network(await req.state.networks.set_enabled(req.actor, req.params["network_id"], False))


async def list_peers(req: ApiRequest) -> Response:
    q = req.query
    # SQLite writes each peer's JSON; the page is joined, never decoded and re-encoded.
    text = await req.state.peers.page_json(
        req.params["network_id"],
        limit=q.get("limit", 50),
        offset=q.get("offset", 0),
        search=q.get("search"),
        sort=q.get("sort", "id"),
        descending=q.get("order") == "desc",
    )
    return Response(text, media_type="application/json")


async def create_peer(req: ApiRequest) -> dict[str, Any]:
    return views.peer(await req.state.peers.create(req.actor, req.params["network_id"], **req.body))


async def get_peer(req: ApiRequest) -> dict[str, Any]:
    return views.peer(await req.state.peers.get(req.params["network_id"], req.params["peer_id"]))


async def update_peer(req: ApiRequest) -> dict[str, Any]:
    p = await req.state.peers.update(req.actor, req.params["network_id"], req.params["peer_id"], **req.body)
    return views.peer(p)


async def delete_peer(req: ApiRequest) -> None:
    await req.state.peers.delete(req.actor, req.params["network_id"], req.params["peer_id"])


async def enable_peer(req: ApiRequest) -> dict[str, Any]:
    return views.peer(
        await req.state.peers.set_enabled(req.actor, req.params["network_id"], req.params["peer_id"], True)
    )


async def disable_peer(req: ApiRequest) -> dict[str, Any]:
    return views.peer(
        await req.state.peers.set_enabled(req.actor, req.params["network_id"], req.params["peer_id"], False)
    )


async def peer_config(req: ApiRequest) -> Response:
    peer, text = await req.state.peers.client_config(req.params["network_id"], req.params["peer_id"])
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{render.filename(peer.name)}"',
        },
    )


async def peer_qr(req: ApiRequest) -> Response:
    _, text = await req.state.peers.qr_config(req.params["network_id"], req.params["peer_id"])
    if req.query.get("format") == "svg":
        return Response(render.qr_svg(text), media_type="image/svg+xml")
    return Response(render.qr_png(text), media_type="image/png")


PEER_QUERY = Query(
    {
        **PAGE,
        "search": string(max_length=100, description="matches name, address, public key or e-mail"),
        "sort": string(enum=("id", "name", "address", "created_at", "enabled")),
        "order": string(enum=("asc", "desc")),
    }
)
OPS = [
    Op(
        "GET",
        "/api/networks",
        list_networks,
        "List networks",
        "networks",
        query=Query(PAGE),
        response=wire.page("Network"),
    ),
    Op(
        "POST",
        "/api/networks",
        create_network,
        "Create a network and bring it up",
        "networks",
        body=wire.NETWORK_CREATE,
        status=201,
        response=wire.NETWORK,
    ),
    Op("GET", NET, get_network, "One network", "networks", response=wire.NETWORK),
    Op(
        "PUT",
        NET,
        update_network,
        "Change a network",
        "networks",
        body=wire.NETWORK_UPDATE,
        partial=True,
        response=wire.NETWORK,
    ),
    Op(
        "DELETE",
        NET,
        delete_network,
        "Delete a network, its peers, interface and rules",
        "networks",
        status=204,
    ),
    Op("POST", NET + "/enable", enable_network, "Bring a network up", "networks", response=wire.NETWORK),
    Op(
        "POST",
        NET + "/disable",
        disable_network,
        "Take a network down (kept in the database)",
        "networks",
        response=wire.NETWORK,
    ),
    Op(
        "GET",
        NET + "/peers",
        list_peers,
        "List the peers of a network",
        "peers",
        query=PEER_QUERY,
        response=wire.page("Peer"),
    ),
    Op(
        "POST",
        NET + "/peers",
        create_peer,
        "Add a peer",
        "peers",
        body=wire.PEER_CREATE,
        status=201,
        response=wire.PEER,
    ),
    Op("GET", PEER, get_peer, "One peer", "peers", response=wire.PEER),
    Op(
        "PUT",
        PEER,
        update_peer,
        "Change a peer",
        "peers",
        body=wire.PEER_UPDATE,
        partial=True,
        response=wire.PEER,
    ),
    Op("DELETE", PEER, delete_peer, "Remove a peer", "peers", status=204),
    Op(
        "POST", PEER + "/enable", enable_peer, "Put a peer back on its interface", "peers", response=wire.PEER
    ),
    Op("POST", PEER + "/disable", disable_peer, "Take a peer off its interface", "peers", response=wire.PEER),
    Op(
        "GET",
        PEER + "/config",
        peer_config,
        "The peer's client configuration (contains its private key)",
        "peers",
        response="text/plain",
    ),
    Op(
        "GET",
        PEER + "/qr",
        peer_qr,
        "The client configuration as a QR code (409 PEER_KEY_NOT_HELD for a peer that brought its own key)",
        "peers",
        query=Query({"format": string(enum=("png", "svg"))}),
        response="image/png",
    ),
]
