//! The audit log: one row per management action — who (the principal's name and role, and how it
//! signed in), what (method and path; never a body, which may hold credentials), on which tenant,
//! with what outcome, when and from which address. Sign-in attempts are recorded too, with their
//! address: a successful one with who signed in and as what, in the log of the tenant it belongs to
//! (the owner's in the default tenant's); a failed one in the default tenant's, without the name
//! it gave (a failed attempt proves no name). Read back with `GET /api/audit`.

use super::principal::{Principal, Via};
use crate::config::DEFAULT_TENANT;
use crate::metering::sql::SqlValue;
use serde::{Deserialize, Serialize};

/// Longest path kept (paths carry ids, nothing secret; bounded all the same).
const MAX_PATH: usize = 512;
/// Most rows one read returns.
pub const MAX_PAGE: u32 = 500;
/// Days the log keeps a row (the hourly cron deletes older ones), as long as usage aggregates.
pub const RETENTION_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The row's id (set when read back): with `at`, where a page ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub at: i64,
    pub tenant_id: String,
    pub actor: String,
    pub role: String,
    /// `secret` (ADMIN_SECRET as a bearer token), `session`, or `login` (a sign-in attempt).
    pub via: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub ip: Option<String>,
}

impl AuditEntry {
    /// An action of `principal`.
    pub fn action(principal: &Principal, tenant: &str, method: &str, path: &str, status: u16, at: i64) -> AuditEntry {
        let via = match principal.via {
            Via::AdminSecret => "secret",
            Via::Session { .. } => "session",
        };
        AuditEntry {
            id: None,
            at,
            tenant_id: tenant.to_string(),
            actor: principal.name.clone(),
            role: principal.role.as_str().to_string(),
            via: via.to_string(),
            method: method.to_string(),
            path: bounded(path),
            status,
            ip: None,
        }
    }

    /// A sign-in attempt: `signed_in` is who it let in (then it goes to that principal's tenant),
    /// `None` for a refused one (the instance's log, the default tenant's).
    pub fn login(signed_in: Option<&Principal>, status: u16, at: i64) -> AuditEntry {
        let (tenant, actor, role) = match signed_in {
            Some(p) => (p.tenant.as_deref().unwrap_or(DEFAULT_TENANT), p.name.as_str(), p.role.as_str()),
            None => (DEFAULT_TENANT, "", ""),
        };
        AuditEntry {
            id: None,
            at,
            tenant_id: tenant.to_string(),
            actor: actor.to_string(),
            role: role.to_string(),
            via: "login".into(),
            method: "POST".into(),
            path: "/api/auth/login".into(),
            status,
            ip: None,
        }
    }

    pub fn from_ip(mut self, ip: Option<String>) -> AuditEntry {
        self.ip = ip.map(|i| bounded(&i));
        self
    }

    pub fn insert(&self) -> (String, Vec<SqlValue>) {
        let sql = "INSERT INTO audit_log (tenant_id, at, actor, role, via, method, path, status, ip) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        let args = vec![
            SqlValue::text(&self.tenant_id),
            SqlValue::Int(self.at),
            SqlValue::text(&self.actor),
            SqlValue::text(&self.role),
            SqlValue::text(&self.via),
            SqlValue::text(&self.method),
            SqlValue::text(&self.path),
            SqlValue::Int(self.status.into()),
            SqlValue::opt_text(self.ip.as_deref()),
        ];
        (sql.into(), args)
    }
}

/// Whether a request to the management API is an action worth recording (it may change something).
pub fn is_action(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Where a page ends: the last row's `at` and `id` (rows of one millisecond are told apart by id).
pub fn cursor(e: &AuditEntry) -> Option<String> {
    e.id.map(|id| format!("{}.{id}", e.at))
}

/// The newest `limit` rows of a tenant after `cursor` (a [`cursor`]; `None`: from the newest),
/// newest first. `Err` for a cursor that is not one.
pub fn page_sql(tenant: &str, cursor: Option<&str>, limit: u32) -> Option<(String, Vec<SqlValue>)> {
    let (at, id) = match cursor {
        None => (i64::MAX, i64::MAX),
        Some(c) => {
            let (at, id) = c.split_once('.')?;
            (at.parse().ok()?, id.parse().ok()?)
        }
    };
    let sql = "SELECT id, at, tenant_id, actor, role, via, method, path, status, ip FROM audit_log \
               WHERE tenant_id = ?1 AND (at < ?2 OR (at = ?2 AND id < ?3)) ORDER BY at DESC, id DESC LIMIT ?4";
    let args =
        vec![SqlValue::text(tenant), SqlValue::Int(at), SqlValue::Int(id), SqlValue::Int(limit.min(MAX_PAGE).into())];
    Some((sql.into(), args))
}

fn bounded(s: &str) -> String {
    let mut end = s.len().min(MAX_PATH);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Role;

    fn owner() -> Principal {
        Principal {
            login_id: "owner".into(),
            name: "owner".into(),
            role: Role::Owner,
            tenant: None,
            via: Via::AdminSecret,
        }
    }

    #[test]
    fn an_action_names_who_what_and_how_and_binds_every_placeholder() {
        let e = AuditEntry::action(&owner(), "default", "PATCH", "/api/keys/key_1", 200, 7)
            .from_ip(Some("203.0.113.9".into()));
        assert_eq!((e.actor.as_str(), e.role.as_str(), e.via.as_str()), ("owner", "owner", "secret"));
        let (sql, args) = e.insert();
        assert_eq!(sql.matches('?').count(), args.len());
        assert_eq!(args[8], SqlValue::text("203.0.113.9"));
    }

    #[test]
    fn a_sign_in_names_who_and_as_what_in_the_tenant_it_belongs_to() {
        let session = Via::Session { id: "s".into(), expires_at: 9 };
        let op = Principal {
            login_id: "op_1".into(),
            name: "laptop-ops".into(),
            role: Role::Operator,
            tenant: Some("machine-a".into()),
            via: session.clone(),
        };
        let e = AuditEntry::login(Some(&op), 200, 5);
        let got = (e.tenant_id.as_str(), e.actor.as_str(), e.role.as_str(), e.via.as_str());
        assert_eq!(got, ("machine-a", "laptop-ops", "operator", "login"));
        let e = AuditEntry::login(Some(&Principal::owner(session)), 200, 5);
        let got = (e.tenant_id.as_str(), e.actor.as_str(), e.role.as_str());
        assert_eq!(got, (DEFAULT_TENANT, "owner", "owner"));
        let refused = AuditEntry::login(None, 401, 5);
        assert_eq!((refused.tenant_id.as_str(), refused.actor.as_str()), (DEFAULT_TENANT, ""));
    }

    #[test]
    fn reads_are_not_actions_and_long_values_are_bounded() {
        assert!(!is_action("GET") && is_action("POST") && is_action("DELETE"));
        let e = AuditEntry::action(&owner(), "t", "POST", &"é".repeat(400), 201, 1);
        assert!(e.path.len() <= MAX_PATH && e.path.chars().all(|c| c == 'é'));
        let l = AuditEntry::login(None, 401, 1);
        assert_eq!((l.actor.as_str(), l.via.as_str(), l.status), ("", "login", 401));
        let (sql, args) = page_sql("t", None, 10_000).unwrap();
        assert!(
            sql.contains("?4") && !sql.contains("?5") && args.len() == 4,
            "each numbered placeholder has its argument"
        );
        assert_eq!(args[3], SqlValue::Int(MAX_PAGE as i64));
        let mut read = AuditEntry::login(None, 200, 1_700);
        read.id = Some(42);
        let c = cursor(&read).unwrap();
        assert_eq!(page_sql("t", Some(&c), 5).unwrap().1[1..3], [SqlValue::Int(1_700), SqlValue::Int(42)]);
        assert!(page_sql("t", Some("nope"), 5).is_none());
    }
}
