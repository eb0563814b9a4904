-- Cloud sync (docs/cloud-sync.md). An enrollment is what the operator issues: a token (stored as an
-- HMAC, like gateway keys) that goes into the CLOUD_URL a local instance is given, and the secret that
-- signs the answers (AES-256-GCM ciphertext). The first push binds it to a machine id, which is also
-- the tenant id of everything the machine synced. Timestamps are milliseconds since the Unix epoch.

CREATE TABLE sync_enrollments (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  token_hash      TEXT NOT NULL UNIQUE,
  secret_enc      TEXT NOT NULL,
  return_secrets  INTEGER NOT NULL DEFAULT 0,
  machine_id      TEXT,
  created_at      INTEGER NOT NULL,
  bound_at        INTEGER,
  revoked_at      INTEGER
);
-- A machine belongs to at most one live enrollment.
CREATE UNIQUE INDEX sync_enrollments_machine ON sync_enrollments (machine_id) WHERE machine_id IS NOT NULL AND revoked_at IS NULL;

-- What a machine pushed, without credentials (data, JSON), its credentials (secrets_enc, one
-- AES-256-GCM blob), and what of it the gateway serves or cannot serve (status, JSON).
CREATE TABLE sync_machines (
  machine_id      TEXT PRIMARY KEY,
  enrollment_id   TEXT NOT NULL,
  data            TEXT NOT NULL,
  secrets_enc     TEXT NOT NULL,
  status          TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  last_sync_at    INTEGER NOT NULL
);
-- The expiry of machines idle for too long (hourly cron).
CREATE INDEX sync_machines_last_sync ON sync_machines (last_sync_at);
