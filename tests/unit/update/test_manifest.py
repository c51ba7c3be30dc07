from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wgpilot.update import keys
from wgpilot.update.manifest import Asset, Manifest, UpdateError, newer, parse, parse_version, verify

NOW = 1_800_000_000
SHA = "ab" * 32


def _manifest(version: str = "1.0.1", **kw: object) -> Manifest:
    fields: dict[str, object] = {"channel": "stable", "date": NOW, "expires": NOW + 100}
    fields.update(kw)
    asset = Asset(f"wgpilot_{version}_linux_amd64", "amd64", 1000, SHA)
    return Manifest(version, fields["channel"], fields["date"], fields["expires"], (asset,))  # type: ignore[arg-type]


def test_version_order() -> None:
    assert newer("1.0.10", "1.0.9") and newer("1.0.0", "1.0.0-rc.2") and newer("1.0.0-rc.10", "1.0.0-rc.2")
    assert not newer("1.0.0", "1.0.0") and not newer("0.9.9", "1.0.0")
    assert parse_version("2.0.0") > parse_version("1.99.99")
    for bad in ("1.0", "v1.0.0", "1.0.0-", "1.0.0\n", "", "1.٢.3"):
        with pytest.raises(UpdateError):
            parse_version(bad)


def test_sign_and_verify_roundtrip() -> None:
    key = Ed25519PrivateKey.generate()
    data = _manifest().to_json()
    m = verify(data, keys.sign(data, key).encode(), [key.public_key()], now=NOW)
    assert m.version == "1.0.1" and m.asset("amd64").size == 1000


def test_refusals() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data = _manifest().to_json()
    sig = keys.sign(data, key).encode()
    trusted = [key.public_key()]
    with pytest.raises(UpdateError, match="signature is not valid"):
        verify(data, keys.sign(data, other).encode(), trusted, now=NOW)  # wrong key
    with pytest.raises(UpdateError, match="signature is not valid"):
        verify(data.replace(b"1000", b"1001"), sig, trusted, now=NOW)  # one field changed
    with pytest.raises(UpdateError, match="signature is not valid"):
        verify(data, keys.sign(b"SHA256SUMS contents", key).encode(), trusted, now=NOW)  # sig of another file
    with pytest.raises(UpdateError, match="signature is not valid"):
        verify(data, b"not base64!", trusted, now=NOW)
    with pytest.raises(UpdateError, match="has expired"):
        verify(data, sig, trusted, now=NOW + 100)
    with pytest.raises(UpdateError, match="trusts no release key"):
        verify(data, sig, [], now=NOW)


def test_asset_must_be_named_for_its_version() -> None:
    doc = _manifest().to_json().replace(b"wgpilot_1.0.1_linux_amd64", b"wgpilot_1.0.0_linux_amd64")
    with pytest.raises(UpdateError, match=r"not named for 1\.0\.1/amd64"):
        parse(doc)
    with pytest.raises(UpdateError, match="no binary for arm64"):
        _manifest().asset("arm64")


def test_keys_parse() -> None:
    key = Ed25519PrivateKey.generate()
    text = keys.private_text(key)
    assert keys.public_text(keys.private_key(text.encode()).public_key()) == keys.public_text(
        key.public_key()
    )
    built_in = (keys.public_text(key.public_key()),)
    with pytest.raises(keys.BadKey, match=r"update\.public_key"):
        keys.trusted(built_in, "nope")
    with pytest.raises(keys.BadKey, match="built-in release key"):
        keys.trusted(("nope",))
    other = keys.public_text(Ed25519PrivateKey.generate().public_key())
    assert len(keys.trusted(built_in, f"{other}, {other}")) == 3 and keys.trusted(()) == []
    pem = keys.private_pem(key, b"secret")
    assert b"ENCRYPTED" in pem and keys.private_text(keys.private_key(pem, password=b"secret")) == text
    with pytest.raises(keys.BadKey, match="wrong passphrase"):
        keys.private_key(pem, password=b"wrong")


def test_beta_follows_stable_too() -> None:
    key = Ed25519PrivateKey.generate()
    data = _manifest().to_json()
    sig = keys.sign(data, key).encode()
    assert verify(data, sig, [key.public_key()], now=NOW, channel="beta").version == "1.0.1"
    beta = _manifest(channel="beta").to_json()
    with pytest.raises(UpdateError, match="channel 'beta'"):
        verify(beta, keys.sign(beta, key).encode(), [key.public_key()], now=NOW, channel="stable")
    assert UpdateError("x").code == "UPDATE_FAILED"
