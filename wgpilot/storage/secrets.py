"""Secrets at rest: AES-256-GCM with a 256-bit master key kept in a 0600 file beside
(never inside) the database, so a stolen ``data.db`` alone reveals no key.

Ciphertext format: ``v1:`` + base64(nonce ‖ ciphertext ‖ tag). The associated data
names what the secret is (e.g. ``peer.preshared_key``), so a ciphertext copied into
another column fails to decrypt instead of being misused.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wgpilot.domain.errors import StorageError

PREFIX = "v1:"
KEY_BYTES = 32
NONCE_BYTES = 12


def load_or_create_master_key(path: Path) -> bytes:
    """Read the master key, creating it (0600, O_EXCL) if absent."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_master_key(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return read_master_key(path)


def read_master_key(path: Path) -> bytes:
    path = Path(path)
    try:
        st = path.stat()
        text = path.read_bytes().strip()
    except OSError as exc:
        raise StorageError(f"cannot read master key {path}: {exc.strerror}") from exc
    if st.st_mode & 0o077:
        os.chmod(path, 0o600)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise StorageError(f"master key {path} is corrupt (expected 32 base64 bytes)")
    return key


class Cipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("AES-256 needs a 32-byte key")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        ct = self._aead.encrypt(nonce, plaintext.encode(), purpose.encode())
        return PREFIX + base64.b64encode(nonce + ct).decode()

    def decrypt(self, token: str, purpose: str) -> str:
        if not token.startswith(PREFIX):
            raise StorageError(f"{purpose}: not an encrypted value")
        try:
            blob = base64.b64decode(token[len(PREFIX) :], validate=True)
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode()).decode()
        except (ValueError, InvalidTag) as exc:
            raise StorageError(f"{purpose}: cannot decrypt (wrong master key or corrupted value)") from exc

    def encrypt_opt(self, plaintext: str | None, purpose: str) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, purpose)

    def decrypt_opt(self, token: str | None, purpose: str) -> str | None:
        return None if token is None else self.decrypt(token, purpose)
