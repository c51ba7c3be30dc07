from __future__ import annotations

import sqlite3

from wgpilot.storage import audit, migrate

ROWS = [  # id, timestamp, user_id, username, action, resource, detail, ip
    (1, 100, 1, "admin", "setup.admin", "user:1", "{}", "192.0.2.1"),
    (2, 110, 1, "admin", "network.create", "network:1", '{"name":"office"}', "192.0.2.1"),
    (3, 120, None, "cli", "system.backup", "system", "{}", None),
]


def database(rows: list[tuple[object, ...]], users: list[tuple[int, str]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for mig in migrate.available():
        conn.executescript(mig.sql)
    conn.executemany(
        "INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (?, ?, 'x', 0, 0)",
        users,
    )
    conn.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    return conn


def attach_live(backup: sqlite3.Connection, live: sqlite3.Connection, tmp: str) -> None:
    live.execute("VACUUM INTO ?", (tmp,))
    backup.execute("ATTACH DATABASE ? AS live", (tmp,))


def log(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM main.audit_log ORDER BY id").fetchall()


def test_entries_since_the_backup_are_appended_once_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    later = [
        (4, 130, 1, "admin", "peer.create", "peer:1", '{"name":"a"}', "192.0.2.1"),
        (5, 140, 2, "bob", "peer.delete", "peer:1", "{}", "192.0.2.2"),
    ]
    backup = database(ROWS, [(1, "admin")])
    attach_live(backup, database(ROWS + later, [(1, "admin"), (2, "bob")]), str(tmp_path / "live.db"))
    assert audit.carry_over(backup, "live") == 2
    # bob is not a user of the restored database: his name stays, his id goes.
    assert log(backup) == [*ROWS, later[0], (5, 140, None, "bob", "peer.delete", "peer:1", "{}", "192.0.2.2")]
    assert audit.carry_over(backup, "live") == 0  # nothing twice


def test_the_same_id_with_other_content_is_another_entry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A backup of another server: its ids mean other entries; none of ours is lost."""
    other = [(1, 50, 1, "root", "setup.admin", "user:1", "{}", None)]
    backup = database(other, [(1, "root")])
    attach_live(backup, database(ROWS, [(1, "admin")]), str(tmp_path / "live.db"))
    assert audit.carry_over(backup, "live") == 3
    # Their user 1 is root, not admin: admin's entries keep the name, not the id.
    assert [r[1:] for r in log(backup)] == [
        (50, 1, "root", "setup.admin", "user:1", "{}", None),
        (100, None, "admin", "setup.admin", "user:1", "{}", "192.0.2.1"),
        (110, None, "admin", "network.create", "network:1", '{"name":"office"}', "192.0.2.1"),
        (120, None, "cli", "system.backup", "system", "{}", None),
    ]


def test_a_live_database_without_an_audit_log_carries_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    backup = database(ROWS, [(1, "admin")])
    broken = sqlite3.connect(tmp_path / "live.db")
    broken.execute("CREATE TABLE networks (id INTEGER PRIMARY KEY)")
    broken.commit()
    backup.execute("ATTACH DATABASE ? AS live", (str(tmp_path / "live.db"),))
    assert audit.carry_over(backup, "live") == 0 and log(backup) == ROWS
