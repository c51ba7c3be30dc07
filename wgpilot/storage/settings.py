"""Repository for the ``settings`` key/value table. Secret keys are stored encrypted
and only ever returned decrypted through ``get_secret``."""

from __future__ import annotations

from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.secrets import Cipher

SECRET_KEYS = frozenset({"jwt_secret", "smtp_password", "local_api_token", "install_token", "metrics_token"})


class SettingsRepo:
    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    async def get(self, conn: Conn, key: str, default: str | None = None) -> str | None:
        if key in SECRET_KEYS:
            raise KeyError(f"{key} is a secret; use get_secret")
        value = await conn.fetchval("SELECT value FROM settings WHERE key = ?", (key,))
        return default if value is None else str(value)

    async def get_secret(self, conn: Conn, key: str) -> str | None:
        token = await conn.fetchval("SELECT value FROM settings WHERE key = ?", (key,))
        return None if token is None else self._cipher.decrypt(token, f"settings.{key}")

    async def all_public(self, conn: Conn) -> dict[str, str]:
        rows = await conn.fetchall("SELECT key, value FROM settings ORDER BY key")
        return {r[0]: r[1] for r in rows if r[0] not in SECRET_KEYS}

    async def has(self, conn: Conn, key: str) -> bool:
        return bool(await conn.fetchval("SELECT 1 FROM settings WHERE key = ?", (key,)))

    async def set(self, tx: Tx, key: str, value: str) -> None:
        if key in SECRET_KEYS:
            value = self._cipher.encrypt(value, f"settings.{key}")
        await tx.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, tx: Tx, key: str) -> None:
        await tx.execute("DELETE FROM settings WHERE key = ?", (key,))
