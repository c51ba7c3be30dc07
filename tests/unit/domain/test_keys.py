from __future__ import annotations

import base64

import pytest

from wgpilot.domain import keys
from wgpilot.domain.errors import ValidationError


def test_keypair_matches_wireguard_format() -> None:
    priv, pub = keys.generate_keypair()
    assert len(priv) == len(pub) == 44
    assert keys.public_key(priv) == pub
    raw = base64.b64decode(priv)
    # Clamped as `wg genkey` writes keys (RFC 7748 §5).
    assert len(raw) == 32 and raw[0] & 7 == 0 and raw[31] & 0xC0 == 0x40


def test_keys_agree_with_openssl() -> None:
    # libsodium makes the pairs; OpenSSL (through cryptography) must derive the same public key.
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    for _ in range(50):
        priv, pub = keys.generate_keypair()
        other = X25519PrivateKey.from_private_bytes(base64.b64decode(priv)).public_key().public_bytes_raw()
        assert base64.b64encode(other).decode() == pub
    assert len({keys.generate_private_key() for _ in range(200)}) == 200


def test_known_vector() -> None:
    # RFC 7748 §6.1 Alice's key pair.
    priv = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    pub = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert keys.public_key(base64.b64encode(priv).decode()) == base64.b64encode(pub).decode()


def test_hex_round_trip() -> None:
    priv = keys.generate_private_key()
    assert keys.from_hex(keys.to_hex(priv)) == priv


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "A" * 44,
        "=" * 44,
        42,
        None,
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(bytes(32)).decode(),
    ],
)
def test_bad_keys_name_the_field(bad: object) -> None:
    with pytest.raises(ValidationError) as err:
        keys.check_key(bad, "public_key")
    assert err.value.fields[0].field == "public_key"
