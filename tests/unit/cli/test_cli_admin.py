"""`wgpilot setup` in a real terminal (a pty), `wgpilot backup` and `wgpilot restore`."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from tests.archives import end_of_archive, regular_member, sparse_member, with_database
from tests.unit.cli.test_cli import cli, db_digest


def drive(args: list[str], env: dict[str, str], script: list[tuple[str, str]], timeout: float = 60) -> str:
    """Run a command on a pty; answer each prompt fragment with a line."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(sys.executable, [sys.executable, "-m", "wgpilot", *args], env)
    out = b""
    deadline = time.monotonic() + timeout
    pending = list(script)
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            while pending and pending[0][0].encode() in out.rsplit(b"\n", 1)[-1] + b"":
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
                out += b"\n"
    finally:
        os.waitpid(pid, 0)
    return out.decode(errors="replace")


def wizard(data: Path, wireguard_dir: Path, answers: list[tuple[str, str]]) -> str:
    """``wgpilot setup`` on a fresh data directory: steps 1 and 2, then ``answers``."""
    env = {
        **os.environ,
        "WGPILOT_DATA_DIR": str(data),
        "WGPILOT_DRIVER": "none",
        "WGPILOT_AUTH_BCRYPT_COST": "4",
        "WGPILOT_WIREGUARD_DIR": str(wireguard_dir),
    }
    assert cli(data, "init").returncode == 0
    admin = [
        ("username", "admin"),
        ("password", "a long enough password"),
        ("repeat", "a long enough password"),
    ]
    return drive(["setup"], env, admin + answers)


def test_terminal_wizard(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = wizard(
        data,
        data / "wireguard",  # nothing to import
        [
            ("public IP", "203.0.113.9"),
            ("host name", "vpn.example.com"),
            ("DNS", ""),
            ("name", "office"),
            ("mode", "hub-routed"),
            ("subnet", "10.8.0.0/24"),
            ("UDP port", "51820"),
            ("device name", "laptop"),
        ],
    )
    assert "setup complete." in out, out
    assert "Endpoint = vpn.example.com:51820" in out and "AllowedIPs = 10.8.0.0/24" in out
    assert "DNS = 1.1.1.1, 1.0.0.1\r" in out  # step 2's default DNS reached step 3's network
    again = cli(data, "setup")
    assert again.returncode == 0 and "already set up" in again.stdout
    st = json.loads(cli(data, "status", "--json").stdout)
    assert st["networks"][0]["mode"] == "hub-routed"


def test_terminal_wizard_imports_an_existing_setup(tmp_path: Path) -> None:
    from wgpilot.domain import keys

    data, conf = tmp_path / "data", tmp_path / "wireguard"
    conf.mkdir()
    server, (_, peer) = keys.generate_keypair()[0], keys.generate_keypair()
    (conf / "wg0.conf").write_text(
        f"[Interface]\nPrivateKey = {server}\nAddress = 10.20.0.1/24\nListenPort = 51830\n"
        "PostUp = iptables -A FORWARD -i %i -j ACCEPT\n\n"
        f"[Peer]\n# Name = desk\nPublicKey = {peer}\nAllowedIPs = 10.20.0.2/32\n"
    )
    (conf / "wg1.conf").write_text(f"[Interface]\nPrivateKey = {keys.generate_private_key()}\n")
    out = wizard(
        data,
        conf,
        [
            ("public IP", "203.0.113.9"),
            ("host name", ""),
            ("DNS", ""),
            ("import wg0 (", "y"),  # wg1 is shown, with why, but not offered
            ("device name", "laptop"),
        ],
    )
    assert f"wg0: 1 peers, port 51830 ({conf / 'wg0.conf'})\r\n" in out, out
    assert f"wg1: 0 peers ({conf / 'wg1.conf'}) — cannot be imported as it is" in out
    assert "    - wg1: no IPv4 address; skipped" in out
    assert (
        "imported wg0 (wg0, 10.20.0.0/24, port 51830)" in out and "    - wg0: postup is not imported" in out
    )
    assert out.count("wg0: postup is not imported") == 1  # said before, not again after
    assert "note: wg0: now managed by wgpilot" in out
    assert "setup complete." in out and "Address = 10.20.0.3/32" in out, out
    peers = json.loads(cli(data, "peer", "list", "--network", "wg0", "--json").stdout)
    assert sorted((p["name"], p["address"]) for p in peers) == [
        ("desk", "10.20.0.2"),
        ("laptop", "10.20.0.3"),
    ]


def test_backup_and_restore_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "init").returncode == 0
    assert (
        cli(
            data, "network", "create", "--name", "office", "--subnet", "10.8.0.0/24", "--port", "51820"
        ).returncode
        == 0
    )
    assert (
        cli(data, "peer", "add", "--network", "office", "--name", "laptop", "--preshared-key").returncode == 0
    )
    archive = tmp_path / "b.tar"
    r = cli(data, "backup", "--output", str(archive))
    assert r.returncode == 0, r.stderr
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["data.db", "manifest.json", "master.key"]
    before = db_digest(data)
    conf_before = cli(data, "peer", "config", "--network", "office", "laptop").stdout

    # Changes after the backup, then restore: the backup's state comes back.
    assert cli(data, "peer", "add", "--network", "office", "--name", "later").returncode == 0
    r = cli(data, "restore", str(archive), "--yes")
    assert r.returncode == 0 and "1 networks, 1 peers" in r.stdout, r.stderr
    peers = json.loads(cli(data, "peer", "list", "--network", "office", "--json").stdout)
    assert [p["name"] for p in peers] == ["laptop"]
    assert cli(data, "peer", "config", "--network", "office", "laptop").stdout == conf_before
    assert list((data / "backups").glob("pre-restore-*.tar"))
    assert before  # the digest differs only by the restore's own audit entry
    # The audit trail is not rewound: the peer added after the backup is still in it,
    # followed by the restore, which names what it replaced and where that was saved.
    conn = sqlite3.connect(data / "data.db")
    try:
        log = conn.execute("SELECT action, resource, detail FROM audit_log ORDER BY id").fetchall()
    finally:
        conn.close()
    assert [a for a, _, _ in log[-3:]] == ["system.backup", "peer.create", "system.restore"]
    detail = json.loads(log[-1][2])
    assert detail["replaced"] == {"networks": 1, "peers": 2} and detail["peers"] == 1
    assert (data / detail["saved_previous"]).is_file()

    # Into a fresh data directory (a new server): the master key comes along.
    fresh = tmp_path / "fresh"
    assert cli(fresh, "init").returncode == 0
    r = cli(fresh, "restore", str(archive), "--yes")
    assert r.returncode == 0, r.stderr
    assert cli(fresh, "peer", "config", "--network", "office", "laptop").stdout == conf_before


def test_restore_refuses_bad_files_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "init").returncode == 0
    assert (
        cli(
            data, "network", "create", "--name", "office", "--subnet", "10.8.0.0/24", "--port", "51820"
        ).returncode
        == 0
    )
    good = tmp_path / "good.tar"
    assert cli(data, "backup", "--output", str(good)).returncode == 0
    before = db_digest(data)
    key_before = (data / "master.key").read_bytes()

    cases: dict[str, bytes] = {"not-a-tar.tar": b"hello world", "empty.tar": b""}
    # A database from a "future" wgpilot.
    import io

    with tarfile.open(good) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    future_db = tmp_path / "future.db"
    future_db.write_bytes(files["data.db"])
    conn = sqlite3.connect(future_db)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()

    def pack(db: bytes, key: bytes, manifest: dict | None = None) -> bytes:
        import hashlib

        man = manifest or {
            **json.loads(files["manifest.json"]),
            "sha256": {
                "data.db": hashlib.sha256(db).hexdigest(),
                "master.key": hashlib.sha256(key).hexdigest(),
            },
        }
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, blob in (
                ("manifest.json", json.dumps(man).encode()),
                ("data.db", db),
                ("master.key", key),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return buf.getvalue()

    import base64

    other_key = base64.b64encode(os.urandom(32)) + b"\n"
    corrupt = bytearray(files["data.db"])
    corrupt[4096:4196] = b"\xff" * 100  # the b-tree header of page 2
    cases["future.tar"] = pack(future_db.read_bytes(), files["master.key"])
    cases["wrong-key.tar"] = pack(files["data.db"], other_key)
    cases["corrupt.tar"] = pack(bytes(corrupt), files["master.key"])
    cases["tampered.tar"] = pack(
        files["data.db"],
        files["master.key"],
        {**json.loads(files["manifest.json"]), "sha256": {"data.db": "0" * 64, "master.key": "0" * 64}},
    )

    # Issue 16: a database lacking tables, one carrying a trigger, a truncated archive,
    # one that claims an old schema it does not have, a 4 KB "1 GiB" sparse member.
    def changed(sql: str) -> bytes:
        return with_database(good.read_bytes(), tmp_path, lambda c: c.executescript(sql))

    cases["no-audit-log.tar"] = changed("DROP TABLE audit_log")
    cases["trigger.tar"] = changed("CREATE TRIGGER t AFTER INSERT ON peers BEGIN DELETE FROM users; END")
    cases["truncated.tar"] = good.read_bytes()[: good.stat().st_size // 2]
    cases["lying.tar"] = changed("DELETE FROM schema_migrations WHERE version > 4")
    cases["sparse.tar"] = (
        regular_member("manifest.json", files["manifest.json"])
        + sparse_member("data.db", 1 << 30, b"x")
        + regular_member("master.key", files["master.key"])
        + end_of_archive()
    )
    errors: dict[str, str] = {}
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        r = cli(data, "restore", str(path), "--yes")
        errors[name] = r.stderr
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert r.stderr.startswith("error: file: "), (name, r.stderr)
        assert db_digest(data) == before, name
        assert (data / "master.key").read_bytes() == key_before, name
        left = [p.name for p in data.iterdir() if p.name.startswith(".restore-")]
        assert left == [] and not list(data.glob("backups/pre-restore-*")), (name, left)
    messages = {
        "future.tar": "newer than this wgpilot",
        "wrong-key.tar": "does not match",
        "no-audit-log.tar": "missing table audit_log",
        "trigger.tar": "unexpected trigger t",
        "truncated.tar": "truncated",
        "lying.tar": "unexpected table peer_counts",
        "sparse.tar": "data.db is not stored as a plain file",
    }
    for name, message in messages.items():
        assert message in errors[name], (name, errors[name])
    subprocess.run(["true"], check=True)
