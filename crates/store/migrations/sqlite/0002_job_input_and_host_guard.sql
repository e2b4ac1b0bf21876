-- A job carries the config it applies (an edit's new config): redacted JSON in clear, its
-- secrets sealed like the integration's. Privileged credentials never go here.
ALTER TABLE jobs ADD COLUMN input_config TEXT;
ALTER TABLE jobs ADD COLUMN input_secrets BLOB;
-- At most one integration in use per type and host: two concurrent creates cannot both win.
CREATE UNIQUE INDEX integrations_in_use_per_host ON integrations (integration_type, host)
    WHERE status NOT IN ('deleted', 'disabled');
