"""First-run state shared by `wgpilot init`, `serve` and the setup API: whether setup
is complete, and the one-time install token (stored only as a hash)."""

from __future__ import annotations

import hmac

from wgpilot.domain.errors import ValidationError
from wgpilot.runtime import hash_token, new_install_token
from wgpilot.services.context import Context


async def is_complete(ctx: Context) -> bool:
    return await ctx.settings.get(ctx.db, "setup_complete") == "1"


async def issue_install_token(ctx: Context, token: str | None = None) -> str:
    """Store the hash of a new install token (replacing any earlier one); returns it."""
    if token is None:
        token, digest = new_install_token()
    else:
        if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
            raise ValidationError.field("install_token", "must be at least 16 printable ASCII characters")
        digest = hash_token(token)
    async with ctx.db.transaction() as tx:
        await ctx.settings.set(tx, "install_token_hash", digest)
    return token


async def has_install_token(ctx: Context) -> bool:
    return await ctx.settings.has(ctx.db, "install_token_hash")


async def token_matches(ctx: Context, token: str) -> bool:
    stored = await ctx.settings.get(ctx.db, "install_token_hash")
    return stored is not None and hmac.compare_digest(stored, hash_token(token))
