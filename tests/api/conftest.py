"""API tests: the real ASGI app over a real SQLite file, with the fake driver.

Every response body produced through ``client``/``anon`` is kept, so a session-wide
check can prove that no private or preshared key ever left the server in JSON."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wgpilot import config
from wgpilot.services.context import Context
from wgpilot.web.app import create_app
from wgpilot.web.state import WebState
from wgpilot.web.static import StaticUI

PASSWORD = "correct horse battery"
BASE = "https://localhost"
SEEN_BODIES: list[tuple[str, str, bytes]] = []  # (method url, content type, body)
SEEN_COOKIES: set[str] = set()  # every cookie value the server handed out (session tokens)


def api_settings(tmp_path: Path, **over: Any) -> config.Settings:
    s = config.load(
        None,
        env={
            "WGPILOT_DATA_DIR": str(tmp_path),
            "WGPILOT_AUTH_BCRYPT_COST": "4",
            "WGPILOT_WIREGUARD_DIR": str(tmp_path / "etc-wireguard"),  # the conf_dir fixture's
        },
    )
    return s.replace(**over) if over else s


class Recorder(httpx.AsyncClient):
    async def send(self, request: httpx.Request, **kw: Any) -> httpx.Response:  # type: ignore[override]
        response = await super().send(request, **kw)
        await response.aread()
        for header in response.headers.get_list("set-cookie"):
            value = header.split(";", 1)[0].partition("=")[2]
            if len(value) >= 16:  # a deleted cookie is "" — nothing to look for
                SEEN_COOKIES.add(value)
        SEEN_BODIES.append(
            (
                f"{request.method} {request.url.path}",
                response.headers.get("content-type", ""),
                response.content,
            )
        )
        return response


@pytest.fixture
async def state(ctx: Context, tmp_path: Path) -> WebState:
    return WebState(ctx, api_settings(tmp_path))


@pytest.fixture
async def app(state: WebState, tmp_path: Path) -> AsyncIterator[Any]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        "<!doctype html><title>wgpilot</title><script type=module src=/assets/app-1234.js></script>"
    )
    (dist / "assets" / "app-1234.js").write_text("console.log('ui')")
    application = create_app(state, static=StaticUI(dist))
    async with application.router.lifespan_context(application):
        yield application


def make_client(app: Any, **headers: str) -> Recorder:
    return Recorder(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 50000)),
        base_url=BASE,
        headers={"Origin": BASE, **headers},
    )


@pytest.fixture
async def anon(app: Any) -> AsyncIterator[Recorder]:
    async with make_client(app) as c:
        yield c


async def complete_setup(state: WebState, client: httpx.AsyncClient) -> None:
    from wgpilot.services import setup_state

    token = await setup_state.issue_install_token(state.ctx)
    r = await client.post(
        "/api/setup/admin", json={"install_token": token, "username": "admin", "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    r = await client.put("/api/setup/server", json={"public_ip": "203.0.113.10", "dns_servers": ["1.1.1.1"]})
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/setup/network", json={"name": "office", "subnet": "10.8.0.0/24", "listen_port": 51820}
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/setup/peer", json={"name": "first"})
    assert r.status_code == 201, r.text


@pytest.fixture
async def client(app: Any, state: WebState) -> AsyncIterator[Recorder]:
    """Logged in as the admin, setup complete, one network 'office' with peer 'first'."""
    async with make_client(app) as c:
        await complete_setup(state, c)
        yield c


KEY_RE = re.compile(rb"[A-Za-z0-9+/]{43}=")
# A JWT: base64url JSON header and payload (both start '{"' → "eyJ"), then a signature.
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")


class _Capture:
    """Every log record of a test, formatted as production would write it (JSON, extras included)."""

    def __init__(self) -> None:
        import logging

        from wgpilot.logsetup import JsonFormatter

        self.lines: list[str] = []
        self.handler = logging.Handler(level=logging.DEBUG)
        fmt = JsonFormatter()
        self.handler.emit = lambda record: self.lines.append(fmt.format(record))  # type: ignore[method-assign]


async def _secrets(ctx: Context) -> set[str]:
    out: set[str] = set()
    for n in await ctx.networks.all(ctx.db):
        out.add(await ctx.networks.private_key(ctx.db, n.id))
        for p in await ctx.peers.query(ctx.db, n.id):
            s = await ctx.peers.secrets(ctx.db, p.id)
            out |= {k for k in (s.private_key, s.preshared_key) if k}
    jwt_secret = await ctx.settings.get_secret(ctx.db, "jwt_secret")
    if jwt_secret:
        out.add(jwt_secret)
    return out


@pytest.fixture(autouse=True)
async def _no_secret_leaves(ctx: Context) -> AsyncIterator[None]:
    """After every API test: no private/preshared key in any JSON response (only the
    rendered client config may carry them), and no key, password or session token in
    any log line."""
    import json as jsonlib
    import logging

    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture.handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    SEEN_BODIES.clear()
    SEEN_COOKIES.clear()
    try:
        yield
    finally:
        root.removeHandler(capture.handler)
        root.setLevel(old_level)
    secrets = set(getattr(ctx.cipher, "seen", set()))
    if ctx.db.is_open:
        secrets |= await _secrets(ctx)
    for where, ctype, body in SEEN_BODIES:
        if ctype.startswith("text/plain") and where.endswith("/config"):
            continue  # the rendered client config is the one place keys belong
        if ctype.startswith("application/json"):
            try:
                doc = jsonlib.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and where.endswith("/api/setup/peer"):
                doc.pop("config", None)
            if isinstance(doc, dict) and where == "GET /api/settings/metrics-token":
                doc.pop("token", None)  # the one place the metrics token is shown
            text = jsonlib.dumps(doc)
        else:
            text = body.decode("latin-1")
        for secret in secrets:
            assert secret not in text, f"a secret leaked in the response to {where}"
    for secret in secrets | {PASSWORD} | SEEN_COOKIES:
        leaked = [line for line in capture.lines if secret in line]
        assert not leaked, f"a secret was written to the log: {leaked[0][:300]}"
    jwts = [line for line in capture.lines if JWT_RE.search(line)]
    assert not jwts, f"a session token was written to the log: {jwts[0][:300]}"
