//! Enrollment: nobody reads, overwrites or deletes a machine's data without a token the operator
//! issued (the reference server has no auth at all; omniroute.md §4.5).
//!
//! An unmodified client only knows `CLOUD_URL`, so the token lives in it: the operator hands out
//! `https://<gateway>/cloud/<token>` and every path the client builds from it carries the token:
//! `/cloud/<token>/sync/<machineId>`, `/cloud/<token>/<machineId>/v1/...`. The first push binds the
//! enrollment to that machine id; from then on the token works for that machine only. New clients
//! may instead call `/sync/<machineId>` with the token in `Authorization: Bearer` or `X-Sync-Token`.
//! Only the token's HMAC is stored, like a gateway key.

use crate::config::valid_tenant_id;
use crate::error::{GatewayError, Result};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;

pub const TOKEN_PREFIX: &str = "oes_";
/// The path segment before the token in `CLOUD_URL`.
pub const CLOUD_SEGMENT: &str = "cloud";

/// A new enrollment token from 32 random bytes.
pub fn token(random: &[u8; 32]) -> String {
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random))
}

/// Whether `s` has a token's shape (checked before any lookup, so junk costs nothing).
pub fn is_token(s: &str) -> bool {
    s.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|b| b.len() == 43 && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'))
}

/// The per-enrollment response-signing secret (the client's `OMNIROUTE_CLOUD_SYNC_SECRET`).
pub fn signing_secret(random: &[u8; 32]) -> String {
    crate::security::to_hex(random)
}

/// Machine ids become tenant ids and path segments: the tenant alphabet, none of the names the
/// gateway's own routes use.
pub fn valid_machine_id(id: &str) -> bool {
    valid_tenant_id(id)
        && !matches!(id, "default" | "v1" | "v1beta" | "api" | "health" | "cloud" | "sync" | "favicon.ico")
}

/// `POST /api/sync/enrollments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollment {
    pub name: String,
    /// Answer credentials (provider tokens, API keys) back to this machine in plaintext. Off by
    /// default: the edge then keeps API keys as an HMAC only.
    #[serde(default)]
    pub return_secrets: bool,
}

impl NewEnrollment {
    pub fn validate(mut self) -> Result<NewEnrollment> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 100 {
            return Err(GatewayError::invalid_request("`name` must be 1 to 100 characters.").with_param("name"));
        }
        Ok(self)
    }
}

/// A path that belongs to cloud sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncPath<'a> {
    /// `/sync/{machine}` (token in a header) or `/cloud/{token}/sync/{machine}`.
    Sync { token: Option<&'a str>, machine: &'a str },
    /// `/cloud/{token}{rest}`: the client API under an enrollment (`rest` is `/{machine}/v1/...`).
    Under { token: &'a str, rest: &'a str },
}

fn sync(rest: &str) -> Option<&str> {
    rest.strip_prefix("/sync/").map(|m| m.trim_end_matches('/'))
}

pub fn route(path: &str) -> Option<SyncPath<'_>> {
    if let Some(machine) = sync(path) {
        return Some(SyncPath::Sync { token: None, machine });
    }
    let after = path.strip_prefix('/')?.strip_prefix(CLOUD_SEGMENT)?.strip_prefix('/')?;
    let (token, rest) = after.find('/').map_or((after, ""), |i| after.split_at(i));
    match sync(rest) {
        Some(machine) => Some(SyncPath::Sync { token: Some(token), machine }),
        None => Some(SyncPath::Under { token, rest }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_checkable_shape() {
        let t = token(&[7; 32]);
        assert!(is_token(&t));
        assert_ne!(t, token(&[8; 32]));
        for bad in ["", "oes_", "oes_short", &t[1..], &format!("{t}x"), &t.replace('_', "*")] {
            assert!(!is_token(bad), "{bad}");
        }
        assert_eq!(signing_secret(&[0xab; 32]).len(), 64);
    }

    #[test]
    fn new_enrollments_are_checked() {
        let parse =
            |s: &str| crate::config::input::parse::<NewEnrollment>(s.as_bytes()).and_then(NewEnrollment::validate);
        let e = parse(r#"{"name":" laptop "}"#).unwrap();
        assert_eq!((e.name.as_str(), e.return_secrets), ("laptop", false));
        assert!(parse(r#"{"name":"x","return_secrets":true}"#).unwrap().return_secrets);
        for bad in [r#"{"name":""}"#, r#"{"name":"x","extra":1}"#, r#"{}"#] {
            assert_eq!(parse(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn routes_both_enrollment_forms() {
        assert_eq!(route("/sync/b149085260680511"), Some(SyncPath::Sync { token: None, machine: "b149085260680511" }));
        assert_eq!(route("/cloud/oes_x/sync/m1/"), Some(SyncPath::Sync { token: Some("oes_x"), machine: "m1" }));
        assert_eq!(route("/cloud/oes_x/m1/v1/verify"), Some(SyncPath::Under { token: "oes_x", rest: "/m1/v1/verify" }));
        assert_eq!(route("/cloud/oes_x"), Some(SyncPath::Under { token: "oes_x", rest: "" }));
        assert_eq!(route("/v1/chat/completions"), None);
        assert_eq!(route("/m1/v1/verify"), None);
        assert_eq!(route("/cloudy/x"), None);
    }

    #[test]
    fn machine_ids_are_tenant_ids_but_not_route_names() {
        assert!(valid_machine_id("b149085260680511"));
        assert!(valid_machine_id("0b6c1d9e-6a53-4a57-9d2f-3c2b1a0f9e8d"), "the random-uuid fallback");
        for bad in ["", "default", "api", "v1", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_machine_id(bad), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any path either is not a sync path or splits into parts that are substrings of it.
        #[test]
        fn routing_never_invents(path in "(/[a-z_0-9]{0,6}){0,5}/?") {
            match route(&path) {
                None => {}
                Some(SyncPath::Sync { token, machine }) => {
                    proptest::prop_assert!(path.contains(machine) && token.is_none_or(|t| path.contains(t)));
                }
                Some(SyncPath::Under { token, rest }) => {
                    proptest::prop_assert!(path.starts_with("/cloud/") && path.ends_with(rest) && path.contains(token));
                }
            }
        }
    }
}
