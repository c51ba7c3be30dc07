"""Invariants over the whole app and attacks drawn from real flaws in comparable tools."""

from __future__ import annotations

import json
import re
import socket

import pytest
from starlette.routing import Route

from tests.api.conftest import BASE, make_client
from wgpilot.web import routes

# Routes that answer without a session (SPEC §7). Everything else must say 401,
# /metrics included: it takes a bearer token instead of a session.
PUBLIC = {
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/setup/status"),
    ("POST", "/api/setup/admin"),
    ("GET", "/health"),
    ("GET", "/api/openapi.json"),
    ("GET", "/{path:path}"),
    ("HEAD", "/{path:path}"),
}
SETUP_SESSION = {
    ("PUT", "/api/setup/server"),
    ("POST", "/api/setup/network"),
    ("POST", "/api/setup/peer"),
    ("POST", "/api/setup/import"),
}


def concrete(path: str) -> str:
    return re.sub(r"\{\w+(:\w+)?\}", "1", path)


def registered(app) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        for method in sorted(route.methods or []):
            out.append((method, route.path))
    return out


async def test_every_route_needs_a_session_unless_allow_listed(client, app) -> None:
    checked = 0
    async with make_client(app) as anon:
        for method, path in registered(app):
            if (method, path) in PUBLIC or (method == "HEAD" and ("GET", path) in PUBLIC):
                continue
            r = await anon.request(method, concrete(path), json={} if method in ("POST", "PUT") else None)
            if (method, path) in SETUP_SESSION:
                assert r.status_code == 409, (method, path)  # setup is complete: refused before auth matters
            else:
                assert r.status_code == 401, (method, path, r.status_code, r.text)
                if method != "HEAD":
                    assert r.json()["error"]["code"] == "UNAUTHORIZED"
            checked += 1
    assert checked >= 40
    # The allow-list itself must name only routes that exist.
    names = set(registered(app))
    assert names >= PUBLIC


async def test_no_route_matches_a_path_with_a_trailing_newline(client, app) -> None:
    # Starlette's "^...$" also matched before a final "\n": DELETE /api/alerts/4%0A deleted alert 4.
    r = await client.post(
        "/api/alerts",
        json={
            "type": "peer_offline",
            "threshold": 60,
            "notify": "webhook",
            "target": "https://example.com/h",
        },
    )
    alert = r.json()["id"]
    checked = 0
    for method, path in registered(app):
        target = concrete(path).replace("/1", f"/{alert}") if "alert" in path else concrete(path)
        for tail in ("%0A", "%0a", "%0D%0A"):
            r = await client.request(method, target + tail, json={} if method in ("POST", "PUT") else None)
            assert r.status_code == 404, (method, path, tail, r.status_code)
            checked += 1
    assert checked >= 3 * 40
    assert (await client.get(f"/api/alerts/{alert}")).status_code == 200
    assert (await client.get("/api/networks/1")).json()["name"] == "office"


async def test_cross_origin_and_origin_less_writes_are_refused(client, app) -> None:
    cookie = client.cookies.get("__Host-wgpilot_session")
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {},
    ):
        async with make_client(app) as c:
            c.headers.pop("Origin", None)
            c.cookies.set("__Host-wgpilot_session", cookie)
            r = await c.post(
                "/api/networks", json={"name": "csrf", "subnet": "10.66.0.0/24"}, headers=headers
            )
            assert r.status_code == 403 and r.json()["error"]["code"] == "CROSS_ORIGIN", headers
    async with make_client(app) as c:
        c.headers.pop("Origin", None)
        c.cookies.set("__Host-wgpilot_session", cookie)
        r = await c.post(
            "/api/networks",
            json={"name": "ok", "subnet": "10.66.0.0/24"},
            headers={"Referer": f"{BASE}/networks"},
        )
        assert r.status_code == 201
    assert (await client.get("/api/networks")).json()["total"] == 2


async def test_foreign_host_headers_are_refused(client, app) -> None:
    for host in ("evil.example", "localhost.evil.example", "1.2.3.4"):
        r = await client.get("/health", headers={"Host": host})
        assert r.status_code == 421, host
    for host in ("localhost", "127.0.0.1", "[::1]:8443", "203.0.113.10", "192.168.1.10:443"):
        r = await client.get("/health", headers={"Host": host})
        assert r.status_code == 200, host
    # The machine's own name: the start-up banner offers https://<hostname>:<port>/.
    r = await client.get("/health", headers={"Host": f"{socket.gethostname().upper()}:8443"})
    assert r.status_code == 200


async def test_security_headers_everywhere(client) -> None:
    for path in ("/api/networks", "/health", "/", "/networks/1", "/assets/app-1234.js", "/api/nope"):
        r = await client.get(path)
        h = r.headers
        csp = h["content-security-policy"]
        if path.startswith("/api/"):
            # Data, never a page: opened as one it may load and run nothing at all.
            assert csp == "default-src 'none'; frame-ancestors 'none'", path
            assert "permissions-policy" not in h and "cross-origin-opener-policy" not in h
        else:
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert h["cross-origin-opener-policy"] == "same-origin" and "camera=()" in h["permissions-policy"]
        assert "frame-ancestors 'none'" in csp and h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer"
        assert h["strict-transport-security"].startswith("max-age=")
        assert h["cross-origin-resource-policy"] == "same-origin"
    assert (await client.get("/api/networks")).headers["cache-control"] == "no-store"
    assert "immutable" in (await client.get("/assets/app-1234.js")).headers["cache-control"]
    assert (await client.get("/")).headers["cache-control"] == "no-cache"


async def test_over_long_paths_are_404_or_414_without_a_session_and_log_one_short_line(app, caplog) -> None:
    # A segment over 255 bytes, or a path over 4 KB, reached the file system: a 500 ("File
    # name too long") that logged 187 KB for a 60 KB request.
    import logging

    from wgpilot.logsetup import JsonFormatter

    caplog.set_level(logging.DEBUG)
    fmt = JsonFormatter()
    cases = [
        ("/" + "a" * 256, 404, "NOT_FOUND"),
        ("/" + "é" * 128, 404, "NOT_FOUND"),  # 256 bytes in UTF-8
        ("/assets/" + "a" * 300 + ".js", 404, "NOT_FOUND"),
        ("/x/" + "a" * 1000 + "/y", 404, "NOT_FOUND"),
        ("/" + "/".join(["a" * 200] * 21), 414, "URI_TOO_LONG"),  # 4221 bytes
        ("/" + "/".join(["a" * 200] * 300), 414, "URI_TOO_LONG"),  # 60 KB
        ("/api/" + "a" * 5000, 414, "URI_TOO_LONG"),
        ("/api/networks/" + "%41" * 1500, 414, "URI_TOO_LONG"),  # 4500 bytes as sent
    ]
    async with make_client(app) as anon:
        for path, status, code in cases:
            caplog.clear()
            r = await anon.get(path)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), path[:80]
            ours = [rec for rec in caplog.records if rec.name.startswith("wgpilot")]
            assert [rec.getMessage() for rec in ours] == ["request"], path[:80]
            assert len(fmt.format(ours[0])) < 400
        assert (await anon.get("/" + "a" * 255)).headers["content-type"].startswith("text/html")  # the app
        assert (await anon.get("/" + "/".join(["a" * 200] * 20))).status_code == 200  # 4020 bytes


TRAVERSALS = [
    "../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "//etc/passwd",
    "assets/../../../../etc/passwd",
    "assets/%2e%2e/%2e%2e/etc/passwd",
    "..\\..\\etc\\passwd",
]


@pytest.mark.parametrize("logged_in", [False, True])
async def test_path_traversal_on_static_and_download_routes(client, app, logged_in: bool) -> None:
    async with make_client(app) as c:
        if logged_in:
            c.cookies.set("__Host-wgpilot_session", client.cookies.get("__Host-wgpilot_session"))
        for t in TRAVERSALS:
            for path in (
                f"/{t}",
                f"/assets/{t}",
                f"/api/networks/1/peers/{t}/config",
                f"/api/networks/{t}/peers/1/qr",
            ):
                r = await c.get(path)
                assert b"root:" not in r.content, path
                assert r.status_code in (200, 404), (path, r.status_code)
                if r.status_code == 200:
                    assert (
                        r.headers["content-type"].startswith("text/html") and b"<title>wgpilot" in r.content
                    )


EVIL = [
    "a\nPostUp = touch /tmp/pwned",
    "a\r\n[Peer]",
    "x\0y",
    "x\ud800y",  # a lone surrogate: not text, and no encoder can write it back out
    "[Peer]",
    "PostUp = id",
    "$(id)",
    "`id`",
    "${IFS}cat${IFS}/etc/passwd",
    "<script>alert(1)</script>",
]


async def test_injection_in_every_text_field_never_reaches_the_config(client) -> None:
    fields = [
        ("/api/networks/1/peers", lambda e: {"name": e}),
        ("/api/networks/1/peers", lambda e: {"name": "p", "endpoint": f"{e}:51820"}),
        ("/api/networks/1/peers", lambda e: {"name": "p", "client_allowed_ips": [e]}),
        ("/api/networks/1/peers", lambda e: {"name": "p", "email": e}),
        ("/api/networks", lambda e: {"name": e, "subnet": "10.77.0.0/24"}),
        ("/api/networks", lambda e: {"name": "n", "subnet": "10.77.0.0/24", "dns_servers": [e]}),
        ("/api/networks", lambda e: {"name": "n", "subnet": e}),
    ]
    for path, body in fields:
        for evil in EVIL:
            # Escaped JSON (\uXXXX): a lone surrogate has no UTF-8 form to send raw.
            raw = json.dumps(body(evil))
            r = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert r.status_code == 422, (path, evil, r.status_code)
    r = await client.put("/api/settings", json={"hostname": "vpn.example.com\nPostUp = id"})
    assert r.status_code == 422
    r = await client.put("/api/networks/1", json={"dns_servers": ["1.1.1.1\n[Peer]"]})
    assert r.status_code == 422
    peers = (await client.get("/api/networks/1/peers")).json()["items"]
    for p in peers:
        conf = (await client.get(f"/api/networks/1/peers/{p['id']}/config")).text
        assert conf.count("[Peer]") == 1 and conf.count("[Interface]") == 1
        assert not any(
            line.split("=")[0].strip() in ("PostUp", "PreUp", "PostDown", "PreDown", "Table")
            for line in conf.splitlines()
        )


async def test_huge_integers_and_absurd_pagination(client) -> None:
    for body in (
        {"name": "x", "subnet": "10.9.0.0/24", "listen_port": 2**63},
        {"name": "x", "subnet": "10.9.0.0/24", "mtu": -(2**64)},
    ):
        assert (await client.post("/api/networks", json=body)).status_code == 422
    r = await client.post("/api/networks/1/peers", json={"name": "x", "expires_at": 2**63})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "expires_at"
    for q in ("limit=1001", "offset=99999999999", "limit=-5", "limit=1e3"):
        assert (await client.get(f"/api/networks/1/peers?{q}")).status_code == 422, q
        assert (await client.get(f"/api/audit-log?{q}")).status_code == 422, q


async def test_over_long_password_is_refused_not_truncated(app, state) -> None:
    from wgpilot.services import setup_state

    await state.ctx.db.fetchval("SELECT 1")
    token = await setup_state.issue_install_token(state.ctx)
    async with make_client(app) as c:
        r = await c.post(
            "/api/setup/admin", json={"install_token": token, "username": "admin", "password": "p" * 80}
        )
        assert r.status_code == 422 and "72 bytes" in r.json()["error"]["message"]


async def test_openapi_document(client) -> None:
    doc = (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    for op in routes.OPERATIONS:
        assert (op.method, re.sub(r"\{(\w+):\w+\}", r"{\1}", op.path)) in ops
    net = doc["components"]["schemas"]["NetworkCreate"]
    assert net["additionalProperties"] is False and "subnet" in net["required"]


def _string_fields(schema: dict, doc: dict) -> list[tuple[str, bool]]:
    """(name, is_list) of the top-level string and string-list properties of a body schema."""
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    out = []
    for name, prop in schema.get("properties", {}).items():
        types: set[str] = set()
        for alt in [prop, *prop.get("anyOf", [])]:
            t = alt.get("type", [])
            types |= {t} if isinstance(t, str) else set(t)
            if "array" in types and alt.get("items", {}).get("type") == "string":
                types.add("string-list")
        if "string" in types:
            out.append((name, False))
        elif "string-list" in types:
            out.append((name, True))
    return out


async def test_a_lone_surrogate_in_any_text_field_is_never_a_500(client) -> None:
    """JSON can carry text with no UTF-8 form (``"\\ud800"``). Wherever it lands —
    refused with a message quoting it, or stored — no answer, audit entry or later
    read may fail on it."""
    doc = (await client.get("/api/openapi.json")).json()
    tried = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if method not in ("post", "put", "patch") or body is None or "logout" in path:
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            for name, is_list in _string_fields(body["schema"], doc):
                value = "x\ud800y"
                raw = json.dumps({name: [value] if is_list else value})
                r = await client.request(
                    method.upper(), url, content=raw, headers={"Content-Type": "application/json"}
                )
                assert r.status_code < 500, (method, path, name, r.status_code, r.text)
                tried += 1
    assert tried > 30
    raw = json.dumps({"name": "x\ud800y"})
    r = await client.post("/api/networks/1/peers", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "name"
    assert "surrogate" in r.json()["error"]["fields"][0]["message"]
    for path in ("/api/settings", "/api/networks", "/api/networks/1/peers", "/api/audit-log", "/api/alerts"):
        r = await client.get(path)
        assert r.status_code == 200, (path, r.status_code)
