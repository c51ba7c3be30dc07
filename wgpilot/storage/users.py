"""Repository for the ``users`` table."""

from __future__ import annotations

import sqlite3

from wgpilot.domain.models import User
from wgpilot.storage.db import Conn, Tx

_COLUMNS = "id, username, password_hash, role, session_version, created_at, updated_at"


def _row(r: sqlite3.Row) -> User:
    return User(
        id=r["id"],
        username=r["username"],
        password_hash=r["password_hash"],
        role=r["role"],
        session_version=r["session_version"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


class UserRepo:
    async def get(self, conn: Conn, user_id: int) -> User | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return _row(r) if r else None

    async def get_by_username(self, conn: Conn, username: str) -> User | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,))
        return _row(r) if r else None

    async def count(self, conn: Conn) -> int:
        return int(await conn.fetchval("SELECT COUNT(*) FROM users"))

    async def insert(self, tx: Tx, *, username: str, password_hash: str, role: str, now: int) -> int:
        return await tx.execute(
            "INSERT INTO users (username, password_hash, role, session_version, created_at,"
            " updated_at) VALUES (?, ?, ?, 1, ?, ?)",
            (username, password_hash, role, now, now),
        )

    async def set_password(self, tx: Tx, user_id: int, password_hash: str, now: int) -> None:
        """New hash and a new session version: every existing session becomes invalid."""
        await tx.execute(
            "UPDATE users SET password_hash = ?, session_version = session_version + 1,"
            " updated_at = ? WHERE id = ?",
            (password_hash, now, user_id),
        )

    async def bump_session_version(self, tx: Tx, user_id: int, now: int) -> None:
        await tx.execute(
            "UPDATE users SET session_version = session_version + 1, updated_at = ? WHERE id = ?",
            (now, user_id),
        )
