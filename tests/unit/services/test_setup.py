"""SetupService step 1: what is checked before the password is hashed."""

from __future__ import annotations

import pytest

from wgpilot.domain.errors import ConflictError, ForbiddenError
from wgpilot.services import setup_state
from wgpilot.services.auth import AuthService
from wgpilot.services.context import Context
from wgpilot.services.setup import SetupService

PASSWORD = "a long enough password"


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every password bcrypt hashes (the 0.5 s of CPU step 1 must not spend for nothing)."""
    import bcrypt

    calls: list[bytes] = []
    real = bcrypt.hashpw

    def hashpw(password: bytes, salt: bytes) -> bytes:
        calls.append(password)
        return real(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    return calls


async def test_a_wrong_install_token_is_refused_before_any_hashing(ctx: Context, hashes: list[bytes]) -> None:
    setup = SetupService(ctx, AuthService(ctx, bcrypt_cost=4))
    token = await setup_state.issue_install_token(ctx)
    for wrong in ("wrong-token-123456", token + "x", ""):
        with pytest.raises(ForbiddenError):
            await setup.create_admin(wrong, "admin", PASSWORD, "192.0.2.1")
    assert hashes == []
    assert await ctx.users.count(ctx.db) == 0
    await setup.create_admin(token, "admin", PASSWORD, "192.0.2.1")
    assert hashes == [PASSWORD.encode()]


async def test_a_second_administrator_is_refused_before_any_hashing(
    ctx: Context, hashes: list[bytes]
) -> None:
    setup = SetupService(ctx, AuthService(ctx, bcrypt_cost=4))
    await setup.create_admin(None, "admin", PASSWORD, "local")
    hashes.clear()
    with pytest.raises(ConflictError):
        await setup.create_admin(None, "second", PASSWORD, "local")
    assert hashes == []
