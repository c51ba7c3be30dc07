"""The restart request: SIGUSR2 to the server in the pid file, which exits with 75 for its
supervisor; real processes stand in for the server (the daemon's side is test_daemon.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wgpilot.update import restart

# A process whose command line looks like `wgpilot serve`, with the given SIGUSR2 behaviour.
SERVER = """
import signal, sys, time
mode = sys.argv[1]
if mode == "exit":
    signal.signal(signal.SIGUSR2, lambda *_: sys.exit(75))
elif mode == "ignore":
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


@contextmanager
def process(pid_file: Path, *argv: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        if argv[0] == sys.executable:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        pid_file.write_text(json.dumps({"pid": proc.pid, "started_at": int(time.time())}))
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_asks_the_server_to_exit_with_the_restart_code(tmp_path: Path) -> None:
    pid_file = tmp_path / "wgpilot.pid"
    with process(pid_file, sys.executable, "-c", SERVER, "exit", "wgpilot", "serve") as proc:
        assert restart.choose("auto", pid_file).name == "signal"
        restart.SignalRestarter(pid_file, poll=0.01).restart()
        assert proc.poll() == restart.EXIT_RESTART == 75  # exited by the time restart() returns
    assert restart.RESTART_SIGNAL == signal.SIGUSR2


def test_a_server_stuck_in_shutdown_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "wgpilot.pid"
    with process(pid_file, sys.executable, "-c", SERVER, "ignore", "wgpilot", "serve") as proc:
        restart.SignalRestarter(pid_file, grace=0.3, poll=0.01).restart()
        assert proc.wait(5) == -signal.SIGKILL


def test_nothing_is_signalled_without_a_server(tmp_path: Path) -> None:
    pid_file = tmp_path / "wgpilot.pid"
    assert restart.choose("auto", pid_file).name == "none"  # no pid file: only the swap
    restart.SignalRestarter(pid_file).restart()
    # a stale pid file whose pid now belongs to another program: left alone
    with process(pid_file, "sleep", "30") as other:
        assert restart.server_pid(pid_file) is None
        assert restart.choose("auto", pid_file).name == "none"
        restart.SignalRestarter(pid_file, grace=0.2).restart()
        assert other.poll() is None
    # the server has exited (pid file left by a crash)
    restart.SignalRestarter(pid_file, grace=0.2).restart()
    assert restart.server_pid(pid_file) is None
    pid_file.write_text("not json")
    assert restart.server_pid(pid_file) is None
    assert restart.choose("none", pid_file).name == "none"
