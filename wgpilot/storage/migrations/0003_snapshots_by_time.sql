-- wgpilot schema, version 3: raw snapshots clustered by time.
--
-- 0001 keyed peer_snapshots by (peer_id, timestamp): every 30 s tick then appends one
-- row to each peer's own leaf page, dirtying one page per peer (10 000 peers: ~40 MB
-- of WAL per tick). Keyed by (timestamp, peer_id), a tick appends to the end of the
-- tree (~70 pages), retention deletes a contiguous range, and a time-range query is a
-- range scan.
--
-- No foreign key: a cascade from peers would have to scan the whole table for each
-- deleted peer (no index starts with peer_id, and one would bring the scattered writes
-- back). Rows of a deleted peer are ignored by every query (they join peers, and a
-- reused id only sees rows from its own created_at on) and age out with retention.
CREATE TABLE peer_snapshots_by_time (
    peer_id   INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    rx_bytes  INTEGER NOT NULL,
    tx_bytes  INTEGER NOT NULL,
    online    INTEGER NOT NULL,
    PRIMARY KEY (timestamp, peer_id)
) WITHOUT ROWID;
INSERT INTO peer_snapshots_by_time (peer_id, timestamp, rx_bytes, tx_bytes, online)
    SELECT peer_id, timestamp, rx_bytes, tx_bytes, online FROM peer_snapshots;
DROP TABLE peer_snapshots;
ALTER TABLE peer_snapshots_by_time RENAME TO peer_snapshots;
