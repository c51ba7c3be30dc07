"""Release + install + update on loopback, as an operator would live it:
install.sh installs 1.0.0 into a throw-away root from releases served on 127.0.0.1 in
the default layout (GitHub Releases' paths under the release URL built in), ``wgpilot
update`` moves the running server to 1.0.1 (its supervisor restarts it on exit code 75),
tampered 1.0.2 releases are refused while 1.0.1 keeps running, a 1.0.3 that dies at
start is rolled back, a kill -9 at any step of the swap leaves a runnable binary, and a
binary built without a release key refuses to update."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.packaging.conftest import (
    ROOT,
    Releases,
    Supervisor,
    _have_build_tools,
    free_port,
    health,
    sha256,
    wait_health,
)

sys.path.insert(0, str(ROOT))
import release
from wgpilot.update import keys, restart
from wgpilot.update.manifest import Asset, Manifest, asset_name, host_arch

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(os.geteuid() != 0, reason="install.sh needs root (chown, useradd --prefix)"),
]


def run_install(
    root: Path, script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Exactly the documented way, plus --prefix: curl -fsSL <script URL> | bash."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}, **(env or {})}
    script = f"curl -fsSL {script} | bash -s -- --prefix {root} {' '.join(args)}"
    return subprocess.run(
        ["bash", "-c", "set -o pipefail; " + script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "usr/local/bin/wgpilot"
        self.config = root / "etc/wgpilot/config.toml"
        self.data = root / "var/lib/wgpilot"

    def version(self) -> str:
        out = subprocess.run(
            [str(self.bin), "version"], capture_output=True, text=True, timeout=60, check=True
        )
        return out.stdout.split()[1]

    def update(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(self.bin),
                "update",
                "--config",
                str(self.config),
                "--data-dir",
                str(self.data),
                "--restart",
                "signal",
                "--health-timeout",
                "25",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **(env or {})},
        )

    def highest(self) -> str | None:
        with sqlite3.connect(self.data / "data.db") as db:
            row = db.execute("SELECT value FROM settings WHERE key = 'highest_installed_version'").fetchone()
        return None if row is None else str(row[0])

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.bin.parent.iterdir() if p.name not in ("wgpilot", "wgpilot.prev"))


def variant(
    web: Path,
    name: str,
    version: str,
    payload: bytes,
    key_text: bytes,
    *,
    expires: float | None = None,
    filename: str | None = None,
) -> str:
    """A signed release directory <web>/<name>/ (manifest + binary); returns its manifest path."""
    out = web / name
    out.mkdir(parents=True, exist_ok=True)
    arch = host_arch()
    fname = filename or asset_name(version, arch)
    (out / asset_name(version, arch)).write_bytes(payload)
    now = time.time()
    m = Manifest(
        version,
        "stable",
        int(now),
        int(expires if expires is not None else now + 86400),
        (Asset(fname, arch, len(payload), hashlib.sha256(payload).hexdigest()),),
    )
    data = m.to_json()
    (out / "manifest.json").write_bytes(data)
    (out / "manifest.json.sig").write_text(keys.sign(data, keys.private_key(key_text)))
    return f"{name}/manifest.json"


@pytest.fixture
def installed(tmp_path: Path, releases: Releases, served: str) -> Iterator[tuple[Installed, int, Supervisor]]:
    root = tmp_path / "root"
    started = time.monotonic()
    proc = run_install(root, f"{served}/download/v1.0.0/install.sh")  # its own version, key and URL
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"\ninstall.sh 1.0.0 into {root}: {took:.2f}s")
    assert f"downloading from {served}/download/v1.0.0\n" in proc.stdout
    assert f"SHA256SUMS signature verified (release key {releases.public_key()})" in proc.stdout
    assert "one-time install token: " in proc.stdout
    inst = Installed(root)
    assert inst.version() == "1.0.0"
    assert inst.bin.stat().st_mode & 0o777 == 0o755
    assert inst.config.stat().st_mode & 0o777 == 0o640
    assert inst.data.stat().st_mode & 0o777 == 0o700
    assert (inst.data / "master.key").stat().st_mode & 0o777 == 0o600
    uid = int((root / "etc/passwd").read_text().split("wgpilot:x:", 1)[1].split(":")[0])
    assert (inst.data / "data.db").stat().st_uid == uid
    assert (root / "etc/systemd/system/wgpilot.service").read_text().startswith("# wgpilot")
    assert "net.ipv4.ip_forward = 1" in (root / "etc/sysctl.d/99-wgpilot.conf").read_text()

    port = free_port()
    # what an operator would put in the config; install.sh keeps it on every re-run. No
    # [update]: the release URL and key built into the binary are where updates come from.
    inst.config.write_text(f'listen = "127.0.0.1:{port}"\ndriver = "none"\n\n[tls]\nhttp_port = 0\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}
    env["WGPILOT_RUNTIME_DIR"] = str(tmp_path / "run")  # not the host's /run/wgpilot
    env["WGPILOT_WIREGUARD_DIR"] = str(tmp_path / "wireguard")  # nor its /etc/wireguard
    sup = Supervisor(
        [str(inst.bin), "serve", "--config", str(inst.config), "--data-dir", str(inst.data)],
        tmp_path / "serve.log",
        env,
    ).start()
    try:
        wait_health(port, "1.0.0")
        yield inst, port, sup
    finally:
        sup.stop()


def test_install_update_tamper_rollback_kill(
    installed: tuple[Installed, int, Supervisor], releases: Releases, served: str, tmp_path: Path
) -> None:
    inst, port, sup = installed
    web = releases.web
    key_text = releases.key.read_bytes()

    # --check, then the update itself
    out = inst.update("--check")
    assert out.returncode == 0 and "current 1.0.0, latest 1.0.1: update available" in out.stdout, out.stderr
    started = time.monotonic()
    out = inst.update()
    took = time.monotonic() - started
    assert out.returncode == 0, out.stdout + out.stderr
    print(f"wgpilot update 1.0.0 → 1.0.1 (download, swap, restart, healthy): {took:.2f}s")
    assert "updated 1.0.0 → 1.0.1" in out.stdout and "restarting (signal)" in out.stderr
    assert wait_health(port, "1.0.1", timeout=5)["version"] == "1.0.1"
    # 1.0.0 was asked to exit with the restart code, and restarted for that (not a clean stop)
    assert sup.exits == [restart.EXIT_RESTART], sup.exits
    assert inst.version() == "1.0.1" and inst.highest() == "1.0.1"
    assert sha256(inst.bin) == sha256(releases.binary("1.0.1"))
    assert sha256(inst.bin.with_name("wgpilot.prev")) == sha256(releases.binary("1.0.0"))
    assert inst.leftovers() == []
    good = sha256(inst.bin)

    # tampered 1.0.2 releases: refused, nothing replaced, 1.0.1 keeps serving
    payload = releases.binary("1.0.0").read_bytes()
    other_key = keys.private_text(Ed25519PrivateKey.generate()).encode()
    cases: list[tuple[str, str]] = []
    url = variant(web, "flip", "1.0.2", payload, key_text)
    blob = bytearray(payload)
    blob[len(blob) // 2] ^= 0x01
    (web / "flip" / asset_name("1.0.2", host_arch())).write_bytes(bytes(blob))
    cases.append((url, "SHA-256 does not match the signed manifest"))
    cases.append((variant(web, "wrongkey", "1.0.2", payload, other_key), "signature is not valid"))
    url = variant(web, "othersig", "1.0.2", payload, key_text)
    (web / "othersig" / "manifest.json.sig").write_bytes(
        (releases.dir("1.0.1") / "SHA256SUMS.sig").read_bytes()
    )
    cases.append((url, "signature is not valid"))
    cases.append(
        (
            variant(web, "othername", "1.0.2", payload, key_text, filename=asset_name("1.0.1", host_arch())),
            "is not named for 1.0.2",
        )
    )
    url = variant(web, "truncated", "1.0.2", payload, key_text)
    (web / "truncated" / asset_name("1.0.2", host_arch())).write_bytes(payload[: len(payload) // 3])
    cases.append((url, "truncated download"))
    cases.append(
        (variant(web, "expired", "1.0.2", payload, key_text, expires=time.time() - 60), "has expired")
    )
    cases.append(("download/v1.0.0/manifest.json", "not newer than 1.0.1"))  # replay of a genuine older one
    cases.append(("nowhere/manifest.json", "HTTP 404"))
    for path, why in cases:
        out = inst.update(env={"WGPILOT_UPDATE_URL": f"{served}/{path}"})
        assert out.returncode != 0, (path, out.stdout, out.stderr)
        assert why in out.stderr, (path, out.stderr)
        assert sha256(inst.bin) == good and inst.leftovers() == [], path
        assert (health(port) or {}).get("version") == "1.0.1", path
        print(f"refused {path}: {out.stderr.strip().splitlines()[-1]}")
    out = inst.update(env={"WGPILOT_UPDATE_URL": f"http://127.0.0.1:{free_port()}/manifest.json"})
    assert out.returncode != 0 and "cannot reach" in out.stderr
    starts = sup.starts

    # 1.0.3 passes every check but dies at start: rolled back automatically
    crash = b"#!/bin/sh\necho 'wgpilot 1.0.3: fatal error at start' >&2\nexit 1\n"
    variant(web, "download/v1.0.3", "1.0.3", crash, key_text)
    started = time.monotonic()
    out = inst.update("--version", "1.0.3")
    took = time.monotonic() - started
    assert out.returncode != 0 and "rolled back, 1.0.1 running again" in out.stderr, out.stdout + out.stderr
    print(f"1.0.3 crashing at start: rolled back in {took:.1f}s ({sup.starts - starts} starts)")
    # 1.0.1 exited with the restart code, 1.0.3 crashed (exit 1) until the rollback
    assert sup.exits[1] == restart.EXIT_RESTART and 1 in sup.exits[2:], sup.exits
    assert sha256(inst.bin) == good and wait_health(port, "1.0.1", timeout=10)
    assert inst.highest() == "1.0.1"

    # kill -9 at each step of a swap: a complete, runnable binary is always in place
    url = variant(web, "killed", "1.0.2", payload, key_text)
    for step in ("downloaded", "prev", "swapped"):
        proc = subprocess.Popen(
            [
                str(inst.bin),
                "update",
                "--config",
                str(inst.config),
                "--data-dir",
                str(inst.data),
                "--restart",
                "signal",
            ],
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={
                **os.environ,
                "WGPILOT_UPDATE_URL": f"{served}/{url}",
                "WGPILOT_UPDATE_TEST_PAUSE": step,
                "TMPDIR": str(tmp_path),  # kill -9 leaves the unpacked copy behind: not in /tmp
            },
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(f"paused at {step}"):
                break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        version = inst.version()  # runs whatever is at the path now
        assert version in ("1.0.1", "1.0.0"), (step, version)  # old, or the new payload (1.0.0 bytes)
        assert inst.bin.with_name("wgpilot.prev").stat().st_size > 1_000_000
        print(f"kill -9 at {step}: binary in place runs, reports {version}; left {inst.leftovers()}")
        if step == "downloaded":  # the verified temp file is left behind; the next run sweeps it
            assert any(name.startswith(".wgpilot.new.") for name in inst.leftovers())
        # put 1.0.1 back the way an operator would (never write into a running executable)
        shutil.copyfile(releases.binary("1.0.1"), inst.bin.with_name("restore.tmp"))
        os.chmod(inst.bin.with_name("restore.tmp"), 0o755)
        os.replace(inst.bin.with_name("restore.tmp"), inst.bin)
    assert (health(port) or {}).get("version") == "1.0.1"
    # the next update run sweeps what the killed ones left behind
    out = inst.update()
    assert out.returncode == 0 and "wgpilot 1.0.1 is up to date" in out.stdout, out.stderr
    out = inst.update("--version", "1.0.1", "--restart", "none")
    assert out.returncode == 0, out.stderr
    assert inst.leftovers() == []


@pytest.fixture(scope="module")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-file binary as a plain `pyinstaller wgpilot.spec` makes it: no release.py,
    so no built-in release key (nor release URL)."""
    missing = _have_build_tools()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("keyless")
    assert not (ROOT / "wgpilot" / "_build_info.py").exists()
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
            str(ROOT / "build" / "pyinstaller-test"),
            str(ROOT / "wgpilot.spec"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "wgpilot"


def test_binary_built_without_a_key_refuses_updates(
    keyless: Path, releases: Releases, served: str, tmp_path: Path
) -> None:
    """Even pointed at a genuine release and told its key in the config: it says why and
    changes nothing."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'driver = "none"\n\n[update]\nrelease_url = "{served}"\npublic_key = "{releases.public_key()}"\n'
    )
    target = tmp_path / "bin" / "wgpilot"
    target.parent.mkdir()
    shutil.copyfile(keyless, target)
    target.chmod(0o755)
    before = sha256(target)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}
    for args in (["--check"], [], ["--version", "1.0.1"]):
        out = subprocess.run(
            [str(target), "update", "--config", str(config), "--data-dir", str(tmp_path / "data"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert "built without a release key (release.py build --public-key)" in out.stderr, out.stderr
    assert sha256(target) == before and sorted(p.name for p in target.parent.iterdir()) == ["wgpilot"]


def test_installer_without_a_release_refuses_before_changing_anything(tmp_path: Path, served: str) -> None:
    """install.sh from the source tree carries no release URL, version or key."""
    root = tmp_path / "root"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(ROOT / "install.sh"), "--prefix", str(root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )

    out = run()
    assert out.returncode == 1 and "no release URL: pass --release-url" in out.stderr, out.stderr
    out = run("--release-url", served)
    assert out.returncode == 1 and "no version to install: pass --version" in out.stderr, out.stderr
    out = run("--release-url", served, "--version", "1.0")
    assert out.returncode == 1 and "--version 1.0 is not a version" in out.stderr, out.stderr
    out = run("--release-url", served, "--version", "v1.0.1")
    assert out.returncode == 1 and "no release key to check the download with" in out.stderr, out.stderr
    out = run("--release-url", served, "--version", "1.0.1", "--public-key", "c2hvcnQ=")
    assert out.returncode == 1 and "is not base64 of a 32-byte Ed25519 key" in out.stderr, out.stderr
    assert "==>" not in out.stdout and not (root / "usr").exists()


def test_reinstall_upgrade_uninstall_and_refusals(tmp_path: Path, releases: Releases, served: str) -> None:
    root = tmp_path / "root"
    latest = f"{served}/latest/download/install.sh"
    out = run_install(root, latest, "--version", "1.0.0")
    assert out.returncode == 0 and f"downloading from {served}/download/v1.0.0\n" in out.stdout, out.stderr
    inst = Installed(root)
    inst.config.write_text(inst.config.read_text().replace("# http_port = 80", "http_port = 8080"))
    config_before = inst.config.read_bytes()
    db_inode = (inst.data / "data.db").stat().st_ino
    started = time.monotonic()
    out = run_install(root, latest)
    print(f"\ninstall.sh re-run (upgrade 1.0.0 → 1.0.1): {time.monotonic() - started:.2f}s")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"downloading from {served}/download/v1.0.1\n" in out.stdout
    assert "keeping existing" in out.stdout and inst.version() == "1.0.1"
    assert inst.config.read_bytes() == config_before and (inst.data / "data.db").stat().st_ino == db_inode
    assert sha256(inst.bin.with_name("wgpilot.prev")) == sha256(releases.binary("1.0.0"))

    # a release whose binary or signature was tampered with is refused before installing
    bad = releases.web / "bad-install"
    shutil.copytree(releases.dir("1.0.1"), bad, dirs_exist_ok=True)
    name = releases.binary("1.0.1").name
    data = bytearray((bad / name).read_bytes())
    data[1000] ^= 0xFF
    (bad / name).write_bytes(bytes(data))
    other = tmp_path / "other"
    mirror = ("--base-url", f"{served}/bad-install")
    out = run_install(other, f"{served}/bad-install/install.sh", *mirror)
    assert out.returncode != 0 and "SHA-256 mismatch" in out.stderr
    assert not (other / "usr/local/bin/wgpilot").exists()
    (bad / "SHA256SUMS.sig").write_bytes((releases.dir("1.0.0") / "SHA256SUMS.sig").read_bytes())
    out = run_install(other, f"{served}/bad-install/install.sh", *mirror)
    assert out.returncode != 0 and "signature is NOT valid" in out.stderr
    # a key pinned out of band that did not sign the release: refused
    pinned = {"WGPILOT_PUBLIC_KEY": keys.public_text(Ed25519PrivateKey.generate().public_key())}
    out = run_install(other, latest, env=pinned)
    assert out.returncode != 0 and "signature is NOT valid" in out.stderr, out.stdout + out.stderr
    assert not (other / "usr/local/bin/wgpilot").exists()

    out = run_install(root, latest, "--uninstall")
    assert (
        out.returncode == 0
        and not inst.bin.exists()
        and (inst.data / "data.db").exists()
        and inst.config.exists()
    )
    out = run_install(root, latest, "--uninstall", "--purge")
    assert out.returncode == 0 and not inst.data.exists() and not inst.config.exists()
    assert "wgpilot:" not in (root / "etc/passwd").read_text()


def test_installer_is_shellcheck_clean() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed")
    out = subprocess.run(
        ["shellcheck", str(ROOT / "install.sh")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout
    text = (ROOT / "install.sh").read_text()
    assert "set -euo pipefail" in text and text.rstrip().endswith('main "$@"')


def test_unit_verifies() -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    out = subprocess.run(
        ["systemd-analyze", "verify", str(ROOT / "packaging/wgpilot.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    # the only complaint allowed is the binary not being installed on this machine
    problems = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if line.strip() and "/usr/local/bin/wgpilot" not in line
    ]
    assert problems == [], problems


def _unit_settings() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / "packaging/wgpilot.service").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def test_unit_restarts_on_the_updaters_exit_code() -> None:
    """The updater's restart is the server exiting with 75: the unit must start it again and
    not call it a failure, and must still be retrying a release that crashes at start when
    the updater rolls back (it cannot start a unit that gave up)."""
    unit = _unit_settings()
    assert unit["Restart"] == "on-failure"
    assert str(restart.EXIT_RESTART) in unit["RestartForceExitStatus"].split()
    assert str(restart.EXIT_RESTART) in unit["SuccessExitStatus"].split()
    starts_until_rollback = restart.HEALTH_TIMEOUT / float(unit["RestartSec"]) + 2
    assert int(unit["StartLimitBurst"]) > starts_until_rollback
    assert float(unit["StartLimitIntervalSec"]) >= restart.HEALTH_TIMEOUT


def test_default_config_matches_the_code() -> None:
    from wgpilot import config

    assert (ROOT / "packaging/config.toml").read_text() == config.default_toml()
    _ = release  # release.py imports cleanly outside a build


def test_truncated_installer_runs_nothing(tmp_path: Path) -> None:
    """`curl | bash` on a cut-off download: every prefix of the script changes nothing."""
    text = (ROOT / "install.sh").read_bytes()
    for cut in [*range(0, len(text), 997), len(text) - 3, len(text) - 2]:  # -1 is whole
        root = tmp_path / f"cut{cut}"
        out = subprocess.run(
            ["bash", "-s", "--", "--prefix", str(root)],
            input=text[:cut],
            capture_output=True,
            timeout=30,
            check=False,
            env={**os.environ, "WGPILOT_BASE_URL": "http://127.0.0.1:9/"},
        )
        assert b"==>" not in out.stdout, (cut, out.stdout)
        assert not root.exists(), cut
