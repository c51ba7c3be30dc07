"""Servers for bench/api.py: ``wgpilot`` (the real app, real SQLite, N peers, fake
kernel) served as `wgpilot serve` serves it (web/server.py: its TLS listener and
connection guard on uvicorn), or ``bare`` (one Starlette JSON endpoint returning a list
of the same size) on plain uvicorn + TLS. Prints "READY port token"."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import FakeHost, FakeSysctl
from wgpilot import config
from wgpilot.domain import keys
from wgpilot.domain.models import Actor
from wgpilot.kernel.fake import FakeDriver, FakeFirewall
from wgpilot.runtime import open_database, settle_heap
from wgpilot.services import setup_state
from wgpilot.services.auth import Backoff, RateLimiter
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler
from wgpilot.tls.manager import TlsManager
from wgpilot.web.app import create_app
from wgpilot.web.connections import Limits
from wgpilot.web.server import WebServer
from wgpilot.web.state import WebState


async def wgpilot_app(data: Path, peers: int) -> tuple[object, str, object]:
    settings = config.load(None, env={"WGPILOT_DATA_DIR": str(data), "WGPILOT_AUTH_BCRYPT_COST": "4",
                                      "WGPILOT_TLS_HTTP_PORT": "0", "WGPILOT_LOG_LEVEL": "warning"})
    db, cipher = await open_database(settings)
    ctx = Context(db=db, cipher=cipher, driver=FakeDriver(), firewall=FakeFirewall(), host=FakeHost(),
                  sysctl=FakeSysctl())  # type: ignore[arg-type]
    state = WebState(ctx, settings)
    state.auth.limiter = RateLimiter(limit=10**9)
    state.auth.backoff = Backoff(free=10**9)
    token = await setup_state.issue_install_token(ctx)
    session = await state.setup.create_admin(token, "admin", "bench password 1", "127.0.0.1")
    actor = Actor(session.user.id, "admin", "127.0.0.1")
    await state.setup.server(actor, "203.0.113.10", None, [])
    net, _ = await state.setup.network(actor, {"name": "bench", "subnet": "10.64.0.0/10"})
    now = ctx.now()
    async with ctx.db.transaction() as tx:
        rows = []
        for i in range(peers):
            priv, pub = keys.generate_keypair()
            addr = ipaddress.IPv4Address(int(net.subnet.network_address) + i + 2)
            rows.append((net.id, f"p{i}", None, cipher.encrypt(priv, "peer.private_key"), pub, None, i + 2, str(addr),
                         None, f'["{addr}/32"]', "[]", None, None, "client", "[]", 1, None, now, now))
        await tx.executemany(
            "INSERT INTO peers (network_id, name, email, private_key, public_key, preshared_key, ip_index, address,"
            " address6, allowed_ips, client_allowed_ips, endpoint, persistent_keepalive, role, site_networks, enabled,"
            " expires_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        await ctx.settings.set(tx, "setup_complete", "1")
    await Reconciler(ctx).reconcile_all()  # the fake kernel holds all peers, as a real one would
    state.tls = TlsManager(settings)
    return create_app(state), session.token, await state.tls.prepare()


def bare_app(peers: int) -> Starlette:
    item = {"id": 1, "network_id": 1, "name": "p1", "email": None, "public_key": "x" * 44, "address": "10.64.0.2",
            "address6": None, "allowed_ips": ["10.64.0.2/32"], "client_allowed_ips": [], "endpoint": None,
            "persistent_keepalive": None, "role": "client", "site_networks": [], "enabled": True, "expires_at": None,
            "has_private_key": True, "preshared_key": False, "created_at": 0, "updated_at": 0}

    async def page(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"items": [item] * 100, "total": peers})

    async def create(request):  # type: ignore[no-untyped-def]
        await request.json()
        return JSONResponse(item, status_code=201)

    return Starlette(routes=[Route("/api/networks/1/peers", page, methods=["GET"]),
                             Route("/api/networks/1/peers", create, methods=["POST"])])


async def main(kind: str, data: Path, peers: int) -> None:
    if kind == "wgpilot":
        app, token, ssl_context = await wgpilot_app(data, peers)
        # Every wrk connection comes from one address: no per-address cap in the way.
        limits = Limits(max_connections=4096, max_per_client=4096)
        web = WebServer(app, ssl_context, "127.0.0.1:0", data / "wgpilot.sock", limits)  # type: ignore[arg-type]
        web.on_bound.append(lambda address: print(f"READY {address[1]} {token}", flush=True))
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, web.stop)
        settle_heap()  # as `wgpilot serve` does once started
        try:
            await web.run()
        finally:  # the database's thread would keep the process alive
            await app.state.wgpilot.ctx.db.close()  # type: ignore[attr-defined]
        return
    app = bare_app(peers)
    settings = config.load(None, env={"WGPILOT_DATA_DIR": str(data), "WGPILOT_TLS_HTTP_PORT": "0"})
    ssl_context = await TlsManager(settings).prepare()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    cfg = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none",  # type: ignore[arg-type]
                         timeout_graceful_shutdown=3, server_header=False)
    cfg.load()
    cfg.ssl = ssl_context
    settle_heap()  # as `wgpilot serve` does once started
    print(f"READY {sock.getsockname()[1]} -", flush=True)
    await uvicorn.Server(cfg).serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
