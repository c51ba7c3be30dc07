"""Accounts and sessions: bcrypt password hashes, HS256 session tokens bound to a
per-user session version (logout and password change bump it, which revokes every
token issued before), and the per-IP login rate limit."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt
import jwt

from wgpilot.domain import validate
from wgpilot.domain.errors import AuthError, RateLimitedError, ValidationError
from wgpilot.domain.models import Actor, User
from wgpilot.services.context import Context
from wgpilot.storage.db import Tx

log = logging.getLogger(__name__)

MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after byte 72: refuse instead of truncating
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = 60.0
ALGORITHM = "HS256"
USER_CACHE_SECONDS = 5.0
VERIFIED_TOKENS = 4096  # session tokens whose signature was checked once (FIFO beyond)


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError.field(field, f"must be at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValidationError.field(
            field,
            f"is longer than {MAX_PASSWORD_BYTES} bytes; bcrypt would silently ignore the rest, "
            "so choose a shorter passphrase",
        )
    if "\0" in password:
        raise ValidationError.field(field, "must not contain NUL characters")
    return password


def check_username(username: str, field: str = "username") -> str:
    username = validate.name(username, field)
    if len(username) > 32:
        raise ValidationError.field(field, "must be at most 32 characters")
    return username


class RateLimiter:
    """Sliding window: at most ``limit`` events per ``window`` seconds per key."""

    def __init__(
        self,
        limit: int = LOGIN_ATTEMPTS,
        window: float = LOGIN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        now = self.clock()
        q = self._events.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            retry = max(1, int(q[0] + self.window - now) + 1)
            raise RateLimitedError(f"too many login attempts; try again in {retry} s", retry_after=retry)
        q.append(now)
        if len(self._events) > 10_000:  # bound memory under a spray of addresses
            for k in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                del self._events[k]


@dataclass(frozen=True)
class Session:
    user: User
    token: str
    expires_at: int


class AuthService:
    def __init__(
        self,
        ctx: Context,
        *,
        session_ttl: int = 86400,
        bcrypt_cost: int = 12,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.ctx = ctx
        self.session_ttl = session_ttl
        self.bcrypt_cost = bcrypt_cost
        self.limiter = limiter or RateLimiter()
        self._secret: bytes | None = None
        self._dummy_hash: bytes | None = None
        # Session checks read the user on every request; keep it briefly. Every change
        # that must revoke sessions goes through this service (or a restore), which
        # drops the cache at once, so revocation is never delayed.
        self._users: dict[int, tuple[float, User]] = {}
        # A token's signature and claims never change: check them once per token, not
        # once per request (HS256 + claim parsing is a tenth of a small request's CPU).
        # Only tokens that verified are kept, so forged ones cannot crowd out real ones;
        # expiry and the session version are still checked on every request.
        self._verified: OrderedDict[str, tuple[int, int, object]] = OrderedDict()
        # Bumped when the database is replaced: a value read before that (the read
        # awaited, the swap happened meanwhile) is used once but never cached.
        self._generation = 0
        ctx.listeners.append(lambda kind, _network: self._forget() if kind == "restore" else None)

    def _forget(self) -> None:
        """After a restore: the database may hold another signing secret and other users."""
        self._generation += 1
        self._users.clear()
        self._verified.clear()
        self._secret = None

    # -- secrets and hashing -----------------------------------------------------------------
    async def secret(self) -> bytes:
        if self._secret is not None:
            return self._secret
        generation = self._generation
        value = await self.ctx.settings.get_secret(self.ctx.db, "jwt_secret")
        if value is None:
            value = secrets.token_hex(32)  # 256 bits
            async with self.ctx.db.transaction() as tx:
                existing = await self.ctx.settings.get_secret(tx, "jwt_secret")
                if existing is None:
                    await self.ctx.settings.set(tx, "jwt_secret", value)
                else:
                    value = existing
        secret = bytes.fromhex(value)
        if generation == self._generation:
            self._secret = secret
        return secret

    async def hash_password(self, password: str) -> str:
        salt = bcrypt.gensalt(rounds=self.bcrypt_cost)
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
        return hashed.decode()

    async def _verify(self, password: str, hashed: str | None) -> bool:
        data = password.encode()
        if len(data) > MAX_PASSWORD_BYTES:
            return False
        if hashed is None:
            # Same cost as a real check, so response time does not reveal unknown users.
            if self._dummy_hash is None:
                self._dummy_hash = bcrypt.hashpw(b"wgpilot-dummy", bcrypt.gensalt(rounds=self.bcrypt_cost))
            await asyncio.to_thread(bcrypt.checkpw, data, self._dummy_hash)
            return False
        return await asyncio.to_thread(bcrypt.checkpw, data, hashed.encode())

    # -- sessions ----------------------------------------------------------------------------------
    async def issue(self, user: User, secret: bytes | None = None) -> Session:
        """A session for ``user``, signed with ``secret`` when given: the one read in
        the same database generation as ``user`` (see ``_unchanged``)."""
        now = self.ctx.now()
        exp = now + self.session_ttl
        claims = {
            "sub": str(user.id),
            "sv": user.session_version,
            "iat": now,
            "exp": exp,
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(claims, secret or await self.secret(), algorithm=ALGORITHM)
        return Session(user, token, exp)

    async def authenticate(self, token: str) -> User | None:
        """The user a session token belongs to, or None (expired, forged, revoked)."""
        if not token or len(token) > 4096:
            return None
        claims = self._verified.get(token)
        if claims is None:
            generation = self._generation
            try:
                # Expiry is checked against the service clock (injectable), not PyJWT's.
                decoded = jwt.decode(
                    token,
                    await self.secret(),
                    algorithms=[ALGORITHM],
                    options={
                        "require": ["exp", "iat", "sub", "sv"],
                        "verify_exp": False,
                        "verify_iat": False,
                    },
                )
                claims = (int(decoded["sub"]), int(decoded["exp"]), decoded["sv"])
            except (jwt.PyJWTError, ValueError, TypeError):
                return None
            if generation == self._generation:
                self._verified[token] = claims
                if len(self._verified) > VERIFIED_TOKENS:
                    self._verified.popitem(last=False)
        user_id, expires, version = claims
        if expires <= self.ctx.now():
            return None
        user = await self._user(user_id)
        if user is None or user.session_version != version:
            return None
        return user

    async def _user(self, user_id: int) -> User | None:
        now = time.monotonic()
        hit = self._users.get(user_id)
        if hit is not None and now - hit[0] < USER_CACHE_SECONDS:
            return hit[1]
        generation = self._generation
        user = await self.ctx.users.get(self.ctx.db, user_id)
        if user is not None and generation == self._generation:
            self._users[user_id] = (now, user)
        return user

    # -- use cases -----------------------------------------------------------------------------------
    async def login(self, username: str, password: str, ip: str | None) -> Session:
        self.limiter.hit(ip or "unknown")
        generation = self._generation
        secret = await self.secret()
        user = await self.ctx.users.get_by_username(self.ctx.db, username)
        ok = await self._verify(password, user.password_hash if user else None)
        if not ok or user is None:
            log.warning("login failed", extra={"username": username[:64], "ip": ip})
            raise AuthError("wrong username or password", code="INVALID_CREDENTIALS")
        async with self.ctx.db.transaction() as tx:
            await self._unchanged(tx, user, generation)
            await self.ctx.audit.record(
                tx, Actor(user.id, user.username, ip), "auth.login", f"user:{user.id}", {}, self.ctx.now()
            )
        log.info("login", extra={"username": user.username, "ip": ip})
        return await self.issue(user, secret)

    async def _unchanged(self, tx: Tx, user: User, generation: int) -> None:
        """Inside the write transaction (no restore can swap the database during it):
        no restore since ``generation`` (when the caller read the signing secret), and
        ``user``, read before, is still this user — not another account under the same
        id, nor one whose password or sessions changed."""
        now = await self.ctx.users.get(tx, user.id)
        if (
            generation != self._generation
            or now is None
            or (now.username, now.password_hash, now.session_version)
            != (
                user.username,
                user.password_hash,
                user.session_version,
            )
        ):
            raise AuthError("your account changed meanwhile (a restore?); log in again", code="UNAUTHORIZED")

    async def logout(self, user: User, ip: str | None) -> None:
        self._users.clear()
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            await self.ctx.users.bump_session_version(tx, user.id, now)
            await self.ctx.audit.record(
                tx, Actor(user.id, user.username, ip), "auth.logout", f"user:{user.id}", {}, now
            )
        self._users.clear()

    async def change_password(self, user: User, current: str, new: str, ip: str | None) -> Session:
        if not await self._verify(current, user.password_hash):
            raise ValidationError.field("current_password", "is not your current password")
        check_password(new, "new_password")
        if current == new:
            raise ValidationError.field("new_password", "must differ from the current password")
        hashed = await self.hash_password(new)
        self._users.clear()
        now = self.ctx.now()
        generation = self._generation
        secret = await self.secret()
        async with self.ctx.db.transaction() as tx:
            await self._unchanged(tx, user, generation)
            await self.ctx.users.set_password(tx, user.id, hashed, now)
            await self.ctx.audit.record(
                tx, Actor(user.id, user.username, ip), "auth.password_change", f"user:{user.id}", {}, now
            )
            fresh = await self.ctx.users.get(tx, user.id)  # as committed, whatever comes after
        self._users.clear()  # the commit is done: drop what a concurrent request cached
        assert fresh is not None
        return await self.issue(fresh, secret)
