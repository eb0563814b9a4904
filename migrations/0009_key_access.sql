-- A gateway key's enabled flag, expiry and scopes (src/config/key_access.rs), as one validated JSON
-- object; NULL for an open key (enabled, no expiry, no scopes).
ALTER TABLE api_keys ADD COLUMN access TEXT;
