"""WireGuard keys: X25519 private/public pairs and preshared keys, base64 on the wire."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from wgpilot.domain.errors import ValidationError

KEY_LEN = 32


def generate_private_key() -> str:
    raw = X25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(raw).decode()


def public_key(private_key: str) -> str:
    priv = X25519PrivateKey.from_private_bytes(decode_key(private_key))
    return base64.b64encode(priv.public_key().public_bytes_raw()).decode()


def generate_keypair() -> tuple[str, str]:
    """A new pair with one scalar multiplication (OpenSSL derives the public half at
    generation; deriving it again from the encoded private key would double the cost)."""
    priv = X25519PrivateKey.generate()
    return (
        base64.b64encode(priv.private_bytes_raw()).decode(),
        base64.b64encode(priv.public_key().public_bytes_raw()).decode(),
    )


def generate_preshared_key() -> str:
    return base64.b64encode(os.urandom(KEY_LEN)).decode()


def decode_key(key: str) -> bytes:
    """Base64 key → 32 raw bytes; ValueError when it is not a WireGuard key."""
    if len(key) != 44 or not key.endswith("="):
        raise ValueError("not a 32-byte base64 key")
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error as exc:
        raise ValueError("not a 32-byte base64 key") from exc
    if len(raw) != KEY_LEN:
        raise ValueError("not a 32-byte base64 key")
    return raw


def check_key(key: object, field: str) -> str:
    """Validate a user-supplied base64 key; the error names ``field``."""
    if not isinstance(key, str):
        raise ValidationError.field(field, "must be a base64 WireGuard key")
    try:
        raw = decode_key(key)
    except ValueError:
        raise ValidationError.field(field, "must be a 44-character base64 WireGuard key") from None
    if raw == bytes(KEY_LEN):
        raise ValidationError.field(field, "the all-zero key is not a valid public key")
    return key


def to_hex(key: str) -> str:
    return decode_key(key).hex()


def from_hex(hexkey: str) -> str:
    return base64.b64encode(bytes.fromhex(hexkey)).decode()
