-- The latest delivery of each alert rule's notices (the dispatcher's outcome after
-- every attempt), so the Alerts page can say that a notice did not get through, and
-- why. One row per rule; it goes with the rule.
CREATE TABLE alert_deliveries (
    alert_id     INTEGER PRIMARY KEY REFERENCES alerts(id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status IN ('sent', 'retrying', 'failed')),
    attempts     INTEGER NOT NULL CHECK (attempts >= 1),
    error        TEXT,
    attempted_at INTEGER NOT NULL,
    sent_at      INTEGER
) WITHOUT ROWID;
