-- Webhooks: how far each configured URL has been fed from the audit log, and one row per
-- status change to deliver to it (its attempts, its outcome).
CREATE TABLE webhook_cursors (
    url            TEXT    PRIMARY KEY,
    after_audit_id INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    url             TEXT    NOT NULL,
    audit_id        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    delivered_at    INTEGER,
    abandoned_at    INTEGER,
    last_error      TEXT,
    UNIQUE (url, audit_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (url, id) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
