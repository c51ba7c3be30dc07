"""The CLI finds the running server without --data-dir (issue 16 item 17): a real
``wgpilot serve`` keeps its data where ``./dev serve`` does (not the default directory),
and a CLI run with no data directory anywhere talks to it; once the server stops, a
read-only command says where it looked, exits 1 and creates nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import LISTEN_ANY
from wgpilot import config, locate
from wgpilot.cli import remote
from wgpilot.domain.errors import ValidationError


def base_env(runtime: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WGPILOT_")}
    env.update({"WGPILOT_RUNTIME_DIR": str(runtime), "WGPILOT_DRIVER": "none"})
    return env


class Server:
    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "checkout" / ".wgpilot-data"
        self.runtime = tmp / "run-wgpilot"
        self.log = tmp / "serve.log"
        env = {
            **base_env(self.runtime),
            "WGPILOT_LISTEN": LISTEN_ANY,
            "WGPILOT_TLS_HTTP_PORT": "0",
            "WGPILOT_WIREGUARD_DIR": str(tmp / "etc-wireguard"),
            "WGPILOT_AUTH_BCRYPT_COST": "4",
        }
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "wgpilot", "serve", "--data-dir", str(self.data)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while locate.published(self.runtime) != [self.data]:
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, f"not published within 60 s:\n{self.log.read_text()}"
                time.sleep(0.05)
        except BaseException:
            self.kill()  # the fixture never gets it: its try starts after this constructor
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(30) == 0, self.log.read_text()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    try:
        yield s
    finally:
        s.kill()


def test_connect_finds_the_one_published_server(server: Server) -> None:
    defaults = config.load(None, env={"WGPILOT_RUNTIME_DIR": str(server.runtime)})
    assert "data_dir" not in defaults.explicit
    client = remote.connect(defaults)
    assert client is not None and client.path == server.data / "wgpilot.sock"
    # A data directory that was given is the only place looked at.
    elsewhere = defaults.replace(data_dir=str(server.data.parent / "other"))
    assert remote.connect(elsewhere) is None


def test_several_published_servers_ask_for_a_choice(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    socks = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(tmp_path / name / "wgpilot.sock"))
        s.listen(1)
        socks.append(s)
        (runtime / f"{100000 + len(socks)}.json").write_text(json.dumps({"data_dir": str(tmp_path / name)}))
    try:
        with pytest.raises(ValidationError, match="several wgpilot servers are running") as err:
            remote.connect(config.load(None, env={"WGPILOT_RUNTIME_DIR": str(runtime)}))
        assert str(tmp_path / "a") in err.value.message and str(tmp_path / "b") in err.value.message
    finally:
        for s in socks:
            s.close()


VAR_LIB = "--- /var/lib ---"


def cli_without_data_dir(runtime: Path, *args: str) -> tuple[int, str, str, list[str]]:
    """The CLI as `./.venv/bin/wgpilot ARGS` run from a checkout: no --data-dir, no
    WGPILOT_DATA_DIR. It runs in a private mount namespace whose /var/lib is an empty
    tmpfs, so the default data directory is real but disposable; returns (exit code,
    stdout, stderr, what /var/lib holds afterwards)."""
    script = (
        f'mount -t tmpfs wgpilot-test /var/lib && "$@"; code=$?; echo "{VAR_LIB}"; ls -A /var/lib; exit $code'
    )
    unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    r = subprocess.run(
        [*unshare, sys.executable, "-m", "wgpilot", *args],
        capture_output=True,
        text=True,
        env=base_env(runtime),
        timeout=120,
    )
    out, _, var_lib = r.stdout.partition(VAR_LIB + "\n")
    return r.returncode, out, r.stderr, var_lib.split()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare (a private /var/lib)"
)
def test_the_cli_finds_the_dev_server_and_creates_nothing_once_it_is_gone(server: Server) -> None:
    code, out, err, var_lib = cli_without_data_dir(
        server.runtime, "network", "create", "--name", "lab", "--subnet", "10.77.0.0/24", "--json"
    )
    assert code == 0 and json.loads(out)["name"] == "lab", err
    code, out, err, var_lib = cli_without_data_dir(server.runtime, "status", "--json")
    assert code == 0, err
    st = json.loads(out)
    assert st["server"]["data_dir"] == str(server.data) and [n["name"] for n in st["networks"]] == ["lab"]
    code, out, err, var_lib = cli_without_data_dir(server.runtime, "status")
    assert code == 0 and "server:  running (up " in out and f"data in {server.data}" in out, out
    assert "lab" in out and var_lib == []

    server.stop()
    assert list(server.runtime.iterdir()) == []  # the pointer went with the server
    for args in (["status"], ["network", "list"], ["peer", "list", "--network", "lab"]):
        code, out, err, var_lib = cli_without_data_dir(server.runtime, *args)
        assert code == 1, (args, out, err)
        assert "no running wgpilot server found" in err and "/var/lib/wgpilot/wgpilot.sock" in err, err
        assert f"servers published in {server.runtime}" in err, err
        assert var_lib == [], f"{args} created {var_lib} in /var/lib"
