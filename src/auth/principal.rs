//! The principal a request acts as, resolved from its credentials before any handler runs.

use super::session::{self, SessionClaim};
use crate::config::{valid_tenant_id, DEFAULT_TENANT};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::security;
use serde::{Deserialize, Serialize};

/// The login id of the owner (there is one owner; operators have generated ids).
pub const OWNER_ID: &str = "owner";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, every tenant.
    Owner,
    /// One tenant's configuration (e.g. a synced machine's owner); nothing global.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// How the principal proved itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer <ADMIN_SECRET>` (scripts).
    AdminSecret,
    /// A session cookie; `id` is the stored (hashed) session id.
    Session { id: String, expires_at: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub login_id: String,
    pub name: String,
    pub role: Role,
    /// The one tenant an operator may reach; `None` for the owner (all).
    pub tenant: Option<String>,
    pub via: Via,
}

/// What a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Bearer(String),
    Cookie(String),
    None,
}

/// A stored session as the platform loads it (joined with its login).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionRecord {
    pub login_id: String,
    pub name: String,
    pub role: String,
    pub tenant_id: Option<String>,
    pub expires_at: i64,
}

/// The first step of resolving: done for a bearer secret, or a verified session token whose stored
/// session the platform must load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Principal(Principal),
    Session(SessionClaim),
}

/// Reads the credentials of a request: a bearer token wins; else the session cookie of this
/// transport (see `session::cookie_name`).
pub fn credentials(authorization: Option<&str>, cookie_header: Option<&str>, secure: bool) -> Credentials {
    if let Some(token) = security::api_keys::from_headers(authorization, || None) {
        return Credentials::Bearer(token);
    }
    match cookie_header.and_then(|h| session::read_cookie(h, secure)) {
        Some(token) => Credentials::Cookie(token.to_string()),
        None => Credentials::None,
    }
}

fn unauthenticated() -> GatewayError {
    GatewayError::authentication("Sign in (POST /api/auth/login) or send `Authorization: Bearer <ADMIN_SECRET>`.")
}

/// A signed-out or expired session: one message for every cause, so a forger learns nothing.
fn session_over() -> GatewayError {
    GatewayError::authentication("Your session has ended; sign in again.").with_code("session_expired")
}

/// Checks what a request presented, as far as it can be checked without storage: the admin secret
/// (constant time), or a session token's signature and expiry.
pub fn resolve(creds: &Credentials, admin_secret: &str, session_key: &[u8; 32], now_ms: i64) -> Result<Resolved> {
    match creds {
        Credentials::Bearer(given) if security::secrets_equal(given, admin_secret) => {
            Ok(Resolved::Principal(Principal::owner(Via::AdminSecret)))
        }
        Credentials::Bearer(_) => Err(GatewayError::authentication("Invalid admin secret.")),
        Credentials::Cookie(token) => {
            session::verify(session_key, token, now_ms).map(Resolved::Session).ok_or_else(session_over)
        }
        Credentials::None => Err(unauthenticated()),
    }
}

impl Principal {
    pub fn owner(via: Via) -> Principal {
        Principal { login_id: OWNER_ID.into(), name: OWNER_ID.into(), role: Role::Owner, tenant: None, via }
    }

    /// The principal of a verified token's stored session (`None`: logged out, revoked or gone).
    pub fn from_session(
        claim: &SessionClaim,
        stored_id: String,
        record: Option<SessionRecord>,
        now_ms: i64,
    ) -> Result<Principal> {
        let r =
            record.filter(|r| r.expires_at > now_ms && r.expires_at == claim.expires_at).ok_or_else(session_over)?;
        let role = Role::parse(&r.role).ok_or_else(session_over)?;
        let tenant = match role {
            Role::Owner => None,
            Role::Operator => Some(r.tenant_id.filter(|t| valid_tenant_id(t)).ok_or_else(session_over)?),
        };
        Ok(Principal {
            login_id: r.login_id,
            name: r.name,
            role,
            tenant,
            via: Via::Session { id: stored_id, expires_at: r.expires_at },
        })
    }

    /// The tenant a request works on: `?tenant=` (default: this instance's own) for the owner; an
    /// operator's own tenant, and no other (403 before any lookup, so it learns nothing of others).
    pub fn tenant_for(&self, requested: Option<&str>) -> Result<String> {
        if requested.is_some_and(|t| !valid_tenant_id(t)) {
            return Err(GatewayError::invalid_request("Invalid tenant id.").with_param("tenant"));
        }
        match (&self.tenant, requested) {
            (None, r) => Ok(r.unwrap_or(DEFAULT_TENANT).to_string()),
            (Some(own), None) => Ok(own.clone()),
            (Some(own), Some(r)) if r == own => Ok(own.clone()),
            (Some(own), Some(_)) => {
                Err(GatewayError::new(ErrorKind::PermissionDenied, format!("This login manages only tenant `{own}`."))
                    .with_param("tenant")
                    .with_code("tenant_forbidden"))
            }
        }
    }

    /// Refuses operators: for what spans tenants (cloud-sync enrollments, logins).
    pub fn require_owner(&self) -> Result<()> {
        match self.role {
            Role::Owner => Ok(()),
            Role::Operator => Err(GatewayError::new(
                ErrorKind::PermissionDenied,
                "Only the owner may do this; an operator manages its own tenant only.",
            )
            .with_code("owner_only")),
        }
    }

    /// The stored session behind this principal, if it came with one.
    pub fn session_id(&self) -> Option<&str> {
        match &self.via {
            Via::Session { id, .. } => Some(id),
            Via::AdminSecret => None,
        }
    }

    /// What `GET /api/auth/me` answers.
    pub fn to_json(&self) -> serde_json::Value {
        let (via, expires_at) = match &self.via {
            Via::AdminSecret => ("admin_secret", None),
            Via::Session { expires_at, .. } => ("session", Some(*expires_at)),
        };
        serde_json::json!({
            "id": self.login_id, "name": self.name, "role": self.role, "tenant": self.tenant,
            "via": via, "expires_at": expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [9; 32];

    fn operator(tenant: &str) -> Principal {
        Principal {
            login_id: "op_1".into(),
            name: "laptop".into(),
            role: Role::Operator,
            tenant: Some(tenant.into()),
            via: Via::Session { id: "s".into(), expires_at: 10 },
        }
    }

    #[test]
    fn a_bearer_token_wins_over_a_cookie() {
        let cookie = format!("{}=tok", session::cookie_name(true));
        assert_eq!(credentials(Some("Bearer abc"), Some(&cookie), true), Credentials::Bearer("abc".into()));
        assert_eq!(credentials(None, Some(&cookie), true), Credentials::Cookie("tok".into()));
        // The plain-http cookie is not read on https (and the other way round).
        assert_eq!(credentials(None, Some(&cookie), false), Credentials::None);
        assert_eq!(credentials(Some("Basic x"), None, true), Credentials::None);
    }

    #[test]
    fn the_admin_secret_is_the_owner_and_nothing_else_is() {
        let ok = resolve(&Credentials::Bearer("s3cret".into()), "s3cret", &KEY, 0).unwrap();
        assert_eq!(ok, Resolved::Principal(Principal::owner(Via::AdminSecret)));
        for creds in [Credentials::Bearer("s3cre".into()), Credentials::None, Credentials::Cookie("v1.x.y.z".into())] {
            assert_eq!(resolve(&creds, "s3cret", &KEY, 0).unwrap_err().status, 401, "{creds:?}");
        }
    }

    #[test]
    fn a_session_needs_a_live_matching_record() {
        let token = session::issue(&KEY, &[4; 32], 1_000);
        let Resolved::Session(claim) = resolve(&Credentials::Cookie(token.clone()), "x", &KEY, 500).unwrap() else {
            panic!("a valid token is a session claim")
        };
        let record = |role: &str, tenant: Option<&str>, expires_at| SessionRecord {
            login_id: "op_1".into(),
            name: "laptop".into(),
            role: role.into(),
            tenant_id: tenant.map(Into::into),
            expires_at,
        };
        let p = Principal::from_session(&claim, "h".into(), Some(record("operator", Some("m1"), 1_000)), 500).unwrap();
        assert_eq!((p.role, p.tenant.as_deref(), p.session_id()), (Role::Operator, Some("m1"), Some("h")));
        let owner = Principal::from_session(&claim, "h".into(), Some(record("owner", None, 1_000)), 500).unwrap();
        assert_eq!(owner.tenant, None);
        // Logged out (no record), expired, another expiry, an unknown role, an operator without tenant.
        for r in [
            None,
            Some(record("owner", None, 400)),
            Some(record("owner", None, 2_000)),
            Some(record("root", None, 1_000)),
            Some(record("operator", None, 1_000)),
        ] {
            assert_eq!(Principal::from_session(&claim, "h".into(), r.clone(), 500).unwrap_err().status, 401, "{r:?}");
        }
        // The token itself expires.
        assert!(resolve(&Credentials::Cookie(token), "x", &KEY, 1_000).is_err());
    }

    #[test]
    fn an_operator_reaches_only_its_tenant() {
        let op = operator("m1");
        assert_eq!(op.tenant_for(None).unwrap(), "m1");
        assert_eq!(op.tenant_for(Some("m1")).unwrap(), "m1");
        let e = op.tenant_for(Some("default")).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (403, Some("tenant_forbidden")));
        assert_eq!(op.require_owner().unwrap_err().status, 403);
        let owner = Principal::owner(Via::AdminSecret);
        assert_eq!(owner.tenant_for(None).unwrap(), DEFAULT_TENANT);
        assert_eq!(owner.tenant_for(Some("m2")).unwrap(), "m2");
        assert!(owner.require_owner().is_ok());
        for p in [op, owner] {
            assert_eq!(p.tenant_for(Some("../x")).unwrap_err().status, 400);
        }
    }

    proptest::proptest! {
        #[test]
        fn no_requested_tenant_but_its_own_reaches_an_operator(own in "[a-z0-9_-]{1,12}", asked in "[a-z0-9_-]{1,12}") {
            let got = operator(&own).tenant_for(Some(&asked));
            proptest::prop_assert_eq!(got.is_ok(), asked == own);
            if let Ok(t) = got {
                proptest::prop_assert_eq!(t, own);
            }
        }
    }
}
