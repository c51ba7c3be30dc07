"""A backup proves itself before a restore touches anything live, in a staging
directory beside the database:

1. the archive: layout, sizes (from the headers, before reading), checksums
   (backup_archive.py);
2. its database: exactly the schema our migrations make of its schema version —
   no table, column, index, trigger or view missing, added or changed, judged
   from ``sqlite_master`` before anything the file defines is evaluated —, a
   version not newer than ours, integrity and foreign keys, and the master key
   decrypting its secrets;
3. migrated to our version, and held against our schema again.

Whatever fails is a refusal naming the problem (422, field ``file``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path

from wgpilot.domain.errors import StorageError
from wgpilot.services import backup_archive
from wgpilot.services.backup_archive import bad
from wgpilot.storage import migrate, schema
from wgpilot.storage.db import Database
from wgpilot.storage.secrets import Cipher, read_master_key


def read_only_uri(path: Path) -> str:
    """The URI that opens ``path`` read-only (any characters in it escaped)."""
    return f"{path.resolve().as_uri()}?mode=ro"


def _schema_refusal(problems: list[str], version: int) -> None:
    if problems:
        more = f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
        raise bad(
            f"the database does not have the schema wgpilot's migrations make of version {version}: "
            + "; ".join(problems[:6])
            + more
        )


def _check_consistency(conn: sqlite3.Connection) -> None:
    verdict = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if verdict != ["ok"]:
        raise bad("the database is corrupt: " + "; ".join(map(str, verdict[:3])))
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise bad(
            f"the database is inconsistent: {len(broken)} rows refer to rows that do not exist"
            f" (first: {table} row {rowid} → {parent})"
        )


def inspect_database(path: Path, key: bytes) -> tuple[int, int, int]:
    """(schema version, networks, peers) of a backup's database; raises naming what is
    wrong with it. The schema is judged first, from ``sqlite_master`` alone: nothing
    the file defines (a view, trigger, CHECK or generated column) runs before it has
    proven to be ours."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise bad(f"the database cannot be opened: {exc}") from exc
    try:
        found = schema.describe(conn)
        bookkeeping = ("table", "schema_migrations")
        if ("table", "networks") not in found or found.get(bookkeeping) != schema.expected(0)[bookkeeping]:
            raise bad("this is not a wgpilot database")
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        version, latest = (versions[-1] if versions else 0), migrate.latest_version()
        if version > latest:
            raise bad(
                f"the backup has schema version {version}, newer than this wgpilot "
                f"({latest}); upgrade wgpilot first"
            )
        if versions != list(range(1, version + 1)):
            raise bad(f"the database records migrations {versions}, not 1..{version}")
        _schema_refusal(schema.differences(found, schema.expected(version)), version)
        _check_consistency(conn)
        row = conn.execute("SELECT private_key FROM networks LIMIT 1").fetchone()
        if row is not None:
            try:
                Cipher(key).decrypt(row[0], "network.private_key")
            except StorageError as exc:
                raise bad("the master key in the backup does not match its database") from exc
        networks = conn.execute("SELECT COUNT(*) FROM networks").fetchone()[0]
        peers = conn.execute("SELECT COUNT(*) FROM peers").fetchone()[0]
        return version, networks, peers
    except sqlite3.DatabaseError as exc:
        raise bad(f"the database is corrupt: {exc}") from exc
    finally:
        conn.close()


def _check_migrated(path: Path) -> None:
    """The staged database after our migrations: our schema, consistent."""
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        latest = migrate.latest_version()
        _schema_refusal(schema.differences(schema.describe(conn), schema.expected(latest)), latest)
        _check_consistency(conn)
    except sqlite3.DatabaseError as exc:
        raise bad(f"the migrated database is corrupt: {exc}") from exc
    finally:
        conn.close()


async def _migrate_staged(path: Path, version: int) -> None:
    staged = Database(path)
    try:
        await staged.open(check_integrity=False)  # checked before
        await migrate.migrate(staged)
    except (sqlite3.Error, StorageError) as exc:
        reason = exc.message if isinstance(exc, StorageError) else str(exc)
        raise bad(
            f"the database cannot be migrated from schema version {version} to "
            f"{migrate.latest_version()}: {reason}"
        ) from exc
    finally:
        await staged.close()


@dataclass(frozen=True)
class Candidate:
    """A backup that passed every check, staged and migrated to our schema."""

    key: bytes
    version: int
    networks: int
    peers: int
    created_at: int | None  # as the manifest says


async def stage(upload: AsyncIterable[bytes], staging: Path) -> Candidate:
    """Receive the archive into ``staging``, prove it and bring its database to our
    schema version; returns what the restore needs, or refuses naming the problem."""
    archive = staging / "upload.tar"
    await backup_archive.receive(upload, archive)
    manifest = await asyncio.to_thread(backup_archive.unpack, archive, staging)
    archive.unlink()
    try:
        key = read_master_key(staging / "master.key")
    except StorageError as exc:
        raise bad("the master key in the backup is corrupt") from exc
    staged = staging / "data.db"
    version, networks, peers = await asyncio.to_thread(inspect_database, staged, key)
    if version < migrate.latest_version():
        await _migrate_staged(staged, version)
        await asyncio.to_thread(_check_migrated, staged)
    created = manifest.get("created_at")
    return Candidate(key, version, networks, peers, created if isinstance(created, int) else None)
