"""release.py's key and layout steps without freezing anything (the packaging tests build
real binaries): keygen, the unsigned release in GitHub Releases' layout, sign with its
checks, ``latest``, renewal and key rotation."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import release
from wgpilot.update import keys
from wgpilot.update.manifest import asset_name, host_arch, verify

URL = "https://github.com/OWNER/wgpilot/releases"
NOW = 1_800_000_000


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Ed25519PrivateKey, str]:
    path = tmp_path / "offline" / "release.key"
    path.parent.mkdir()
    public = release.keygen(path, passphrase=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and b"PRIVATE KEY" in path.read_bytes()
    assert path.with_name("release.key.pub").read_text() == public + "\n"
    return release.read_signing_key(str(path)), public


def _build(out: Path, version: str, signer: str, tmp_path: Path, channel: str = "stable") -> Path:
    binary = tmp_path / f"binary-{version}"
    binary.write_bytes(f"wgpilot {version}".encode() * 1000)
    return release.write_release(
        out, version, binary, release_url=URL, signer=signer, channel=channel, now=NOW
    )


def test_keygen_never_overwrites_and_public_key_is_checked(tmp_path: Path, key_pair: tuple) -> None:
    path = tmp_path / "offline" / "release.key"
    with pytest.raises(release.ReleaseError, match="is never overwritten"):
        release.keygen(path, passphrase=False)
    assert release.read_public_key(f"{path}.pub") is not None
    with pytest.raises(release.ReleaseError, match="is a private key: pass the public one"):
        release.read_public_key(str(path))
    with pytest.raises(release.ReleaseError, match="no terminal to ask for a passphrase"):
        release.keygen(tmp_path / "other.key", passphrase=True)  # pytest's stdin is no terminal


def test_build_sign_latest_and_renew(tmp_path: Path, key_pair: tuple) -> None:
    key, public = key_pair
    out = tmp_path / "dist"
    d = _build(out, "1.0.0", public, tmp_path)
    assert d == out / "download" / "v1.0.0"
    name = asset_name("1.0.0", host_arch())
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [name, "wgpilot.service", "install.sh", "SHA256SUMS", "manifest.json"]
    )
    script = (d / "install.sh").read_text()
    assert f'DEFAULT_RELEASE_URL="{URL}"' in script and 'DEFAULT_VERSION="1.0.0"' in script
    assert f'RELEASE_PUBLIC_KEY="{public}"' in script and not any(p in script for p in release.PLACEHOLDERS)
    assert not (out / "latest").exists()  # unsigned: not published as latest

    m = release.sign(d, key, expires_days=10, now=NOW + 100)
    assert (m.date, m.expires) == (NOW + 100, NOW + 100 + 10 * 86400)
    for signed in ("SHA256SUMS", "manifest.json"):
        assert keys.verify((d / signed).read_bytes(), (d / f"{signed}.sig").read_bytes(), [key.public_key()])
    assert (
        verify(
            (d / "manifest.json").read_bytes(),
            (d / "manifest.json.sig").read_bytes(),
            [key.public_key()],
            now=NOW + 200,
        ).version
        == "1.0.0"
    )
    assert os.readlink(out / "latest" / "download") == "../download/v1.0.0"
    assert (out / "latest" / "download" / name).read_bytes() == (d / name).read_bytes()

    release.sign(_build(out, "1.0.1", public, tmp_path), key, now=NOW)
    assert os.readlink(out / "latest" / "download") == "../download/v1.0.1"
    release.sign(_build(out, "1.1.0-rc.1", public, tmp_path, channel="beta"), key, now=NOW)
    assert os.readlink(out / "latest" / "download") == "../download/v1.0.1"  # GitHub: latest is stable
    # renewing an older release's manifest keeps latest where it is
    renewed = release.sign(d, key, expires_days=90, now=NOW + 1000)
    assert renewed.expires == NOW + 1000 + 90 * 86400
    assert json.loads((d / "manifest.json").read_text())["expires"] == renewed.expires
    assert os.readlink(out / "latest" / "download") == "../download/v1.0.1"
    with pytest.raises(release.ReleaseError, match="signed already"):
        _build(out, "1.0.1", public, tmp_path)


def test_sign_refusals(tmp_path: Path, key_pair: tuple) -> None:
    key, public = key_pair
    d = _build(tmp_path / "dist", "1.0.0", public, tmp_path)
    with pytest.raises(
        release.ReleaseError, match=r"install\.sh carries the release key .* refusing to sign"
    ):
        release.sign(d, Ed25519PrivateKey.generate(), now=NOW)
    name = asset_name("1.0.0", host_arch())
    good = (d / name).read_bytes()
    (d / name).write_bytes(good[:-1] + b"X")
    with pytest.raises(release.ReleaseError, match="does not match SHA256SUMS: refusing to sign"):
        release.sign(d, key, now=NOW)
    (d / name).write_bytes(good)
    (d / "install.sh").write_text((d / "install.sh").read_text() + "# changed\n")
    with pytest.raises(release.ReleaseError, match=r"install\.sh is missing or does not match"):
        release.sign(d, key, now=NOW)
    assert not list(d.glob("*.sig"))


def test_rotation_release_is_signed_by_the_old_key(tmp_path: Path, key_pair: tuple) -> None:
    """The transition release is built to trust the new key (--public-key) while the old
    key signs it (--signed-by): its installer expects the old one."""
    old, old_public = key_pair
    new = Ed25519PrivateKey.generate()
    d = _build(tmp_path / "dist", "2.0.0", old_public, tmp_path)
    with pytest.raises(release.ReleaseError, match="build with --signed-by to rotate keys"):
        release.sign(d, new, now=NOW)
    assert release.sign(d, old, now=NOW).version == "2.0.0"


def test_build_needs_a_public_key_and_release_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key_pair: tuple
) -> None:
    for var in ("WGPILOT_PUBLIC_KEY", "WGPILOT_RELEASE_URL"):
        monkeypatch.delenv(var, raising=False)
    pub = str(tmp_path / "offline" / "release.key.pub")
    cases = [
        (["build", "1.0.0", "--release-url", URL], "no release public key: pass --public-key"),
        (["build", "1.0.0", "--public-key", pub], "no release URL: pass --release-url"),
        (["build", "1.0.0", "--public-key", pub, "--release-url", "ftp://x"], "must be an http(s):// URL"),
        (["sign", str(tmp_path / "nothing")], "no signing key: pass --key"),
    ]
    for argv, why in cases:
        assert release.main(argv) == 1
        assert why in capsys.readouterr().err
    monkeypatch.setenv("WGPILOT_PUBLIC_KEY", "not a key")
    assert release.main(["build", "1.0.0", "--release-url", URL]) == 2
    assert "WGPILOT_PUBLIC_KEY: not a base64 Ed25519 public key" in capsys.readouterr().err
