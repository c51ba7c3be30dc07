"""The release manifest and version order. Pure: no I/O.

``manifest.json`` (written by release.py, signed in ``manifest.json.sig``)::

    {"schema": 1, "name": "wgpilot", "version": "1.0.1", "channel": "stable",
     "date": 1767225600, "expires": 1774915200,
     "assets": [{"filename": "wgpilot_1.0.1_linux_amd64", "arch": "amd64",
                 "size": 21234567, "sha256": "…"}]}

A manifest is accepted only when a trusted key signed its exact bytes, it has not
expired, it is for the expected channel, and each asset's name is the one release.py
gives that version and arch (so a signed entry cannot be re-pointed at another file).
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wgpilot.domain.errors import RuntimeFailure
from wgpilot.update import keys as keys_mod

SCHEMA = 1
MAX_MANIFEST = 64 * 1024
MAX_BINARY = 256 * 1024 * 1024
_VERSION = re.compile(r"^([0-9]{1,6})\.([0-9]{1,6})\.([0-9]{1,6})(?:-([0-9A-Za-z.]{1,40}))?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "armv7"}


class UpdateError(RuntimeFailure):
    """An update refused or failed; the message is for the operator, nothing was replaced."""

    code = "UPDATE_FAILED"


def parse_version(text: str) -> tuple[Any, ...]:
    """Sort key: 1.2.3-rc.1 < 1.2.3 < 1.2.10."""
    m = _VERSION.fullmatch(text)
    if not m:
        raise UpdateError(f"{text!r} is not a version (MAJOR.MINOR.PATCH[-pre])")
    major, minor, patch, pre = m.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, parts)


def newer(a: str, b: str) -> bool:
    return parse_version(a) > parse_version(b)


def host_arch() -> str:
    machine = platform.machine()
    arch = ARCHES.get(machine)
    if arch is None:
        raise UpdateError(f"unsupported architecture {machine} (amd64, arm64, armv7)")
    return arch


def asset_name(version: str, arch: str) -> str:
    return f"wgpilot_{version}_linux_{arch}"


@dataclass(frozen=True)
class Asset:
    filename: str
    arch: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    version: str
    channel: str
    date: int
    expires: int
    assets: tuple[Asset, ...]

    def asset(self, arch: str) -> Asset:
        for a in self.assets:
            if a.arch == arch:
                return a
        have = ", ".join(a.arch for a in self.assets) or "none"
        raise UpdateError(f"release {self.version} has no binary for {arch} (has: {have})")

    def to_json(self) -> bytes:
        doc = {
            "schema": SCHEMA,
            "name": "wgpilot",
            "version": self.version,
            "channel": self.channel,
            "date": self.date,
            "expires": self.expires,
            "assets": [a.__dict__ for a in self.assets],
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _field(doc: dict[str, Any], key: str, kind: type) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UpdateError(f"manifest field {key!r} is missing or not a {kind.__name__}")
    return value


def parse(data: bytes) -> Manifest:
    """Structure only; call ``verify`` for trust."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise UpdateError("manifest is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("name") != "wgpilot":
        raise UpdateError("manifest is not a wgpilot release manifest (schema 1)")
    version = _field(doc, "version", str)
    parse_version(version)
    assets = []
    for raw in _field(doc, "assets", list):
        if not isinstance(raw, dict):
            raise UpdateError("manifest asset is not an object")
        a = Asset(
            _field(raw, "filename", str),
            _field(raw, "arch", str),
            _field(raw, "size", int),
            _field(raw, "sha256", str),
        )
        if a.filename != asset_name(version, a.arch):
            raise UpdateError(f"manifest asset {a.filename!r} is not named for {version}/{a.arch}")
        if not _SHA256.fullmatch(a.sha256) or not 0 < a.size <= MAX_BINARY:
            raise UpdateError(f"manifest asset {a.filename!r} has a bad size or sha256")
        assets.append(a)
    return Manifest(
        version,
        _field(doc, "channel", str),
        _field(doc, "date", int),
        _field(doc, "expires", int),
        tuple(assets),
    )


def verify(
    data: bytes, signature: bytes, trusted: list[Ed25519PublicKey], *, now: float, channel: str = "stable"
) -> Manifest:
    """Signature first (nothing unsigned is even parsed for meaning), then expiry and channel."""
    if not trusted:
        raise UpdateError("this binary trusts no release key (none built in, update.public_key empty)")
    if len(data) > MAX_MANIFEST:
        raise UpdateError("manifest is too large")
    if not keys_mod.verify(data, signature, trusted):
        raise UpdateError("manifest signature is not valid for any trusted release key")
    m = parse(data)
    if m.expires <= now:
        raise UpdateError(f"manifest for {m.version} has expired (a stale or replayed manifest)")
    # stable follows stable releases only; beta follows beta and stable ones
    if m.channel != channel and not (channel == "beta" and m.channel == "stable"):
        raise UpdateError(f"manifest is for channel {m.channel!r}, this server follows {channel!r}")
    return m
