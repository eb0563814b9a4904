//! The answers `/sync/{machineId}` gives, in the shape OmniRoute and 9router expect
//! (`{success, data: {providers: {<id>: …}, modelAliases, combos, apiKeys, updatedAt}, changes}`), and
//! their signature: `X-Cloud-Sig: hex(HMAC-SHA256(secret, raw body))` (omniroute.md §4.5).
//!
//! Clients merge the answer into their own database: for each connection whose `updatedAt` is newer
//! than their row's, they copy [`MERGED_FIELDS`] and store a missing one as null (OmniRoute 3.7.9 and
//! 9router all of them; 3.8.6+ the credentials only with `OMNIROUTE_CLOUD_SYNC_SECRETS=true`). So an
//! answer must never look newer unless it means it, and then it must carry every one of those fields:
//! - A connection comes back as it was pushed, with the client's own `updatedAt` (9router sends one)
//!   or none (OmniRoute sends none, and a missing time never wins): the merge leaves the row alone.
//! - Only when the edge has news for a connection (a token it refreshed, a cooldown) and the answer
//!   can say what the client must end up with (the enrollment returns secrets, and the edge knows the
//!   client's credentials because this push carried them, or sends its own newer ones) does it come
//!   back newer, with every merged field set. Otherwise the news is only in `changes.fromWorker` and in
//!   `status` / `rateLimitedUntil`, which no merge reads without a newer `updatedAt`.

use super::machine::{Changes, Machine, Merged, Pushed, Secrets, StoredConnection};
use super::serve::row_id;
use crate::error::GatewayError;
use crate::resilience::cooldown::Cooldown;
use crate::security::{hmac_sha256, to_hex};
use crate::time::{iso, parse_time};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What the clients' merges copy from a connection answered with a newer `updatedAt`.
pub const MERGED_FIELDS: &[&str] = &[
    "accessToken",
    "refreshToken",
    "expiresAt",
    "expiresIn",
    "providerSpecificData",
    "status",
    "lastError",
    "lastErrorAt",
    "errorCode",
    "rateLimitedUntil",
    "updatedAt",
];

/// What the edge itself knows about the machine's connections right now.
#[derive(Debug, Clone, Default)]
pub struct EdgeState {
    /// Active cooldowns, scoped as the gateway scopes them (`{row id}` or `{row id}:{model}`).
    pub cooldowns: Vec<Cooldown>,
    /// Keys revoked at the edge: key id (as the client knows it) → when (ms).
    pub revoked_keys: BTreeMap<String, i64>,
}

impl EdgeState {
    /// The cooldown of connection `id` of `machine` that lasts longest, if one is active.
    fn cooling(&self, machine: &str, id: &str, now: i64) -> Option<&Cooldown> {
        let row = row_id(machine, id);
        self.cooldowns
            .iter()
            .filter(|c| {
                c.until_ms > now && (c.scope == row || c.scope.strip_prefix(&row).is_some_and(|r| r.starts_with(':')))
            })
            .max_by_key(|c| c.until_ms)
    }
}

/// Everything one answer is made from.
pub struct View<'a> {
    pub machine_id: &'a str,
    pub machine: &'a Machine,
    pub secrets: &'a Secrets,
    /// The enrollment answers credentials back.
    pub with_secrets: bool,
    pub edge: &'a EdgeState,
    pub now: i64,
}

/// The machine's `data` as the client expects it; `pushed`: the connections as the push being
/// answered carried them (none for a `GET`).
fn data(v: &View, pushed: Option<&BTreeMap<String, Pushed>>) -> Value {
    let providers: Map<String, Value> = v
        .machine
        .providers
        .iter()
        .map(|c| (c.id.clone(), Value::Object(connection(v, c, pushed.and_then(|p| p.get(&c.id))))))
        .collect();
    let api_keys: Vec<Value> = v
        .machine
        .api_keys
        .iter()
        .map(|k| {
            let mut o = k.fields.clone();
            match v.secrets.api_keys.get(&k.id).filter(|_| v.with_secrets) {
                Some(key) => o.insert("key".into(), key.clone().into()),
                None => o.insert("keyHint".into(), k.key_hint.clone().into()),
            };
            if let Some(at) = v.edge.revoked_keys.get(&k.id) {
                o.insert("isActive".into(), false.into());
                o.insert("revokedAt".into(), iso(*at).into());
            }
            Value::Object(o)
        })
        .collect();
    let m = v.machine;
    json!({
        "providers": providers,
        "providerNodes": m.provider_nodes,
        "modelAliases": m.model_aliases,
        "combos": m.combos,
        "apiKeys": api_keys,
        "settings": m.settings,
        "version": m.version,
        "updatedAt": iso(m.synced_at),
    })
}

/// One connection of the answer (see the module's rules).
fn connection(v: &View, c: &StoredConnection, client: Option<&Pushed>) -> Map<String, Value> {
    let creds = v.secrets.providers.get(&c.id);
    let mut o = c.fields.clone();
    if v.with_secrets {
        o.extend(creds.cloned().unwrap_or_default());
    }
    let cooling = v.edge.cooling(v.machine_id, &c.id, v.now);
    if let Some(cd) = cooling {
        o.insert("status".into(), "unavailable".into());
        o.insert("rateLimitedUntil".into(), iso(cd.until_ms).into());
    }
    let refreshed = c.edge_change.as_ref();
    let news = cooling.is_some() || refreshed.is_some();
    let Some(client) = client.filter(|p| news && v.with_secrets && (refreshed.is_some() || !p.secrets.is_empty()))
    else {
        return o;
    };
    // The merge will run: every field it copies, as the client must have it afterwards.
    let credentials = match refreshed {
        Some(_) => creds.cloned().unwrap_or_default(),
        None => client.secrets.clone(),
    };
    let mut fields = client.fields.clone();
    if let Some(e) = refreshed {
        fields.extend(e.fields.clone());
    }
    for name in MERGED_FIELDS {
        let from =
            if ["accessToken", "refreshToken", "providerSpecificData"].contains(name) { &credentials } else { &fields };
        o.insert(name.to_string(), from.get(*name).cloned().unwrap_or(Value::Null));
    }
    match cooling {
        Some(cd) => {
            o.insert("status".into(), "unavailable".into());
            o.insert("lastError".into(), format!("Cooling down at the edge ({}).", cd.reason).into());
            o.insert("lastErrorAt".into(), iso(v.now).into());
            let limited = matches!(cd.reason.as_str(), "rate_limited" | "quota_exhausted");
            o.insert("errorCode".into(), if limited { json!(429) } else { Value::Null });
            o.insert("rateLimitedUntil".into(), iso(cd.until_ms).into());
        }
        None => {
            let status = fields.get("status").filter(|s| s.is_string()).cloned().unwrap_or("active".into());
            o.insert("status".into(), status);
        }
    }
    // Newer than the client's own time, whatever its clock said.
    let theirs = fields.get("updatedAt").and_then(parse_time).unwrap_or(i64::MIN);
    o.insert("updatedAt".into(), iso(v.now.max(theirs.saturating_add(1))).into());
    o
}

/// `POST` answer. Connections the edge is cooling down are reported in `fromWorker` too.
pub fn pushed(v: &View, merged: &Merged) -> Value {
    let mut changes: Changes = merged.changes.clone();
    for c in &v.machine.providers {
        if v.edge.cooling(v.machine_id, &c.id, v.now).is_some() && !changes.from_worker.contains(&c.id) {
            changes.from_worker.push(c.id.clone());
        }
    }
    json!({"success": true, "data": data(v, Some(&merged.pushed)), "changes": changes})
}

/// `GET` answer: what the edge holds, never newer than what the client pushed.
pub fn pulled(v: &View) -> Value {
    json!({"success": true, "data": data(v, None)})
}

/// An error on `/sync`, in 9router's shape (`error` is a string) plus a stable code.
pub fn error(e: &GatewayError) -> Value {
    json!({"success": false, "error": e.message, "code": e.code.as_deref().unwrap_or(e.kind.as_str())})
}

/// `X-Cloud-Sig` of an answer body.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    to_hex(&hmac_sha256(secret, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::machine::{merge, record_edge_change};
    use crate::sync::wire::parse;

    #[test]
    fn signs_the_raw_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn merged(body: Value, with_secrets: bool) -> Merged {
        merge(
            &Machine::default(),
            &Secrets::default(),
            parse(body.to_string().as_bytes()).unwrap(),
            5,
            with_secrets,
            &|k| format!("h{k}"),
        )
    }

    fn view<'a>(m: &'a Merged, with_secrets: bool, edge: &'a EdgeState, now: i64) -> View<'a> {
        View { machine_id: "m1", machine: &m.machine, secrets: &m.secrets, with_secrets, edge, now }
    }

    fn cooling(scope: &str, until_ms: i64) -> Cooldown {
        Cooldown { scope: scope.into(), until_ms, reason: "rate_limited".into(), level: 1 }
    }

    #[test]
    fn answers_what_was_pushed_with_secrets_only_when_allowed() {
        let body = json!({"providers": [{"id": "c1", "provider": "openai", "apiKey": "sk-1", "name": "n"}],
            "apiKeys": [{"id": "k1", "key": "sk-m-k1", "name": "key"}], "combos": [{"name": "c", "models": ["a/b"]}]});
        let m = merged(body.clone(), true);
        let edge = EdgeState {
            cooldowns: vec![cooling("m1.c1:gpt-4o", 10_000), cooling("m1.c10", 20_000)],
            ..Default::default()
        };
        let open = pushed(&view(&m, true, &edge, 100), &m);
        assert_eq!(open["data"]["providers"]["c1"]["apiKey"], "sk-1");
        assert_eq!(open["data"]["apiKeys"][0]["key"], "sk-m-k1");
        assert_eq!(open["data"]["providers"]["c1"]["rateLimitedUntil"], iso(10_000));
        assert_eq!(open["data"]["providers"]["c1"]["status"], "unavailable");
        assert_eq!(open["changes"], json!({"updated": ["c1"], "fromWorker": ["c1"]}));
        assert_eq!(open["data"]["combos"], body["combos"]);
        let none = EdgeState::default();
        let closed = pulled(&view(&m, false, &none, 100));
        let text = closed.to_string();
        assert!(!text.contains("sk-1") && !text.contains("sk-m-k1"), "{text}");
        assert_eq!(closed["data"]["apiKeys"][0]["keyHint"], "…m-k1");
        assert_eq!(closed["data"]["providers"]["c1"]["name"], "n");
        assert!(closed["data"]["providers"]["c1"].get("status").is_none(), "no cooldown known");
    }

    #[test]
    fn a_connection_comes_back_no_newer_than_the_client_pushed_it() {
        let body = json!({"providers": [
            {"id": "omni", "provider": "claude", "authType": "oauth", "accessToken": "at", "refreshToken": "rt", "expiresAt": "2026-12-01T00:00:00Z"},
            {"id": "nine", "provider": "openai", "apiKey": "k", "updatedAt": "2026-01-01T00:00:00.000Z", "lastError": "old"}]});
        for with_secrets in [false, true] {
            let m = merged(body.clone(), with_secrets);
            let none = EdgeState::default();
            for answer in [
                pushed(&view(&m, with_secrets, &none, 1_000_000), &m),
                pulled(&view(&m, with_secrets, &none, 1_000_000)),
            ] {
                let p = &answer["data"]["providers"];
                assert!(p["omni"].get("updatedAt").is_none(), "no time is invented: {answer}");
                assert_eq!(p["nine"]["updatedAt"], "2026-01-01T00:00:00.000Z", "the client's own time, as sent");
                assert_eq!(p["nine"]["lastError"], "old");
            }
        }
    }

    #[test]
    fn a_cooldown_invites_the_merge_only_with_every_field_it_copies() {
        let body = json!({"providers": [{"id": "c1", "provider": "claude", "authType": "oauth", "accessToken": "at", "refreshToken": "rt",
            "expiresAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-11-01T00:00:00Z"}]});
        let edge = EdgeState { cooldowns: vec![cooling("m1.c1", 2_000_000_000_000)], ..Default::default() };
        let now = 1_800_000_000_000;
        let open = merged(body.clone(), true);
        let c = &pushed(&view(&open, true, &edge, now), &open)["data"]["providers"]["c1"];
        for f in MERGED_FIELDS {
            assert!(c.get(*f).is_some(), "{f} is set when the merge is invited: {c}");
        }
        assert_eq!(
            (c["accessToken"].as_str(), c["refreshToken"].as_str()),
            (Some("at"), Some("rt")),
            "the client's own tokens"
        );
        assert_eq!(c["expiresAt"], "2026-12-01T00:00:00Z");
        assert_eq!((c["status"].as_str(), c["errorCode"].as_i64()), (Some("unavailable"), Some(429)));
        assert_eq!(c["updatedAt"], iso(now));
        // Without secrets the answer cannot carry the tokens: it does not look newer.
        let closed = merged(body.clone(), false);
        let c = &pushed(&view(&closed, false, &edge, now), &closed)["data"]["providers"]["c1"];
        assert_eq!(c["updatedAt"], "2026-11-01T00:00:00Z");
        assert!(c.get("accessToken").is_none());
        // Nor when the push left its credentials out: the edge does not know what the client holds.
        let stripped = merged(json!({"providers": [{"id": "c1", "provider": "claude", "authType": "oauth"}]}), true);
        let c = &pushed(&view(&stripped, true, &edge, now), &stripped)["data"]["providers"]["c1"];
        assert!(c.get("updatedAt").is_none(), "{c}");
    }

    #[test]
    fn a_token_the_edge_refreshed_comes_back_newer_with_the_new_tokens() {
        let body = json!({"providers": [{"id": "c1", "provider": "codex", "authType": "oauth", "accessToken": "at-1", "refreshToken": "rt-1",
            "expiresAt": "2026-12-01T00:00:00Z", "updatedAt": "2099-01-01T00:00:00Z"}]});
        let mut m = merged(body.clone(), true);
        let change = json!({"accessToken": "at-2", "refreshToken": "rt-2", "expiresAt": "2026-12-02T00:00:00Z"});
        assert!(record_edge_change(&mut m.machine, &mut m.secrets, "c1", change.as_object().cloned().unwrap(), 50));
        // The client pushes its old copy again: the edge's copy wins and goes back to it.
        let again = merge(&m.machine, &m.secrets, parse(body.to_string().as_bytes()).unwrap(), 60, true, &|k| k.into());
        let none = EdgeState::default();
        let c = &pushed(&view(&again, true, &none, 70), &again)["data"]["providers"]["c1"];
        assert_eq!((c["accessToken"].as_str(), c["refreshToken"].as_str()), (Some("at-2"), Some("rt-2")));
        assert_eq!(c["expiresAt"], "2026-12-02T00:00:00Z");
        assert_eq!(c["status"], "active");
        assert!(
            parse_time(&c["updatedAt"]).unwrap() > parse_time(&json!("2099-01-01T00:00:00Z")).unwrap(),
            "beats a clock ahead"
        );
        // An enrollment without secrets is not told (its client could only take half of it).
        let c = &pushed(&view(&again, false, &none, 70), &again)["data"]["providers"]["c1"];
        assert_eq!(c["updatedAt"], "2099-01-01T00:00:00Z");
        assert!(c.get("accessToken").is_none());
    }

    #[test]
    fn a_key_revoked_at_the_edge_is_answered_inactive() {
        let m = merged(json!({"providers": [], "apiKeys": [{"id": "k1", "key": "sk-1", "isActive": true}]}), false);
        let edge = EdgeState { revoked_keys: [("k1".to_string(), 0)].into(), ..Default::default() };
        let k = &pulled(&view(&m, false, &edge, 1))["data"]["apiKeys"][0];
        assert_eq!((k["isActive"].as_bool(), k["revokedAt"].as_str()), (Some(false), Some("1970-01-01T00:00:00.000Z")));
    }
}
