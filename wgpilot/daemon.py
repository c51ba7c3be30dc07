"""``wgpilot serve``: reconcile at start, keep converging, stop cleanly.

The daemon owns the process lifecycle: signals (SIGTERM/SIGINT stop, SIGHUP
reloads the log level, SIGUSR2 stops too but exits with 75, the code the unit
restarts on: ``update/restart.py``), the pid file, and a set of long-running tasks
(the reconcile loop; the HTTPS server and the monitor add theirs). Stopping cancels
the tasks in reverse order of start and closes the database last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from wgpilot import config as config_mod
from wgpilot import locate, logsetup, unpacked
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler
from wgpilot.update.restart import EXIT_RESTART, RESTART_SIGNAL

log = logging.getLogger(__name__)

Task = Callable[[], Coroutine[Any, Any, None]]


class Daemon:
    def __init__(self, settings: config_mod.Settings, ctx: Context) -> None:
        self.settings = settings
        self.ctx = ctx
        self.reconciler = Reconciler(ctx)
        self.started_at = time.time()
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[tuple[str, Task, Callable[[], None] | None]] = []
        self.ready_callbacks: list[Callable[[], None]] = []
        self.grace_seconds = 10.0
        self.restart_requested = False

    @property
    def pid_file(self) -> Path:
        return self.settings.data_dir / "wgpilot.pid"

    def add_task(self, name: str, task: Task, stop: Callable[[], None] | None = None) -> None:
        """Run ``task`` while serving. With ``stop``, shutting down calls it and waits up
        to ``grace_seconds`` for the task to finish by itself (the web server lets
        in-flight requests complete); tasks without one are simply cancelled."""
        self._tasks.append((name, task, stop))

    def request_reconcile(self) -> None:
        self._wake.set()

    async def reconcile_loop(self) -> None:
        interval = self.settings["reconcile_interval"]
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            if self.stopping.is_set():
                return
            try:
                report = await self.reconciler.reconcile_all()
                for err in report.errors:
                    log.error("reconcile problem", extra={"problem": err})
            except Exception:
                log.exception("reconcile pass failed")

    def _reload(self) -> None:
        try:
            fresh = config_mod.load(self.settings.config_file)
            logsetup.set_level(fresh["log.level"])
            log.info("configuration reloaded", extra={"log_level": fresh["log.level"]})
        except config_mod.ConfigError as exc:
            log.error("reload failed; keeping the running configuration", extra={"error": str(exc)})
        self.request_reconcile()

    def _restart(self) -> None:
        log.info(
            "restart requested: stopping for the supervisor to start the binary again",
            extra={"exit_code": EXIT_RESTART},
        )
        self.restart_requested = True
        self.stopping.set()

    def _write_pid(self) -> None:
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "started_at": int(self.started_at)}))
        tmp.replace(self.pid_file)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload)
        loop.add_signal_handler(RESTART_SIGNAL, self._restart)
        report = await self.reconciler.reconcile_all()
        log.info(
            "start-up reconcile done",
            extra={"driver": self.ctx.driver.name, "actions": len(report.actions), "errors": report.errors},
        )
        if not self.ctx.kernel_enabled:
            log.warning("kernel layer disabled: changes are stored but not applied (no WireGuard driver)")
        self._write_pid()
        pointer = locate.publish(self.settings)  # so the CLI finds a non-default data_dir
        self.add_task("reconcile", self.reconcile_loop, self._wake.set)
        running = [asyncio.create_task(task(), name=name) for name, task, _ in self._tasks]
        graceful = {name for name, _, stop in self._tasks if stop is not None}
        for callback in self.ready_callbacks:
            callback()
        sweeper = asyncio.create_task(unpacked.sweep_after_start(), name="sweep-unpacked")
        stop_wait = asyncio.create_task(self.stopping.wait())
        done, _ = await asyncio.wait([stop_wait, *running], return_when=asyncio.FIRST_COMPLETED)
        code = 0
        for task in done:
            if task is not stop_wait and task.exception() is not None:
                log.error("task failed", extra={"task": task.get_name()}, exc_info=task.exception())
                code = 1
        self.stopping.set()
        log.info("stopping")
        sweeper.cancel()
        for task in running:
            if task.get_name() not in graceful and not task.done():
                task.cancel()
        for _, _, stop in self._tasks:
            if stop is not None:
                stop()
        pending = [t for t in running if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=self.grace_seconds)
            for task in still:
                task.cancel()
        await asyncio.gather(*running, sweeper, return_exceptions=True)
        stop_wait.cancel()
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        locate.withdraw(pointer)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, RESTART_SIGNAL):
            loop.remove_signal_handler(sig)
        return EXIT_RESTART if self.restart_requested else code
