"""First-run state shared by `wgpilot init`, `serve` and the setup API: whether setup
is complete, and the one-time install token.

The install token lets its holder create the administrator (wizard step 1), so it
exists only while there is no administrator: creating one destroys it. It is kept
encrypted with the master key (like every other secret), not as a one-way hash,
so that a restart can show the same token again:

- ``wgpilot init`` issues a new token (the old one stops working) unless setup is
  complete or the administrator exists.
- ``wgpilot serve`` at start (``pending``): no administrator yet → it shows the
  current token, issuing one only when there is none, so a restart never voids the
  token that install.sh or ``wgpilot init`` printed. The administrator exists but
  setup is not finished → no token (it could do nothing); it says to sign in and
  finish the wizard instead.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from wgpilot.domain.errors import ValidationError
from wgpilot.services.context import Context
from wgpilot.storage.db import Conn, Tx

KEY = "install_token"
LEGACY_KEY = "install_token_hash"  # before tokens were kept encrypted: unusable for display


async def is_complete(ctx: Context) -> bool:
    return await ctx.settings.get(ctx.db, "setup_complete") == "1"


async def admin_exists(ctx: Context) -> bool:
    return await ctx.users.count(ctx.db) > 0


async def issue_install_token(ctx: Context, token: str | None = None) -> str:
    """Store a new install token (replacing any earlier one); returns it."""
    if token is None:
        token = secrets.token_urlsafe(24)
    elif len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise ValidationError.field("install_token", "must be at least 16 printable ASCII characters")
    async with ctx.db.transaction() as tx:
        await ctx.settings.set(tx, KEY, token)
        await ctx.settings.delete(tx, LEGACY_KEY)
    return token


async def drop_install_token(ctx: Context, tx: Tx) -> None:
    await ctx.settings.delete(tx, KEY)
    await ctx.settings.delete(tx, LEGACY_KEY)


async def token_matches(ctx: Context, token: str, conn: Conn | None = None) -> bool:
    stored = await ctx.settings.get_secret(conn or ctx.db, KEY)
    return stored is not None and hmac.compare_digest(stored.encode(), token.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Pending:
    """What ``serve`` tells the operator at start while setup is not finished."""

    token: str | None  # the install token to enter in the wizard (no administrator yet)

    @property
    def message(self) -> str:
        if self.token is not None:
            return f"one-time install token: {self.token}"
        return "setup is not finished: the administrator exists; sign in with that account and finish the setup wizard"


async def pending(ctx: Context) -> Pending | None:
    """At server start: None once setup is complete, else what to show (see above)."""
    if await is_complete(ctx):
        return None
    if await admin_exists(ctx):
        return Pending(None)
    token = await ctx.settings.get_secret(ctx.db, KEY)
    return Pending(token if token is not None else await issue_install_token(ctx))
