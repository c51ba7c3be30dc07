#!/usr/bin/env python3
"""Make, build and sign wgpilot releases; the key ceremony is packaging/RELEASING.md.

    release.py keygen /media/offline/release.key       # offline: the key pair
    release.py build 1.2.3 --public-key release.key.pub \\
        --release-url https://github.com/OWNER/wgpilot/releases   # online, holds no secret
    release.py sign dist/download/v1.2.3 --key /media/offline/release.key   # offline

keygen writes an Ed25519 private key (PKCS#8 PEM, passphrase-encrypted unless
--no-passphrase, mode 0600, never overwritten) and its public key (base64) beside it
as ``.pub``.

build builds the UI (npm ci && npm run build in frontend/), freezes wgpilot.spec with
the version, commit, date, release URL and release public key in the generated
``wgpilot/_build_info.py``, self-tests the frozen binary (``wgpilot version``, then a
real ``serve`` on loopback → GET /health 200 with this version → SIGTERM → exit 0), and
only then writes the release in GitHub Releases' layout (wgpilot/update/layout.py):

    dist/download/v<version>/
        wgpilot_<version>_linux_<arch>   the executable
        wgpilot.service                  the systemd unit install.sh puts in place
        install.sh                       the installer, carrying release URL, version and key
        SHA256SUMS                       checksums of the three above
        manifest.json                    the update manifest (size and SHA-256 of the binary)

sign checks every file against SHA256SUMS and the manifest and the key against the one
install.sh carries, dates the manifest (valid --expires-days from now), writes
SHA256SUMS.sig and manifest.json.sig (Ed25519, base64), and points
``dist/latest/download`` at the newest signed stable release. Signing a published
release again renews its manifest before it expires.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hashlib
import json
import os
import re
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

from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: E402
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from wgpilot.update import keys, layout  # noqa: E402
from wgpilot.update.manifest import (  # noqa: E402
    Asset,
    Manifest,
    UpdateError,
    asset_name,
    host_arch,
    newer,
    parse,
    parse_version,
)

BUILD_INFO = ROOT / "wgpilot" / "_build_info.py"
EXPIRES_DAYS = 90.0
SIGNED = ("SHA256SUMS", "manifest.json")
PLACEHOLDERS = ("@WGPILOT_RELEASE_URL@", "@WGPILOT_VERSION@", "@WGPILOT_PUBLIC_KEY@")
_INSTALLER_KEY = re.compile(r'^RELEASE_PUBLIC_KEY="([^"]*)"$', re.MULTILINE)


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


def read_public_key(path: str | None, env: str = "WGPILOT_PUBLIC_KEY") -> Ed25519PublicKey:
    """The release public key from a file (``keygen``'s ``.pub``) or ``$WGPILOT_PUBLIC_KEY``."""
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ReleaseError(f"cannot read public key {path}: {exc.strerror}") from None
        source = path
    else:
        text, source = os.environ.get(env, ""), env
        if not text:
            raise ReleaseError(
                "no release public key: pass --public-key FILE or set WGPILOT_PUBLIC_KEY "
                "(release.py keygen makes a key pair)"
            )
    if "PRIVATE KEY" in text:
        raise ReleaseError(f"{source} is a private key: pass the public one (the .pub file keygen wrote)")
    return keys.public_key(text, source)


def read_signing_key(path: str | None) -> Ed25519PrivateKey:
    """The private key from a file or ``$WGPILOT_SIGNING_KEY``; an encrypted PEM asks for
    its passphrase on the terminal (or reads ``$WGPILOT_SIGNING_PASSPHRASE``)."""
    if path:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ReleaseError(f"cannot read signing key {path}: {exc.strerror}") from None
        source = path
    else:
        data, source = os.environ.get("WGPILOT_SIGNING_KEY", "").encode(), "WGPILOT_SIGNING_KEY"
        if not data:
            raise ReleaseError("no signing key: pass --key FILE or set WGPILOT_SIGNING_KEY")
    password = None
    if b"ENCRYPTED PRIVATE KEY" in data:
        phrase = os.environ.get("WGPILOT_SIGNING_PASSPHRASE")
        if phrase is None:
            if not sys.stdin.isatty():
                raise ReleaseError(
                    f"{source} is encrypted: run on a terminal or set WGPILOT_SIGNING_PASSPHRASE"
                )
            phrase = getpass.getpass(f"passphrase for {source}: ")
        password = phrase.encode()
    return keys.private_key(data, source, password)


def keygen(path: Path, passphrase: bool) -> str:
    """Write a new key pair: ``path`` (private, 0600) and ``path.pub``; never overwrites."""
    pub = path.with_name(path.name + ".pub")
    for p in (path, pub):
        if p.exists():
            raise ReleaseError(f"{p} exists: a release key is never overwritten (choose another name)")
    phrase = b""
    if passphrase:
        if not sys.stdin.isatty():
            raise ReleaseError(
                "no terminal to ask for a passphrase; pass --no-passphrase to store it unencrypted"
            )
        first = getpass.getpass("passphrase for the new release key: ")
        if not first or getpass.getpass("again: ") != first:
            raise ReleaseError("the passphrases are empty or differ; nothing written")
        phrase = first.encode()
    key = Ed25519PrivateKey.generate()
    public = keys.public_text(key.public_key())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(keys.private_pem(key, phrase))
    pub.write_text(public + "\n")
    return public


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


def freeze(version: str, commit: str, date: str, public_key: str, release_url: str, workpath: Path) -> Path:
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
        f"VERSION = {version!r}\nCOMMIT = {commit!r}\nDATE = {date!r}\n"
        f"RELEASE_URL = {release_url!r}\nUPDATE_KEYS = ({public_key!r},)\n"
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
        config.write_text(
            f'listen = "127.0.0.1:{port}"\ndriver = "none"\n[tls]\nhttp_port = 0\n[update]\ncheck_interval = 0\n'
        )
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


def release_dir(out_root: Path, version: str) -> Path:
    return out_root / layout.version_dir(version)


def installer(version: str, release_url: str, signer: str) -> str:
    """install.sh with this release's URL, version and the key that signs it filled in."""
    text = (ROOT / "install.sh").read_text()
    for placeholder, value in zip(PLACEHOLDERS, (release_url, version, signer), strict=True):
        if placeholder not in text:
            raise ReleaseError(f"install.sh has no {placeholder} to fill in")
        text = text.replace(placeholder, value)
    return text


def write_release(
    out_root: Path,
    version: str,
    binary: Path,
    *,
    release_url: str,
    signer: str,
    arch: str | None = None,
    channel: str = "stable",
    now: float | None = None,
) -> Path:
    """Lay out ``out_root/download/v<version>/`` from a verified binary, unsigned."""
    parse_version(version)
    arch = arch or host_arch()
    now = time.time() if now is None else now
    out = release_dir(out_root, version)
    if any(out.glob("*.sig")):
        raise ReleaseError(f"{out} is signed already: a published version is never rebuilt, use a new one")
    out.mkdir(parents=True, exist_ok=True)
    name = asset_name(version, arch)
    dest = out / name
    shutil.copyfile(binary, dest)
    dest.chmod(0o755)
    digest, size = sha256(dest), dest.stat().st_size
    shutil.copyfile(ROOT / "packaging" / "wgpilot.service", out / "wgpilot.service")
    (out / "install.sh").write_text(installer(version, release_url, signer))
    (out / "install.sh").chmod(0o755)
    files = [(name, digest), *((n, sha256(out / n)) for n in ("wgpilot.service", "install.sh"))]
    (out / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in files))
    manifest = Manifest(
        version, channel, int(now), int(now + EXPIRES_DAYS * 86400), (Asset(name, arch, size, digest),)
    )
    (out / "manifest.json").write_bytes(manifest.to_json())
    return out


def _sums(directory: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in (directory / "SHA256SUMS").read_text().splitlines():
        digest, _, name = line.partition("  ")
        sums[name.lstrip("*")] = digest
    return sums


def check_release(directory: Path, key: Ed25519PublicKey) -> Manifest:
    """Every file matches SHA256SUMS and the manifest, and install.sh carries ``key``."""
    try:
        sums = _sums(directory)
        m = parse((directory / "manifest.json").read_bytes())
        found = _INSTALLER_KEY.search((directory / "install.sh").read_text())
    except OSError as exc:
        raise ReleaseError(f"{directory} is not a release built by release.py: {exc}") from None
    if directory.name.startswith("v") and directory.name != f"v{m.version}":
        raise ReleaseError(f"{directory} holds the manifest of {m.version}")
    for name in ("wgpilot.service", "install.sh", *(a.filename for a in m.assets)):
        if name not in sums:
            raise ReleaseError(f"{name} is not listed in SHA256SUMS")
    for name, digest in sums.items():
        path = directory / name
        if not path.is_file() or sha256(path) != digest:
            raise ReleaseError(f"{path} is missing or does not match SHA256SUMS: refusing to sign")
    for a in m.assets:
        if sums[a.filename] != a.sha256 or (directory / a.filename).stat().st_size != a.size:
            raise ReleaseError(f"{a.filename}: the manifest and SHA256SUMS disagree")
    carried = found.group(1) if found else ""
    if carried != keys.public_text(key):
        raise ReleaseError(
            f"install.sh carries the release key {carried or '(none)'}, this key is "
            f"{keys.public_text(key)}: refusing to sign a release its own installer would reject "
            "(build with --signed-by to rotate keys)"
        )
    return m


def sign(
    directory: Path, key: Ed25519PrivateKey, *, expires_days: float = EXPIRES_DAYS, now: float | None = None
) -> Manifest:
    """Check, date and sign a built release; point ``latest`` at it when it is the newest."""
    m = check_release(directory, key.public_key())
    now = time.time() if now is None else now
    m = Manifest(m.version, m.channel, int(now), int(now + expires_days * 86400), m.assets)
    (directory / "manifest.json").write_bytes(m.to_json())
    for name in SIGNED:
        data = (directory / name).read_bytes()
        (directory / f"{name}.sig").write_text(keys.sign(data, key))
        if not keys.verify(data, (directory / f"{name}.sig").read_bytes(), [key.public_key()]):
            raise ReleaseError(f"{name}.sig does not verify")  # never: the signature was just made
    if m.channel == "stable" and directory.parent.name == "download":
        point_latest(directory.parent.parent, m.version)
    return m


def point_latest(out_root: Path, version: str) -> None:
    """``out_root/latest/download`` → ``../download/v<version>`` unless a newer one is there."""
    (out_root / "latest").mkdir(exist_ok=True)
    link = out_root / "latest" / "download"
    current = os.readlink(link).rpartition("/v")[2] if link.is_symlink() else None
    if current and current != version and not newer(version, current):
        return
    tmp = link.with_name(".download.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(f"../{layout.version_dir(version)}")
    os.replace(tmp, link)


def _release_url(given: str | None) -> str:
    url = (given or os.environ.get("WGPILOT_RELEASE_URL", "")).rstrip("/")
    if not url:
        raise ReleaseError(
            "no release URL: pass --release-url (e.g. https://github.com/OWNER/wgpilot/releases) "
            "or set WGPILOT_RELEASE_URL"
        )
    if not url.startswith(("https://", "http://")):
        raise ReleaseError(f"--release-url {url!r}: must be an http(s):// URL")
    return url


def cmd_keygen(args: argparse.Namespace) -> None:
    public = keygen(Path(args.file), passphrase=not args.no_passphrase)
    step(f"wrote {args.file} (private: keep it offline) and {args.file}.pub")
    print(f"    release public key: {public}")


def cmd_build(args: argparse.Namespace) -> None:
    parse_version(args.version)
    public = keys.public_text(read_public_key(args.public_key))
    signer = keys.public_text(read_public_key(args.signed_by)) if args.signed_by else public
    url = _release_url(args.release_url)
    commit = git_commit()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    build_ui(args.skip_ui)
    started = time.monotonic()
    binary = freeze(args.version, commit, date, public, url, Path(args.workpath))
    step(f"frozen in {time.monotonic() - started:.1f}s: {binary.stat().st_size / 1e6:.1f} MB")
    try:
        self_test(binary, args.version)
        out = write_release(
            Path(args.out), args.version, binary, release_url=url, signer=signer, channel=args.channel
        )
    finally:
        shutil.rmtree(binary.parent, ignore_errors=True)
    step(f"release {args.version} written to {out} (unsigned: release.py sign {out} --key …)")
    print(f"    trusts release key {public}; install.sh expects a signature by {signer}")
    for f in sorted(out.iterdir()):
        print(f"    {f.name}  {f.stat().st_size} bytes  sha256 {sha256(f)}")


def cmd_sign(args: argparse.Namespace) -> None:
    directory = Path(args.directory)
    m = sign(directory, read_signing_key(args.key), expires_days=args.expires_days)
    expires = dt.datetime.fromtimestamp(m.expires, dt.UTC).strftime("%Y-%m-%d")
    step(f"signed {m.version} ({m.channel}) in {directory}; the manifest expires {expires}")
    for a in m.assets:
        print(f"    {a.filename}  {a.size} bytes  sha256 {a.sha256}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    k = sub.add_parser("keygen", help="make a release key pair (offline)")
    k.add_argument("file", help="private key file to create; the public key goes to FILE.pub")
    k.add_argument("--no-passphrase", action="store_true", help="store the private key unencrypted")
    k.set_defaults(run=cmd_keygen)

    b = sub.add_parser("build", help="build and lay out an unsigned release")
    b.add_argument("version")
    b.add_argument(
        "--public-key", metavar="FILE", help="release public key (base64) to build in; or $WGPILOT_PUBLIC_KEY"
    )
    b.add_argument(
        "--signed-by",
        metavar="FILE",
        help="public key of the key that will sign this release, when not --public-key (key rotation)",
    )
    b.add_argument(
        "--release-url",
        help="where releases are published, e.g. https://github.com/OWNER/wgpilot/releases; "
        "or $WGPILOT_RELEASE_URL",
    )
    b.add_argument("--out", default=str(ROOT / "dist"), help="release root (default dist/)")
    b.add_argument("--channel", default="stable", help="stable (moves latest/) or beta")
    b.add_argument("--skip-ui", action="store_true", help="do not rebuild the UI")
    b.add_argument(
        "--workpath", default=str(ROOT / "build" / "pyinstaller"), help="PyInstaller work dir (cache)"
    )
    b.set_defaults(run=cmd_build)

    s = sub.add_parser("sign", help="check, date and sign a built release (offline)")
    s.add_argument("directory", help="the release directory, e.g. dist/download/v1.2.3")
    s.add_argument("--key", metavar="FILE", help="private key; or $WGPILOT_SIGNING_KEY")
    s.add_argument(
        "--expires-days",
        type=float,
        default=EXPIRES_DAYS,
        help=f"manifest lifetime (default {EXPIRES_DAYS:.0f})",
    )
    s.set_defaults(run=cmd_sign)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except ReleaseError as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 1
    except (UpdateError, ValueError, keys.BadKey) as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
