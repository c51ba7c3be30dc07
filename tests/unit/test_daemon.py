"""The server's lifecycle as its supervisor sees it: the real ``wgpilot serve`` (from
source) stops cleanly on SIGTERM, and on the update's restart request (SIGUSR2) stops
the same way but exits with 75, the code the systemd unit restarts on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import LISTEN_ANY, bound_port, isolated_env
from wgpilot.update import restart


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 0), (restart.RESTART_SIGNAL, restart.EXIT_RESTART)]
)
def test_exit_code_on_stop_and_on_restart_request(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'listen = "{LISTEN_ANY}"\ndriver = "none"\n\n[tls]\nhttp_port = 0\n')
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wgpilot",
                "serve",
                "--config",
                str(config),
                "--data-dir",
                str(tmp_path / "d"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=isolated_env(tmp_path),
        )
    try:
        port = bound_port(proc, log)
        pid_file = tmp_path / "d" / "wgpilot.pid"
        deadline = time.monotonic() + 60
        while restart.server_pid(pid_file) != proc.pid or restart.probe("127.0.0.1", port) is None:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        pointer = tmp_path / "run-wgpilot" / f"{proc.pid}.json"
        assert pointer.exists()  # published here, not in the host's /run/wgpilot
        proc.send_signal(sig)
        assert proc.wait(30) == code, log.read_text()[-2000:]
        assert not pid_file.exists()
        assert ("restart requested" in log.read_text()) == (code == restart.EXIT_RESTART)
        assert not pointer.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
