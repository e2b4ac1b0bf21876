-- The version of what the adapter created on the platform for each integration
-- (warden_platform::Descriptor::objects_version); a newer Warden migrates older ones.
ALTER TABLE integrations ADD COLUMN objects_version INTEGER NOT NULL DEFAULT 1;
