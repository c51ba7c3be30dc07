"""`wgpilot serve` as a process: what it tells the operator at start before setup is
finished (the kernel layer off, HTTPS on a loopback port)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import LISTEN_ANY, isolated_env, listening_port
from tests.unit.cli.test_cli import cli

PASSWORD = "a long enough password"
SERVE = ("serve", "--listen")


@contextmanager
def serving(data: Path, prelude: str = "") -> Iterator[tuple[str, list[str]]]:
    """A running server: (its URL, what it wrote to stderr before it listened).
    ``prelude``: Python run in the server's process before the CLI starts."""
    env = isolated_env(
        data.parent,
        WGPILOT_DATA_DIR=str(data),
        WGPILOT_DRIVER="none",
        WGPILOT_AUTH_BCRYPT_COST="4",
        WGPILOT_TLS_HTTP_PORT="0",
        WGPILOT_LOG_FORMAT="json",
        WGPILOT_WIREGUARD_DIR=str(data / "wireguard"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", f"{prelude}\nfrom wgpilot.cli.main import main\nmain()", *SERVE, LISTEN_ANY],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    before: list[str] = []
    try:
        for line in proc.stderr:
            port = listening_port(line)
            if port is not None:
                break
            before.append(line.rstrip("\n"))
        else:
            raise AssertionError(f"serve exited before listening: {before}")
        yield f"https://127.0.0.1:{port}", before
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def _token_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "token" in line]


def test_a_restart_before_setup_is_finished(tmp_path: Path) -> None:
    data = tmp_path / "data"
    init = cli(data, "init", "--public-ip", "203.0.113.1")
    assert init.returncode == 0, init.stderr
    (token_line,) = _token_lines(init.stdout.splitlines())
    token = token_line.rsplit(" ", 1)[1]

    # No administrator yet: every start shows the token init printed, still valid.
    with serving(data) as (_, lines):
        assert _token_lines(lines) == [f"one-time install token: {token}"]
    with serving(data) as (url, lines):
        assert _token_lines(lines) == [f"one-time install token: {token}"]
        with httpx.Client(base_url=url, verify=False, headers={"Origin": url}) as http:
            r = http.post(
                "/api/setup/admin", json={"install_token": token, "username": "admin", "password": PASSWORD}
            )
            assert r.status_code == 201, r.text

    # The administrator exists, the wizard is not finished: no token (it could do
    # nothing), but what to do instead.
    with serving(data) as (_, lines):
        assert _token_lines(lines) == []
        assert any("sign in" in line and "finish the setup wizard" in line for line in lines), lines
    init = cli(data, "init")
    assert init.returncode == 0 and "token" not in init.stdout, init.stdout
    assert "finish the setup wizard" in init.stdout


NO_ADDRESSES = """
import wgpilot.kernel.hostinfo as hostinfo

async def refused(self):
    raise PermissionError(13, "netlink refused")  # as in a sandbox without rtnetlink

hostinfo.HostInfo.addresses = refused
"""


def test_serve_starts_when_the_host_addresses_cannot_be_read(tmp_path: Path) -> None:
    # They only add URLs to the start-up banner (and names to the Host allow-list).
    data = tmp_path / "data"
    assert cli(data, "init", "--public-ip", "203.0.113.1").returncode == 0
    with serving(data, NO_ADDRESSES) as (url, lines):
        with httpx.Client(base_url=url, verify=False) as http:
            assert http.get("/health").status_code == 200
    assert _token_lines(lines), lines  # the banner was shown
    warned = [json.loads(line) for line in lines if line.startswith("{")]
    assert any("start-up banner" in w["msg"] and w["level"] == "warning" for w in warned), lines
