-- User-defined providers (OpenAI- or Anthropic-compatible APIs) and custom model ids per provider.
-- Values are JSON validated by the core (src/providers/node.rs) before they are stored.

CREATE TABLE provider_nodes (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id          TEXT NOT NULL,
  data        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE provider_models (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  provider    TEXT NOT NULL,
  models      TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, provider)
);
