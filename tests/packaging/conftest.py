"""Fixtures for the packaging tests: releases made by release.py (keygen, build, sign)
with a throw-away key, served over HTTP on 127.0.0.1 in GitHub Releases' layout under
the release URL they were built with, and a supervisor that restarts an installed server
the way the unit's Restart=on-failure does."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def health(port: int, timeout: float = 2.0) -> dict[str, object] | None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=ctx, timeout=timeout) as r:
            doc = json.loads(r.read())
            return doc if r.status == 200 else None
    except (OSError, ValueError):
        return None


def wait_health(port: int, version: str | None = None, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = health(port, timeout=1.0)
        if doc is not None and (version is None or doc.get("version") == version):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"no healthy /health with version {version} on port {port} within {timeout}s")


@dataclass
class Releases:
    web: Path  # the served release URL: <web>/download/v<version>/..., <web>/latest/download
    url: str  # that URL, built into the binaries and installers
    key: Path  # the private key (unencrypted test key); its public key is <key>.pub
    build_seconds: dict[str, float]

    def dir(self, version: str) -> Path:
        return self.web / "download" / f"v{version}"

    def binary(self, version: str) -> Path:
        return next(self.dir(version).glob(f"wgpilot_{version}_linux_*"))

    def public_key(self) -> str:
        return self.key.with_name(self.key.name + ".pub").read_text().strip()


def _have_build_tools() -> str | None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return "PyInstaller is not installed (.venv/bin/pip install pyinstaller)"
    if not shutil.which("objcopy"):
        return "objcopy (binutils) is missing"
    return None


def release_py(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "release.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="session")
def release_web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("releases") / "web"


@pytest.fixture(scope="session")
def releases(release_web: Path, served: str, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """1.0.0 and 1.0.1, built (self-tested) and signed by release.py, as the release
    ceremony makes them (packaging/RELEASING.md), for the release URL ``served``."""
    missing = _have_build_tools()
    if missing:
        pytest.skip(missing)
    key = tmp_path_factory.mktemp("offline") / "test.key"
    release_py("keygen", str(key), "--no-passphrase")
    seconds: dict[str, float] = {}
    for version in ("1.0.0", "1.0.1"):
        started = time.monotonic()
        proc = release_py(
            "build",
            version,
            "--public-key",
            f"{key}.pub",
            "--release-url",
            served,
            "--out",
            str(release_web),
            "--skip-ui",
            "--workpath",
            str(ROOT / "build" / "pyinstaller-test"),
        )
        seconds[version] = time.monotonic() - started
        print(f"\nrelease.py build {version}: {seconds[version]:.1f}s\n{proc.stdout[-600:]}")
        release_py("sign", str(release_web / "download" / f"v{version}"), "--key", str(key))
    return Releases(release_web, served, key, seconds)


@pytest.fixture(scope="session")
def served(release_web: Path) -> Iterator[str]:
    """The release URL over HTTP on 127.0.0.1 (started first: it is built into the releases)."""
    release_web.mkdir(parents=True, exist_ok=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(release_web), **kw)

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


class Supervisor:
    """Runs ``argv`` and starts it again when it fails — exits with a code other than 0
    or is killed by a signal — as the unit's Restart=on-failure does (75 is such a code); a
    clean exit ends it, like ``systemctl stop``. Keeps every exit code."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.log, self.env = argv, log, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exits: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with open(self.log, "ab") as fh:
            while not self._stop.is_set():
                self.starts += 1
                self.proc = subprocess.Popen(
                    self.argv, stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
                )
                while self.proc.poll() is None and not self._stop.is_set():
                    time.sleep(0.05)
                if self._stop.is_set():
                    break
                self.exits.append(self.proc.returncode)
                if self.proc.returncode == 0:
                    break
                time.sleep(0.3)  # RestartSec

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._thread.join(30)
