from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wgpilot.domain.errors import StorageError
from wgpilot.storage.secrets import Cipher, load_or_create_master_key, read_master_key


def test_master_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = load_or_create_master_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(path) == key


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(path)
    os.chmod(path, 0o644)
    read_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_corrupt_key_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("short\n")
    with pytest.raises(StorageError, match="corrupt"):
        read_master_key(path)


def test_encrypt_round_trip_and_binding(tmp_path: Path) -> None:
    c = Cipher(load_or_create_master_key(tmp_path / "k"))
    token = c.encrypt("secret-value", "peer.private_key")
    assert token.startswith("v1:") and "secret-value" not in token
    assert c.encrypt("secret-value", "peer.private_key") != token  # fresh nonce each time
    assert c.decrypt(token, "peer.private_key") == "secret-value"
    with pytest.raises(StorageError):
        c.decrypt(token, "peer.preshared_key")  # moved to another column
    other = Cipher(os.urandom(32))
    with pytest.raises(StorageError, match="wrong master key"):
        other.decrypt(token, "peer.private_key")
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(StorageError):
        c.decrypt(tampered, "peer.private_key")
