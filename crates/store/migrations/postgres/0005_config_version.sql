-- The schema version each stored config was written at (warden_model::CONFIG_VERSION), so a
-- newer Warden brings older configs forward instead of re-checking them with rules they
-- were never written under. Rows from before this column are version 1.
ALTER TABLE integrations ADD COLUMN config_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN input_version BIGINT NOT NULL DEFAULT 1;
