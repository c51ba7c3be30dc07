"""Backup archives for tests: take one apart, put one back together (with fresh
checksums), bring its database back to an older schema, and hand-made tar files
that tarfile itself would never write (a sparse member, a lying size)."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from wgpilot.storage import migrate

ORDER = ("manifest.json", "data.db", "master.key")


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        out = {}
        for m in tar.getmembers():
            fh = tar.extractfile(m)
            assert fh is not None
            out[m.name] = fh.read()
        return out


def pack(files: dict[str, bytes], *, checksums: bool = True) -> bytes:
    """A tar of ``files``; with ``checksums`` the manifest's sums are made to match."""
    files = dict(files)
    if checksums and "manifest.json" in files:
        manifest = json.loads(files["manifest.json"])
        manifest["sha256"] = {
            name: hashlib.sha256(files[name]).hexdigest()
            for name in ("data.db", "master.key")
            if name in files
        }
        files["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in sorted(files, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), 0o600
            tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()


def with_database(archive: bytes, tmp_path: Path, change: Callable[[sqlite3.Connection], None]) -> bytes:
    """The archive with ``change`` applied to its database (checksums fixed up)."""
    files = members(archive)
    path = tmp_path / "changed.db"
    path.unlink(missing_ok=True)
    path.write_bytes(files["data.db"])
    conn = sqlite3.connect(path)
    try:
        change(conn)
        conn.commit()
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    files["data.db"] = path.read_bytes()
    return pack(files)


def as_schema(archive: bytes, version: int, tmp_path: Path) -> bytes:
    """The same backup as a wgpilot at schema ``version`` would have written it: a
    database built by our own migrations 1..version, holding the archive's rows
    (the columns that version has)."""
    files = members(archive)
    current = tmp_path / "current.db"
    current.write_bytes(files["data.db"])
    old = tmp_path / f"schema-{version}.db"
    old.unlink(missing_ok=True)
    conn = sqlite3.connect(old)
    try:
        conn.execute(migrate.BOOKKEEPING)
        for mig in migrate.available()[:version]:
            for stmt in migrate.statements(mig.sql):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (mig.version, mig.name))
        conn.commit()
        conn.execute("ATTACH DATABASE ? AS cur", (str(current),))
        # Rows as they were: no trigger of a later migration may have counted them yet.
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name <> 'schema_migrations'"
            )
        ]
        conn.execute("PRAGMA foreign_keys=OFF")
        for table in tables:
            mine = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
            theirs = {r[1] for r in conn.execute(f"PRAGMA cur.table_info({table})")}
            cols = ",".join(c for c in mine if c in theirs)
            conn.execute(f"DELETE FROM main.{table}")  # a trigger's rows (peer_counts): recomputed below
            conn.execute(f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM cur.{table}")
        if "peer_counts" in tables:
            conn.execute(
                "UPDATE peer_counts SET peers = (SELECT COUNT(*) FROM peers WHERE network_id = peer_counts.network_id)"
            )
        conn.commit()
        conn.execute("DETACH DATABASE cur")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    files["data.db"] = old.read_bytes()
    manifest = json.loads(files["manifest.json"])
    manifest["schema_version"] = version
    files["manifest.json"] = json.dumps(manifest).encode()
    return pack(files)


def _checksum(header: bytearray) -> None:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)


def sparse_member(name: str, real_size: int, stored: bytes = b"") -> bytes:
    """A GNU sparse tar header (and its data) declaring a ``real_size``-byte file
    that stores only ``stored``: a few bytes in the archive, any size when read."""
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = len(stored), tarfile.GNUTYPE_SPARSE, 0o600
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    # One map entry: the stored bytes belong at the very end of the file.
    header[386:398] = b"%011o\0" % (real_size - len(stored))
    header[398:410] = b"%011o\0" % len(stored)
    header[482] = 0  # no extension headers
    header[483:495] = b"%011o\0" % real_size
    _checksum(header)
    pad = (-len(stored)) % tarfile.BLOCKSIZE
    return bytes(header) + stored + b"\0" * pad


def regular_member(name: str, data: bytes, *, declared: int | None = None) -> bytes:
    """A plain member whose header may declare another size than it carries."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data) if declared is None else declared, 0o600
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    return header + data + b"\0" * ((-len(data)) % tarfile.BLOCKSIZE)


def end_of_archive() -> bytes:
    return b"\0" * (2 * tarfile.BLOCKSIZE)


async def chunks(blob: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """An upload as a server receives it: the body in pieces."""
    for start in range(0, len(blob), size):
        yield blob[start : start + size]
