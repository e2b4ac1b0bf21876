-- Every change to what an integration shows is notified on `warden_integration_changed`
-- with the row's id (at commit), so each process's read cache re-reads it (read_cache.rs).
CREATE FUNCTION warden_notify_integration_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('warden_integration_changed', COALESCE(NEW.id, OLD.id)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER integrations_changed
    AFTER INSERT OR DELETE OR UPDATE OF integration_type, status, status_message, config, created_at, updated_at, validation_results
    ON integrations
    FOR EACH ROW EXECUTE FUNCTION warden_notify_integration_changed();
