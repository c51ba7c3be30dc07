"""Who may scrape ``/metrics``: it names every peer and its public key, so a scrape
always needs ``Authorization: Bearer <token>``; there is no open mode and no
exception for loopback (a reverse proxy on the same host would make every client
look local).

The token is ``metrics.token`` from the configuration when that is set; otherwise
the one wgpilot generated and keeps encrypted in the database: ``wgpilot init``
makes it, and ``serve`` at start for databases from before it existed (``ensure``);
the first scrape after a restore of such a database makes one too. An administrator
reads it in Settings (``view``); it is never shown anywhere else.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from wgpilot.services.context import Context

KEY = "metrics_token"


async def ensure(ctx: Context) -> str:
    """The generated token, made now if the database has none."""
    token = await ctx.settings.get_secret(ctx.db, KEY)
    if token is not None:
        return token
    async with ctx.db.transaction() as tx:
        token = await ctx.settings.get_secret(tx, KEY)
        if token is None:
            token = secrets.token_urlsafe(32)
            await ctx.settings.set(tx, KEY, token)
    return token


async def current(ctx: Context, configured: str) -> str:
    """The token a scrape must present: ``configured`` (metrics.token) or the generated one."""
    return configured or await ensure(ctx)


async def accepts(ctx: Context, configured: str, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header carries the current token."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    expected = await current(ctx, configured)
    return hmac.compare_digest(presented.strip().encode("utf-8", "surrogatepass"), expected.encode())


async def view(ctx: Context, configured: str) -> dict[str, Any]:
    """For the Settings page: the generated token, or only the fact that the
    configuration sets one (that value stays in the configuration file)."""
    if configured:
        return {"source": "config", "token": None}
    return {"source": "generated", "token": await ensure(ctx)}
