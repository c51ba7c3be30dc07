from __future__ import annotations

import httpx
import jwt
import pytest

from tests.api.conftest import BASE, PASSWORD, Recorder, make_client
from tests.conftest import Clock
from wgpilot.web.api import SESSION_COOKIE
from wgpilot.web.api_auth import DEVICE_COOKIE


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


# -- guessing limits (services/auth.py) ---------------------------------------------------------


def _at(app, ip: str) -> Recorder:
    """A client at address ``ip``."""
    return Recorder(
        transport=httpx.ASGITransport(app=app, client=(ip, 50000)), base_url=BASE, headers={"Origin": BASE}
    )


@pytest.fixture
def frozen(state) -> Clock:
    """The account backoff's clock, stopped: what a fast attacker sees, deterministically."""
    clock = Clock(1000.0)
    state.auth.backoff.clock = clock
    return clock


_ADDRESSES = iter(range(1, 10**6))


async def _login(app, username: str, password: str, ip: str | None = None) -> httpx.Response:
    """One login from ``ip`` (default: an address of its own, so only the account counts)."""
    if ip is None:
        n = next(_ADDRESSES)
        ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    async with _at(app, ip) as c:
        return await c.post("/api/auth/login", json={"username": username, "password": password})


async def _spray(app, username: str, addresses: int = 10, each: int = 5) -> list[int]:
    codes = []
    for i in range(addresses * each):
        r = await _login(app, username, f"guess number {i}", f"198.51.100.{100 + i % addresses}")
        codes.append(r.status_code)
    return codes


async def test_guesses_spread_over_many_addresses_meet_the_account_backoff(client, app, frozen) -> None:
    codes = await _spray(app, "admin")
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    r = await _login(app, "ADMIN", PASSWORD)
    assert r.status_code == 429  # case folded: the same account; even the right password waits
    assert "this account" in r.json()["error"]["message"]
    # A growing delay, never a lock: 1, 2, 4 … seconds, at most 30.
    waits = []
    for _ in range(8):
        r = await _login(app, "admin", "x")
        assert r.status_code == 429
        waits.append(int(r.headers["retry-after"]))
        frozen.advance(waits[-1])
        assert (await _login(app, "admin", "still wrong!")).status_code == 401
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    frozen.advance(30)
    assert (await _login(app, "admin", PASSWORD)).status_code == 200  # the right password after the wait


async def test_unknown_usernames_are_limited_alike(client, app, frozen) -> None:
    """The limit keys on the name as typed: its answers cannot tell who exists."""
    assert await _spray(app, "ghost", 5, 2) == await _spray(app, "admin", 5, 2)


async def test_an_ipv6_client_counts_by_its_64(client, app) -> None:
    codes = []
    for i in range(6):  # six addresses of one /64, six accounts: only the per-client limit applies
        async with _at(app, f"2001:db8:1:2::{i + 1:x}") as c:
            r = await c.post("/api/auth/login", json={"username": f"user{i}", "password": "wrong password"})
            codes.append(r.status_code)
    assert codes == [401] * 5 + [429]
    async with _at(app, "2001:db8:1:3::1") as c:  # the next /64 is another client
        r = await c.post("/api/auth/login", json={"username": "user9", "password": "wrong password"})
        assert r.status_code == 401


async def test_a_browser_that_signed_in_before_is_not_held_back(client, app, state, frozen) -> None:
    """An attacker keeping the account's delay running cannot keep the administrator
    out of the browser they signed in with (it holds the device cookie)."""
    from wgpilot.services.auth import RateLimiter

    state.auth.limiter = RateLimiter(limit=100)  # this test is about the account, not the address
    assert client.cookies.get(DEVICE_COOKIE)  # set with the session at setup
    await _spray(app, "admin")
    async with make_client(app) as fresh:
        r = await fresh.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 429
        fresh.cookies.set(DEVICE_COOKIE, client.cookies.get(DEVICE_COOKIE)[:-2] + "AA")  # forged
        r = await fresh.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 429
    assert (await client.post("/api/auth/logout")).status_code == 204
    r = await client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    # The device cookie counts on its own, with the same backoff.
    for _ in range(5):
        r = await client.post("/api/auth/login", json={"username": "admin", "password": "a wrong one"})
        assert r.status_code == 401
    r = await client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429 and "this browser" in r.json()["error"]["message"]


async def test_current_password_guesses_back_off(client, frozen) -> None:
    body = {"current_password": "not it at all", "new_password": "a brand new password"}
    for _ in range(5):
        r = await client.put("/api/auth/password", json=body)
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "current_password"
    right = {**body, "current_password": PASSWORD}
    r = await client.put("/api/auth/password", json=right)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"  # refused before bcrypt, even when right
    frozen.advance(1)
    assert (await client.put("/api/auth/password", json=right)).status_code == 204


async def test_a_failed_login_never_logs_what_was_typed(client, app, caplog) -> None:
    """People type passwords into the username field: an unknown name is logged as a
    keyed digest (the same one for the same name), a real account by its name; and
    no field can start a second log line."""
    import logging

    from wgpilot.logsetup import JsonFormatter, TextFormatter

    typed = ["my secret passw0rd", "my secret passw0rd", "other\n12:00:00 INFO    wgpilot: forged", "admin"]
    caplog.set_level(logging.WARNING, logger="wgpilot.services.auth")
    for i, name in enumerate(typed):
        async with _at(app, f"192.0.2.{i + 1}") as c:
            await c.post("/api/auth/login", json={"username": name, "password": "wrong password"})
    records = [r for r in caplog.records if r.getMessage() == "login failed"]
    assert len(records) == 4
    digests = [getattr(r, "username_digest", None) for r in records]
    assert digests[0] == digests[1] and digests[2] not in (None, digests[0]) and digests[3] is None
    assert all(len(d) == 12 for d in digests[:3])
    assert [getattr(r, "username", None) for r in records] == [None, None, None, "admin"]
    for fmt in (JsonFormatter(), TextFormatter()):
        for record in records:
            line = fmt.format(record)
            assert len(line.splitlines()) == 1
            assert "passw0rd" not in line and "forged" not in line
