"""The CLI as a user runs it: a real process, a real database file (kernel layer off)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WGPILOT_DATA_DIR": str(data),
        "WGPILOT_DRIVER": "none",
        "WGPILOT_WIREGUARD_DIR": str(data / "wireguard"),  # not the host's /etc/wireguard
    }
    env.pop("WGPILOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "wgpilot", *args], capture_output=True, text=True, env=env, timeout=60
    )


def db_digest(data: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(data / "data.db")
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    assert cli(d, "init", "--public-ip", "203.0.113.1").returncode == 0
    r = cli(d, "network", "create", "--name", "office", "--subnet", "10.8.0.0/24", "--port", "51820")
    assert r.returncode == 0, r.stderr
    return d


def free_udp_port() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    return s


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["network", "create", "--name", "x", "--subnet", "10.9.0.300/24", "--port", "51900"], "subnet"),
        (["network", "create", "--name", "x", "--subnet", "10.8.0.0/16", "--port", "51900"], "overlaps"),
        (
            ["network", "create", "--name", "office", "--subnet", "10.9.0.0/24", "--port", "51900"],
            "already exists",
        ),
        (["network", "create", "--name", "x", "--subnet", "10.9.0.0/24", "--port", "51820"], "already used"),
        (["peer", "add", "--network", "nope", "--name", "a"], "does not exist"),
        (["peer", "add", "--network", "office", "--name", "a\nb"], "name"),
        (["network", "delete", "nope", "--yes"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(data: Path, args: list[str], needle: str) -> None:
    before = db_digest(data)
    r = cli(data, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert db_digest(data) == before


def test_port_taken_on_the_host(data: Path) -> None:
    sock = free_udp_port()
    try:
        port = sock.getsockname()[1]
        before = db_digest(data)
        r = cli(data, "network", "create", "--name", "x", "--subnet", "10.9.0.0/24", "--port", str(port))
        assert r.returncode == 2 and f"UDP port {port} is already in use" in r.stderr
        assert db_digest(data) == before
    finally:
        sock.close()


def test_duplicate_peer_name(data: Path) -> None:
    assert cli(data, "peer", "add", "--network", "office", "--name", "laptop").returncode == 0
    before = db_digest(data)
    r = cli(data, "peer", "add", "--network", "office", "--name", "laptop")
    assert r.returncode == 2 and "already exists" in r.stderr
    assert db_digest(data) == before


def test_happy_path_and_json(data: Path) -> None:
    r = cli(data, "peer", "add", "--network", "office", "--name", "laptop", "--preshared-key", "--json")
    peer = json.loads(r.stdout)
    assert peer["address"] == "10.8.0.2" and peer["preshared_key"] is True
    assert '"private_key"' not in r.stdout
    nets = json.loads(cli(data, "network", "list", "--json").stdout)
    assert [n["name"] for n in nets] == ["office"]
    conf = cli(data, "peer", "config", "--network", "office", "laptop").stdout
    assert conf.startswith("# wgpilot: office / laptop\n[Interface]\nPrivateKey = ")
    assert "Endpoint = 203.0.113.1:51820" in conf and "PresharedKey = " in conf
    qr = cli(data, "peer", "config", "--network", "office", "laptop", "--qr").stdout
    assert "▀" in qr or "█" in qr
    st = json.loads(cli(data, "status", "--json").stdout)
    assert st["driver"] == "none" and st["networks"][0]["peers_total"] == 1
    human = cli(data, "status").stdout
    assert "NONE" in human and "kernel layer disabled" in human


def test_peer_add_makes_a_preshared_key_unless_told_not_to(data: Path) -> None:
    made = {}
    for name, extra in (("dflt", []), ("yes", ["--preshared-key"]), ("no", ["--no-preshared-key"])):
        r = cli(data, "peer", "add", "--network", "office", "--name", name, *extra, "--json")
        assert r.returncode == 0, r.stderr
        made[name] = json.loads(r.stdout)["preshared_key"]
    assert made == {"dflt": True, "yes": True, "no": False}


def test_network_create_takes_the_default_dns_unless_told(data: Path) -> None:
    import sqlite3

    with sqlite3.connect(data / "data.db") as conn:  # as wizard step 2 or the Settings page stores it
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('default_dns', '[\"9.9.9.9\"]')")
    made = {}
    for name, subnet, extra in (
        ("dflt", "10.9.0.0/24", []),
        ("own", "10.10.0.0/24", ["--dns", "1.1.1.1, 1.0.0.1"]),
        ("none", "10.11.0.0/24", ["--dns", ""]),
    ):
        r = cli(data, "network", "create", "--name", name, "--subnet", subnet, *extra, "--json")
        assert r.returncode == 0, r.stderr
        made[name] = json.loads(r.stdout)["dns_servers"]
    assert made == {"dflt": ["9.9.9.9"], "own": ["1.1.1.1", "1.0.0.1"], "none": []}
    assert cli(data, "peer", "add", "--network", "dflt", "--name", "p").returncode == 0
    assert "DNS = 9.9.9.9\n" in cli(data, "peer", "config", "--network", "dflt", "p").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["network", "list"],
        ["peer", "list", "--network", "office"],
        ["peer", "config", "--network", "office", "laptop"],
        ["backup"],
    ],
)
def test_a_read_only_command_never_creates_state(tmp_path: Path, args: list[str]) -> None:
    """Without a server and without a database it says where it looked and exits 1;
    no data directory, database or key appears."""
    data = tmp_path / "nothing-here"
    before = sorted(tmp_path.rglob("*"))
    r = cli(data, *args)
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no running wgpilot server found"), r.stderr
    assert f"{data}/wgpilot.sock" in lines[0] and f"{data}/data.db" in lines[0]
    assert not data.exists() and sorted(tmp_path.rglob("*")) == before


def test_a_read_only_command_does_not_migrate_an_older_database(tmp_path: Path) -> None:
    """An older wgpilot's database (one migration short) is refused by the read-only
    commands, not upgraded under the server that may still run it: exit 1 saying what
    to do, the file untouched. A command that writes migrates it, as before."""
    import sqlite3

    from wgpilot.storage import migrate

    data = tmp_path / "data"
    assert cli(data, "init").returncode == 0
    latest = migrate.latest_version()
    for suffix in ("", "-wal", "-shm"):
        (data / f"data.db{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(data / "data.db")
    try:  # as the wgpilot before the latest migration left it
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(migrate.BOOKKEEPING)
        for mig in migrate.available()[: latest - 1]:
            for stmt in migrate.statements(mig.sql):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (mig.version, mig.name))
        conn.commit()
    finally:
        conn.close()
    before = (data / "data.db").read_bytes()
    for args in (["status"], ["network", "list"], ["backup", "--output", str(tmp_path / "b.tar")]):
        r = cli(data, *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert (
            len(lines) == 1 and f"is at schema version {latest - 1}, this wgpilot needs {latest}" in lines[0]
        )
        assert "start the server once" in lines[0], lines[0]
        assert (data / "data.db").read_bytes() == before and not (tmp_path / "b.tar").exists()
    made = cli(data, "network", "create", "--name", "x", "--subnet", "10.99.0.0/24")  # a write migrates
    assert made.returncode == 0, made.stderr
    assert cli(data, "status").returncode == 0


def test_serve_that_cannot_listen_still_shows_the_install_token(tmp_path: Path) -> None:
    """The token goes out with the start-up banner once HTTPS is bound; a server that
    never binds prints it on its way out, or it would be lost (it is stored hashed)."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}
        env.update(
            {
                "WGPILOT_DRIVER": "none",
                "WGPILOT_TLS_HTTP_PORT": "0",
                "WGPILOT_RUNTIME_DIR": str(tmp_path / "run"),
                "WGPILOT_WIREGUARD_DIR": str(tmp_path / "wireguard"),
                "WGPILOT_LISTEN": f"127.0.0.1:{taken.getsockname()[1]}",
            }
        )
        r = subprocess.run(
            [sys.executable, "-m", "wgpilot", "serve", "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        taken.close()
    assert r.returncode == 1, r.stderr
    assert "cannot listen on 127.0.0.1:" in r.stderr and "one-time install token: " in r.stderr, r.stderr
    assert "wgpilot is running" not in r.stderr


def test_config_check_names_key_and_value(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[log]\nlevel = "loud"\n')
    r = subprocess.run(
        [sys.executable, "-m", "wgpilot", "config", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "log.level = 'loud'" in r.stderr and "must be one of" in r.stderr
    cfg.write_text('[tls]\nmod = "acme"\n')
    r = subprocess.run(
        [sys.executable, "-m", "wgpilot", "config", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown key 'tls.mod'" in r.stderr
    cfg.write_text('listen = ":8443"\n[monitor]\npoll_interval = 2\n')
    r = subprocess.run(
        [sys.executable, "-m", "wgpilot", "config", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_help_lists_every_command() -> None:
    r = subprocess.run([sys.executable, "-m", "wgpilot", "--help"], capture_output=True, text=True)
    for command in ("serve", "init", "status", "network", "peer", "version", "config"):
        assert f"  {command} " in r.stdout


def test_no_qr_code_for_a_peer_that_brought_its_own_key(data: Path, tmp_path: Path) -> None:
    from wgpilot.domain import keys, render

    _, public = keys.generate_keypair()
    r = cli(data, "peer", "add", "--network", "office", "--name", "tablet", "--public-key", public)
    assert r.returncode == 0, r.stderr
    r = cli(data, "peer", "config", "--network", "office", "tablet", "--qr")
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.startswith("error: no QR code for peer 'tablet': it brought its own key")
    assert len(r.stderr.strip().splitlines()) == 1
    # The .conf still comes, with the placeholder marked as one.
    conf = cli(data, "peer", "config", "--network", "office", "tablet").stdout
    assert f"{render.PLACEHOLDER_NOTE}\nPrivateKey = {render.PRIVATE_KEY_PLACEHOLDER}\n" in conf


def test_config_into_a_directory_gets_a_name_wg_quick_accepts(data: Path, tmp_path: Path) -> None:
    name = "Anna's laptop (work)"
    assert cli(data, "peer", "add", "--network", "office", "--name", name).returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    r = cli(data, "peer", "config", "--network", "office", name, "-o", str(out))
    assert r.returncode == 0, r.stderr
    (written,) = out.iterdir()
    assert written.name.startswith("Anna-s-l-") and len(written.stem) <= 15
    assert written.stat().st_mode & 0o777 == 0o600
    assert "[Interface]" in written.read_text()


def test_expiry_counts_ascii_digits_only() -> None:
    from wgpilot.cli.peer import parse_expiry

    assert parse_expiry("1750000000") == 1750000000
    assert parse_expiry("30d") > 1750000000
    for bad in ("²", "\u0663\u0660d", "1_0", "²h"):  # "²" made int() raise; "\u0663\u0660d" was 30 days
        with pytest.raises(SystemExit) as exc:
            parse_expiry(bad)
        assert exc.value.code == 2
