"""Transfer history: snapshots of every peer's counters into SQLite, roll-ups to
hours and days, retention, and the series behind ``GET /api/networks/{id}/stats``.

- A snapshot tick writes every peer in ONE transaction (one executemany). Tick times
  are aligned to the interval, so all peers of a tick share one timestamp. A peer
  whose counters and online state did not change since its last stored row is
  skipped, except once an hour (a keyframe): idle peers cost one row an hour instead
  of 120, and every peer seen in the last hour still has a predecessor row for the
  delta computation (``storage.snapshots.LOOKBACK``).
- Roll-ups are computed from raw rows on the read-only connection (no write lock
  held while SQLite aggregates), then written in a short transaction per bucket.
  A completed hour is rolled once; a completed UTC day is summed from its hours.
- Retention: raw 24 h, hourly 30 days, daily 365 days. Buckets are always rolled up
  before their raw rows are deleted.
- A query covers rolled buckets from ``peer_transfer`` and the buckets not rolled
  yet (the current hour and day) straight from raw rows, so the series is complete
  up to the last snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from wgpilot.domain.errors import ValidationError
from wgpilot.monitor.state import NetworkLive
from wgpilot.storage.db import Database
from wgpilot.storage.snapshots import DAY, HOUR, SnapshotRepo, SnapshotRow

log = logging.getLogger(__name__)

RAW_RETENTION = DAY
HOUR_RETENTION = 30 * DAY
DAY_RETENTION = 365 * DAY
KEYFRAME = HOUR
DELETE_SLICE = 60  # seconds of raw rows deleted per transaction: short write-lock holds
MAX_BUCKETS = 5000
DEFAULT_SPAN = {"raw": HOUR, "hour": DAY, "day": 30 * DAY}
GRANULARITIES = ("raw", "hour", "day")


# What the last stored row of a peer said: (timestamp, rx, tx, online). A plain tuple:
# 10 000 of them are rebuilt per tick, and tuples of ints cost the garbage collector
# nothing once untracked (frozen dataclasses are scanned by every full collection).
Stored = tuple[int, int, int, bool]


@dataclass(frozen=True)
class CompactionReport:
    hours_rolled: int = 0
    days_rolled: int = 0
    raw_deleted: int = 0
    rollups_deleted: int = 0


class History:
    def __init__(self, db: Database, *, clock: Callable[[], float], interval: float = 30.0) -> None:
        self.db = db
        self.clock = clock
        self.interval = max(1, int(interval))
        self.repo = SnapshotRepo()
        self._stored: dict[int, Stored] = {}
        self._last_tick: int | None = None
        self._compacting = asyncio.Lock()
        self.ticks = 0
        self.last_tick_seconds = 0.0
        self.last_tick_rows = 0

    # -- snapshots ----------------------------------------------------------------------------
    def due(self, now: float | None = None) -> bool:
        """True when the aligned tick of ``now`` has not been written yet."""
        now = self.clock() if now is None else now
        return self._last_tick is None or self._tick(now) > self._last_tick

    def _tick(self, now: float) -> int:
        return int(now) // self.interval * self.interval

    async def snapshot(self, networks: Iterable[NetworkLive], now: float | None = None) -> int:
        """Store every peer's counters in one transaction; returns the rows written."""
        started = time.perf_counter()
        now = self.clock() if now is None else now
        ts = self._tick(now)
        stored = self._stored
        rows: list[SnapshotRow] = []
        seen: dict[int, Stored] = {}
        for net in networks:
            for p in net.peers.values():
                pid, rx, tx, online = p.peer_id, p.rx_bytes, p.tx_bytes, p.online
                last = stored.get(pid)
                if (
                    last is not None
                    and last[1] == rx
                    and last[2] == tx
                    and last[3] is online
                    and ts - last[0] < KEYFRAME
                ):
                    seen[pid] = last
                    continue
                rows.append((pid, ts, rx, tx, int(online)))
                seen[pid] = (ts, rx, tx, online)
        if rows:
            async with self.db.transaction() as write:
                await self.repo.insert(write, rows)
        # Only peers still present are remembered: one that comes back gets a fresh row.
        self._stored = seen
        self._last_tick = ts
        self.ticks += 1
        self.last_tick_rows = len(rows)
        self.last_tick_seconds = time.perf_counter() - started
        return len(rows)

    # -- roll-ups and retention ---------------------------------------------------------------
    async def compact(self, now: float | None = None) -> CompactionReport:
        """Roll up every complete hour and day, then apply retention. Safe to run at any
        time and more than once (it resumes where the last run stopped)."""
        async with self._compacting:
            now = int(self.clock() if now is None else now)
            hours = await self._roll_hours(now)
            days = await self._roll_days(now)
            raw = await self._prune_raw(now - RAW_RETENTION)
            async with self.db.transaction() as tx:
                rolled = await self.repo.delete_transfer_before(tx, "hour", now - HOUR_RETENTION)
                rolled += await self.repo.delete_transfer_before(tx, "day", now - DAY_RETENTION)
            report = CompactionReport(hours, days, raw, rolled)
            log.info("history compacted", extra={"event": "history.compact", **report.__dict__})
            return report

    async def _roll_hours(self, now: int) -> int:
        current = now // HOUR * HOUR
        done = await self.repo.progress(self.db, "hour")
        if done is None:
            oldest = await self.repo.oldest_raw(self.db)
            done = current if oldest is None else oldest // HOUR * HOUR
        count = 0
        while done < current:
            rows = await self.repo.raw_deltas_by_peer(self.db, done, done + HOUR, HOUR, tick=self.interval)
            async with self.db.transaction() as tx:
                await self.repo.write_transfer(tx, "hour", rows)
                await self.repo.set_progress(tx, "hour", done + HOUR)
            done += HOUR
            count += 1
        return count

    async def _roll_days(self, now: int) -> int:
        # A day is complete when all its hours are rolled.
        hours_done = await self.repo.progress(self.db, "hour") or 0
        complete = min(now // DAY * DAY, hours_done // DAY * DAY)
        done = await self.repo.progress(self.db, "day")
        if done is None:
            first = await self.db.fetchval("SELECT MIN(bucket) FROM peer_transfer WHERE granularity = 'hour'")
            done = complete if first is None else int(first) // DAY * DAY
        count = 0
        while done < complete:
            rows = await self.repo.hours_by_day(self.db, done, done + DAY)
            async with self.db.transaction() as tx:
                await self.repo.write_transfer(tx, "day", rows)
                await self.repo.set_progress(tx, "day", done + DAY)
            done += DAY
            count += 1
        return count

    async def _prune_raw(self, cutoff: int) -> int:
        # Never delete what is not rolled up yet (a compaction that failed half-way).
        cutoff = min(cutoff, await self.repo.progress(self.db, "hour") or 0)
        oldest = await self.repo.oldest_raw(self.db)
        deleted = 0
        while oldest is not None and oldest < cutoff:
            upper = min(cutoff, oldest + DELETE_SLICE)
            async with self.db.transaction() as tx:
                deleted += await self.repo.delete_raw_before(tx, upper, limit_to=oldest)
            oldest = upper
            await asyncio.sleep(0)
        return deleted

    # -- queries ------------------------------------------------------------------------------
    async def series(
        self,
        network_id: int | None,
        *,
        start: int | None = None,
        end: int | None = None,
        granularity: str = "hour",
        peer_id: int | None = None,
    ) -> dict[str, Any]:
        """``{granularity, from, to, series: [{timestamp, rx_bytes, tx_bytes}]}``: bytes
        transferred per bucket whose start lies in [from, to], zero-filled."""
        if granularity not in GRANULARITIES:
            raise ValidationError.field("granularity", "must be one of raw, hour, day")
        now = int(self.clock())
        size = {"raw": self.interval, "hour": HOUR, "day": DAY}[granularity]
        end = now if end is None else int(end)
        start = end - DEFAULT_SPAN[granularity] if start is None else int(start)
        if start < 0:
            raise ValidationError.field("from", "must not be negative")
        if end < start:
            raise ValidationError.field("to", "must not be before from")
        lo = start // size * size
        hi = end // size * size + size  # exclusive
        if (hi - lo) // size > MAX_BUCKETS:
            raise ValidationError.field(
                "from", f"the range holds more than {MAX_BUCKETS} {granularity} buckets; narrow it"
            )
        totals: dict[int, list[int]] = {}

        def add(rows: Iterable[tuple[int, int, int]]) -> None:
            for bucket, rx, tx in rows:
                slot = totals.setdefault(bucket, [0, 0])
                slot[0] += rx
                slot[1] += tx

        scope: dict[str, Any] = {"network_id": network_id, "peer_id": peer_id}
        if granularity == "raw":
            add(await self.repo.raw_series(self.db, lo, hi, size, tick=self.interval, **scope))
        else:
            hours_done = await self.repo.progress(self.db, "hour") or lo
            rolled_until = hours_done
            if granularity == "day":
                days_done = await self.repo.progress(self.db, "day") or lo
                add(await self.repo.transfer_series(self.db, "day", lo, min(hi, days_done), DAY, **scope))
                rolled_from = max(lo, days_done)
            else:
                rolled_from = lo
            # Rolled hours not covered by a rolled day, then raw rows not rolled yet.
            add(
                await self.repo.transfer_series(
                    self.db, "hour", rolled_from, min(hi, rolled_until), size, **scope
                )
            )
            add(
                await self.repo.raw_series(
                    self.db, max(lo, rolled_until), hi, size, tick=self.interval, **scope
                )
            )
        series = [
            {"timestamp": b, "rx_bytes": totals.get(b, (0, 0))[0], "tx_bytes": totals.get(b, (0, 0))[1]}
            for b in range(lo, hi, size)
        ]
        return {"granularity": granularity, "from": start, "to": end, "series": series}
