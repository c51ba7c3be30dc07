from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wgpilot.domain.errors import StorageError
from wgpilot.storage import migrate as migrate_mod
from wgpilot.storage.db import Database


async def open_db(path: Path) -> Database:
    db = Database(path)
    await db.open()
    return db


async def test_empty_database_gets_every_migration(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "d.db")
    try:
        applied = await migrate_mod.migrate(db)
        assert applied == list(range(1, migrate_mod.latest_version() + 1))
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "networks",
            "peers",
            "network_bridges",
            "users",
            "settings",
            "audit_log",
            "alerts",
            "peer_snapshots",
            "peer_transfer",
            "schema_migrations",
        } <= tables
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        assert await db.fetchval("PRAGMA synchronous") == 2  # FULL
        # Running again on an up-to-date database applies nothing.
        assert await migrate_mod.migrate(db) == []
    finally:
        await db.close()


async def test_existing_database_keeps_its_data_and_gets_only_new_migrations(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    db = await open_db(path)
    await migrate_mod.migrate(db)
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO settings (key, value) VALUES ('public_ip', '1.2.3.4')")
        # Pretend the newest migration is not applied yet.
        await tx.execute("DELETE FROM schema_migrations WHERE version = ?", (migrate_mod.latest_version(),))
    await db.close()
    if migrate_mod.latest_version() == 1:
        # With a single migration, re-applying it to a populated schema must fail cleanly
        # inside its transaction and leave the data and bookkeeping untouched.
        db = await open_db(path)
        with pytest.raises(sqlite3.OperationalError):
            await migrate_mod.migrate(db)
        assert await db.fetchval("SELECT value FROM settings WHERE key='public_ip'") == "1.2.3.4"
        assert await db.fetchval("SELECT COUNT(*) FROM schema_migrations") == 0
        await db.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "d.db")
    try:
        await migrate_mod.migrate(db)
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
        with pytest.raises(StorageError, match="newer than this wgpilot"):
            await migrate_mod.migrate(db)
    finally:
        await db.close()


async def test_a_corrupt_database_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    db = await open_db(path)
    await migrate_mod.migrate(db)
    await db.close()
    data = bytearray(path.read_bytes())
    data[4096 : 4096 + 512] = b"\xff" * 512  # trash the second page
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError):
        await open_db(path)


def test_statement_splitter_keeps_triggers_whole() -> None:
    sql = """
    -- comment
    CREATE TABLE a (x INT);
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE a SET x = x + 1; -- inner
    END;
    """
    stmts = migrate_mod.statements(sql)
    assert len(stmts) == 2 and stmts[1].startswith("CREATE TRIGGER") and stmts[1].endswith("END;")
