#!/usr/bin/env python3
"""Build a signed wgpilot release for the host architecture.

    .venv/bin/python release.py 1.2.3 --key release.key          # key file (PEM or base64 seed)
    WGPILOT_SIGNING_KEY=... .venv/bin/python release.py 1.2.3     # key from the environment
    .venv/bin/python release.py 1.2.3 --new-test-key test.key     # throw-away key (tests)

Steps: build the UI (npm ci && npm run build in frontend/), freeze the one-file binary
(wgpilot.spec) with the version, commit, date and the release public key embedded,
self-test the frozen binary (``wgpilot version``, then a real ``serve`` on loopback with a
temp data dir → GET /health 200 with this version → SIGTERM → clean exit), and only then
write ``dist/<version>/``:

    wgpilot_<version>_linux_<arch>   the executable
    SHA256SUMS, SHA256SUMS.sig       checksums and their detached Ed25519 signature (base64)
    manifest.json, manifest.json.sig the update manifest and its signature
    wgpilot.service                  the systemd unit install.sh puts in place
    install.sh                       the installer (carrying the release key), for
                                     `curl <base>/install.sh | sudo bash`

and point ``dist/latest`` at it when it is the newest version there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from wgpilot.update import keys  # noqa: E402
from wgpilot.update.manifest import Asset, Manifest, UpdateError, asset_name, host_arch, newer, parse_version  # noqa: E402

BUILD_INFO = ROOT / "wgpilot" / "_build_info.py"


class ReleaseError(Exception):
    """A release step failed; the message says which and what to do."""


def step(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def need(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ReleaseError(f"{tool} not found: {hint}")
    return path


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_key(args: argparse.Namespace) -> Ed25519PrivateKey:
    if args.new_test_key:
        path = Path(args.new_test_key)
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            path.write_text(keys.private_text(key) + "\n")
            path.chmod(0o600)
            step(f"generated TEST signing key {path} (public {keys.public_text(key.public_key())})")
        return keys.private_key(path.read_bytes(), str(path))
    if args.key:
        try:
            return keys.private_key(Path(args.key).read_bytes(), args.key)
        except OSError as exc:
            raise ReleaseError(f"cannot read signing key {args.key}: {exc.strerror}") from None
    env = os.environ.get("WGPILOT_SIGNING_KEY", "")
    if env:
        return keys.private_key(env.encode(), "WGPILOT_SIGNING_KEY")
    raise ReleaseError(
        "no signing key: pass --key FILE, set WGPILOT_SIGNING_KEY, or --new-test-key FILE for tests"
    )


def build_ui(skip: bool) -> None:
    frontend = ROOT / "frontend"
    if skip:
        step("UI build skipped (--skip-ui); using wgpilot/web/dist as it is")
    elif not (frontend / "package.json").exists():
        step("frontend/ not found: no UI build (the binary serves whatever wgpilot/web/dist holds)")
    else:
        npm = need("npm", "install Node.js and npm (apt install nodejs npm) or pass --skip-ui")
        step("building the UI: npm ci && npm run build")
        for cmd in ([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], [npm, "run", "build"]):
            if subprocess.run(cmd, cwd=frontend, check=False).returncode != 0:
                raise ReleaseError(f"{' '.join(cmd[1:])} failed in frontend/")
    if not (ROOT / "wgpilot" / "web" / "dist" / "index.html").exists():
        print(
            "warning: wgpilot/web/dist/index.html is missing: the binary will have no web UI", file=sys.stderr
        )


def freeze(version: str, commit: str, date: str, public_key: str, workpath: Path) -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise ReleaseError(
            f"PyInstaller is not installed: {sys.executable} -m pip install pyinstaller"
        ) from None
    need("objcopy", "install binutils (the one-file build needs objcopy and strip)")
    out = Path(tempfile.mkdtemp(prefix="wgpilot-freeze-"))
    saved = BUILD_INFO.read_text() if BUILD_INFO.exists() else None
    BUILD_INFO.write_text(
        "# Generated by release.py at build time; not committed.\n"
        f"VERSION = {version!r}\nCOMMIT = {commit!r}\nDATE = {date!r}\nUPDATE_KEYS = ({public_key!r},)\n"
    )
    step(f"freezing wgpilot {version} ({commit}) with PyInstaller")
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--log-level",
                "WARN",
                "--distpath",
                str(out),
                "--workpath",
                str(workpath),
                str(ROOT / "wgpilot.spec"),
            ],
            cwd=ROOT,
            check=False,
        )
    finally:
        if saved is None:
            BUILD_INFO.unlink(missing_ok=True)
        else:
            BUILD_INFO.write_text(saved)
    binary = out / "wgpilot"
    if proc.returncode != 0 or not binary.exists():
        raise ReleaseError("PyInstaller failed (see its output above)")
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(port: int) -> dict[str, object] | None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=ctx, timeout=2) as r:
            doc = json.loads(r.read())
            return doc if r.status == 200 and isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def self_test(binary: Path, version: str, timeout: float = 30.0) -> float:
    """`wgpilot version`, then serve → /health 200 → SIGTERM → exit 0. Returns start seconds."""
    step("self-test: wgpilot version")
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0 or f"wgpilot {version} " not in out.stdout:
        raise ReleaseError(f"self-test: `wgpilot version` said {out.stdout.strip()!r} {out.stderr.strip()!r}")
    print(f"    {out.stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="wgpilot-selftest-") as tmp:
        port = _free_port()
        config = Path(tmp) / "config.toml"
        config.write_text(f'listen = "127.0.0.1:{port}"\ndriver = "none"\n[tls]\nhttp_port = 0\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WGPILOT_", "NOTIFY_SOCKET"))}
        log = Path(tmp) / "serve.log"
        step("self-test: serve → /health → SIGTERM")
        started = time.monotonic()
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                [str(binary), "serve", "--config", str(config), "--data-dir", f"{tmp}/data"],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                doc = None
                while time.monotonic() - started < timeout and proc.poll() is None:
                    doc = _health(port)
                    if doc is not None:
                        break
                    time.sleep(0.05)
                elapsed = time.monotonic() - started
                if doc is None or doc.get("version") != version:
                    raise ReleaseError(
                        f"self-test: no healthy /health from the frozen binary:\n{log.read_text()[-3000:]}"
                    )
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(30)
                if code != 0:
                    raise ReleaseError(
                        f"self-test: exit code {code} after SIGTERM:\n{log.read_text()[-3000:]}"
                    )
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    print(f"    /health 200 after {elapsed:.2f}s, stopped cleanly")
    return elapsed


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_release(
    out_root: Path,
    version: str,
    binary: Path,
    key: Ed25519PrivateKey,
    *,
    arch: str | None = None,
    channel: str = "stable",
    expires_days: float = 90,
    now: float | None = None,
    base_url: str = "",
) -> Path:
    """Lay out ``out_root/<version>/`` from a verified binary and sign it."""
    parse_version(version)
    arch = arch or host_arch()
    now = time.time() if now is None else now
    out = out_root / version
    out.mkdir(parents=True, exist_ok=True)
    name = asset_name(version, arch)
    dest = out / name
    shutil.copyfile(binary, dest)
    dest.chmod(0o755)
    digest, size = sha256(dest), dest.stat().st_size
    files = [(name, digest)]
    unit = ROOT / "packaging" / "wgpilot.service"
    shutil.copyfile(unit, out / unit.name)
    files.append((unit.name, sha256(out / unit.name)))
    installer = ROOT / "install.sh"
    if installer.exists():
        # The installer checks SHA256SUMS.sig against the key it carries.
        text = installer.read_text().replace("@WGPILOT_PUBLIC_KEY@", keys.public_text(key.public_key()))
        if base_url:
            text = text.replace("@WGPILOT_BASE_URL@", base_url)
        (out / "install.sh").write_text(text)
        (out / "install.sh").chmod(0o755)
        files.append(("install.sh", sha256(out / "install.sh")))
    sums = "".join(f"{d}  {n}\n" for n, d in files).encode()
    (out / "SHA256SUMS").write_bytes(sums)
    (out / "SHA256SUMS.sig").write_text(keys.sign(sums, key))
    manifest = Manifest(
        version, channel, int(now), int(now + expires_days * 86400), (Asset(name, arch, size, digest),)
    )
    data = manifest.to_json()
    (out / "manifest.json").write_bytes(data)
    (out / "manifest.json.sig").write_text(keys.sign(data, key))
    return out


def point_latest(out_root: Path, version: str) -> None:
    latest = out_root / "latest"
    current = latest.resolve().name if latest.is_symlink() else None
    if current and current != version and not newer(version, current):
        return
    tmp = out_root / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(version)
    os.replace(tmp, latest)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("version")
    p.add_argument("--out", default=str(ROOT / "dist"), help="release root (default dist/)")
    p.add_argument("--key", help="Ed25519 signing key file (PEM or base64 seed)")
    p.add_argument(
        "--new-test-key", metavar="FILE", help="use FILE as a throw-away key, creating it if missing"
    )
    p.add_argument("--skip-ui", action="store_true", help="do not rebuild the UI")
    p.add_argument("--channel", default="stable")
    p.add_argument(
        "--base-url", default="", help="default download URL written into the release's install.sh"
    )
    p.add_argument("--expires-days", type=float, default=90.0, help="manifest lifetime (default 90)")
    p.add_argument(
        "--workpath", default=str(ROOT / "build" / "pyinstaller"), help="PyInstaller work dir (cache)"
    )
    args = p.parse_args(argv)
    try:
        parse_version(args.version)
        key = load_key(args)
        commit = git_commit()
        date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        build_ui(args.skip_ui)
        started = time.monotonic()
        binary = freeze(args.version, commit, date, keys.public_text(key.public_key()), Path(args.workpath))
        step(f"frozen in {time.monotonic() - started:.1f}s: {binary.stat().st_size / 1e6:.1f} MB")
        self_test(binary, args.version)
        out = write_release(
            Path(args.out), args.version, binary, key, channel=args.channel, expires_days=args.expires_days
        )
        shutil.rmtree(binary.parent, ignore_errors=True)
        point_latest(Path(args.out), args.version)
    except ReleaseError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 1
    except (UpdateError, ValueError, keys.BadKey) as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 2
    step(f"release {args.version} written to {out}")
    for f in sorted(out.iterdir()):
        print(f"    {f.name}  {f.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
