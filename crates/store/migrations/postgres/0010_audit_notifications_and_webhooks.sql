-- Every audit entry is notified on `warden_audit_appended` with its id (at commit), so each
-- process's event streams and webhook dispatcher wake at once instead of polling.
CREATE FUNCTION warden_notify_audit_appended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('warden_audit_appended', NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_appended
    AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION warden_notify_audit_appended();

-- Webhooks: how far each configured URL has been fed from the audit log, and one row per
-- status change to deliver to it (its attempts, its outcome).
CREATE TABLE webhook_cursors (
    url            TEXT   PRIMARY KEY,
    after_audit_id BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url             TEXT   NOT NULL,
    audit_id        BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    delivered_at    BIGINT,
    abandoned_at    BIGINT,
    last_error      TEXT,
    UNIQUE (url, audit_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (url, id) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
