-- Management logins and their sessions (docs/auth.md). The owner's row ('owner') exists once a
-- password has been set; until then ADMIN_SECRET is the owner's password. An operator manages one
-- tenant. Passwords are PBKDF2-HMAC-SHA256 hashes (`pbkdf2-sha256$iterations$salt$hash`).
CREATE TABLE auth_logins (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL UNIQUE,
  role           TEXT NOT NULL,
  tenant_id      TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  password_hash  TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);

-- A signed-in session: its id is a keyed hash of the token's id (the token itself is never
-- stored). Deleting the row signs the session out everywhere.
CREATE TABLE auth_sessions (
  id          TEXT PRIMARY KEY,
  login_id    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX auth_sessions_login ON auth_sessions (login_id);
