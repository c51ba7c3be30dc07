from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import aiosqlite
import pytest

from wgpilot.domain.errors import StorageError
from wgpilot.storage.db import BUSY_TIMEOUT_MS, Database, Tx


class Hops:
    """Counts trips to the writer's database thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = aiosqlite.Connection._execute

        async def counted(conn: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.count += 1
            return await original(conn, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)


async def _add(tx: Tx, name: str) -> int:
    return await tx.execute(
        "INSERT INTO users (username, password_hash, created_at, updated_at) VALUES (?, 'x', 0, 0)", (name,)
    )


async def _users(db: Database) -> list[str]:
    return [r[0] for r in await db.fetchall("SELECT username FROM users ORDER BY username")]


async def _step(tx: Tx) -> tuple[list[str], int]:
    first = await _add(tx, "alice")
    await tx.executemany(
        "INSERT INTO users (username, password_hash, created_at, updated_at) VALUES (?, 'x', 0, 0)",
        [("bob",), ("carol",)],
    )
    assert await tx.fetchval("SELECT id FROM users WHERE username = 'alice'") == first  # own writes
    names = [r[0] for r in await tx.fetchall("SELECT username FROM users ORDER BY username")]
    return names, threading.get_ident()


async def test_inline_on_an_idle_writer_runs_on_the_loop_without_a_hop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = Hops(monkeypatch)
    async with db.transaction() as tx:
        seen, thread = await tx.inline(_step)
        assert hops.count == 0  # BEGIN IMMEDIATE and five statements, right here
        await _add(tx, "dave")  # the transaction goes on as usual afterwards
    assert thread == threading.get_ident()
    assert seen == ["alice", "bob", "carol"]
    assert hops.count == 2  # the INSERT, then COMMIT
    assert await _users(db) == ["alice", "bob", "carol", "dave"]


async def test_inline_behind_queued_work_runs_on_the_database_thread_in_one_hop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Work still queued on the database thread (here a slow call) comes first: the
    step goes behind it, in order, instead of using the connection at the same time."""
    writer = db._require(db._writer)
    busy = asyncio.ensure_future(writer.run(lambda raw: time.sleep(0.2)))
    await asyncio.sleep(0)
    hops = Hops(monkeypatch)
    async with db.transaction() as tx:
        seen, thread = await tx.inline(_step)
        assert hops.count == 1
    await busy
    assert thread != threading.get_ident()
    assert seen == ["alice", "bob", "carol"]
    assert await _users(db) == seen


async def test_inline_never_blocks_the_loop_on_another_process_s_write_lock(db: Database) -> None:
    """Another connection (the CLI, say) holds SQLite's write lock: the step waits on
    the database thread under the busy timeout, while the event loop keeps serving."""
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.ensure_future(heartbeat())

    async def write() -> tuple[list[str], int]:
        async with db.transaction() as tx:
            return await tx.inline(_step)

    task = asyncio.ensure_future(write())
    await asyncio.sleep(0.3)
    assert not task.done() and ticks >= 10  # waiting, and the loop was never held
    other.execute("ROLLBACK")
    other.close()
    seen, thread = await asyncio.wait_for(task, 5)
    beat.cancel()
    assert thread != threading.get_ident()
    assert seen == ["alice", "bob", "carol"]
    assert await db.fetchval("PRAGMA busy_timeout") == BUSY_TIMEOUT_MS  # the reader's
    writer = db._require(db._writer)
    assert (await writer.run(lambda raw: raw.execute("PRAGMA busy_timeout").fetchone()))[0] == BUSY_TIMEOUT_MS


async def test_a_step_that_awaits_anything_else_is_refused_and_rolled_back(db: Database) -> None:
    async def step(tx: Tx) -> None:
        await _add(tx, "alice")
        await asyncio.sleep(0)  # not the transaction: would run on the database thread

    with pytest.raises(RuntimeError, match="awaited something outside the transaction"):
        async with db.transaction() as tx:
            await tx.inline(step)
    assert await db.fetchval("SELECT COUNT(*) FROM users") == 0


async def test_an_error_inside_inline_rolls_back_what_the_transaction_did(db: Database) -> None:
    async def step(tx: Tx) -> None:
        await _add(tx, "bob")
        await _add(tx, "bob")  # UNIQUE username

    with pytest.raises(aiosqlite.IntegrityError):
        async with db.transaction() as tx:
            await _add(tx, "alice")  # before, on the loop
            await tx.inline(step)
    assert await db.fetchval("SELECT COUNT(*) FROM users") == 0
    async with db.transaction() as tx:  # the writer is usable again
        await _add(tx, "carol")
    assert await db.fetchval("SELECT COUNT(*) FROM users") == 1


async def test_a_transaction_that_issues_nothing_costs_no_hop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = Hops(monkeypatch)
    async with db.transaction():
        pass
    assert hops.count == 0


async def test_transactions_stay_serialised_with_inline_steps(db: Database) -> None:
    async def one(i: int) -> None:
        async with db.transaction() as tx:
            n = await tx.fetchval("SELECT COUNT(*) FROM users")
            await tx.inline(lambda t: _add(t, f"user{n:03d}"))  # read-then-write: needs isolation

    await asyncio.gather(*(one(i) for i in range(40)))
    assert await db.fetchval("SELECT COUNT(DISTINCT username) FROM users") == 40


@pytest.mark.parametrize("how", ["inline", "execute"])
async def test_a_cancelled_transaction_never_stays_open(db: Database, how: str) -> None:
    """Cancelled while its BEGIN and first statement still wait in the database
    thread's queue: they run after the cancellation, and must be rolled back then."""
    writer = db._require(db._writer)
    busy = asyncio.ensure_future(writer.run(lambda raw: time.sleep(0.3)))  # the thread is busy
    await asyncio.sleep(0.05)

    async def write() -> None:
        async with db.transaction() as tx:
            if how == "inline":
                await tx.inline(lambda t: _add(t, "ghost"))
            else:
                await _add(tx, "ghost")

    task = asyncio.ensure_future(write())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await busy
    async with db.transaction() as tx:  # not "cannot start a transaction within a transaction"
        await _add(tx, "alive")
    assert [r[0] for r in await db.fetchall("SELECT username FROM users")] == ["alive"]
    assert await db.ping()


@pytest.mark.parametrize("then", ["execute", "inline", "commit"])
async def test_a_transaction_sqlite_rolled_back_itself_saves_nothing_more(db: Database, then: str) -> None:
    """SQLite rolls a transaction back on its own after some I/O errors (simulated
    here): what the caller does next must fail, not run in autocommit mode."""
    writer = db._require(db._writer)
    with pytest.raises(StorageError, match="rolled back by SQLite"):
        async with db.transaction() as tx:
            await _add(tx, "alice")
            await writer.run(lambda raw: raw.execute("ROLLBACK"))
            if then == "execute":
                await _add(tx, "bob")
            elif then == "inline":
                await tx.inline(lambda t: _add(t, "bob"))
    assert await _users(db) == []
    async with db.transaction() as tx:  # the writer is usable again
        await _add(tx, "carol")
    assert await _users(db) == ["carol"]


async def test_a_closing_writer_takes_no_more_work(db: Database) -> None:
    writer = db._require(db._writer)
    closing = asyncio.ensure_future(writer.close())
    await asyncio.sleep(0)  # the close has started, and waits for the database thread
    assert not writer.idle()  # no step may start on the loop, even before the close has run
    with pytest.raises(StorageError, match="not open"):
        async with db.transaction() as tx:
            await tx.inline(lambda t: _add(t, "ghost"))
    await closing
