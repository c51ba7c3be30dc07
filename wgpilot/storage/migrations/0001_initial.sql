-- wgpilot schema, version 1 (SPEC §3).
-- Lists are JSON arrays in TEXT columns; secrets are AES-256-GCM ciphertexts
-- ("v1:<base64>") written by wgpilot.storage.secrets; times are unix seconds.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer', 'user')),
    session_version INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE networks (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    interface          TEXT NOT NULL UNIQUE,
    mode               TEXT NOT NULL CHECK (mode IN ('gateway', 'site-to-site', 'hub-routed')),
    subnet             TEXT NOT NULL,
    subnet6            TEXT,
    listen_port        INTEGER NOT NULL UNIQUE CHECK (listen_port BETWEEN 1 AND 65535),
    private_key        TEXT NOT NULL,
    public_key         TEXT NOT NULL,
    dns_servers        TEXT NOT NULL DEFAULT '[]',
    mtu                INTEGER CHECK (mtu IS NULL OR mtu BETWEEN 1280 AND 9000),
    nat_enabled        INTEGER NOT NULL DEFAULT 0,
    inter_peer_routing INTEGER NOT NULL DEFAULT 0,
    enabled            INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- ip_index is the peer's host index inside the network's subnet (see domain/ipam.py);
-- UNIQUE(network_id, ip_index) is what makes concurrent allocations collision-free.
CREATE TABLE peers (
    id                   INTEGER PRIMARY KEY,
    network_id           INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL COLLATE NOCASE,
    email                TEXT,
    private_key          TEXT,
    public_key           TEXT NOT NULL,
    preshared_key        TEXT,
    ip_index             INTEGER NOT NULL,
    address              TEXT NOT NULL,
    address6             TEXT,
    allowed_ips          TEXT NOT NULL DEFAULT '[]',
    client_allowed_ips   TEXT NOT NULL DEFAULT '[]',
    endpoint             TEXT,
    persistent_keepalive INTEGER CHECK (persistent_keepalive IS NULL OR persistent_keepalive BETWEEN 0 AND 65535),
    role                 TEXT NOT NULL DEFAULT 'client' CHECK (role IN ('client', 'site-gateway')),
    site_networks        TEXT NOT NULL DEFAULT '[]',
    enabled              INTEGER NOT NULL DEFAULT 1,
    expires_at           INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (network_id, public_key),
    UNIQUE (network_id, ip_index),
    UNIQUE (network_id, address),
    UNIQUE (network_id, address6),
    UNIQUE (network_id, name)
);
CREATE INDEX peers_expiry ON peers (expires_at) WHERE expires_at IS NOT NULL AND enabled = 1;

CREATE TABLE network_bridges (
    id            INTEGER PRIMARY KEY,
    network_a_id  INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    network_b_id  INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    direction     TEXT NOT NULL CHECK (direction IN ('a_to_b', 'b_to_a', 'bidirectional')),
    allowed_cidrs TEXT NOT NULL DEFAULT '[]',
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CHECK (network_a_id <> network_b_id),
    UNIQUE (network_a_id, network_b_id)
);

-- Raw counters as read from the device (rx/tx are cumulative, as the kernel reports).
CREATE TABLE peer_snapshots (
    peer_id   INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    timestamp INTEGER NOT NULL,
    rx_bytes  INTEGER NOT NULL,
    tx_bytes  INTEGER NOT NULL,
    online    INTEGER NOT NULL,
    PRIMARY KEY (peer_id, timestamp)
) WITHOUT ROWID;
CREATE INDEX peer_snapshots_time ON peer_snapshots (timestamp);

-- Roll-ups: bytes transferred during the bucket (deltas, resets handled), and how
-- many samples of the bucket saw the peer online.
CREATE TABLE peer_transfer (
    peer_id        INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
    granularity    TEXT NOT NULL CHECK (granularity IN ('hour', 'day')),
    bucket         INTEGER NOT NULL,
    rx_bytes       INTEGER NOT NULL,
    tx_bytes       INTEGER NOT NULL,
    samples        INTEGER NOT NULL,
    online_samples INTEGER NOT NULL,
    PRIMARY KEY (peer_id, granularity, bucket)
) WITHOUT ROWID;
CREATE INDEX peer_transfer_time ON peer_transfer (granularity, bucket);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    timestamp  INTEGER NOT NULL,
    user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    username   TEXT,
    action     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    ip_address TEXT
);
CREATE INDEX audit_log_time ON audit_log (timestamp);
CREATE INDEX audit_log_action ON audit_log (action, timestamp);

CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    type       TEXT NOT NULL CHECK (type IN ('peer_offline', 'interface_down', 'transfer_spike')),
    threshold  INTEGER NOT NULL CHECK (threshold >= 0),
    notify     TEXT NOT NULL CHECK (notify IN ('email', 'webhook')),
    target     TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
