"""AuthService caches (signing secret, verified tokens, users) across a restore."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wgpilot.services.auth import AuthService
from wgpilot.services.context import Context


async def _admin(ctx: Context, auth: AuthService) -> int:
    async with ctx.db.transaction() as tx:
        return await ctx.users.insert(
            tx,
            username="admin",
            password_hash=await auth.hash_password("long enough pw"),
            role="admin",
            now=0,
        )


async def _paused(
    monkeypatch: pytest.MonkeyPatch, obj: Any, name: str
) -> tuple[asyncio.Event, asyncio.Event]:
    """Make ``obj.name`` stop once, after its read, until released."""
    read, release = asyncio.Event(), asyncio.Event()
    real = getattr(obj, name)

    async def paused(*args: Any, **kwargs: Any) -> Any:
        value = await real(*args, **kwargs)
        read.set()
        await release.wait()
        return value

    monkeypatch.setattr(obj, name, paused)
    return read, release


async def test_a_user_read_before_a_restore_is_not_cached_after_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthService(ctx, bcrypt_cost=4)
    user_id = await _admin(ctx, auth)
    read, release = await _paused(monkeypatch, ctx.users, "get")
    pending = asyncio.create_task(auth._user(user_id))
    await read.wait()
    ctx.changed("restore")  # the database was replaced while the read was on its way
    release.set()
    assert (await pending) is not None  # this caller still gets what it read
    assert auth._users == {}  # but nobody after it


async def test_a_secret_read_before_a_restore_is_not_cached_after_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthService(ctx, bcrypt_cost=4)
    old = await auth.secret()
    auth._forget()
    read, release = await _paused(monkeypatch, ctx.settings, "get_secret")
    pending = asyncio.create_task(auth.secret())
    await read.wait()
    ctx.changed("restore")
    release.set()
    assert await pending == old
    assert auth._secret is None


async def test_a_token_verified_before_a_restore_is_not_cached_after_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthService(ctx, bcrypt_cost=4)
    user_id = await _admin(ctx, auth)
    user = await ctx.users.get(ctx.db, user_id)
    assert user is not None
    token = (await auth.issue(user)).token
    auth._forget()  # the secret is read again by the next check
    read, release = await _paused(monkeypatch, ctx.settings, "get_secret")
    pending = asyncio.create_task(auth.authenticate(token))
    await read.wait()
    ctx.changed("restore")
    release.set()
    await pending
    assert token not in auth._verified
    monkeypatch.undo()
    assert (await auth.authenticate(token)) is not None  # same database: still valid, now cached
    assert token in auth._verified


async def test_a_login_across_a_restore_issues_nothing(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user is read, then bcrypt takes its time; if the account under that id is
    not the same any more when the login is recorded, no token is issued for it."""
    from wgpilot.domain.errors import AuthError

    auth = AuthService(ctx, bcrypt_cost=4)
    user_id = await _admin(ctx, auth)
    real = auth._verify

    async def verify_then_restore(password: str, hashed: str | None) -> bool:
        ok = await real(password, hashed)
        async with ctx.db.transaction() as tx:  # what a restore of an older backup looks like
            await ctx.users.bump_session_version(tx, user_id, 1)
        return ok

    monkeypatch.setattr(auth, "_verify", verify_then_restore)
    with pytest.raises(AuthError):
        await auth.login("admin", "long enough pw", "192.0.2.9")
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login'") == 0


async def test_a_password_change_for_a_replaced_account_writes_nothing(ctx: Context) -> None:
    from wgpilot.domain.errors import AuthError

    auth = AuthService(ctx, bcrypt_cost=4)
    user_id = await _admin(ctx, auth)
    stale = await ctx.users.get(ctx.db, user_id)
    assert stale is not None
    async with ctx.db.transaction() as tx:  # another account under the same id now
        await ctx.users.set_password(tx, user_id, await auth.hash_password("someone else's"), 1)
    before = await ctx.db.fetchval("SELECT password_hash FROM users WHERE id = ?", (user_id,))
    with pytest.raises(AuthError):
        await auth.change_password(stale, "long enough pw", "a new long password", "192.0.2.9")
    assert await ctx.db.fetchval("SELECT password_hash FROM users WHERE id = ?", (user_id,)) == before


async def test_a_login_across_a_restore_of_the_same_account_signs_nothing_with_a_new_secret(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the restored database holds the very same account, the secret read
    before the swap must not sign for it: the login is refused, to be tried again."""
    from wgpilot.domain.errors import AuthError

    auth = AuthService(ctx, bcrypt_cost=4)
    await _admin(ctx, auth)
    real = auth._verify

    async def verify_then_restore(password: str, hashed: str | None) -> bool:
        ok = await real(password, hashed)
        ctx.changed("restore")
        return ok

    monkeypatch.setattr(auth, "_verify", verify_then_restore)
    with pytest.raises(AuthError):
        await auth.login("admin", "long enough pw", "192.0.2.9")
    monkeypatch.undo()
    assert (await auth.login("admin", "long enough pw", "192.0.2.9")).token


# -- guessing limits -------------------------------------------------------------------------------


def test_backoff_grows_is_capped_and_forgets() -> None:
    from tests.conftest import Clock
    from wgpilot.domain.errors import RateLimitedError
    from wgpilot.services.auth import Backoff

    clock = Clock(0.0)
    backoff = Backoff(free=3, cap=10.0, quiet=100.0, clock=clock)
    for _ in range(3):
        backoff.attempt("k", "no")
    waits = []
    for _ in range(6):
        with pytest.raises(RateLimitedError) as refused:
            backoff.attempt("k", "no")
        waits.append(refused.value.retry_after)
        clock.advance(refused.value.retry_after)
        backoff.attempt("k", "no")  # after the wait, one more attempt
    assert waits == [1, 2, 4, 8, 10, 10]
    backoff.attempt("other", "no")  # keys are independent
    clock.advance(100.0)  # quiet long enough: forgotten
    for _ in range(3):
        backoff.attempt("k", "no")
    with pytest.raises(RateLimitedError):
        backoff.attempt("k", "no")
    backoff.success("k")  # a success clears the count
    for _ in range(3):
        backoff.attempt("k", "no")


async def test_guesses_sent_at_once_cannot_all_pass(ctx: Context) -> None:
    """An attempt counts when it starts: of 20 concurrent guesses (each from its own
    address) only the free five reach bcrypt. The backoff's clock stands still, so a
    slow machine cannot let a guess through by letting its wait pass meanwhile."""
    from tests.conftest import Clock
    from wgpilot.domain.errors import AuthError, RateLimitedError
    from wgpilot.services.auth import Backoff

    auth = AuthService(ctx, bcrypt_cost=4, backoff=Backoff(clock=Clock()))
    await _admin(ctx, auth)
    results = await asyncio.gather(
        *(auth.login("admin", f"guess {i:04d} wrong", f"192.0.2.{i + 1}") for i in range(20)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, AuthError) for r in results) == 5
    assert sum(isinstance(r, RateLimitedError) for r in results) == 15


async def test_the_unknown_user_dummy_hash_runs_off_the_event_loop(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first login with an unknown name makes the dummy hash (as costly as a login):
    in a worker thread, while the event loop keeps serving. Inside the hash we ask the
    loop to do something and wait for it: on the loop's own thread that could never happen."""
    import threading

    import bcrypt

    from wgpilot.domain.errors import AuthError

    auth = AuthService(ctx, bcrypt_cost=4)
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    seen: list[tuple[bool, bool]] = []
    real = bcrypt.hashpw

    def hashpw(password: bytes, salt: bytes) -> bytes:
        served = threading.Event()
        loop.call_soon_threadsafe(served.set)
        seen.append((threading.get_ident() != loop_thread, served.wait(timeout=10)))
        return real(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    with pytest.raises(AuthError):
        await auth.login("nobody-here", "some password", "192.0.2.1")
    assert seen == [(True, True)]  # made once, in a worker thread, the loop still running
    with pytest.raises(AuthError):
        await auth.login("nobody-else", "some password", "192.0.2.2")
    assert len(seen) == 1  # and kept
