"""SQLite access: one writer connection with explicit ``BEGIN IMMEDIATE`` transactions
serialised by a lock, and one read-only connection for everything else.

WAL lets readers run while the writer works; ``synchronous=FULL`` makes an
acknowledged commit survive power loss; foreign keys are enforced; a busy timeout
covers other processes (the CLI) writing the same file.

Repositories take a ``Conn`` — either a ``Tx`` (inside a write transaction, sees its
own uncommitted rows) or the ``Database`` itself (committed state, read-only).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import aiosqlite

from wgpilot.domain.errors import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")
C = TypeVar("C")


class Conn(Protocol):
    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]: ...
    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None: ...
    async def fetchval(self, sql: str, params: Params = ()) -> Any: ...


class _Writer:
    """The writer connection and its database thread, with a count of the calls handed
    to that thread and of those finished there. Equal counts mean the thread is idle and
    nothing waits in its queue: only then may the event loop use the connection itself
    (``Tx.inline``), since everything is queued from the loop thread."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._queued = 0  # written on the event-loop thread only
        self._finished = 0  # written on the database thread only
        self._closed = False

    @property
    def raw(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageError("database is not open")
        return self.conn._conn

    def idle(self) -> bool:
        return self._queued == self._finished and not self._closed

    async def close(self) -> None:
        """Closed for every caller from now on, even while the close is still running on
        the database thread: no step may start on the loop meanwhile."""
        self._closed = True
        await self.conn.close()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` on the database thread: one hop."""
        raw = self.raw  # raises when the connection is closed, before anything is counted

        def counted() -> T:
            try:
                return fn(raw)
            finally:
                self._finished += 1

        self._queued += 1
        return cast(T, await self.conn._execute(counted))


class Tx:
    """A running write transaction. Only valid inside ``Database.transaction()``.

    ``BEGIN IMMEDIATE`` goes with the first statement, in the same hop to the database
    thread; a transaction that issues none costs no round trip at all."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer
        self._begun = False

    def _begin_with(self, fn: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
        if self._begun:

            def checked(raw: sqlite3.Connection) -> T:
                _still_open(raw)
                return fn(raw)

            return checked
        self._begun = True  # asked for: the commit or the rollback takes care of it

        def begin_then(raw: sqlite3.Connection) -> T:
            try:
                raw.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._begun = False  # nothing to commit: no statement may run as if inside
                raise
            return fn(raw)

        return begin_then

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns lastrowid (for INSERT) or rowcount."""
        return await self._writer.run(self._begin_with(lambda raw: _execute(raw, sql, params)))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._writer.run(self._begin_with(lambda raw: raw.executemany(sql, rows)))

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return await self._writer.run(self._begin_with(lambda raw: raw.execute(sql, params).fetchall()))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def inline(self, step: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """Run ``step(tx)`` with every statement it issues executed at once, instead of
        each costing a trip to the database thread (which, under load, waits behind
        every other request's callbacks).

        It runs right here on the event loop when the connection is free for it: the
        database thread idle, and the write lock held or taken without waiting (in
        WAL mode nothing blocks a transaction's statements once it holds that lock).
        Otherwise — another process holds the lock, or the thread still has work
        queued — the whole step goes to the database thread in one hop. Either way
        the loop never waits on a lock, and the connection is never used from two
        threads at once.

        ``step`` is ordinary async repository code, but it must await nothing except
        this transaction's own methods. Awaiting anything that suspends (the kernel, a
        contended lock, a sleep) is a bug: it raises ``RuntimeError``, and the
        transaction around it, left by that exception, rolls back."""
        if self._writer.idle() and self._lock_now(self._writer.raw):
            return _drive(step, _DirectTx(self._writer.raw))
        return await self._writer.run(self._begin_with(lambda raw: _drive(step, _DirectTx(raw))))

    def _lock_now(self, raw: sqlite3.Connection) -> bool:
        """On the loop: true when this transaction holds SQLite's write lock, taking it
        now if nobody else has it; never waits for it."""
        if self._begun:
            _still_open(raw)
            return True
        if raw.in_transaction:  # not ours: let the database thread's queue sort it out
            return False
        raw.execute("PRAGMA busy_timeout=0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._begun = True
        return True


class _DirectTx(Tx):
    """``Tx`` for a step of ``Tx.inline``: statements go straight to the sqlite3
    connection of whichever thread runs the step; the coroutines never suspend."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw
        self._begun = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _execute(self._raw, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._raw.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self._raw.execute(sql, params).fetchall()

    async def inline(self, step: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        return await step(self)


def _drive(step: Callable[[Tx], Coroutine[Any, Any, T]], tx: _DirectTx) -> T:
    """Run a step that must complete without suspending."""
    coro = step(tx)
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise RuntimeError(f"{getattr(step, '__qualname__', step)} awaited something outside the transaction")


def _execute(raw: sqlite3.Connection, sql: str, params: Params) -> int:
    cur = raw.execute(sql, params)
    if sql.lstrip()[:6].upper() == "INSERT":
        return int(cur.lastrowid or 0)
    return int(cur.rowcount)


def _still_open(raw: sqlite3.Connection) -> None:
    """A begun transaction SQLite has not rolled back on its own (it does on some I/O
    errors): otherwise statements would go on in autocommit mode, one by one."""
    if not raw.in_transaction:
        raise StorageError("the transaction was rolled back by SQLite; nothing of it was saved")


def _commit(raw: sqlite3.Connection) -> None:
    _still_open(raw)
    raw.execute("COMMIT")


def _rollback_if_open(raw: sqlite3.Connection) -> None:
    """Roll back whatever transaction is open."""
    if raw.in_transaction:
        raw.execute("ROLLBACK")


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: _Writer | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------
    async def open(self, *, check_integrity: bool = True) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = writer = _Writer(await self._connect(readonly=False))
            # Fetched, so the statement is finished and holds no lock on a file it converts.
            await writer.run(lambda raw: raw.execute("PRAGMA journal_mode=WAL").fetchall())
            if check_integrity:
                rows = await writer.run(lambda raw: raw.execute("PRAGMA integrity_check").fetchall())
                verdict = [r[0] for r in rows]
                if verdict != ["ok"]:
                    raise StorageError(
                        f"database {self.path} failed its integrity check: "
                        + "; ".join(str(v) for v in verdict[:5])
                        + " — restore a backup (wgpilot restore FILE)"
                    )
            self._reader = await self._connect(readonly=True)
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        except StorageError:
            await self.close()
            raise

    async def _connect(self, *, readonly: bool) -> aiosqlite.Connection:
        # The writer is used from the event loop too (``Tx.inline``), never concurrently.
        conn = await aiosqlite.connect(
            str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=readonly
        )
        conn.row_factory = sqlite3.Row
        pragmas = [
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys=ON",
            "PRAGMA synchronous=FULL",
            # Statement journals (a multi-row INSERT inside a transaction) in memory,
            # not a temporary file created and unlinked per statement.
            "PRAGMA temp_store=MEMORY",
        ]
        if readonly:
            pragmas.append("PRAGMA query_only=ON")
        try:
            for pragma in pragmas:
                await conn.execute_fetchall(pragma)
        except BaseException:
            await conn.close()  # else its thread outlives the failed open
            raise
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                try:
                    await conn.close()
                except Exception:  # closing a broken connection must not mask the cause
                    log.debug("closing database connection failed", exc_info=True)
        self._reader = self._writer = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    # -- writes ----------------------------------------------------------------
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back on any exception."""
        async with self._lock, self.transaction_held() as tx:
            yield tx

    @asynccontextmanager
    async def transaction_held(self) -> AsyncIterator[Tx]:
        """``transaction()`` for a caller that holds ``write_lock`` already and keeps it
        (a restore, from the swap until the restored state is settled)."""
        if not self._lock.locked():
            raise RuntimeError("transaction_held() without the write lock")
        # Taken under the lock: a restore replaces the writer while others wait for it.
        writer = self._require(self._writer)
        tx = Tx(writer)
        try:
            yield tx
        except BaseException:
            # Decided on the database thread, after everything still queued there:
            # a cancelled caller may have left a BEGIN or a step in the queue that
            # ``_begun`` cannot know about yet; it must not stay open (it would hold
            # SQLite's write lock and refuse every later transaction).
            try:
                await writer.run(_rollback_if_open)
            except sqlite3.Error:
                log.exception("rollback failed")
            raise
        if tx._begun:
            try:
                await writer.run(_commit)
            except StorageError:
                await writer.run(_rollback_if_open)
                raise
            except sqlite3.Error as exc:
                await writer.run(_rollback_if_open)  # unless SQLite has already
                raise StorageError(f"commit failed: {exc}") from exc

    @property
    def write_lock(self) -> asyncio.Lock:
        return self._lock

    # -- reads -----------------------------------------------------------------
    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return list(await self._require(self._reader).execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self._require(self._reader).execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def ping(self) -> bool:
        """True when the database answers and accepts a write transaction."""
        try:
            async with self.transaction() as tx:
                await tx.fetchval("SELECT 1")
            return True
        except Exception:
            return False

    @staticmethod
    def _require(conn: C | None) -> C:
        if conn is None:
            raise StorageError("database is not open")
        return conn
