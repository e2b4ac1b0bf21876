-- What an adapter's last change returned about the platform (JSON, never a secret: the id
-- of an object the platform named, which the next change needs), handed back to that change.
ALTER TABLE integrations ADD COLUMN platform_state TEXT;

-- Data sources registered under an integration (API.md section 7); a name is unique within
-- its integration.
CREATE TABLE data_sources (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id INTEGER NOT NULL REFERENCES integrations (id),
    name           TEXT    NOT NULL,
    location       TEXT    NOT NULL,
    state          TEXT,             -- what the adapter returned (JSON, never a secret)
    created_at     INTEGER NOT NULL,
    UNIQUE (integration_id, name)
);
