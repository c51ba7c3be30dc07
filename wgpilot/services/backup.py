"""Backup and restore.

A backup is one tar archive: ``data.db`` (a consistent online copy made with
SQLite's backup API while the server keeps running), ``master.key`` (without it the
keys in the database cannot be decrypted — treat the archive like the server
itself) and ``manifest.json`` (format, version, schema version, checksums).

A restore is validated completely before anything live is touched: archive
layout, checksums, SQLite integrity, schema version not newer than ours, and the
master key actually decrypting the database's secrets. Only then are the files
swapped (the current state is first saved under ``backups/``), the database
reopened and migrated, and the kernel reconciled to the restored state.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wgpilot.config import Settings
from wgpilot.domain.errors import StorageError, ValidationError
from wgpilot.domain.models import Actor
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler
from wgpilot.storage import migrate
from wgpilot.storage.db import Database
from wgpilot.storage.secrets import Cipher, read_master_key

log = logging.getLogger(__name__)

FORMAT = "wgpilot-backup/1"
MAX_ARCHIVE = 256 * 1024 * 1024


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _copy_database(src: Path, dst: Path) -> None:
    """SQLite online backup: a consistent snapshot even while the server writes."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


@dataclass(frozen=True)
class Archive:
    filename: str
    data: bytes
    networks: int
    peers: int


def _bad(message: str) -> ValidationError:
    return ValidationError.field("file", message, code="INVALID_BACKUP")


def _inspect_database(path: Path, key: bytes) -> tuple[int, int, int]:
    """(schema version, networks, peers) of a candidate database; raises when unusable."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _bad(f"the database cannot be opened: {exc}") from exc
    try:
        verdict = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if verdict != ["ok"]:
            raise _bad("the database is corrupt: " + "; ".join(map(str, verdict[:3])))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"schema_migrations", "networks", "peers", "settings"} <= tables:
            raise _bad("this is not a wgpilot database")
        version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        if version > migrate.latest_version():
            raise _bad(
                f"the backup has schema version {version}, newer than this wgpilot "
                f"({migrate.latest_version()}); upgrade wgpilot first"
            )
        cipher = Cipher(key)
        row = conn.execute("SELECT private_key FROM networks LIMIT 1").fetchone()
        if row is not None:
            try:
                cipher.decrypt(row[0], "network.private_key")
            except StorageError as exc:
                raise _bad("the master key in the backup does not match its database") from exc
        networks = conn.execute("SELECT COUNT(*) FROM networks").fetchone()[0]
        peers = conn.execute("SELECT COUNT(*) FROM peers").fetchone()[0]
        return version, networks, peers
    except sqlite3.DatabaseError as exc:
        raise _bad(f"the database is corrupt: {exc}") from exc
    finally:
        conn.close()


class BackupService:
    def __init__(self, ctx: Context, settings: Settings) -> None:
        self.ctx = ctx
        self.settings = settings

    async def create(self, actor: Actor) -> Archive:
        now = self.ctx.now()
        # The audit entry goes in first, so the backup records that it was taken.
        async with self.ctx.db.transaction() as tx:
            await self.ctx.audit.record(tx, actor, "system.backup", "system", {}, now)
        data, networks, peers = await asyncio.to_thread(self._build)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        return Archive(f"wgpilot-backup-{stamp}.tar", data, networks, peers)

    def _build(self) -> tuple[bytes, int, int]:
        with tempfile.TemporaryDirectory(dir=self.settings.data_dir) as tmp:
            copy = Path(tmp) / "data.db"
            _copy_database(self.settings.db_path, copy)
            db_bytes = copy.read_bytes()
            key_bytes = self.settings.master_key_path.read_bytes()
            version, networks, peers = _inspect_database(copy, read_master_key(self.settings.master_key_path))
        from wgpilot.version import info

        manifest = {
            "format": FORMAT,
            "created_at": int(time.time()),
            "wgpilot_version": info()["version"],
            "schema_version": version,
            "networks": networks,
            "peers": peers,
            "sha256": {"data.db": _sha256(db_bytes), "master.key": _sha256(key_bytes)},
        }
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, blob, mode in (
                ("manifest.json", json.dumps(manifest, indent=2).encode(), 0o600),
                ("data.db", db_bytes, 0o600),
                ("master.key", key_bytes, 0o600),
            ):
                info_ = tarfile.TarInfo(name)
                info_.size, info_.mode, info_.mtime = len(blob), mode, int(time.time())
                tar.addfile(info_, io.BytesIO(blob))
        return buf.getvalue(), networks, peers

    # -- restore ----------------------------------------------------------------------------------
    @staticmethod
    def unpack(blob: bytes, into: Path) -> dict[str, Any]:
        """Validate an archive and extract its two files into ``into``; returns the manifest."""
        if not blob:
            raise _bad("the upload is empty")
        if len(blob) > MAX_ARCHIVE:
            raise _bad("the file is too large to be a wgpilot backup")
        try:
            tar = tarfile.open(fileobj=io.BytesIO(blob), mode="r:")
        except tarfile.TarError as exc:
            raise _bad("not a wgpilot backup (expected the .tar file made by wgpilot backup)") from exc
        with tar:
            members = {m.name: m for m in tar.getmembers()}
            if set(members) != {"manifest.json", "data.db", "master.key"} or not all(
                m.isfile() for m in members.values()
            ):
                raise _bad("not a wgpilot backup (unexpected archive contents)")
            files = {}
            for name, member in members.items():
                fh = tar.extractfile(member)
                assert fh is not None
                files[name] = fh.read()
        try:
            manifest = json.loads(files["manifest.json"])
        except ValueError as exc:
            raise _bad("the backup manifest is not valid JSON") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _bad("unknown backup format")
        sums = manifest.get("sha256") or {}
        for name in ("data.db", "master.key"):
            if sums.get(name) != _sha256(files[name]):
                raise _bad(f"{name} does not match its checksum: the backup is damaged")
        (into / "data.db").write_bytes(files["data.db"])
        key_path = into / "master.key"
        key_path.write_bytes(files["master.key"])
        os.chmod(key_path, 0o600)
        return manifest

    async def restore(self, actor: Actor, blob: bytes) -> dict[str, Any]:
        settings = self.settings
        with tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
            staging = Path(tmp)
            await asyncio.to_thread(self.unpack, blob, staging)
            try:
                key = read_master_key(staging / "master.key")
            except StorageError as exc:
                raise _bad("the master key in the backup is corrupt") from exc
            _, networks, peers = await asyncio.to_thread(_inspect_database, staging / "data.db", key)
            # Everything checked; keep what is live now, then swap under the write lock.
            safety = settings.data_dir / "backups"
            safety.mkdir(mode=0o700, exist_ok=True)
            current, _, _ = await asyncio.to_thread(self._build)
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            (safety / f"pre-restore-{stamp}.tar").write_bytes(current)
            os.chmod(safety / f"pre-restore-{stamp}.tar", 0o600)
            # Migrate the staged copy before it goes live, so no request can meet a
            # database older than this code between the swap and a later migration.
            staged_db = Database(staging / "data.db")
            await staged_db.open(check_integrity=False)  # checked above
            try:
                await migrate.migrate(staged_db)
            finally:
                await staged_db.close()
            async with self.ctx.db.write_lock:
                await self.ctx.db.close()
                try:
                    for suffix in ("-wal", "-shm"):
                        Path(str(settings.db_path) + suffix).unlink(missing_ok=True)
                    os.replace(staging / "data.db", settings.db_path)
                    os.replace(staging / "master.key", settings.master_key_path)
                    os.chmod(settings.db_path, 0o600)
                finally:
                    await self.ctx.db.open()
                self.ctx.rekey(Cipher(key))  # reached only when the swap succeeded
                # At once, before the lock is released: sessions, users and cached
                # counts are the restored database's from the next request on, not
                # only once the kernel has been reconciled (seconds later).
                self.ctx.changed("restore")
            await migrate.migrate(self.ctx.db)  # a no-op: the staged copy was migrated
        async with self.ctx.db.transaction() as tx:
            await self.ctx.audit.record(
                tx,
                actor,
                "system.restore",
                "system",
                {"networks": networks, "peers": peers, "saved_previous": f"backups/pre-restore-{stamp}.tar"},
                self.ctx.now(),
            )
        report = await Reconciler(self.ctx).reconcile_all()
        self.ctx.changed("networks")  # the kernel now matches the restored networks
        log.info(
            "restore complete", extra={"networks": networks, "peers": peers, "reconcile": report.actions}
        )
        return {"restored": True, "networks": networks, "peers": peers}


def read_archive(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError.field("file", f"cannot read {path}: {exc.strerror}") from exc
