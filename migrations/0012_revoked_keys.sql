-- Secrets revoked at the edge (a key revoked, or the old secret of a rotated key), kept apart from
-- api_keys: a push rewrites a synced machine's key rows and a machine's deletion removes them, and
-- neither may bring a revoked secret back (docs/cloud-sync.md, "Revocation sticks"). key_hash is the
-- HMAC of the secret as in api_keys; key_id the row it was revoked as.
CREATE TABLE revoked_keys (
  key_hash    TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  key_id      TEXT NOT NULL,
  revoked_at  INTEGER NOT NULL
);
CREATE INDEX revoked_keys_row ON revoked_keys (tenant_id, key_id);

INSERT OR IGNORE INTO revoked_keys (key_hash, tenant_id, key_id, revoked_at)
  SELECT key_hash, tenant_id, id, revoked_at FROM api_keys WHERE revoked_at IS NOT NULL;
