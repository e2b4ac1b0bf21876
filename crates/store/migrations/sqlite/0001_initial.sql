-- Warden's control-plane schema (SQLite). Times are Unix milliseconds.
CREATE TABLE integrations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_type TEXT    NOT NULL,
    host            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    status_message  TEXT,
    config          TEXT    NOT NULL, -- the payload with every secret as [REDACTED]
    secrets         BLOB    NOT NULL, -- nonce || AES-256-GCM(secret map as JSON)
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX integrations_by_type_host ON integrations (integration_type, host);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id   INTEGER NOT NULL REFERENCES integrations (id),
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (state, id);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE, -- SHA-256 of the key, hex
    permissions TEXT    NOT NULL,        -- comma-separated
    integration_id INTEGER REFERENCES integrations (id),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    integration_id INTEGER,
    before_state   TEXT, -- redacted JSON
    after_state    TEXT  -- redacted JSON
);
