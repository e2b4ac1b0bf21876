-- Warden's control-plane schema (PostgreSQL). Times are Unix milliseconds.
CREATE TABLE integrations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_type TEXT    NOT NULL,
    host            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    status_message  TEXT,
    config          TEXT    NOT NULL, -- the payload with every secret as [REDACTED]
    secrets         BYTEA   NOT NULL, -- nonce || AES-256-GCM(secret map as JSON)
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX integrations_by_type_host ON integrations (integration_type, host);

CREATE TABLE jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id   BIGINT NOT NULL REFERENCES integrations (id),
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done')),
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (state, id);

CREATE TABLE api_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE, -- SHA-256 of the key, hex
    permissions TEXT    NOT NULL,        -- comma-separated
    integration_id BIGINT REFERENCES integrations (id),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    integration_id BIGINT,
    before_state   TEXT, -- redacted JSON
    after_state    TEXT  -- redacted JSON
);
