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


class Conn(Protocol):
    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]: ...
    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None: ...
    async def fetchval(self, sql: str, params: Params = ()) -> Any: ...


class Tx:
    """A running write transaction. Only valid inside ``Database.transaction()``.

    ``BEGIN IMMEDIATE`` is sent with the first statement (in the same hop to the
    database thread when that statement comes through ``inline``); a transaction that
    issues none costs no round trip at all."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._after_commit: list[Any] = []
        self._begun = False

    async def _begin(self) -> None:
        if not self._begun:
            await self._conn.execute("BEGIN IMMEDIATE")
            self._begun = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns lastrowid (for INSERT) or rowcount.

        One hop to the database thread: the cursor is left to the garbage collector
        instead of costing a second round trip to close it."""
        await self._begin()
        cur = await self._conn.execute(sql, params)
        return _outcome(sql, cur.lastrowid, cur.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._begin()
        await self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        await self._begin()
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    def after_commit(self, callback: Any) -> None:
        """Run ``callback()`` (sync or async) once the transaction has committed."""
        self._after_commit.append(callback)

    async def inline(self, step: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        """Run ``step(tx)`` on the database thread in one hop: each statement it issues
        executes there at once, instead of each costing a trip through the event loop
        (which, under load, waits behind every other request's callbacks).

        ``step`` is ordinary async repository code, but it must await nothing except
        this transaction's own methods. Awaiting anything that suspends (the kernel, a
        contended lock, a sleep) is a bug: it raises ``RuntimeError``, and the
        transaction around it, left by that exception, rolls back."""

        def run(conn: sqlite3.Connection) -> T:
            direct = _ThreadTx(conn, self)
            if not self._begun:
                conn.execute("BEGIN IMMEDIATE")
                self._begun = True
            coro = step(direct)
            try:
                coro.send(None)
            except StopIteration as done:
                return cast(T, done.value)
            coro.close()
            raise RuntimeError(
                f"{getattr(step, '__qualname__', step)} awaited something outside the transaction"
            )

        return cast(T, await self._conn._execute(lambda: run(self._conn._conn)))


class _ThreadTx(Tx):
    """``Tx`` for code running on the database thread (``Tx.inline``): statements go
    straight to the sqlite3 connection; the coroutines never suspend."""

    def __init__(self, raw: sqlite3.Connection, outer: Tx) -> None:
        self._raw = raw
        self._after_commit = outer._after_commit
        self._begun = True

    async def execute(self, sql: str, params: Params = ()) -> int:
        cur = self._raw.execute(sql, params)
        return _outcome(sql, cur.lastrowid, cur.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._raw.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self._raw.execute(sql, params).fetchall()

    async def inline(self, step: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
        return await step(self)


def _rollback_if_open(writer: aiosqlite.Connection) -> None:
    """On the database thread: roll back whatever transaction is open."""
    if writer._conn.in_transaction:
        writer._conn.execute("ROLLBACK")


def _outcome(sql: str, lastrowid: int | None, rowcount: int) -> int:
    if sql.lstrip()[:6].upper() == "INSERT":
        return int(lastrowid or 0)
    return int(rowcount)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------
    async def open(self, *, check_integrity: bool = True) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect(readonly=False)
            # Fetched, so the statement is finished and holds no lock on a file it converts.
            await self._writer.execute_fetchall("PRAGMA journal_mode=WAL")
            if check_integrity:
                rows = await self._writer.execute_fetchall("PRAGMA integrity_check")
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
        conn = await aiosqlite.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
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
        writer = self._require(self._writer)
        async with self._lock:
            tx = Tx(writer)
            try:
                yield tx
            except BaseException:
                # Decided on the database thread, after everything still queued there:
                # a cancelled caller may have left a BEGIN or a step in the queue that
                # ``_begun`` cannot know about yet; it must not stay open (it would hold
                # SQLite's write lock and refuse every later transaction).
                try:
                    await writer._execute(_rollback_if_open, writer)
                except sqlite3.Error:
                    log.exception("rollback failed")
                raise
            if tx._begun:
                try:
                    await writer.execute("COMMIT")
                except sqlite3.Error as exc:
                    await writer._execute(_rollback_if_open, writer)  # SQLite may have already
                    raise StorageError(f"commit failed: {exc}") from exc
        for callback in tx._after_commit:
            result = callback()
            if asyncio.iscoroutine(result):
                await result

    async def raw_writer(self) -> aiosqlite.Connection:
        """The writer connection, for backup/restore plumbing only."""
        return self._require(self._writer)

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
    def _require(conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise StorageError("database is not open")
        return conn
