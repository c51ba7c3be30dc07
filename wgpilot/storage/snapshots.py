"""Repository for transfer history: raw ``peer_snapshots``, the hour/day roll-ups in
``peer_transfer``, the roll-up bookkeeping in ``rollup_progress``, plus the one read
of ``peers`` the monitor needs (id, name, enabled by public key).

Raw rows hold cumulative counters as the device reported them. Bytes transferred
between two consecutive rows of a peer are ``cur - prev``, or ``cur`` when the
counter went down (the interface was recreated and counted again from zero), so a
reset never yields negative traffic nor counts the old total twice. A row without a
predecessor inside the look-back window is a baseline and counts zero: its counter
holds traffic from an unknown time span.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from wgpilot.storage.db import Conn, Tx

Granularity = Literal["hour", "day"]
HOUR = 3600
DAY = 86400
# How far before a window the query looks for each peer's previous row. The
# snapshot writer stores every peer at least once an hour (a keyframe), so two
# hours always find the predecessor of a peer that was seen recently.
LOOKBACK = 2 * HOUR

SnapshotRow = tuple[int, int, int, int, int]  # peer_id, timestamp, rx_bytes, tx_bytes, online
TransferRow = tuple[int, int, int, int, int, int]  # peer_id, bucket, rx, tx, samples, online_samples
SeriesRow = tuple[int, int, int]  # bucket, rx_bytes, tx_bytes

# A row without a predecessor is a baseline (0 bytes), except a new peer's first row:
# its counters started at zero when the peer was created ("fresh"), so they are traffic.
# A peer adopted from a running interface is never fresh: its counters predate it.
_RX = (
    "CASE WHEN prx IS NULL THEN (CASE WHEN fresh THEN rx_bytes ELSE 0 END)"
    " WHEN rx_bytes >= prx THEN rx_bytes - prx ELSE rx_bytes END"
)
_TX = (
    "CASE WHEN ptx IS NULL THEN (CASE WHEN fresh THEN tx_bytes ELSE 0 END)"
    " WHEN tx_bytes >= ptx THEN tx_bytes - ptx ELSE tx_bytes END"
)


def _scope(network_id: int | None, peer_id: int | None, alias: str) -> tuple[str, list[Any]]:
    """Extra WHERE clauses restricting rows of ``alias`` to a network and/or a peer."""
    clauses: list[str] = []
    params: list[Any] = []
    if peer_id is not None:
        clauses.append(f"{alias}.peer_id = ?")
        params.append(peer_id)
    if network_id is not None:
        clauses.append(f"{alias}.peer_id IN (SELECT id FROM peers WHERE network_id = ?)")
        params.append(network_id)
    return "".join(f" AND {c}" for c in clauses), params


def _deltas_sql(per_peer: bool, scope: str) -> str:
    """Per-row deltas of raw snapshots in [start, end) (predecessors looked up from
    ``lo``), summed per bucket (and per peer). Parameters: lo + tick, lo, end, tick,
    *scope, size, size, start (use ``_params``).

    Rows are joined to their peer and taken from its ``created_at`` on: rows of a
    deleted peer (raw rows have no foreign key) do not count for a new peer that got
    the same id. A tick's timestamp is its aligned start, so a peer's first row may be
    up to one tick older than the peer. A peer created after ``lo + tick`` has every
    row it ever had in the scan, so a row of it without a predecessor is its first
    ever, and its counters count in full (no traffic is lost between the peer's
    creation and the first tick that saw it)."""
    peer = "peer_id, " if per_peer else ""
    return (
        "WITH s AS (SELECT s.peer_id, s.timestamp, s.rx_bytes, s.tx_bytes, s.online, p.created_at >= ? AND NOT p.adopted AS fresh,"
        " LAG(s.rx_bytes) OVER w AS prx, LAG(s.tx_bytes) OVER w AS ptx"
        " FROM peer_snapshots s JOIN peers p ON p.id = s.peer_id"
        " WHERE s.timestamp >= ? AND s.timestamp < ? AND s.timestamp > p.created_at - ?" + scope + ""
        " WINDOW w AS (PARTITION BY s.peer_id ORDER BY s.timestamp))"
        f" SELECT {peer}(timestamp / ?) * ? AS bucket, SUM({_RX}), SUM({_TX}),"
        " COUNT(*), SUM(online) FROM s WHERE timestamp >= ?"
        f" GROUP BY {peer}bucket ORDER BY bucket"
    )


def _params(start: int, end: int, tick: int, scope: list[Any], size: int) -> tuple[Any, ...]:
    lo = start - LOOKBACK
    return (lo + tick, lo, end, tick, *scope, size, size, start)


class SnapshotRepo:
    # -- the monitor's view of peers --------------------------------------------------------
    async def peer_labels(self, conn: Conn, network_id: int) -> list[tuple[str, int, str, bool]]:
        """(public_key, peer id, name, enabled) of every peer of a network."""
        rows = await conn.fetchall(
            "SELECT public_key, id, name, enabled FROM peers WHERE network_id = ?", (network_id,)
        )
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]

    # -- raw snapshots ------------------------------------------------------------------------
    async def insert(self, tx: Tx, rows: Sequence[SnapshotRow]) -> None:
        """One statement for the whole tick (executemany), never a commit per row. A peer
        deleted since the poll is skipped instead of failing the tick on its foreign key."""
        await tx.executemany(
            "INSERT OR REPLACE INTO peer_snapshots (peer_id, timestamp, rx_bytes, tx_bytes, online)"
            " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM peers WHERE id = ?1)",
            rows,
        )

    async def oldest_raw(self, conn: Conn) -> int | None:
        value = await conn.fetchval("SELECT MIN(timestamp) FROM peer_snapshots")
        return None if value is None else int(value)

    async def raw_deltas_by_peer(
        self, conn: Conn, start: int, end: int, size: int, *, tick: int
    ) -> list[TransferRow]:
        """Bytes per (peer, bucket of ``size`` seconds) for raw rows in [start, end);
        ``tick`` is the snapshot interval."""
        rows = await conn.fetchall(_deltas_sql(True, ""), _params(start, end, tick, [], size))
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def raw_series(
        self,
        conn: Conn,
        start: int,
        end: int,
        size: int,
        *,
        tick: int,
        network_id: int | None,
        peer_id: int | None,
    ) -> list[SeriesRow]:
        """Bytes per bucket of ``size`` seconds, summed over the selected peers."""
        scope, params = _scope(network_id, peer_id, "s")
        sql = _deltas_sql(False, scope)
        rows = await conn.fetchall(sql, _params(start, end, tick, params, size))
        return [(r[0], r[1], r[2]) for r in rows]

    async def delete_raw_before(self, tx: Tx, cutoff: int, limit_to: int | None = None) -> int:
        """Delete raw rows older than ``cutoff`` (and not older than ``limit_to`` when given,
        so a big backlog can be deleted in slices)."""
        if limit_to is None:
            return await tx.execute("DELETE FROM peer_snapshots WHERE timestamp < ?", (cutoff,))
        return await tx.execute(
            "DELETE FROM peer_snapshots WHERE timestamp >= ? AND timestamp < ?", (limit_to, cutoff)
        )

    # -- roll-ups -----------------------------------------------------------------------------
    async def hours_by_day(self, conn: Conn, start: int, end: int) -> list[TransferRow]:
        """Hourly roll-ups in [start, end) summed into day buckets, per peer."""
        rows = await conn.fetchall(
            "SELECT peer_id, (bucket / ?) * ? AS day, SUM(rx_bytes), SUM(tx_bytes), SUM(samples),"
            " SUM(online_samples) FROM peer_transfer WHERE granularity = 'hour' AND bucket >= ?"
            " AND bucket < ? GROUP BY peer_id, day",
            (DAY, DAY, start, end),
        )
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def write_transfer(self, tx: Tx, granularity: Granularity, rows: Iterable[TransferRow]) -> None:
        """Store roll-ups; recomputing a bucket replaces it (roll-ups are idempotent)."""
        await tx.executemany(
            "INSERT OR REPLACE INTO peer_transfer (peer_id, granularity, bucket, rx_bytes, tx_bytes,"
            " samples, online_samples) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((p, granularity, b, rx, tx_, s, o) for p, b, rx, tx_, s, o in rows),
        )

    async def transfer_series(
        self,
        conn: Conn,
        granularity: Granularity,
        start: int,
        end: int,
        size: int,
        *,
        network_id: int | None,
        peer_id: int | None,
    ) -> list[SeriesRow]:
        """Rolled-up bytes in [start, end), re-bucketed to ``size`` seconds."""
        scope, params = _scope(network_id, peer_id, "t")
        rows = await conn.fetchall(
            "SELECT (t.bucket / ?) * ? AS b, SUM(t.rx_bytes), SUM(t.tx_bytes) FROM peer_transfer t"
            " WHERE t.granularity = ? AND t.bucket >= ? AND t.bucket < ?" + scope + " GROUP BY b ORDER BY b",
            (size, size, granularity, start, end, *params),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def delete_transfer_before(self, tx: Tx, granularity: Granularity, cutoff: int) -> int:
        return await tx.execute(
            "DELETE FROM peer_transfer WHERE granularity = ? AND bucket < ?", (granularity, cutoff)
        )

    async def progress(self, conn: Conn, granularity: Granularity) -> int | None:
        """End (exclusive) of the last rolled-up bucket, None before the first roll-up."""
        value = await conn.fetchval(
            "SELECT done_until FROM rollup_progress WHERE granularity = ?", (granularity,)
        )
        return None if value is None else int(value)

    async def set_progress(self, tx: Tx, granularity: Granularity, done_until: int) -> None:
        await tx.execute(
            "INSERT INTO rollup_progress (granularity, done_until) VALUES (?, ?)"
            " ON CONFLICT(granularity) DO UPDATE SET done_until = excluded.done_until",
            (granularity, done_until),
        )
