-- Routing configuration per tenant: combos (named model lists with a strategy), model aliases
-- (exact names or glob patterns), and global fallback chains (what to try after a model fails).
-- Values are JSON validated by the core (src/routing/) before they are stored.

CREATE TABLE combos (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  data        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE model_aliases (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  pattern     TEXT NOT NULL,
  target      TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, pattern)
);

CREATE TABLE fallback_chains (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  model       TEXT NOT NULL,
  chain       TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, model)
);
