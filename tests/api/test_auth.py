from __future__ import annotations

import jwt
import pytest

from tests.api.conftest import PASSWORD, make_client
from wgpilot.web.api import SESSION_COOKIE


async def test_cookie_flags_and_me(client, app) -> None:
    async with make_client(app) as c:
        r = await c.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["user"]["username"] == "admin"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
            assert flag.lower() in cookie.lower()
        assert "domain=" not in cookie.lower()
        me = await c.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["username"] == "admin"
        assert me.headers["cache-control"] == "no-store"


async def test_wrong_password_and_rate_limit(client, app) -> None:
    async with make_client(app) as c:
        for _ in range(5):
            r = await c.post("/api/auth/login", json={"username": "admin", "password": "wrong password!"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "INVALID_CREDENTIALS"
        r = await c.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "RATE_LIMITED"


async def test_logout_revokes_the_old_cookie(client, app) -> None:
    old = client.cookies.get(SESSION_COOKIE)
    assert (await client.post("/api/auth/logout")).status_code == 204
    async with make_client(app) as c:
        c.cookies.set(SESSION_COOKIE, old)
        assert (await c.get("/api/auth/me")).status_code == 401


async def test_password_change_revokes_other_sessions(client, app) -> None:
    async with make_client(app) as other:
        r = await other.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200
        # Used once first, so its verified signature is cached: revocation must still win.
        assert (await other.get("/api/auth/me")).status_code == 200
        r = await client.put(
            "/api/auth/password", json={"current_password": PASSWORD, "new_password": "an even better one"}
        )
        assert r.status_code == 204
        assert (await other.get("/api/auth/me")).status_code == 401
        assert (await client.get("/api/auth/me")).status_code == 200  # the caller got a fresh cookie
    r = await client.put(
        "/api/auth/password", json={"current_password": "nope nope nope", "new_password": "whatever 1234"}
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "current_password"


@pytest.mark.parametrize(
    ("new", "message"),
    [("short", "at least 10"), ("x" * 73, "longer than 72 bytes"), ("é" * 37, "longer than 72 bytes")],
)
async def test_password_policy(client, new: str, message: str) -> None:
    r = await client.put("/api/auth/password", json={"current_password": PASSWORD, "new_password": new})
    assert r.status_code == 422 and message in r.json()["error"]["message"]
    assert r.json()["error"]["fields"][0]["field"] == "new_password"


async def test_forged_tokens(client, app, state, clock) -> None:
    now = int(clock.now)
    claims = {"sub": "1", "sv": 1, "iat": now, "exp": now + 600}
    forged = [
        jwt.encode(claims, "another key that is long enough to be accepted", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "exp": now - 100}, await state.auth.secret(), algorithm="HS256"),
        jwt.encode({**claims, "sv": 99}, await state.auth.secret(), algorithm="HS256"),
        "not.a.jwt",
    ]
    for token in forged:
        async with make_client(app) as c:
            c.cookies.set(SESSION_COOKIE, token)
            r = await c.get("/api/auth/me")
            assert r.status_code == 401, token


async def test_bcrypt_default_cost_is_12(tmp_path) -> None:
    from wgpilot import config

    s = config.load(None, env={"WGPILOT_DATA_DIR": str(tmp_path)})
    assert s["auth.bcrypt_cost"] == 12


async def test_sessions_expire_on_the_service_clock(client, clock) -> None:
    assert (await client.get("/api/auth/me")).status_code == 200
    clock.advance(86400 + 1)
    assert (await client.get("/api/auth/me")).status_code == 401
