"""Accounts and sessions: bcrypt password hashes, HS256 session tokens bound to a
per-user session version (logout and password change bump it, which revokes every
token issued before), and the limits on password guessing.

Guessing limits (all in memory: a restart forgets them):

- Per client (``client_key``: an IPv4 address, an IPv6 /64): at most
  ``LOGIN_ATTEMPTS`` logins per ``LOGIN_WINDOW`` seconds, right or wrong.
- Per account: the username as typed, folded (``account_key``), whether or not such
  a user exists, so a refusal says nothing about which users exist. The first
  ``BACKOFF_FREE`` attempts pass; after that each one must wait 1, 2, 4 … seconds,
  never more than ``BACKOFF_MAX``, after the previous one. A growing delay, not a
  lock: whoever waits the Retry-After gets the next attempt. An attempt counts when
  it starts, so guesses sent all at once cannot all pass before the first fails; a
  successful login clears the count, and it is forgotten after ``BACKOFF_QUIET``
  seconds without attempts.
- A browser that signed in to the account before (it holds a device token, issued
  with every session and bound to the account) does not wait behind the account's
  delay; it counts under its own device token instead, with the same backoff. So an
  attacker who keeps the account's delay running from anywhere else cannot keep the
  administrator out of their own browser (the OWASP "device cookie" scheme).
- Password change: wrong ``current_password`` guesses back off the same way, per
  account (a stolen session cannot try passwords at full speed).

Refusals are ``RateLimitedError`` (HTTP 429 with Retry-After), answered before any
bcrypt work. A failed login is logged with the username when that account exists, or
else with a keyed digest of what was typed (people type passwords into the username
field): stable within the process, so repeated attempts can be correlated, but not
reversible without the per-process key, which is never written anywhere."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import math
import secrets
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt
import jwt

from wgpilot.domain import validate
from wgpilot.domain.clients import client_key
from wgpilot.domain.errors import AuthError, RateLimitedError, ValidationError
from wgpilot.domain.models import Actor, User
from wgpilot.services.context import Context
from wgpilot.storage.db import Tx

log = logging.getLogger(__name__)

MIN_PASSWORD = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after byte 72: refuse instead of truncating
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = 60.0
BACKOFF_FREE = 5  # attempts per account before the delay starts
BACKOFF_MAX = 30.0  # the longest anyone waits for the next attempt (seconds)
BACKOFF_QUIET = 900.0  # an account's count is forgotten after this long without attempts
ALGORITHM = "HS256"
USER_CACHE_SECONDS = 5.0
VERIFIED_TOKENS = 4096  # session tokens whose signature was checked once (FIFO beyond)
MAX_KEYS = 10_000  # entries per limiter (bounds memory under a spray of addresses or names)


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


def account_key(username: str) -> str:
    """The key an account's attempts count under: case and Unicode compatibility forms
    folded (the users table compares names case-insensitively), as a fixed-size digest."""
    folded = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
        if len(self._events) > MAX_KEYS:  # bound memory under a spray of addresses
            for k in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                del self._events[k]


class Backoff:
    """Exponential backoff per key (see the module docstring): the first ``free``
    attempts pass; attempt ``free + n`` must come at least ``2**n`` seconds (at most
    ``cap``) after the one before it. ``attempt`` counts an attempt when it starts and
    raises ``RateLimitedError`` while the key must wait; ``success`` clears the key."""

    def __init__(
        self,
        free: int = BACKOFF_FREE,
        cap: float = BACKOFF_MAX,
        quiet: float = BACKOFF_QUIET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.cap, self.quiet, self.clock = free, cap, quiet, clock
        self._keys: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key → (attempts, last)

    def attempt(self, key: str, refusal: str) -> None:
        now = self.clock()
        wait = self._wait(key, now)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise RateLimitedError(f"{refusal}; try again in {retry} s", retry_after=retry)
        count, _ = self._entry(key, now)
        self._keys[key] = (count + 1, now)
        self._keys.move_to_end(key)
        while len(self._keys) > MAX_KEYS:
            # The least recently tried goes first: a spray of names can only push out
            # counts older than itself, and each name of the spray costs an attempt.
            self._keys.popitem(last=False)

    def success(self, key: str) -> None:
        self._keys.pop(key, None)

    def _wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        count, last = self._entry(key, now)
        if count < self.free:
            return 0.0
        delay = min(2.0 ** min(count - self.free, 32), self.cap)
        return max(0.0, last + delay - now)

    def _entry(self, key: str, now: float) -> tuple[int, float]:
        entry = self._keys.get(key)
        if entry is None:
            return 0, now
        if now - entry[1] >= self.quiet:
            del self._keys[key]
            return 0, now
        return entry


DEVICE_CONTEXT = b"wgpilot device token\0"


@dataclass(frozen=True)
class Session:
    user: User
    token: str
    expires_at: int
    device: str  # the device token for this browser: it signed in to this account


class AuthService:
    def __init__(
        self,
        ctx: Context,
        *,
        session_ttl: int = 86400,
        bcrypt_cost: int = 12,
        limiter: RateLimiter | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.ctx = ctx
        self.session_ttl = session_ttl
        self.bcrypt_cost = bcrypt_cost
        self.limiter = limiter or RateLimiter()  # per client
        self.backoff = backoff or Backoff()  # per account, device and password change
        self._secret: bytes | None = None
        self._dummy_hash: bytes | None = None
        self._dummy_lock = asyncio.Lock()
        self._log_key = secrets.token_bytes(32)  # this process only: see the module docstring
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
            await asyncio.to_thread(bcrypt.checkpw, data, await self._dummy())
            return False
        return await asyncio.to_thread(bcrypt.checkpw, data, hashed.encode())

    async def _dummy(self) -> bytes:
        """A hash at the configured cost to check unknown users against, made once, in
        a worker thread like every other bcrypt call (it costs as much as a login)."""
        async with self._dummy_lock:
            if self._dummy_hash is None:
                salt = bcrypt.gensalt(rounds=self.bcrypt_cost)
                self._dummy_hash = await asyncio.to_thread(bcrypt.hashpw, b"wgpilot-dummy", salt)
            return self._dummy_hash

    # -- device tokens -------------------------------------------------------------------------------
    @staticmethod
    def _device_mac(secret: bytes, nonce: str, account: str) -> bytes:
        message = DEVICE_CONTEXT + nonce.encode() + b"\0" + account.encode()
        mac = hmac.new(secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=")

    def _new_device(self, secret: bytes, account: str) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._device_mac(secret, nonce, account).decode()}"

    def _device(self, secret: bytes, token: str | None, account: str) -> str | None:
        """The nonce of ``token`` when it is a device token of ``account``, else None."""
        if not token or len(token) > 128:
            return None
        nonce, _, mac = token.partition(".")
        if not nonce or not hmac.compare_digest(mac.encode(), self._device_mac(secret, nonce, account)):
            return None
        return nonce

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
        secret = secret or await self.secret()
        token = jwt.encode(claims, secret, algorithm=ALGORITHM)
        return Session(user, token, exp, self._new_device(secret, account_key(user.username)))

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
    async def login(self, username: str, password: str, ip: str | None, device: str | None = None) -> Session:
        """``device``: the device token the browser holds, if any (see the module docstring)."""
        self.limiter.hit(client_key(ip))
        generation = self._generation
        secret = await self.secret()
        account = account_key(username)
        nonce = self._device(secret, device, account)
        if nonce is None:
            key, refusal = f"account:{account}", "too many failed logins for this account"
        else:
            key, refusal = f"device:{nonce}", "too many failed logins from this browser"
        self.backoff.attempt(key, refusal)
        user = await self.ctx.users.get_by_username(self.ctx.db, username)
        ok = await self._verify(password, user.password_hash if user else None)
        if not ok or user is None:
            log.warning("login failed", extra={**self._attempted(username, user), "ip": ip})
            raise AuthError("wrong username or password", code="INVALID_CREDENTIALS")
        self.backoff.success(key)
        async with self.ctx.db.transaction() as tx:
            await self._unchanged(tx, user, generation)
            await self.ctx.audit.record(
                tx, Actor(user.id, user.username, ip), "auth.login", f"user:{user.id}", {}, self.ctx.now()
            )
        log.info("login", extra={"username": user.username, "ip": ip})
        return await self.issue(user, secret)

    def _attempted(self, username: str, user: User | None) -> dict[str, str]:
        """How a failed login names the account in the log (see the module docstring)."""
        if user is not None:
            return {"username": user.username}
        digest = hmac.new(self._log_key, account_key(username).encode(), hashlib.sha256).hexdigest()
        return {"username_digest": digest[:12]}

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
        key = f"password:{user.id}"
        self.backoff.attempt(key, "too many wrong current passwords")
        if not await self._verify(current, user.password_hash):
            raise ValidationError.field("current_password", "is not your current password")
        self.backoff.success(key)
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
