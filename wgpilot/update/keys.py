"""Which Ed25519 keys may sign a release.

Trust is built into the binary: ``release.py build --public-key`` writes the release
public key into the generated ``wgpilot/_build_info.py`` as ``UPDATE_KEYS``. A build
without one (a plain ``pyinstaller wgpilot.spec``, a source run) trusts nothing and
refuses every update. ``update.public_key`` in the root-owned config adds keys next to
the built-in one (a replacement for a lost release key, a mirror signing with its own
key); it never stands in for a missing built-in key. Nothing fetched over the network
is ever trusted as a key. The key ceremony is in packaging/RELEASING.md.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class BadKey(ValueError):
    """A key that cannot be parsed; the message says where it came from."""


def public_key(text: str, source: str = "key") -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise BadKey(f"{source}: not a base64 Ed25519 public key (32 bytes)") from None


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def private_key(data: bytes, source: str = "key", password: bytes | None = None) -> Ed25519PrivateKey:
    """A signing key from PEM (PKCS#8, possibly encrypted with ``password``) or base64 of
    the raw 32-byte seed."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
            if not isinstance(key, Ed25519PrivateKey):
                raise BadKey(f"{source}: not an Ed25519 private key")
            return key
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(data.strip(), validate=True))
    except (binascii.Error, ValueError, TypeError) as exc:
        if isinstance(exc, BadKey):
            raise
        if b"ENCRYPTED" in data:
            raise BadKey(f"{source}: wrong passphrase, or not an Ed25519 private key") from None
        raise BadKey(f"{source}: not an Ed25519 private key (PEM or base64 seed)") from None


def private_pem(key: Ed25519PrivateKey, passphrase: bytes = b"") -> bytes:
    """PKCS#8 PEM, encrypted when a passphrase is given (``release.py keygen``)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_text(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def build_keys() -> tuple[str, ...]:
    """The release key(s) this binary was built with; () for a source run or a plain build."""
    try:
        from wgpilot import _build_info  # type: ignore[attr-defined]
    except ImportError:
        return ()
    return tuple(getattr(_build_info, "UPDATE_KEYS", ()))


def trusted(built_in: Sequence[str], extra: str = "") -> list[Ed25519PublicKey]:
    """Every key accepted: the built-in ones and ``update.public_key`` (space or comma
    separated); BadKey names the one that does not parse."""
    keys = [public_key(k, "built-in release key") for k in built_in]
    keys += [public_key(k, "update.public_key") for k in extra.replace(",", " ").split()]
    return keys


def sign(data: bytes, key: Ed25519PrivateKey) -> str:
    """Detached signature, base64 on one line (the ``.sig`` file format)."""
    return base64.b64encode(key.sign(data)).decode() + "\n"


def verify(data: bytes, signature: bytes, keys: list[Ed25519PublicKey]) -> bool:
    """True when any trusted key signed exactly ``data``."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except binascii.Error:
        return False
    if len(raw) != 64:
        return False
    for key in keys:
        try:
            key.verify(raw, data)
            return True
        except InvalidSignature:
            continue
    return False
