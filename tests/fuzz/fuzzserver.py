"""A real wgpilot HTTPS server (uvicorn, TLS, real SQLite) over the fake driver, with
the monitor running, for schemathesis to hammer. Prints "READY <port> <session token>"
once set up.

Nothing leaves the machine: mail goes through the real EmailChannel (settings read,
message built) down to the point of connecting, where it is recorded instead; webhooks
are recorded. The fuzzer invents SMTP hosts and webhook URLs."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import uvicorn

from tests.conftest import FakeHost, FakeSysctl
from wgpilot import config
from wgpilot.kernel.fake import FakeDriver, FakeFirewall
from wgpilot.monitor import Monitor
from wgpilot.monitor.notify import EmailChannel, Message
from wgpilot.runtime import open_database
from wgpilot.services import setup_state
from wgpilot.services.auth import Backoff, RateLimiter
from wgpilot.services.context import Context
from wgpilot.tls.manager import TlsManager
from wgpilot.web.app import create_app
from wgpilot.web.state import WebState

PASSWORD = "fuzzing password 1"
SENT: list[tuple[str, str]] = []


def record_mail(config: object, message: object) -> None:
    SENT.append(("email", str(getattr(message, "get", lambda _k: "")("To"))))


class RecordedWebhook:
    name = "webhook"

    async def send(self, target: str, message: Message) -> None:
        SENT.append(("webhook", target))


async def main(data_dir: Path) -> None:
    settings = config.load(
        None,
        env={
            "WGPILOT_DATA_DIR": str(data_dir),
            "WGPILOT_WIREGUARD_DIR": str(data_dir / "wireguard"),  # not the host's /etc/wireguard
            "WGPILOT_AUTH_BCRYPT_COST": "4",
            "WGPILOT_TLS_HTTP_PORT": "0",
            "WGPILOT_LISTEN": "127.0.0.1:8443",
            "WGPILOT_MONITOR_POLL_INTERVAL": "0.5",
            "WGPILOT_MONITOR_SNAPSHOT_INTERVAL": "1",
            # The fuzzer reads a response to its end: streams end after a second here.
            "WGPILOT_MONITOR_STREAM_MAX_AGE": "1",
        },
    )
    db, cipher = await open_database(settings)
    ctx = Context(
        db=db,
        cipher=cipher,
        driver=FakeDriver(),
        firewall=FakeFirewall(),
        host=FakeHost(),
        sysctl=FakeSysctl(),
    )  # type: ignore[arg-type]
    state = WebState(ctx, settings)
    # The fuzzer logs out and back in many times (and fuzzes logins and password changes):
    # the per-client login limit and the per-account backoff would starve it.
    state.auth.limiter = RateLimiter(limit=10**9)
    state.auth.backoff = Backoff(free=10**9)
    token = await setup_state.issue_install_token(ctx)
    session = await state.setup.create_admin(token, "admin", PASSWORD, "127.0.0.1")
    await state.setup.server(session_actor(session), "203.0.113.10", None, ["1.1.1.1"])
    net, _ = await state.setup.network(session_actor(session), {"name": "office", "subnet": "10.8.0.0/16"})
    await state.setup.peer(session_actor(session), {"name": "first", "network_id": net.id})
    state.tls = TlsManager(settings)
    ssl_context = await state.tls.prepare()
    email = EmailChannel(ctx, send=record_mail)
    monitor = Monitor(ctx, settings, channels={"email": email, "webhook": RecordedWebhook()})
    monitor.email = email
    state.monitor = monitor
    polling = asyncio.create_task(monitor.run())
    app = create_app(state, record=monitor.record_request)
    sock = socket.socket(
        socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )  # TCP_NODELAY, see web/server.py
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    cfg = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", ws="none", timeout_graceful_shutdown=3
    )
    cfg.load()
    cfg.ssl = ssl_context
    server = uvicorn.Server(cfg)
    print(f"READY {sock.getsockname()[1]} {session.token}", flush=True)
    await server.serve(sockets=[sock])
    monitor.stop()
    await polling
    await db.close()


def session_actor(session):  # type: ignore[no-untyped-def]
    from wgpilot.domain.models import Actor

    return Actor(session.user.id, session.user.username, "127.0.0.1")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
