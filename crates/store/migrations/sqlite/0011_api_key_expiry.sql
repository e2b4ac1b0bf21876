-- An API key may expire; a key past its expiry is refused like a revoked one.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
