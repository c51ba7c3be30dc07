"""Restarting the server after a swap, and telling whether the new one is healthy.

A restart is asked of the server itself: ``RESTART_SIGNAL`` (SIGUSR2) to the pid in
``<data_dir>/wgpilot.pid`` makes it stop as on SIGTERM but exit with ``EXIT_RESTART``
(75, EX_TEMPFAIL), and its supervisor starts the binary again, which is now the new
file. ``packaging/wgpilot.service`` says so: ``Restart=on-failure`` with
``RestartForceExitStatus=75`` (start it again) and ``SuccessExitStatus=75`` (not a
failure); any supervisor that restarts on a non-zero exit does the same (an older unit
without those lines, docker's on-failure, runit, s6). We wait for the old process to be
gone (SIGKILL after ``grace`` seconds, a failure the unit restarts on too); the health
check is the answer on the new one.

Chosen over asking systemd over D-Bus: the standard library has no D-Bus client (a
dependency or a hand-written wire protocol, and a system bus that minimal hosts and
containers lack), it would serve systemd only, and the same signal-and-exit runs under
every supervisor, so the packaging tests exercise it with the real binary. Chosen over
``systemctl``: no process is spawned.

Rollback is the same request. A release that crashes at start leaves no process to
ask: the supervisor's next automatic restart runs the restored file. So the unit must
still be retrying when the health check gives up: its start limit (StartLimitBurst)
allows more starts than ``HEALTH_TIMEOUT / RestartSec`` plus the two restarts of an
update (tests/packaging check the unit). Should it have given up, the updater says how
to start it again.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

RESTART_SIGNAL = signal.SIGUSR2
EXIT_RESTART = 75  # sysexits EX_TEMPFAIL; the unit's RestartForceExitStatus/SuccessExitStatus
HEALTH_TIMEOUT = 60.0  # default seconds for the new binary to report healthy
STOP_GRACE = 30.0  # as the unit's TimeoutStopSec


class Restarter(Protocol):
    name: str

    def restart(self) -> None: ...


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has exited; it only waits for its parent (the one-file bootloader) to reap it
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def _is_server(pid: int) -> bool:
    """The process is a ``wgpilot serve`` (not another that reuses a stale pid)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in args and any(b"wgpilot" in os.path.basename(a) for a in args if a)


def server_pid(pid_file: Path) -> int | None:
    """The running server's pid from its pid file, when that process is still a server."""
    try:
        pid = int(json.loads(pid_file.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid > 0 and _alive(pid) and _is_server(pid) else None


class SignalRestarter:
    """Asks the running server to exit with EXIT_RESTART and waits until it has."""

    name = "signal"

    def __init__(self, pid_file: Path, grace: float = STOP_GRACE, poll: float = 0.1) -> None:
        self.pid_file = pid_file
        self.grace = grace
        self.poll = poll

    def restart(self) -> None:
        pid = server_pid(self.pid_file)
        if pid is None:
            return  # not running (or crashed): its supervisor starts the file in place
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, RESTART_SIGNAL)
        if self._gone(pid, self.grace):
            return
        # stuck in shutdown: killed by a signal is a failure, which the unit restarts too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self._gone(pid, 10.0)

    def _gone(self, pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while _alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll)
        return True


class NoRestart:
    name = "none"

    def restart(self) -> None:
        return None


def choose(strategy: str, pid_file: Path) -> Restarter:
    """``auto``: ask the running server to restart; nothing running (a stopped service)
    means nothing to restart, only the file is swapped."""
    if strategy == "auto":
        strategy = "signal" if server_pid(pid_file) is not None else "none"
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
