-- Peers taken over from an interface that was already running (setup import): their
-- kernel counters include traffic from before wgpilot knew them, so the history
-- takes their first snapshot as a baseline, not as traffic of its first bucket.
ALTER TABLE peers ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0 CHECK (adopted IN (0, 1));
