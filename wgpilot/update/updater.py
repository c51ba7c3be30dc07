"""``wgpilot update``: check the signed manifest, swap the binary, restart, verify
health, roll back when the new binary does not come up.

Order matters: built-in key → signature → expiry/channel → version policy → download
(size cap, SHA-256) → make executable → swap → restart → health → record. A refusal at
any step before the swap leaves the installed binary untouched. Where the manifest and
binary are: ``layout.py``; how the server is restarted: ``restart.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wgpilot.config import Settings
from wgpilot.update import fetch, layout, swap
from wgpilot.update import keys as keys_mod
from wgpilot.update import restart as restart_mod
from wgpilot.update.manifest import MAX_MANIFEST, Manifest, UpdateError, host_arch, newer, verify
from wgpilot.version import info as version_info

log = logging.getLogger(__name__)

HIGHEST_KEY = "highest_installed_version"
MAX_SIG = 1024


class VersionStore(Protocol):
    """The settings table, as far as updates care."""

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


def has_source(settings: Settings) -> bool:
    """True when this build or the config names where releases are."""
    return bool(layout.release_url(settings) or settings["update.url"])


def fetch_manifest(url: str, trusted: list[keys_mod.Ed25519PublicKey], now: float, channel: str) -> Manifest:
    data = fetch.get(url, MAX_MANIFEST)
    sig = fetch.get(url + ".sig", MAX_SIG)
    return verify(data, sig, trusted, now=now, channel=channel)


@dataclass
class Plan:
    manifest: Manifest
    url: str
    current: str
    highest: str

    @property
    def available(self) -> bool:
        return newer(self.manifest.version, self.highest)


@dataclass
class Updater:
    settings: Settings
    store: VersionStore
    channel: str | None = None  # None: the settings table's update_channel (default stable)
    clock: Callable[[], float] = time.time
    current: str = field(default_factory=lambda: version_info()["version"])
    say: Callable[[str], None] = lambda msg: None
    wait_healthy: Callable[[list[tuple[str, int]], str, float], bool] = restart_mod.wait_healthy
    release_keys: tuple[str, ...] = field(default_factory=keys_mod.build_keys)

    def trusted(self) -> list[keys_mod.Ed25519PublicKey]:
        """The built-in release key plus ``update.public_key``; a build without a built-in
        key refuses, whatever the config says."""
        if not self.release_keys:
            raise UpdateError(
                "this wgpilot was built without a release key (release.py build --public-key), so it "
                "cannot verify an update and refuses every one; install a release build"
            )
        try:
            return keys_mod.trusted(self.release_keys, self.settings["update.public_key"])
        except keys_mod.BadKey as exc:
            raise UpdateError(str(exc)) from None

    async def highest(self) -> str:
        recorded = await self.store.get(HIGHEST_KEY)
        if recorded and newer(recorded, self.current):
            return recorded
        return self.current

    async def plan(self, version: str | None = None) -> Plan:
        trusted = self.trusted()
        channel = self.channel or (await self.store.get("update_channel")) or "stable"
        url = layout.manifest_url(self.settings, channel, version)
        m = await asyncio.to_thread(fetch_manifest, url, trusted, self.clock(), channel)
        if version is not None and m.version != version:
            raise UpdateError(f"{url} describes {m.version}, not the requested {version}, refused")
        return Plan(m, url, self.current, await self.highest())

    async def apply(
        self,
        plan: Plan,
        *,
        explicit: bool,
        target: Path,
        restarter: restart_mod.Restarter,
        health_timeout: float = restart_mod.HEALTH_TIMEOUT,
    ) -> str:
        """Install ``plan``; returns a one-line summary or raises UpdateError."""
        m = plan.manifest
        if not explicit and not plan.available:
            if m.version == plan.current:
                return f"wgpilot {plan.current} is up to date"
            raise UpdateError(
                f"the manifest offers {m.version}, which is not newer than {plan.highest} already installed "
                "(a stale or replayed manifest?); nothing changed — use --version to install it anyway"
            )
        asset = m.asset(host_arch())
        swap.clean_leftovers(target)
        url = layout.asset_url(self.settings, plan.url, m.version, asset.filename)
        self.say(f"downloading {asset.filename} ({asset.size} bytes)")
        tmp, fh = swap.new_temp(target)
        try:
            with fh:
                await asyncio.to_thread(fetch.download, url, fh, asset.size, asset.sha256)
            swap.pause_point("downloaded")
            swap.install(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        self.say(f"installed {m.version} at {target} (previous kept as {swap.prev_path(target).name})")
        if restarter.name == "none":
            await self._record(m.version)
            return f"installed {m.version}; restart wgpilot to run it"
        targets = restart_mod.health_targets(self.settings["listen"])
        self.say(f"restarting ({restarter.name}) and waiting up to {health_timeout:.0f}s for /health")
        await asyncio.to_thread(restarter.restart)
        if await asyncio.to_thread(self.wait_healthy, targets, m.version, health_timeout):
            await self._record(m.version)
            return f"updated {plan.current} → {m.version}"
        self.say(f"{m.version} did not report healthy; restoring {plan.current}")
        swap.rollback(target)
        # A new server that is up but unhealthy is asked to exit; one that crashed is
        # started again by its supervisor, now from the restored file. The way back gets
        # twice the time: the supervisor may first sit out its restart delay, and the
        # restored version must not be reported lost while it is still starting.
        await asyncio.to_thread(restarter.restart)
        back = await asyncio.to_thread(self.wait_healthy, targets, plan.current, 2 * health_timeout)
        state = (
            "running again"
            if back
            else "restored but NOT healthy either — is its supervisor still restarting it? "
            "(systemd: systemctl reset-failed wgpilot; systemctl start wgpilot), check the logs"
        )
        raise UpdateError(
            f"{m.version} did not become healthy within {health_timeout:.0f}s; rolled back, {plan.current} {state}"
        )

    async def _record(self, version: str) -> None:
        recorded = await self.store.get(HIGHEST_KEY)
        if not recorded or newer(version, recorded):
            await self.store.set(HIGHEST_KEY, version)


def running_binary() -> Path:
    """The one-file executable this process runs from; updating a source install is refused."""
    if not getattr(sys, "frozen", False):
        raise UpdateError(
            "wgpilot update replaces the one-file binary; this one runs from Python sources "
            f"({sys.executable}) — update the checkout instead"
        )
    return Path(sys.executable).resolve()


def check_writable(target: Path) -> None:
    if not os.access(target.parent, os.W_OK):
        raise UpdateError(f"cannot write to {target.parent}: run wgpilot update as root")


class UpdateChecker:
    """For the API: ``check()`` asks the update server, ``last()`` is the latest answer."""

    def __init__(self, updater: Updater, interval: float = 24 * 3600.0) -> None:
        self.updater = updater
        self.interval = interval
        self._last: dict[str, object] = {
            "available": False,
            "current": updater.current,
            "latest": None,
            "checked_at": None,
        }
        self.error: str | None = None

    def last(self) -> dict[str, object]:
        return dict(self._last)

    async def check(self) -> dict[str, object]:
        """{available, current, latest, checked_at}; UpdateError when the server or the
        manifest is unusable (the previous answer is kept)."""
        try:
            plan = await self.updater.plan()
        except UpdateError as exc:
            self.error = str(exc)
            raise
        self.error = None
        self._last = {
            "available": plan.available,
            "current": plan.current,
            "latest": plan.manifest.version,
            "checked_at": int(self.updater.clock()),
        }
        return dict(self._last)

    async def run(self) -> None:
        """Background task: check once a day. Never returns until cancelled."""
        while True:
            try:
                await self.check()
            except UpdateError as exc:
                log.warning("update check failed", extra={"error": str(exc)})
            except Exception:
                log.exception("update check failed")
            await asyncio.sleep(self.interval)
