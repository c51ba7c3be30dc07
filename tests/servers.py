"""A real ``wgpilot serve`` for tests: an environment that keeps it off the host's
state, and the port it bound. It listens on port 0 (any free port, held from the
bind on) and logs the address it really bound in its ``listening`` line; a port
picked free beforehand and bound later could be taken by anyone in between."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

LISTEN_ANY = "127.0.0.1:0"


def isolated_env(tmp: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any WGPILOT_* setting (nor a systemd
    NOTIFY_SOCKET), plus a runtime directory and a wg-quick directory under ``tmp``:
    the server publishes no pointer in the host's /run/wgpilot and reads nothing of
    the host's /etc/wireguard."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WGPILOT_", "NOTIFY_SOCKET"))}
    env.update(
        {
            "WGPILOT_RUNTIME_DIR": str(tmp / "run-wgpilot"),
            "WGPILOT_WIREGUARD_DIR": str(tmp / "etc-wireguard"),
            **extra,
        }
    )
    return env


def listening_port(line: str) -> int | None:
    """The port of a JSON ``listening`` log line, or None for any other line."""
    if not line.startswith("{"):
        return None
    record = json.loads(line)
    if record.get("msg") != "listening":
        return None
    return int(record["address"].rpartition(":")[2])


def bound_port(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> int:
    """Wait for the server writing ``log`` (JSON log format) to listen; its port."""
    deadline = time.monotonic() + timeout
    while True:
        for line in log.read_text(errors="replace").splitlines():
            port = listening_port(line)
            if port is not None:
                return port
        assert proc.poll() is None, f"serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"not listening within {timeout} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
