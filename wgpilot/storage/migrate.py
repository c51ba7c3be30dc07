"""Numbered SQL migrations (``migrations/NNNN_name.sql``), applied in order at start-up.

Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with the
``schema_migrations`` row that records it, so a crash leaves either both or neither.
A database written by a newer wgpilot (a version we do not know) is refused.

A released migration is never changed (comments and layout aside): a restore holds a
backup's database against what the migrations make of its version (storage/schema.py).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources

from wgpilot.domain.errors import StorageError
from wgpilot.storage.db import Database

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# The bookkeeping table every migrated database has besides what the migrations create.
BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    out: list[Migration] = []
    pkg = resources.files("wgpilot.storage") / "migrations"
    for entry in pkg.iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in out]
    if versions != list(range(1, len(out) + 1)):
        raise StorageError(f"migrations are not numbered 1..n without gaps: {versions}")
    return out


def latest_version() -> int:
    return len(available())


def statements(sql: str) -> list[str]:
    """Split a script into complete statements (sqlite3's own notion of complete)."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            if stmt and not all(part.strip().startswith("--") for part in stmt.splitlines()):
                out.append(stmt)
            buf = ""
    if buf.strip() and not all(p.strip().startswith("--") or not p.strip() for p in buf.splitlines()):
        raise StorageError("migration ends with an incomplete statement")
    return out


async def current_version(db: Database) -> int:
    exists = await db.fetchval("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'")
    if not exists:
        return 0
    return int(await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


async def require_current(db: Database) -> None:
    """For a command that must change nothing: refuse a database whose schema is not
    ours instead of migrating it (an older one is migrated by the server's next start)."""
    current, latest = await current_version(db), latest_version()
    if current > latest:
        raise StorageError(
            f"database schema version {current} is newer than this wgpilot knows "
            f"({latest}); upgrade wgpilot or restore an older backup"
        )
    if current < latest:
        raise StorageError(
            f"the database {db.path} is at schema version {current}, this wgpilot needs {latest}: "
            "start the server once (wgpilot serve, or restart the service) to migrate it"
        )


async def migrate(db: Database) -> list[int]:
    """Apply pending migrations; returns the versions applied."""
    migrations = available()
    async with db.transaction() as tx:
        await tx.execute(BOOKKEEPING)
    current = await current_version(db)
    if current > len(migrations):
        raise StorageError(
            f"database schema version {current} is newer than this wgpilot knows "
            f"({len(migrations)}); upgrade wgpilot or restore an older backup"
        )
    applied: list[int] = []
    for mig in migrations[current:]:
        async with db.transaction() as tx:
            for stmt in statements(mig.sql):
                await tx.execute(stmt)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (mig.version, mig.name, int(time.time())),
            )
        log.info("migration applied", extra={"version": mig.version, "migration": mig.name})
        applied.append(mig.version)
    return applied
