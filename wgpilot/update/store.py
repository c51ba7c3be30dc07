"""The highest version ever installed, kept in the database ``settings`` table so a
replayed older (but validly signed) manifest cannot walk a host back."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wgpilot.config import Settings
from wgpilot.storage.db import Database
from wgpilot.storage.secrets import Cipher, read_master_key
from wgpilot.storage.settings import SettingsRepo
from wgpilot.update.updater import MemoryStore, VersionStore


class DbVersionStore:
    """``DbVersionStore(ctx.db, ctx.settings)`` inside the server."""

    def __init__(self, db: Database, repo: SettingsRepo) -> None:
        self._db = db
        self._repo = repo

    async def get(self, key: str) -> str | None:
        return await self._repo.get(self._db, key)

    async def set(self, key: str, value: str) -> None:
        async with self._db.transaction() as tx:
            await self._repo.set(tx, key, value)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[VersionStore]:
    """For the CLI (root, possibly beside a running server): the existing database only —
    no migration, no integrity scan, and files keep the service user's ownership."""
    if not settings.db_path.exists() or not settings.master_key_path.exists():
        yield MemoryStore()
        return
    owner = settings.db_path.stat()
    db = Database(settings.db_path)
    await db.open(check_integrity=False)
    try:
        yield DbVersionStore(db, SettingsRepo(Cipher(read_master_key(settings.master_key_path))))
    finally:
        await db.close()
        # sqlite may have created -wal/-shm as root: hand them back to the service user
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.chown(f"{settings.db_path}{suffix}", owner.st_uid, owner.st_gid)
