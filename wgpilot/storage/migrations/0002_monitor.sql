-- wgpilot schema, version 2: monitoring bookkeeping (SPEC §9).

-- One row per incident of an alert rule on one subject ("peer:12", "network:3").
-- An incident is open while resolved_at IS NULL; at most one open incident per rule
-- and subject, so a restart never fires the same incident twice.
CREATE TABLE alert_incidents (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    started_at  INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (alert_id, subject) WHERE resolved_at IS NULL;
CREATE INDEX alert_incidents_resolved ON alert_incidents (resolved_at) WHERE resolved_at IS NOT NULL;

-- How far the hour and day roll-ups of peer_snapshots have been computed: the
-- exclusive end of the last complete bucket written to peer_transfer.
CREATE TABLE rollup_progress (
    granularity TEXT PRIMARY KEY CHECK (granularity IN ('hour', 'day')),
    done_until  INTEGER NOT NULL
) WITHOUT ROWID;
