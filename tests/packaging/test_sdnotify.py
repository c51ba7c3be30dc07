"""sd_notify over a real AF_UNIX datagram socket, path and abstract namespace.
(Lives here because it is about systemd integration; it needs nothing heavy.)"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from wgpilot.sdnotify import Notifier, attach

pytestmark = pytest.mark.packaging


def _receiver(address: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + address[1:] if address.startswith("@") else address)
    s.settimeout(2)
    return s


@pytest.mark.parametrize("abstract", [False, True])
def test_ready_status_stopping(tmp_path: Path, abstract: bool) -> None:
    address = f"@wgpilot-test-{os.getpid()}" if abstract else str(tmp_path / "notify")
    with _receiver(address) as rx:
        n = Notifier({"NOTIFY_SOCKET": address})
        assert n.ready("serving 2 networks")
        assert rx.recv(4096) == b"READY=1\nSTATUS=serving 2 networks"
        assert n.stopping()
        assert rx.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_no_socket_is_a_noop() -> None:
    n = Notifier({})
    assert not n.enabled and n.ready() is False and n.watchdog_seconds == 0


def test_watchdog_interval_respects_pid() -> None:
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000"}).watchdog_seconds == 30.0
    other = Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_seconds == 0.0


async def test_watchdog_loop_pings(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with _receiver(address) as rx:
        rx.setblocking(False)
        n = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
        task = asyncio.create_task(n.watchdog_loop())
        await asyncio.sleep(0.18)
        task.cancel()
        got = []
        while True:
            try:
                got.append(rx.recv(100))
            except BlockingIOError:
                break
    assert got.count(b"WATCHDOG=1") >= 3


class FakeDaemon:
    """The parts of wgpilot.daemon.Daemon that attach() uses."""

    def __init__(self) -> None:
        self.ready_callbacks: list = []
        self.tasks: dict = {}
        self.stops: list = []

    def add_task(self, name: str, task: object, stop: object = None) -> None:
        self.tasks[name] = task
        if stop is not None:
            self.stops.append(stop)


async def test_attach(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with _receiver(address) as rx:
        d = FakeDaemon()
        attach(d, Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}))
        assert set(d.tasks) == {"sd-notify", "sd-watchdog"}
        life = asyncio.create_task(d.tasks["sd-notify"]())
        for cb in d.ready_callbacks:
            cb()
        assert rx.recv(100).startswith(b"READY=1")
        await asyncio.sleep(0.01)
        assert not life.done()  # a finished task would stop the daemon
        for cb in d.stops:
            cb()
        assert rx.recv(100).startswith(b"STOPPING=1")
        await asyncio.wait_for(life, 1)  # and it ends by itself once stopping


async def test_attach_waits_for_ready(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with _receiver(address) as rx:
        rx.setblocking(False)
        d = FakeDaemon()
        listening = asyncio.Event()
        attach(d, Notifier({"NOTIFY_SOCKET": address}), ready=listening.wait)
        assert d.ready_callbacks == []
        life = asyncio.create_task(d.tasks["sd-notify"]())
        await asyncio.sleep(0.05)
        with pytest.raises(BlockingIOError):
            rx.recv(100)  # not before the server listens
        listening.set()
        await asyncio.sleep(0.05)
        assert rx.recv(100).startswith(b"READY=1")
        for cb in d.stops:
            cb()
        await asyncio.wait_for(life, 1)


def test_watchdog_pid_of_the_onefile_parent() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getppid())}
    assert Notifier(env).watchdog_seconds == 2.0
