"""Who may scrape /metrics: always a bearer token, generated once and kept."""

from __future__ import annotations

from wgpilot.services import metrics_access
from wgpilot.services.context import Context


async def test_empty_configuration_means_the_generated_token_not_open(ctx: Context) -> None:
    assert not await metrics_access.accepts(ctx, "", None)
    assert not await metrics_access.accepts(ctx, "", "")
    assert not await metrics_access.accepts(ctx, "", "Bearer ")
    assert not await metrics_access.accepts(ctx, "", "Bearer")
    token = await metrics_access.ensure(ctx)
    assert await metrics_access.accepts(ctx, "", f"Bearer {token}")
    assert await metrics_access.accepts(ctx, "", f"bearer  {token} ")
    assert not await metrics_access.accepts(ctx, "", f"Basic {token}")
    assert not await metrics_access.accepts(ctx, "", f"Bearer {token}x")
    assert not await metrics_access.accepts(ctx, "", "Bearer \udcff")  # undecodable: refused, not a crash


async def test_the_generated_token_is_made_once_and_kept_encrypted(ctx: Context) -> None:
    first = await metrics_access.ensure(ctx)
    assert await metrics_access.ensure(ctx) == first
    assert await metrics_access.view(ctx, "") == {"source": "generated", "token": first}
    stored = await ctx.db.fetchval("SELECT value FROM settings WHERE key = 'metrics_token'")
    assert stored and first not in stored


async def test_a_configured_token_replaces_the_generated_one(ctx: Context) -> None:
    generated = await metrics_access.ensure(ctx)
    assert await metrics_access.accepts(ctx, "from-config-file", "Bearer from-config-file")
    assert not await metrics_access.accepts(ctx, "from-config-file", f"Bearer {generated}")
    assert await metrics_access.view(ctx, "from-config-file") == {"source": "config", "token": None}
