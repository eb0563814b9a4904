-- The audit log of management actions and sign-in attempts (src/auth/audit.rs): who, what (method
-- and path, never a body), on which tenant, the outcome, when and from where. Read with GET /api/audit.
CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id  TEXT NOT NULL,
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  role       TEXT NOT NULL,
  via        TEXT NOT NULL,
  method     TEXT NOT NULL,
  path       TEXT NOT NULL,
  status     INTEGER NOT NULL,
  ip         TEXT
);
CREATE INDEX audit_log_page ON audit_log (tenant_id, at);
