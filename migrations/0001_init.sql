-- omniroute-edge initial schema. Every configuration row belongs to a tenant: this instance's own
-- configuration is tenant 'default'; each synced local OmniRoute instance becomes another tenant.
-- Timestamps are milliseconds since the Unix epoch.

CREATE TABLE tenants (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES ('default', 'This instance', 0);

-- Provider accounts. api_key_enc is AES-256-GCM ciphertext (key derived from the MASTER_KEY secret);
-- api_key_hint keeps the last four characters for display. The plaintext key is never stored.
CREATE TABLE provider_connections (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  provider      TEXT NOT NULL,
  name          TEXT NOT NULL,
  priority      INTEGER NOT NULL DEFAULT 100,
  is_active     INTEGER NOT NULL DEFAULT 1,
  base_url      TEXT,
  api_key_enc   TEXT NOT NULL,
  api_key_hint  TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX provider_connections_tenant ON provider_connections (tenant_id, provider);

-- Gateway API keys, stored only as an HMAC-SHA256 of the key (shown once at creation).
CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  key_hash    TEXT NOT NULL UNIQUE,
  key_prefix  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Per-tenant settings as one validated JSON object (see src/config/settings.rs).
CREATE TABLE settings (
  tenant_id   TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  value       TEXT NOT NULL,
  updated_at  INTEGER NOT NULL
);
