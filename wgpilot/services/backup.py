"""Backup and restore.

A backup (backup_archive.py holds the file format) is a consistent online copy of
the database made with SQLite's backup API while the server keeps running, and the
master key (without it the keys in the database cannot be decrypted — treat the
archive like the server itself).

A restore touches nothing live until the backup has proven itself in a staging
directory beside the database (backup_staging.py: the archive, its database's
schema, integrity and key, migrated to our version). Then, all under the write lock
(no other request writes meanwhile, so nothing written by one can be lost to an
undo): the live state is saved as ``backups/pre-restore-*.tar``, the audit entries
the backup does not have (written since it was taken) are carried into the staged
database — a restore never rewinds the audit trail —, the files are swapped and the
restored database reopened, the kernel is reconciled to it, and the
``system.restore`` entry is written (what was replaced, where it was saved, what the
kernel refused). If anything fails after the swap, the previous files go back, the
kernel is reconciled to them, the saved copy is removed and the restore answers
with the error: it happens entirely or not at all. A refused restore leaves nothing
behind.

What the kernel refuses of the restored state (a listen port or interface name
taken on this host) does not undo the restore: the backup is what the operator asked
for and is valid; the database is the truth, and the next reconcile applies it
once the conflict is gone. It is reported instead — ``kernel_errors`` in the answer
and in the ``system.restore`` entry, and a warning in the log — as the start-up
reconcile reports such errors rather than refusing to start. Rolling back would
make a backup impossible to restore onto a host where one of its ports is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from wgpilot.config import Settings
from wgpilot.domain.errors import RuntimeFailure, StorageError, WgpilotError
from wgpilot.domain.models import Actor
from wgpilot.services import backup_archive
from wgpilot.services.backup_staging import Candidate, read_only_uri, stage
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler
from wgpilot.storage import audit
from wgpilot.storage.db import Tx
from wgpilot.storage.secrets import Cipher

log = logging.getLogger(__name__)

read_file = backup_archive.read_file  # what the CLI restores from


def _copy_database(src: Path, dst: Path) -> None:
    """SQLite online backup: a consistent snapshot even while the server writes."""
    source = sqlite3.connect(read_only_uri(src), uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _summary(path: Path) -> tuple[int, int | None, int | None]:
    """(schema version, networks, peers) of our own database, as far as it can tell: a
    damaged live database must still be saved (and then replaced by a restore)."""
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    out: list[int | None] = []
    try:
        for sql in (
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            "SELECT COUNT(*) FROM networks",
            "SELECT COUNT(*) FROM peers",
        ):
            try:
                out.append(int(conn.execute(sql).fetchone()[0]))
            except sqlite3.Error:
                out.append(None)
    finally:
        conn.close()
    return out[0] or 0, out[1], out[2]


def _carry_audit(staged: Path, live: Path) -> int:
    """Append the live audit entries the staged database lacks; returns how many."""
    conn = sqlite3.connect(staged.resolve().as_uri(), uri=True)  # so that ATTACH takes a URI too
    try:
        conn.execute("ATTACH DATABASE ? AS live", (read_only_uri(live),))
        with conn:
            carried = audit.carry_over(conn, "live")
        conn.execute("DETACH DATABASE live")
        return carried
    except sqlite3.Error as exc:
        raise StorageError(f"cannot carry the audit log over into the restored database: {exc}") from exc
    finally:
        conn.close()


def _move_database(src: Path, dst: Path) -> None:
    """A database file with its WAL and shared-memory files, where there are any."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            os.replace(f"{src}{suffix}", f"{dst}{suffix}")


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, WgpilotError) else "an internal error (see the server log)"


@dataclass(frozen=True)
class Archive:
    filename: str
    data: bytes
    networks: int | None
    peers: int | None


class BackupService:
    def __init__(self, ctx: Context, settings: Settings) -> None:
        self.ctx = ctx
        self.settings = settings
        self._restoring = asyncio.Lock()  # one restore at a time: each undoes only its own swap

    async def create(self, actor: Actor) -> Archive:
        now = self.ctx.now()
        # The audit entry goes in first, so the backup records that it was taken.
        async with self.ctx.db.transaction() as tx:
            await self.ctx.audit.record(tx, actor, "system.backup", "system", {}, now)
        data, networks, peers = await asyncio.to_thread(self._build_bytes)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        return Archive(f"wgpilot-backup-{stamp}.tar", data, networks, peers)

    def _build_bytes(self) -> tuple[bytes, int | None, int | None]:
        with tempfile.TemporaryDirectory(dir=self.settings.data_dir) as tmp:
            path = Path(tmp) / "backup.tar"
            networks, peers = self._build(path)
            return path.read_bytes(), networks, peers

    def _build(self, dest: Path) -> tuple[int | None, int | None]:
        """Write a backup of the live state to ``dest``; returns (networks, peers)."""
        from wgpilot.version import info

        with tempfile.TemporaryDirectory(dir=self.settings.data_dir) as tmp:
            copy = Path(tmp) / "data.db"
            _copy_database(self.settings.db_path, copy)
            version, networks, peers = _summary(copy)
            manifest = {
                "created_at": int(time.time()),
                "wgpilot_version": info()["version"],
                "schema_version": version,
                "networks": networks,
                "peers": peers,
            }
            backup_archive.write(dest, manifest, copy, self.settings.master_key_path.read_bytes())
        return networks, peers

    def _save_previous(self) -> tuple[Path, int | None, int | None]:
        """The live state as a new ``backups/pre-restore-<time>.tar``."""
        folder = self.settings.data_dir / "backups"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path, n = folder / f"pre-restore-{stamp}.tar", 1
        while path.exists():  # two restores within a second keep both copies
            n += 1
            path = folder / f"pre-restore-{stamp}-{n}.tar"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            networks, peers = self._build(path)
        except BaseException as exc:
            with contextlib.suppress(OSError):  # (a half-written copy; none, if the folder failed)
                path.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error | OSError):
                raise StorageError(f"cannot save the current state before the restore: {exc}") from exc
            raise
        return path, networks, peers

    # -- restore ----------------------------------------------------------------------------------
    async def restore(self, actor: Actor, upload: AsyncIterable[bytes]) -> dict[str, Any]:
        """Replace the database and master key with those of the backup ``upload``
        (the archive's bytes, in chunks); see the module docstring."""
        async with self._restoring:
            with tempfile.TemporaryDirectory(dir=self.settings.data_dir, prefix=".restore-") as tmp:
                staging = Path(tmp)
                candidate = await stage(upload, staging)
                return await self._replace(actor, candidate, staging)

    async def _replace(self, actor: Actor, new: Candidate, staging: Path) -> dict[str, Any]:
        ctx = self.ctx
        aside = staging / "previous"
        aside.mkdir()
        previous_cipher = ctx.cipher
        failure: Exception | None = None
        async with ctx.db.write_lock:
            # Under the lock: nothing written from here on can be missing from the
            # saved copy, nor from the audit entries carried over, nor lost to an undo.
            saved, networks_before, peers_before = await asyncio.to_thread(self._save_previous)
            try:
                carried = await asyncio.to_thread(_carry_audit, staging / "data.db", self.settings.db_path)
            except BaseException:
                saved.unlink(missing_ok=True)
                raise
            try:
                await self._swap(staging, aside, Cipher(new.key))
                report = await Reconciler(ctx).reconcile_all(lock_held=True)
                detail = {
                    "replaced": {"networks": networks_before, "peers": peers_before},
                    "networks": new.networks,
                    "peers": new.peers,
                    "saved_previous": f"backups/{saved.name}",
                    "backup_created_at": new.created_at,
                    "backup_schema_version": new.version,
                    "audit_entries_carried": carried,
                    "kernel_errors": report.errors,
                }
                async with ctx.db.transaction_held() as tx:
                    await ctx.audit.record(
                        tx, await self._as_known(tx, actor), "system.restore", "system", detail, ctx.now()
                    )
            except BaseException as exc:
                await self._undo(aside, previous_cipher, saved, exc)
                if not isinstance(exc, Exception):
                    raise
                failure = exc
        if failure is not None:
            await self._rolled_back(actor, failure)
        ctx.changed("networks")  # the kernel now matches the restored networks
        if report.errors:
            log.warning(
                "restore complete, but the kernel refused part of the restored state; "
                "the next reconcile retries",
                extra={"networks": new.networks, "peers": new.peers, "errors": report.errors},
            )
        else:
            log.info(
                "restore complete",
                extra={"networks": new.networks, "peers": new.peers, "reconcile": report.actions},
            )
        return {
            "restored": True,
            "networks": new.networks,
            "peers": new.peers,
            "kernel_errors": report.errors,
        }

    async def _swap(self, staging: Path, aside: Path, cipher: Cipher) -> None:
        """Under the write lock: the live files aside, the staged ones in their place."""
        settings, ctx = self.settings, self.ctx
        await ctx.db.close()
        _move_database(settings.db_path, aside / "data.db")
        os.replace(settings.master_key_path, aside / "master.key")
        _move_database(staging / "data.db", settings.db_path)
        os.replace(staging / "master.key", settings.master_key_path)
        os.chmod(settings.db_path, 0o600)
        await ctx.db.open()
        ctx.rekey(cipher)
        # At once, before the lock is released: sessions, users and cached counts are
        # the restored database's from the next request on.
        ctx.changed("restore")

    async def _undo(self, aside: Path, cipher: Cipher, saved: Path, cause: BaseException) -> None:
        """Under the write lock: whatever ``_swap`` moved goes back, reopened with its own
        key; the saved copy, the live state again, is removed."""
        log.error("restore failed after the swap began; rolling back", exc_info=cause)
        db_path = self.settings.db_path
        try:
            await self.ctx.db.close()
            if (aside / "data.db").exists():
                for suffix in ("-wal", "-shm"):  # the restored database's: never the previous one's
                    Path(f"{db_path}{suffix}").unlink(missing_ok=True)
                _move_database(aside / "data.db", db_path)
            if (aside / "master.key").exists():
                os.replace(aside / "master.key", self.settings.master_key_path)
            await self.ctx.db.open()
        except Exception as exc:
            log.exception("rolling back the restore failed")
            raise StorageError(
                f"the restore failed ({_reason(cause)}) and the previous database could not be put back"
                f" ({_reason(exc)}); it is saved in backups/{saved.name}: restore that file"
            ) from cause
        self.ctx.rekey(cipher)
        self.ctx.changed("restore")
        saved.unlink(missing_ok=True)

    async def _rolled_back(self, actor: Actor, cause: Exception) -> NoReturn:
        """After ``_undo``: the attempt in the audit log, the kernel back to the previous
        state, and the error for the caller."""
        try:
            async with self.ctx.db.transaction() as tx:
                await self.ctx.audit.record(
                    tx,
                    actor,
                    "system.restore",
                    "system",
                    {"rolled_back": True, "error": _reason(cause)},
                    self.ctx.now(),
                )
            await Reconciler(self.ctx).reconcile_all()
        except Exception:  # the database is back; the kernel converges on the next reconcile
            log.exception("after rolling back a restore")
        self.ctx.changed("networks")
        raise RuntimeFailure(
            f"the restore failed and was rolled back, nothing changed: {_reason(cause)}",
            code="RESTORE_FAILED",
        ) from cause

    async def _as_known(self, tx: Tx, actor: Actor) -> Actor:
        """The actor as the restored database knows it: its user id only where that
        database has the same user (the name stays either way)."""
        if actor.user_id is None:
            return actor
        user = await self.ctx.users.get(tx, actor.user_id)
        if user is not None and user.username.lower() == actor.username.lower():
            return actor
        return Actor(None, actor.username, actor.ip_address)
