//! D1 storage of management logins and sessions (`migrations/0008_auth.sql`). Sessions live in D1,
//! not a Durable Object: every `/api` request already reads D1, D1 answers from its primary so a
//! deleted session is refused at once everywhere, and "every session of this login" is one query.

use super::repo::{changes, db, rows};
use crate::auth::principal::{SessionRecord, OWNER_ID};
use crate::error::Result;
use crate::metering::sql::SqlValue;
use serde::{Deserialize, Serialize};
use worker::Env;

/// A stored login's id and password hash (an operator, or the owner once a password is set).
#[derive(Debug, Clone, Deserialize)]
pub struct Login {
    pub id: String,
    pub password_hash: String,
}

/// A login as listed (never its hash).
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const LOGIN_COLUMNS: &str = "id, password_hash";

pub async fn login_by_id(env: &Env, id: &str) -> Result<Option<Login>> {
    let sql = format!("SELECT {LOGIN_COLUMNS} FROM auth_logins WHERE id = ?1");
    Ok(rows::<Login>(&db(env)?, &sql, &[SqlValue::text(id)]).await?.into_iter().next())
}

/// Names are compared without case (`Ops` is `ops`); of rows that an earlier version let differ only
/// in case, the exact one wins.
pub async fn operator_by_name(env: &Env, name: &str) -> Result<Option<Login>> {
    let sql = format!(
        "SELECT {LOGIN_COLUMNS} FROM auth_logins WHERE name = ?1 COLLATE NOCASE AND role = 'operator' \
         ORDER BY name = ?1 DESC, created_at LIMIT 1"
    );
    Ok(rows::<Login>(&db(env)?, &sql, &[SqlValue::text(name)]).await?.into_iter().next())
}

/// Sets the owner's password (the row exists from the first change on).
pub async fn set_owner_password(env: &Env, hash: &str, now: i64) -> Result<()> {
    changes(
        &db(env)?,
        "INSERT INTO auth_logins (id, name, role, tenant_id, password_hash, created_at, updated_at) \
         VALUES (?1, ?1, 'owner', NULL, ?2, ?3, ?3) \
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
        &[SqlValue::text(OWNER_ID), SqlValue::text(hash), SqlValue::Int(now)],
    )
    .await?;
    Ok(())
}

pub async fn set_password(env: &Env, login_id: &str, hash: &str, now: i64) -> Result<()> {
    changes(
        &db(env)?,
        "UPDATE auth_logins SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        &[SqlValue::text(login_id), SqlValue::text(hash), SqlValue::Int(now)],
    )
    .await?;
    Ok(())
}

/// Re-stores a hash in the current scheme (same password; `security::password::Checked::Upgrade`),
/// unless the password changed meanwhile. Not a password change: `updated_at` stays.
pub async fn upgrade_password(env: &Env, login_id: &str, old: &str, new: &str) -> Result<()> {
    changes(
        &db(env)?,
        "UPDATE auth_logins SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
        &[SqlValue::text(login_id), SqlValue::text(old), SqlValue::text(new)],
    )
    .await?;
    Ok(())
}

/// Inserts an operator; `false` when the name is taken, in any case (`Ops` when `ops` exists): one
/// statement, so two creations cannot both pass the check.
pub async fn insert_operator(env: &Env, id: &str, name: &str, tenant: &str, hash: &str, now: i64) -> Result<bool> {
    let n = changes(
        &db(env)?,
        "INSERT INTO auth_logins (id, name, role, tenant_id, password_hash, created_at, updated_at) \
         SELECT ?1, ?2, 'operator', ?3, ?4, ?5, ?5 \
         WHERE NOT EXISTS (SELECT 1 FROM auth_logins WHERE name = ?2 COLLATE NOCASE) \
         ON CONFLICT (name) DO NOTHING",
        &[SqlValue::text(id), SqlValue::text(name), SqlValue::text(tenant), SqlValue::text(hash), SqlValue::Int(now)],
    )
    .await?;
    Ok(n == 1)
}

pub async fn operators(env: &Env) -> Result<Vec<LoginInfo>> {
    rows(
        &db(env)?,
        "SELECT id, name, role, tenant_id, created_at, updated_at FROM auth_logins WHERE role = 'operator' ORDER BY name",
        &[],
    )
    .await
}

/// Deletes an operator and signs out its sessions; `false` when there is none of that id.
pub async fn delete_operator(env: &Env, id: &str) -> Result<bool> {
    let n = changes(&db(env)?, "DELETE FROM auth_logins WHERE id = ?1 AND role = 'operator'", &[SqlValue::text(id)])
        .await?;
    revoke_sessions(env, id, None).await?;
    Ok(n == 1)
}

/// Stores a new session (and drops expired ones, so the table does not grow).
pub async fn insert_session(env: &Env, id: &str, login_id: &str, now: i64, expires_at: i64) -> Result<()> {
    let db = db(env)?;
    changes(&db, "DELETE FROM auth_sessions WHERE expires_at <= ?1", &[SqlValue::Int(now)]).await?;
    changes(
        &db,
        "INSERT INTO auth_sessions (id, login_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        &[SqlValue::text(id), SqlValue::text(login_id), SqlValue::Int(now), SqlValue::Int(expires_at)],
    )
    .await?;
    Ok(())
}

/// A session with its login. An operator's session whose login is gone is no session; the owner's
/// needs no row (until a password is set, ADMIN_SECRET is its password).
pub async fn session(env: &Env, id: &str) -> Result<Option<SessionRecord>> {
    let sql = "SELECT s.login_id, s.expires_at, \
                 CASE WHEN s.login_id = ?2 THEN ?2 ELSE l.name END AS name, \
                 CASE WHEN s.login_id = ?2 THEN 'owner' ELSE l.role END AS role, \
                 CASE WHEN s.login_id = ?2 THEN NULL ELSE l.tenant_id END AS tenant_id \
               FROM auth_sessions s LEFT JOIN auth_logins l ON l.id = s.login_id \
               WHERE s.id = ?1 AND (s.login_id = ?2 OR l.id IS NOT NULL)";
    let found: Vec<SessionRecord> = rows(&db(env)?, sql, &[SqlValue::text(id), SqlValue::text(OWNER_ID)]).await?;
    Ok(found.into_iter().next())
}

pub async fn delete_session(env: &Env, id: &str) -> Result<()> {
    changes(&db(env)?, "DELETE FROM auth_sessions WHERE id = ?1", &[SqlValue::text(id)]).await?;
    Ok(())
}

/// Signs out every session of a login but `keep`; returns how many.
pub async fn revoke_sessions(env: &Env, login_id: &str, keep: Option<&str>) -> Result<usize> {
    changes(
        &db(env)?,
        "DELETE FROM auth_sessions WHERE login_id = ?1 AND id IS NOT ?2",
        &[SqlValue::text(login_id), SqlValue::opt_text(keep)],
    )
    .await
}
