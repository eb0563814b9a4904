-- Automatic backups of a tenant's configuration (docs/backup.md), taken by every import or restore
-- before it replaces anything; the newest 20 per tenant are kept. archive: the backup archive JSON
-- without secrets; secrets_enc: its secrets (provider credentials, key hashes) as AES-256-GCM
-- ciphertext under the MASTER_KEY-derived credentials key (AAD `config-backup/<id>`), NULL for none.
CREATE TABLE config_backups (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  created_at   INTEGER NOT NULL,
  reason       TEXT NOT NULL,
  archive      TEXT NOT NULL,
  secrets_enc  TEXT
);
CREATE INDEX config_backups_tenant ON config_backups (tenant_id, created_at);
