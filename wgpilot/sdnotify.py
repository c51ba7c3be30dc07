"""systemd notifications (``Type=notify``) over ``$NOTIFY_SOCKET``, without libsystemd.

``READY=1`` once reconcile is done and the server listens, ``WATCHDOG=1`` at half of
``$WATCHDOG_USEC``, ``STOPPING=1`` on shutdown, ``STATUS=`` free text for
``systemctl status``. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.

Wiring (the daemon): ``attach(daemon)`` does all of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from wgpilot.domain.validate import ascii_int

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET", "")
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for: us, or the one-file
        # bootloader whose child we are (PyInstaller runs the program in a child process);
        # not some other process that inherited the environment.
        mine = not pid or ascii_int(pid) in (os.getpid(), os.getppid())
        interval = ascii_int(usec)
        self.watchdog_seconds = interval / 1e6 if interval and mine else 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; False (logged) when it could not be sent."""
        if not self.address:
            return False
        address = self.address
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        elif not address.startswith("/"):
            log.warning("NOTIFY_SOCKET is neither a path nor abstract", extra={"notify_socket": address})
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(address)
                sock.sendall("\n".join(lines).encode())
            return True
        except OSError as exc:
            log.warning("sd_notify failed", extra={"error": str(exc)})
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self, status: str = "stopping") -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    async def watchdog_loop(self, healthy: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Ping at half the watchdog interval while ``healthy()`` (if given) says so; a
        stuck event loop stops the pings and systemd restarts the service. Runs until
        cancelled, also when there is no watchdog (the daemon treats an ended task as a
        failure)."""
        if not self.enabled or self.watchdog_seconds <= 0:
            await asyncio.Event().wait()
            return
        interval = self.watchdog_seconds / 2
        while True:
            ok = True
            if healthy is not None:
                try:
                    ok = await asyncio.wait_for(healthy(), timeout=interval)
                except Exception:
                    log.exception("watchdog health check failed")
                    ok = False
            if ok:
                self.watchdog()
            await asyncio.sleep(interval)


class _Daemon(Protocol):
    ready_callbacks: list[Callable[[], None]]

    def add_task(
        self, name: str, task: Callable[[], Any], stop: Callable[[], None] | None = None
    ) -> None: ...


def attach(
    daemon: _Daemon, notifier: Notifier | None = None, *, ready: Callable[[], Awaitable[object]] | None = None
) -> Notifier:
    """READY=1 after start-up, STOPPING=1 as shutdown begins, and the watchdog task. Call
    before ``daemon.run()``. ``ready``, when given, is awaited before READY=1 is sent (e.g.
    "the HTTPS socket is listening"); without it READY=1 goes out with the daemon's ready
    callbacks (reconcile done, tasks started)."""
    n = notifier or Notifier()
    if not n.enabled:
        return n
    stopped = asyncio.Event()

    def announce() -> None:
        n.ready("serving")

    def on_stop() -> None:
        n.stopping()
        stopped.set()

    async def lifecycle() -> None:
        if ready is not None:
            await ready()
            announce()
        await stopped.wait()  # returning earlier would read as a failed task

    if ready is None:
        daemon.ready_callbacks.append(announce)
    daemon.add_task("sd-notify", lifecycle, stop=on_stop)
    daemon.add_task("sd-watchdog", n.watchdog_loop)
    return n
