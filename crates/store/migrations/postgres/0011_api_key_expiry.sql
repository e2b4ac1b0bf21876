-- An API key may expire; a key past its expiry is refused like a revoked one.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;

-- A key revoked or changed is notified on `warden_api_keys_changed` (at commit), so every
-- process forgets the keys it remembers at once.
CREATE FUNCTION warden_notify_api_keys_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('warden_api_keys_changed', COALESCE(OLD.id, NEW.id)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_keys_changed
    AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION warden_notify_api_keys_changed();
