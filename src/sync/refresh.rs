//! Who refreshes a synced subscription (OAuth) account, and the refresh itself as data
//! (docs/cloud-sync.md, "Who refreshes a synced account").
//!
//! The providers here rotate refresh tokens: a refresh hands out a new one and makes the old one
//! useless, and reusing the old one can revoke the whole family (Codex's `refresh_token_reused`). So
//! exactly one side may refresh an account, and the other must learn the new tokens:
//! - An enrollment with `return_secrets`: the **edge** refreshes, well ahead of expiry
//!   ([`LEAD_MS`], more than the client's own lead plus its push interval), and the answer to the
//!   machine's next push carries the new tokens with a newer `updatedAt`, so the client's merge takes
//!   them (`answer.rs`). The laptop then never reaches its own refresh with a stale token.
//! - Without `return_secrets` the client cannot be told: the **laptop** refreshes, the edge never
//!   does, and the edge may use the synced access token only until its `expiresAt`; each push brings
//!   the laptop's current one.
//! - A provider whose token endpoint the edge does not know is always the laptop's.
//!
//! The I/O (calling the token endpoint, storing the result) is the platform's; this module decides
//! which accounts are due, builds the request and reads the answer.

use super::machine::{Machine, Secrets};
use crate::time::{iso, parse_time};
use serde::Serialize;
use serde_json::{Map, Value};

/// Refresh when the access token expires within this much: more than the hourly cron's period plus
/// OmniRoute's own 5-minute lead and 15-minute push interval.
pub const LEAD_MS: i64 = 90 * 60_000;

/// A provider's token endpoint (`grant_type=refresh_token`, form-encoded), as its official CLI calls it.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenEndpoint {
    /// Provider ids as OmniRoute and 9router name them.
    pub providers: &'static [&'static str],
    pub url: &'static str,
    pub client_id: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
}

/// The token endpoints the edge knows (oauth-providers.md §1.1; `console.anthropic.com` answers
/// non-browser clients with a challenge, so Claude's goes to `api.anthropic.com`).
pub const ENDPOINTS: &[TokenEndpoint] = &[
    TokenEndpoint {
        providers: &["claude", "cc"],
        url: "https://api.anthropic.com/v1/oauth/token",
        client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        headers: &[("anthropic-beta", "oauth-2025-04-20")],
    },
    TokenEndpoint {
        providers: &["codex", "cx"],
        url: "https://auth.openai.com/oauth/token",
        client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
        headers: &[],
    },
    TokenEndpoint {
        providers: &["kimi-coding", "kmc"],
        url: "https://auth.kimi.com/api/oauth/token",
        client_id: "17e5f671-d194-4dfb-9706-5516cb48c098",
        headers: &[],
    },
];

pub fn endpoint(provider: &str) -> Option<&'static TokenEndpoint> {
    ENDPOINTS.iter().find(|e| e.providers.contains(&provider))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refresher {
    Edge,
    Laptop,
}

/// Who refreshes an account of `provider` synced under an enrollment with or without `return_secrets`.
pub fn refresher(provider: &str, return_secrets: bool) -> Refresher {
    if return_secrets && endpoint(provider).is_some() {
        Refresher::Edge
    } else {
        Refresher::Laptop
    }
}

fn is_subscription(fields: &Map<String, Value>) -> bool {
    let auth = fields.get("authType").and_then(Value::as_str).unwrap_or("apikey");
    !matches!(auth, "apikey" | "api_key" | "api-key")
}

/// One synced subscription account, as the machine's status shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: String,
    pub provider: String,
    pub refreshed_by: Refresher,
    /// When its access token expires (ms), as the edge knows it.
    pub expires_at: Option<i64>,
}

/// The machine's subscription accounts and who refreshes each.
pub fn accounts(m: &Machine, return_secrets: bool) -> Vec<Account> {
    m.providers
        .iter()
        .filter(|c| is_subscription(&c.fields))
        .map(|c| {
            let provider = c.fields.get("provider").and_then(Value::as_str).unwrap_or_default().to_string();
            let fields = c.edge_change.as_ref().map_or(&c.fields, |e| &e.fields);
            Account {
                id: c.id.clone(),
                refreshed_by: refresher(&provider, return_secrets),
                expires_at: fields.get("expiresAt").or_else(|| c.fields.get("expiresAt")).and_then(parse_time),
                provider,
            }
        })
        .collect()
}

/// An account the edge should refresh now: its id, endpoint and current refresh token.
pub struct Due {
    pub id: String,
    pub endpoint: &'static TokenEndpoint,
    pub refresh_token: String,
}

/// The accounts the edge refreshes whose access token expires within [`LEAD_MS`] of `now`. An account
/// with no known expiry is left alone: refreshing blindly would spend a rotation for nothing.
pub fn due(m: &Machine, secrets: &Secrets, return_secrets: bool, now: i64) -> Vec<Due> {
    accounts(m, return_secrets)
        .into_iter()
        .filter(|a| a.refreshed_by == Refresher::Edge && a.expires_at.is_some_and(|t| t - now < LEAD_MS))
        .filter_map(|a| {
            let token = secrets.providers.get(&a.id)?.get("refreshToken")?.as_str()?.to_string();
            Some(Due { endpoint: endpoint(&a.provider)?, id: a.id, refresh_token: token })
        })
        .collect()
}

/// The form body of a refresh (`application/x-www-form-urlencoded`). No `scope`: with Codex it can
/// make the auth server treat the call as a re-scope and revoke sibling token families.
pub fn request_body(e: &TokenEndpoint, refresh_token: &str) -> String {
    format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}",
        form_encode(refresh_token),
        form_encode(e.client_id)
    )
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why a refresh failed; `terminal` when the account needs a new login (do not retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub terminal: bool,
    pub message: String,
}

/// Reads the token endpoint's answer into the connection's changed fields (credentials and the new
/// `expiresAt` / `expiresIn`). A missing `refresh_token` keeps the old one.
pub fn read_answer(status: u16, body: &[u8], now: i64) -> Result<Map<String, Value>, Failure> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let code = json.get("error").and_then(|e| e.as_str().or_else(|| e.get("code")?.as_str())).unwrap_or("");
        let terminal = matches!(status, 400 | 401 | 403)
            || ["invalid_grant", "refresh_token_reused", "token_expired", "invalid_token"].contains(&code);
        return Err(Failure {
            terminal,
            message: format!("the token endpoint answered {status} {code}").trim().into(),
        });
    }
    let text = |k: &str| json.get(k).and_then(Value::as_str).filter(|s| !s.is_empty() && s.len() <= 16 * 1024);
    let access = text("access_token")
        .ok_or(Failure { terminal: false, message: "the token endpoint sent no access_token".into() })?;
    let mut out = Map::new();
    out.insert("accessToken".into(), access.into());
    if let Some(r) = text("refresh_token") {
        out.insert("refreshToken".into(), r.into());
    }
    if let Some(id) = text("id_token") {
        out.insert("idToken".into(), id.into());
    }
    if let Some(secs) = json.get("expires_in").and_then(Value::as_i64).filter(|s| *s > 0 && *s < 10 * 365 * 86_400) {
        out.insert("expiresIn".into(), secs.into());
        out.insert("expiresAt".into(), iso(now + secs * 1000).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::machine::merge;
    use crate::sync::wire::parse;
    use serde_json::json;

    fn machine(body: Value) -> (Machine, Secrets) {
        let m = merge(
            &Machine::default(),
            &Secrets::default(),
            parse(body.to_string().as_bytes()).unwrap(),
            1,
            true,
            &|k| k.into(),
        );
        (m.machine, m.secrets)
    }

    #[test]
    fn the_edge_refreshes_only_known_accounts_of_enrollments_that_return_secrets() {
        assert_eq!(refresher("codex", true), Refresher::Edge);
        assert_eq!(refresher("codex", false), Refresher::Laptop, "the client could not be told");
        assert_eq!(refresher("cursor", true), Refresher::Laptop, "no token endpoint known");
    }

    #[test]
    fn due_accounts_are_those_expiring_within_the_lead() {
        let now = 1_800_000_000_000;
        let soon = iso(now + LEAD_MS - 1);
        let later = iso(now + LEAD_MS + 60_000);
        let (m, s) = machine(json!({"providers": [
            {"id": "soon", "provider": "codex", "authType": "oauth", "refreshToken": "rt-1", "expiresAt": soon},
            {"id": "later", "provider": "claude", "authType": "oauth", "refreshToken": "rt-2", "expiresAt": later},
            {"id": "unknown-expiry", "provider": "codex", "authType": "oauth", "refreshToken": "rt-3"},
            {"id": "no-refresh-token", "provider": "codex", "authType": "oauth", "expiresAt": soon},
            {"id": "key", "provider": "openai", "apiKey": "k", "expiresAt": soon},
            {"id": "unknown-provider", "provider": "cursor", "authType": "oauth", "refreshToken": "rt", "expiresAt": soon},
        ]}));
        let ids = |v: Vec<Due>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(due(&m, &s, true, now)), ["soon"]);
        assert!(due(&m, &s, false, now).is_empty(), "without return_secrets the laptop refreshes");
        let listed = accounts(&m, false);
        assert_eq!(listed.len(), 5, "every subscription account is listed");
        assert!(listed.iter().all(|a| a.refreshed_by == Refresher::Laptop));
        assert_eq!(listed[0].expires_at, parse_time(&json!(soon)));
    }

    #[test]
    fn the_request_is_a_form_without_scope() {
        let body = request_body(endpoint("codex").unwrap(), "rt/+=&x");
        assert_eq!(
            body,
            "grant_type=refresh_token&refresh_token=rt%2F%2B%3D%26x&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
        );
    }

    #[test]
    fn reads_new_tokens_and_keeps_the_refresh_token_when_none_comes() {
        let got =
            read_answer(200, br#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"id_token":"id"}"#, 0)
                .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"accessToken": "at-2", "refreshToken": "rt-2", "idToken": "id",
            "expiresIn": 3600, "expiresAt": "1970-01-01T01:00:00.000Z"})
        );
        let kept = read_answer(200, br#"{"access_token":"at-3"}"#, 0).unwrap();
        assert!(!kept.contains_key("refreshToken"));
        let reused = read_answer(400, br#"{"error":{"code":"refresh_token_reused"}}"#, 0).unwrap_err();
        assert!(reused.terminal && reused.message.contains("refresh_token_reused"), "{reused:?}");
        assert!(!read_answer(503, b"down", 0).unwrap_err().terminal);
        assert!(!read_answer(200, b"{}", 0).unwrap_err().terminal);
    }

    proptest::proptest! {
        /// Whatever the token endpoint answers, reading it never panics.
        #[test]
        fn any_answer_reads_or_fails(status in 100u16..600, body in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = read_answer(status, &body, 0);
        }
    }
}
