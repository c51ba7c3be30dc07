from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import MappingProxyType

import pytest

from tests.conftest import Clock
from tests.unit.monitor.conftest import ACTOR, Lab, bulk_peers
from wgpilot.domain.errors import ValidationError
from wgpilot.monitor.history import History
from wgpilot.monitor.state import NetworkLive, PeerStatus
from wgpilot.services.peers import PeerService
from wgpilot.storage.db import Database, Tx

HOUR, DAY = 3600, 86400
# 2025-06-15 22:30:00 UTC: 1.5 hours before a day boundary, on a tick.
START = 1_750_026_600


class CountingDatabase(Database):
    """A real database that counts its write transactions."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.transactions = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        self.transactions += 1
        async with super().transaction() as tx:
            yield tx


def live(lab: Lab, counters: dict[int, tuple[int, int]], online: bool = True) -> list[NetworkLive]:
    peers = {
        pid: PeerStatus(pid, lab.net.id, f"k{pid}", online, 1, rx, tx, 0.0, 0.0, None)
        for pid, (rx, tx) in counters.items()
    }
    return [NetworkLive(lab.net, lab.clock.now, peers=MappingProxyType(peers))]


async def raw_rows(db: Database) -> list[tuple[int, int, int, int]]:
    rows = await db.fetchall(
        "SELECT peer_id, timestamp, rx_bytes, tx_bytes FROM peer_snapshots ORDER BY 2, 1"
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_tick_of_ten_thousand_peers_is_one_transaction(tmp_path: Path, lab: Lab) -> None:
    await bulk_peers(lab.ctx, lab.net, 10_000)
    db = CountingDatabase(lab.ctx.db.path)
    await db.open()
    try:
        ids = [r[0] for r in await db.fetchall("SELECT id FROM peers")]
        history = History(db, clock=lab.clock, interval=30)
        written = await history.snapshot(live(lab, {pid: (pid * 10, pid) for pid in ids}))
        assert written == 10_002 and db.transactions == 1
        assert await db.fetchval("SELECT COUNT(*) FROM peer_snapshots") == 10_002
    finally:
        await db.close()


async def test_ticks_are_aligned_and_unchanged_peers_wait_for_the_hourly_keyframe(lab: Lab) -> None:
    a, b = lab.peers
    lab.clock.now = START + 7  # not on a tick boundary
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    assert history.due()
    assert await history.snapshot(live(lab, {a.id: (10, 1), b.id: (0, 0)})) == 2
    assert not history.due()
    lab.clock.advance(30)
    assert history.due()
    assert await history.snapshot(live(lab, {a.id: (20, 1), b.id: (0, 0)})) == 1  # b idle: skipped
    for _ in range(119):
        lab.clock.advance(30)
        await history.snapshot(live(lab, {a.id: (20, 1), b.id: (0, 0)}))
    rows = await raw_rows(lab.ctx.db)
    # One row per peer per hour while idle (the keyframe), every tick timestamp aligned.
    assert [r for r in rows if r[0] == b.id] == [(b.id, START, 0, 0), (b.id, START + HOUR, 0, 0)]
    assert all(r[1] % 30 == 0 for r in rows)


async def test_a_peer_deleted_since_the_poll_does_not_fail_the_tick(lab: Lab) -> None:
    a, b = lab.peers
    await PeerService(lab.ctx).delete(ACTOR, lab.net.id, b.id)
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    await history.snapshot(live(lab, {a.id: (1, 1), b.id: (2, 2)}))
    assert [r[0] for r in await raw_rows(lab.ctx.db)] == [a.id]


def simulate_counters(t: int) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """Counters of peers A and B at tick time ``t``, plus what each really moved in
    the tick ending at t. A moves 1000/10 bytes per tick; B 7/3, and its interface is
    recreated at START + 1 h 15 min (counters restart from zero)."""
    n = (t - START) // 30
    a = (1000 * n, 10 * n)
    reset = START + HOUR + 900
    if t < reset:
        b = (5_000_000 + 7 * n, 9_000_000 + 3 * n)
    else:
        m = (t - reset) // 30 + 1
        b = (7 * m, 3 * m)
    return a, b, 1010, 10


async def test_rollups_sum_across_hour_and_day_boundaries_and_counter_resets(lab: Lab) -> None:
    a, b = lab.peers
    clock = lab.clock
    history = History(lab.ctx.db, clock=clock, interval=30)
    end = START + 3 * HOUR  # 22:30 → 01:30: two hour boundaries and a day boundary
    expected: dict[int, list[int]] = {}  # hour bucket → [rx, tx] of both peers
    t = START
    while t < end:
        clock.now = t
        ca, cb, _, _ = simulate_counters(t)
        await history.snapshot(live(lab, {a.id: ca, b.id: cb}))
        if t > START:  # the first row of each peer is a baseline, not traffic
            slot = expected.setdefault(t // HOUR * HOUR, [0, 0])
            slot[0] += 1000 + 7
            slot[1] += 10 + 3
        if t % HOUR == 600:  # compaction runs every hour, a bit after the boundary
            await history.compact()
        t += 30
    clock.now = end
    report = await history.compact()
    assert report.raw_deleted == 0
    assert await history.repo.progress(lab.ctx.db, "hour") == end // HOUR * HOUR
    day_boundary = (START // DAY + 1) * DAY
    assert await history.repo.progress(lab.ctx.db, "day") == day_boundary

    hourly = await history.series(lab.net.id, start=START, end=end, granularity="hour")
    got = {p["timestamp"]: [p["rx_bytes"], p["tx_bytes"]] for p in hourly["series"]}
    assert got == expected  # including the current, not yet rolled hour
    total_rx = sum(v[0] for v in expected.values())
    assert total_rx == (end - START) // 30 * 1007 - 1007  # nothing negative, nothing doubled

    daily = await history.series(lab.net.id, start=START, end=end, granularity="day")
    by_day = {p["timestamp"]: p["rx_bytes"] for p in daily["series"]}
    assert by_day[day_boundary - DAY] == sum(v[0] for h, v in expected.items() if h < day_boundary)
    assert by_day[day_boundary] == sum(v[0] for h, v in expected.items() if h >= day_boundary)

    # Rolled rows equal a recomputation from raw: roll-ups are idempotent.
    rolled = await lab.ctx.db.fetchall(
        "SELECT bucket, SUM(rx_bytes) FROM peer_transfer WHERE granularity='hour' GROUP BY bucket"
    )
    assert {r[0]: r[1] for r in rolled} == {h: v[0] for h, v in expected.items() if h < end // HOUR * HOUR}

    one = await history.series(lab.net.id, start=START, end=end, granularity="hour", peer_id=b.id)
    assert sum(p["rx_bytes"] for p in one["series"]) == 7 * ((end - START) // 30 - 1)


async def test_raw_series_is_per_tick(lab: Lab) -> None:
    a, _ = lab.peers
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    lab.clock.now = START
    for i in range(4):
        await history.snapshot(live(lab, {a.id: (100 * i * i, 0)}))
        lab.clock.advance(30)
    raw = await history.series(lab.net.id, start=START, end=START + 90, granularity="raw")
    assert [(p["timestamp"] - START, p["rx_bytes"]) for p in raw["series"]] == [
        (0, 0),
        (30, 100),
        (60, 300),
        (90, 500),
    ]


async def test_a_peer_created_mid_tick_counts_from_its_zero_row(lab: Lab) -> None:
    """A tick is stamped with its aligned start, so a peer created 20 s into a 30 s tick
    gets a first row (its zero baseline) 20 s older than the peer itself. That row must
    still count as its baseline: the traffic after it is not lost."""
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    lab.clock.now = START + 20
    peer = await PeerService(lab.ctx).create(ACTOR, lab.net.id, name="late")
    assert peer.created_at == START + 20
    await history.snapshot(live(lab, {peer.id: (0, 0)}))  # stamped START
    lab.clock.advance(30)
    await history.snapshot(live(lab, {peer.id: (700, 300)}))  # stamped START + 30
    raw = await history.series(lab.net.id, start=START, end=START + 30, granularity="raw", peer_id=peer.id)
    assert [(p["rx_bytes"], p["tx_bytes"]) for p in raw["series"]] == [(0, 0), (700, 300)]
    lab.clock.now = START + 2 * HOUR
    await history.compact()
    hour = await history.series(lab.net.id, start=START, end=START, granularity="hour", peer_id=peer.id)
    assert sum(p["rx_bytes"] for p in hour["series"]) == 700


async def test_retention_deletes_exactly_what_it_should(lab: Lab) -> None:
    a, b = lab.peers
    db = lab.ctx.db
    now = (START // DAY + 1) * DAY  # midnight: every retention boundary falls on a bucket
    lab.clock.now = now
    history = History(db, clock=lab.clock, interval=30)
    raw_times = [now - DAY - 60, now - DAY - 30, now - DAY, now - DAY + 30, now - 60]
    hours = [now - 30 * DAY - 2 * HOUR, now - 30 * DAY - HOUR, now - 30 * DAY, now - 2 * HOUR]
    days = [now - 366 * DAY, now - 365 * DAY, now - 364 * DAY, now - 3 * DAY]
    async with db.transaction() as tx:
        for pid in (a.id, b.id):
            await tx.executemany(
                "INSERT INTO peer_snapshots VALUES (?, ?, 0, 0, 1)", [(pid, t) for t in raw_times]
            )
            await tx.executemany(
                "INSERT INTO peer_transfer VALUES (?, 'hour', ?, 5, 5, 1, 1)", [(pid, h) for h in hours]
            )
            await tx.executemany(
                "INSERT INTO peer_transfer VALUES (?, 'day', ?, 5, 5, 1, 1)", [(pid, d) for d in days]
            )
        # Everything before the current hour is already rolled up.
        await tx.execute("INSERT INTO rollup_progress VALUES ('hour', ?)", (now // HOUR * HOUR,))
        await tx.execute("INSERT INTO rollup_progress VALUES ('day', ?)", (now // DAY * DAY,))
    report = await history.compact(now)
    remaining_raw = sorted({r[1] for r in await raw_rows(db)})
    assert remaining_raw == [t for t in raw_times if t >= now - DAY]
    assert report.raw_deleted == 2 * 2
    left = await db.fetchall("SELECT DISTINCT granularity, bucket FROM peer_transfer ORDER BY 1, 2")
    assert [(r[0], r[1]) for r in left] == [
        *[("day", d) for d in days if d >= now - 365 * DAY],
        *[("hour", h) for h in hours if h >= now - 30 * DAY],
    ]
    assert report.rollups_deleted == 2 * 3  # two old hours and one old day per peer
    # A second run finds nothing more to delete.
    again = await history.compact(now)
    assert again.raw_deleted == again.rollups_deleted == 0


async def test_raw_rows_are_never_deleted_before_they_are_rolled_up(lab: Lab) -> None:
    a, _ = lab.peers
    db = lab.ctx.db
    now = START + 3 * DAY
    history = History(db, clock=Clock(now), interval=30)
    old = START  # three days old, never rolled (the server was down)
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO peer_snapshots VALUES (?, ?, ?, 0, 1)",
            [(a.id, old + 30 * i, 100 * i) for i in range(10)],
        )
    report = await history.compact()
    assert report.raw_deleted == 10 and report.hours_rolled >= 72
    rolled = await db.fetchval("SELECT SUM(rx_bytes) FROM peer_transfer WHERE granularity='hour'")
    daily = await db.fetchval("SELECT SUM(rx_bytes) FROM peer_transfer WHERE granularity='day'")
    assert rolled == daily == 900


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"granularity": "minute"}, "granularity"),
        ({"start": 100, "end": 50}, "to"),
        ({"start": -5, "end": 50}, "from"),
        ({"start": 0, "end": 10_000 * HOUR, "granularity": "hour"}, "from"),
    ],
)
async def test_bad_queries_name_the_field(lab: Lab, kwargs: dict[str, object], field: str) -> None:
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    with pytest.raises(ValidationError) as err:
        await history.series(lab.net.id, **kwargs)  # type: ignore[arg-type]
    assert [f.field for f in err.value.fields] == [field]


async def test_default_range_is_zero_filled(lab: Lab) -> None:
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    out = await history.series(lab.net.id, granularity="hour")
    assert len(out["series"]) in (24, 25) and all(p["rx_bytes"] == 0 for p in out["series"])
    assert out["to"] == int(lab.clock.now) and out["from"] == out["to"] - DAY


async def test_rows_of_a_deleted_peer_never_count_not_even_for_a_reused_id(lab: Lab) -> None:
    a, b = lab.peers
    svc = PeerService(lab.ctx)
    history = History(lab.ctx.db, clock=lab.clock, interval=30)
    lab.clock.now = START
    for i in range(3):
        await history.snapshot(live(lab, {a.id: (0, 0), b.id: (10_000 * (i + 1), 0)}))
        lab.clock.advance(30)
    await svc.delete(ACTOR, lab.net.id, b.id)
    c = await svc.create(ACTOR, lab.net.id, name="newcomer")
    assert c.id == b.id  # SQLite hands the highest id out again
    for i in range(3):
        await history.snapshot(live(lab, {a.id: (0, 0), c.id: (50 * (i + 1), 0)}))
        lab.clock.advance(30)
    out = await history.series(lab.net.id, start=START, end=int(lab.clock.now), granularity="raw")
    # The newcomer's own traffic only: its counters started at zero when it was created.
    assert sum(p["rx_bytes"] for p in out["series"]) == 150
    await history.compact(START + 2 * HOUR)
    rolled = await lab.ctx.db.fetchval("SELECT SUM(rx_bytes) FROM peer_transfer WHERE granularity = 'hour'")
    assert rolled == 150
