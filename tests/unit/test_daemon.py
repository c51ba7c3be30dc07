"""The server's lifecycle as its supervisor sees it: the real ``wgpilot serve`` (from
source) stops cleanly on SIGTERM, and on the update's restart request (SIGUSR2) stops
the same way but exits with 75, the code the systemd unit restarts on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wgpilot.update import restart


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 0), (restart.RESTART_SIGNAL, restart.EXIT_RESTART)]
)
def test_exit_code_on_stop_and_on_restart_request(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'listen = "127.0.0.1:{port}"\ndriver = "none"\n\n[tls]\nhttp_port = 0\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WGPILOT_", "NOTIFY_SOCKET"))}
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
            env=env,
        )
    try:
        pid_file = tmp_path / "d" / "wgpilot.pid"
        deadline = time.monotonic() + 60
        while restart.server_pid(pid_file) != proc.pid or restart.probe("127.0.0.1", port) is None:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        proc.send_signal(sig)
        assert proc.wait(30) == code, log.read_text()[-2000:]
        assert not pid_file.exists()
        assert ("restart requested" in log.read_text()) == (code == restart.EXIT_RESTART)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
