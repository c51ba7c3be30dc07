from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from wgpilot.storage import migrate, schema
from wgpilot.storage.db import Database


def migrated(version: int | None = None) -> sqlite3.Connection:
    """An in-memory database built the way the yardstick is not: statement by
    statement from the migration files, as a reviewer would by hand."""
    conn = sqlite3.connect(":memory:")
    conn.execute(migrate.BOOKKEEPING)
    for mig in migrate.available()[:version]:
        conn.executescript(mig.sql)
    return conn


async def test_the_yardstick_is_what_migrate_makes_of_a_real_database(tmp_path: Path) -> None:
    db = Database(tmp_path / "d.db")
    await db.open()
    try:
        await migrate.migrate(db)
    finally:
        await db.close()
    conn = sqlite3.connect(tmp_path / "d.db")
    try:
        found = schema.describe(conn)
    finally:
        conn.close()
    assert schema.differences(found, schema.expected(migrate.latest_version())) == []
    kinds = {t for t, _ in found}
    assert {"table", "index", "trigger"} <= kinds  # the comparison covers all three


@pytest.mark.parametrize("version", range(migrate.latest_version() + 1))
def test_every_version_matches_itself_and_no_other(version: int) -> None:
    found = schema.describe(migrated(version))
    assert schema.differences(found, schema.expected(version)) == []
    others = [v for v in range(migrate.latest_version() + 1) if v != version]
    assert all(schema.differences(found, schema.expected(v)) for v in others)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('CREATE TABLE "peer_snapshots" (x INTEGER)', "create table peer_snapshots(x integer)"),
        ("CREATE TABLE t (\n  a TEXT, -- why\n  b /* c */ INT)", "CREATE TABLE t (a TEXT, b INT)"),
        ("CREATE TABLE [t] (`a` TEXT)", "CREATE TABLE t (a TEXT)"),
    ],
)
def test_spelling_does_not_count(a: str, b: str) -> None:
    assert schema.normalise(a) == schema.normalise(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("CREATE TABLE t (r TEXT DEFAULT 'Admin')", "CREATE TABLE t (r TEXT DEFAULT 'admin')"),
        ('CREATE TABLE t ("a b" TEXT)', "CREATE TABLE t (a b TEXT)"),
        ("CREATE TABLE t (a TEXT CHECK (a <> ''))", "CREATE TABLE t (a TEXT)"),
        ("CREATE TABLE t (a TEXT DEFAULT '-- x')", "CREATE TABLE t (a TEXT DEFAULT '')"),
    ],
)
def test_meaning_does(a: str, b: str) -> None:
    assert schema.normalise(a) != schema.normalise(b)


Change = Callable[[sqlite3.Connection], None]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.execute("DROP TABLE audit_log"), "missing table audit_log"),
        (lambda c: c.execute("DROP INDEX peers_by_network"), "missing index peers_by_network"),
        (lambda c: c.execute("DROP TRIGGER peer_counts_insert"), "missing trigger peer_counts_insert"),
        (
            lambda c: c.execute("CREATE TRIGGER spy AFTER INSERT ON users BEGIN SELECT 1; END"),
            "unexpected trigger spy",
        ),
        (lambda c: c.execute("CREATE VIEW v AS SELECT 1"), "unexpected view v"),
        (lambda c: c.execute("CREATE TABLE extra (x)"), "unexpected table extra"),
        (lambda c: c.execute("CREATE INDEX mine ON peers (name)"), "unexpected index mine"),
        (lambda c: c.execute("ALTER TABLE peers DROP COLUMN adopted"), "table peers: missing column adopted"),
        (lambda c: c.execute("ALTER TABLE users ADD COLUMN x TEXT"), "table users: unexpected column x"),
        (
            lambda c: c.executescript(
                "DROP TRIGGER peer_counts_insert;"
                " CREATE TRIGGER peer_counts_insert AFTER INSERT ON peers BEGIN"
                " UPDATE peer_counts SET peers = peers + 2 WHERE network_id = NEW.network_id; END"
            ),
            "trigger peer_counts_insert: defined differently",
        ),
    ],
)
def test_each_difference_is_named(change: Change, named: str) -> None:
    conn = migrated()
    change(conn)
    assert named in schema.differences(schema.describe(conn), schema.expected(migrate.latest_version()))


def test_planner_statistics_are_not_schema() -> None:
    conn = migrated()
    conn.execute("INSERT INTO settings VALUES ('a', 'b')")
    conn.execute("ANALYZE")
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
    assert schema.differences(schema.describe(conn), schema.expected(migrate.latest_version())) == []


def test_describing_runs_nothing_the_database_defines() -> None:
    calls: list[object] = []
    conn = sqlite3.connect(":memory:")
    conn.create_function("spy", 1, lambda x: calls.append(x) or x, deterministic=True)
    conn.execute("CREATE TABLE t (a INT, b INT GENERATED ALWAYS AS (spy(a)), CHECK (spy(a) > 0))")
    conn.execute("INSERT INTO t (a) VALUES (1)")
    conn.execute("CREATE VIEW v AS SELECT spy(a) FROM t")
    conn.execute("CREATE INDEX i ON t (spy(a))")
    calls.clear()
    found = schema.describe(conn)
    assert calls == []
    assert found[("table", "t")].columns == ("a", "b")
    assert ("view", "v") in found and ("index", "i") in found
