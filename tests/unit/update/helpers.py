from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wgpilot.update import keys, layout
from wgpilot.update.manifest import Asset, Manifest, asset_name, host_arch

NOW = 1_800_000_000


def release(
    dir: Path,
    version: str,
    payload: bytes,
    key: Ed25519PrivateKey,
    *,
    expires: int = NOW + 86400,
    channel: str = "stable",
    latest: bool = False,
) -> Path:
    """A release as release.py lays it out: <dir>/download/v<version>/{binary, manifest.json(.sig)},
    and <dir>/latest/download pointing at it when ``latest``."""
    out = dir / layout.version_dir(version)
    out.mkdir(parents=True, exist_ok=True)
    arch = host_arch()
    name = asset_name(version, arch)
    (out / name).write_bytes(payload)
    m = Manifest(
        version,
        channel,
        NOW,
        expires,
        (Asset(name, arch, len(payload), hashlib.sha256(payload).hexdigest()),),
    )
    data = m.to_json()
    (out / "manifest.json").write_bytes(data)
    (out / "manifest.json.sig").write_text(keys.sign(data, key))
    if latest:
        (dir / "latest").mkdir(exist_ok=True)
        link = dir / "latest" / "download"
        if link.is_symlink():
            os.unlink(link)
        link.symlink_to(f"../{layout.version_dir(version)}")
    return out


@contextmanager
def http_server(root: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
