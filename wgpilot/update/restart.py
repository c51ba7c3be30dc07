"""Restarting the service after a swap, and telling whether the new one is healthy.

With systemd (the installed case) the restart is ``systemctl restart wgpilot.service``:
the D-Bus API is not reachable from the standard library, and a restart-request file
watched by a ``.path`` unit would need a second unit and still gives no answer to wait
on. ``systemctl`` is synchronous, reports failure, and is the one process we spawn here.

Without systemd (a container, a test harness) the ``signal`` strategy sends SIGTERM to
the pid in ``<data_dir>/wgpilot.pid`` and relies on whatever supervises the process to
start the (new) binary again; ``none`` only swaps the file.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from wgpilot.update.manifest import UpdateError

UNIT = "wgpilot.service"


class Restarter(Protocol):
    name: str

    def restart(self) -> None: ...


class SystemdRestarter:
    name = "systemd"

    def __init__(self, unit: str = UNIT) -> None:
        self.unit = unit

    def restart(self) -> None:
        systemctl = shutil.which("systemctl") or "/bin/systemctl"
        try:
            # A release that crashed at start makes Restart= loop into the unit's start
            # limit ("Start request repeated too quickly"), which would refuse the restart
            # of the rolled-back binary too: clear it first (a no-op on a healthy unit).
            subprocess.run(
                [systemctl, "reset-failed", self.unit], capture_output=True, timeout=60, check=False
            )
            proc = subprocess.run(
                [systemctl, "restart", "--no-block", self.unit],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpdateError(f"systemctl restart {self.unit} failed: {exc}") from None
        if proc.returncode != 0:
            raise UpdateError(
                f"systemctl restart {self.unit} failed: {proc.stderr.strip() or proc.returncode}"
            )


class SignalRestarter:
    name = "signal"

    def __init__(self, pid_file: Path) -> None:
        self.pid_file = pid_file

    def restart(self) -> None:
        try:
            pid = int(json.loads(self.pid_file.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # not running (or crashed): the supervisor starts it anyway
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


class NoRestart:
    name = "none"

    def restart(self) -> None:
        return None


def systemd_manages(unit: str = UNIT) -> bool:
    """True when systemd is the init and knows the unit."""
    if not Path("/run/systemd/system").is_dir() or not shutil.which("systemctl"):
        return False
    try:
        proc = subprocess.run(
            ["systemctl", "show", "-p", "LoadState", "--value", unit],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.stdout.strip() == "loaded"


def server_running(pid_file: Path) -> bool:
    try:
        os.kill(int(json.loads(pid_file.read_text())["pid"]), 0)
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def choose(strategy: str, pid_file: Path) -> Restarter:
    """``auto``: systemd when it manages the unit; else SIGTERM to a running server (its
    supervisor restarts it); else nothing is running and there is nothing to restart."""
    if strategy == "auto":
        if systemd_manages():
            strategy = "systemd"
        else:
            strategy = "signal" if server_running(pid_file) else "none"
    if strategy == "systemd":
        return SystemdRestarter()
    if strategy == "signal":
        return SignalRestarter(pid_file)
    return NoRestart()


def health_targets(listen: str) -> list[tuple[str, int]]:
    """Where to ask for /health: the configured address, or 443 then 8443 on loopback."""
    if not listen:
        return [("127.0.0.1", 443), ("127.0.0.1", 8443)]
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return [(host, int(port))]


def probe(host: str, port: int, timeout: float = 3.0) -> dict[str, object] | None:
    """GET https://host:port/health (the server's own certificate, not verified: this
    asks our own process on loopback whether it is up, it trusts nothing it says)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    try:
        conn.request("GET", "/health")
        resp = conn.getresponse()
        body = resp.read(64 * 1024)
        if resp.status != 200:
            return None
        doc = json.loads(body)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_healthy(
    targets: list[tuple[str, int]],
    version: str,
    timeout: float,
    *,
    settle: float = 3.0,
    prober: Callable[[str, int], dict[str, object] | None] = probe,
) -> bool:
    """True once /health answers 200 with ``version`` and keeps doing so for ``settle``
    seconds (a binary that starts and then dies is not healthy)."""
    deadline = time.monotonic() + timeout
    since: float | None = None
    while time.monotonic() < deadline:
        ok = any((doc := prober(h, p)) is not None and doc.get("version") == version for h, p in targets)
        now = time.monotonic()
        if ok:
            since = since or now
            if now - since >= settle:
                return True
        else:
            since = None
        time.sleep(0.25)
    return False
