"""``/health``: is this appliance doing its job? Built from the poller's state and a
cached database probe, so the public endpoint costs no kernel call and at most one
write-transaction probe per ``PROBE_TTL`` however often it is hit.

degraded when: no WireGuard driver ("none"); an enabled network's interface is
missing or down, or its device cannot be read; the database does not accept a
write transaction; the poller has not completed a poll for three intervals.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from wgpilot.monitor.state import LiveState
from wgpilot.storage.db import Database
from wgpilot.version import info as version_info

PROBE_TTL = 5.0


class DbProbe:
    """``Database.ping()`` (a real ``BEGIN IMMEDIATE``) at most once per ``ttl`` seconds;
    concurrent callers share one probe."""

    def __init__(self, db: Database, ttl: float = PROBE_TTL) -> None:
        self.db = db
        self.ttl = ttl
        self._result: bool | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def ok(self) -> bool:
        if self._result is not None and time.monotonic() - self._at < self.ttl:
            return self._result
        async with self._lock:
            if self._result is None or time.monotonic() - self._at >= self.ttl:
                self._result = await self.db.ping()
                self._at = time.monotonic()
            return self._result


def health_doc(
    state: LiveState, *, database_ok: bool, uptime: float, now: float, poll_interval: float
) -> dict[str, Any]:
    """The body of ``GET /health``."""
    enabled = [n for n in state.networks if n.network.enabled]
    healthy = [n for n in state.networks if n.healthy]
    # Reasons are codes, not names: /health is public and must not describe the networks.
    reasons: list[str] = []
    if not state.kernel_enabled:
        reasons.append("no_driver")
    if any(not n.healthy for n in enabled):
        reasons.append("network_unhealthy")
    if not database_ok:
        reasons.append("database_not_writable")
    stale = state.polled_at is None or now - state.polled_at > 3 * poll_interval + 5
    if stale and uptime > 3 * poll_interval + 5:
        reasons.append("poller_stalled")
    return {
        "status": "degraded" if reasons else "healthy",
        "version": version_info()["version"],
        "uptime": int(uptime),
        "networks": {"total": len(state.networks), "enabled": len(enabled), "healthy": len(healthy)},
        "database": "ok" if database_ok else "error",
        "driver": state.driver,
        "last_poll": int(state.polled_at) if state.polled_at is not None else None,
        "reasons": reasons,
    }
