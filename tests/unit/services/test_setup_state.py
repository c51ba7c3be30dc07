"""The install token across `wgpilot init`, restarts and step 1 (services/setup_state.py)."""

from __future__ import annotations

from wgpilot.services import setup_state
from wgpilot.services.auth import AuthService
from wgpilot.services.context import Context
from wgpilot.services.setup import SetupService


async def test_a_restart_before_the_admin_shows_the_same_working_token(ctx: Context) -> None:
    printed = await setup_state.issue_install_token(ctx)  # what `wgpilot init` printed
    first = await setup_state.pending(ctx)
    again = await setup_state.pending(ctx)
    assert first is not None and again is not None
    assert first.token == again.token == printed  # a restart does not void it
    assert printed in first.message
    assert await setup_state.token_matches(ctx, printed)
    stored = await ctx.db.fetchval("SELECT value FROM settings WHERE key = 'install_token'")
    assert printed not in stored  # kept encrypted


async def test_a_first_start_without_init_issues_a_token(ctx: Context) -> None:
    pending = await setup_state.pending(ctx)
    assert pending is not None and pending.token
    assert await setup_state.token_matches(ctx, pending.token)


async def test_a_hash_only_token_from_an_older_version_is_replaced(ctx: Context) -> None:
    async with ctx.db.transaction() as tx:
        await ctx.settings.set(tx, "install_token_hash", "0" * 64)
    pending = await setup_state.pending(ctx)
    assert pending is not None and pending.token and await setup_state.token_matches(ctx, pending.token)
    assert not await ctx.settings.has(ctx.db, "install_token_hash")


async def test_no_token_once_the_admin_exists(ctx: Context) -> None:
    setup = SetupService(ctx, AuthService(ctx, bcrypt_cost=4))
    token = await setup_state.issue_install_token(ctx)
    await setup.create_admin(token, "admin", "a long enough password", "192.0.2.1")
    for _ in range(2):  # restart after restart
        pending = await setup_state.pending(ctx)
        assert pending is not None and pending.token is None
        assert "sign in" in pending.message and "finish the setup wizard" in pending.message
        assert "token:" not in pending.message
        assert not await ctx.settings.has(ctx.db, setup_state.KEY)
    async with ctx.db.transaction() as tx:
        await ctx.settings.set(tx, "setup_complete", "1")
    assert await setup_state.pending(ctx) is None
