//! What the edge keeps per synced machine, and how a push merges into it (docs/cloud-sync.md,
//! "Merge rules").
//!
//! The record ([`Machine`]) holds everything the client pushed except credentials; those live in
//! [`Secrets`], which the platform stores encrypted as one blob. The rules:
//! - A connection's public fields come from the push: the local instance is where users edit.
//! - Credentials the push carries replace the stored ones field by field; credentials it leaves out
//!   (newer clients strip them by default) are kept.
//! - When the edge itself changed a connection's credentials (a token refresh) after the last push,
//!   the edge's copy wins as long as the client still sends what it had before that change (or
//!   nothing): it is reported in `fromWorker`. If the user changed them locally since, the local copy
//!   wins. This is a three-way merge on a fingerprint of the credentials, not on clocks.
//! - Connections absent from the push are deleted (deletion by omission), credentials included.
//! - Aliases, combos, keys, provider nodes and settings are replaced as a whole when the push has
//!   the section, and kept when it does not.

use super::wire::{Key, Push, SECRET_FIELDS};
use crate::security::to_hex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    #[serde(default)]
    pub providers: Vec<StoredConnection>,
    #[serde(default)]
    pub provider_nodes: Vec<Map<String, Value>>,
    #[serde(default)]
    pub model_aliases: Map<String, Value>,
    #[serde(default)]
    pub combos: Vec<Map<String, Value>>,
    #[serde(default)]
    pub api_keys: Vec<StoredKey>,
    #[serde(default)]
    pub settings: Map<String, Value>,
    #[serde(default)]
    pub version: Option<String>,
    /// When the last push was applied (ms).
    #[serde(default)]
    pub synced_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConnection {
    pub id: String,
    /// As pushed, without credentials.
    pub fields: Map<String, Value>,
    /// When this copy last changed: the push that brought it, or the edge's own change (ms).
    pub updated_at: i64,
    #[serde(default)]
    pub edge_change: Option<EdgeChange>,
}

/// The edge changed a connection's credentials itself (e.g. refreshed a token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeChange {
    pub at: i64,
    /// [`fingerprint`] of the credentials before the change: what a client that has not seen it sends.
    pub base: String,
    /// Public fields the change set with the credentials (a refresh's `expiresAt`, `expiresIn`).
    #[serde(default)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKey {
    pub id: String,
    /// As pushed, without the key.
    pub fields: Map<String, Value>,
    /// The key's HMAC (as in `api_keys.key_hash`); `None` if the key never reached the edge.
    pub key_hash: Option<String>,
    pub key_hint: Option<String>,
}

/// A machine's credentials, stored encrypted. No `Debug`: it would print them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Secrets {
    /// Connection id → its secret fields.
    #[serde(default)]
    pub providers: BTreeMap<String, Map<String, Value>>,
    /// Key id → plaintext key, only for enrollments allowed to get secrets back.
    #[serde(default)]
    pub api_keys: BTreeMap<String, String>,
}

/// `changes` of the answer: ids whose local copy was taken, ids where the edge's copy won.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    pub updated: Vec<String>,
    #[serde(rename = "fromWorker")]
    pub from_worker: Vec<String>,
}

pub struct Merged {
    pub machine: Machine,
    pub secrets: Secrets,
    pub changes: Changes,
    /// Each connection as this push carried it: what the client holds right now.
    pub pushed: BTreeMap<String, Pushed>,
}

/// A connection exactly as the client pushed it, public fields and credentials apart.
#[derive(Clone, Default, PartialEq)]
pub struct Pushed {
    pub fields: Map<String, Value>,
    pub secrets: Map<String, Value>,
}

/// A stable digest of a connection's credentials (keys are sorted: `serde_json::Map` is ordered).
pub fn fingerprint(secrets: &Map<String, Value>) -> String {
    to_hex(&Sha256::digest(Value::Object(secrets.clone()).to_string().as_bytes()))
}

/// Applies `push` to what the edge holds. `keep_keys`: keep API keys in plaintext (encrypted) so
/// they can be answered back; otherwise only their HMAC (`hash_key`) is kept.
pub fn merge(
    stored: &Machine,
    stored_secrets: &Secrets,
    push: Push,
    now: i64,
    keep_keys: bool,
    hash_key: &dyn Fn(&str) -> String,
) -> Merged {
    let mut changes = Changes::default();
    let mut secrets = Secrets::default();
    let mut providers = Vec::with_capacity(push.providers.len());
    let mut pushed = BTreeMap::new();
    for c in push.providers {
        pushed.insert(c.id.clone(), Pushed { fields: c.fields.clone(), secrets: c.secrets.clone() });
        let old = stored.providers.iter().find(|o| o.id == c.id);
        let old_secrets = stored_secrets.providers.get(&c.id).cloned().unwrap_or_default();
        let edge = old.and_then(|o| o.edge_change.clone());
        let edge_wins = edge.as_ref().is_some_and(|e| c.secrets.is_empty() || fingerprint(&c.secrets) == e.base);
        let (creds, updated_at, edge_change) = match edge {
            Some(e) if edge_wins => {
                changes.from_worker.push(c.id.clone());
                (old_secrets, e.at, Some(e))
            }
            _ => {
                changes.updated.push(c.id.clone());
                let mut creds = old_secrets;
                creds.extend(c.secrets);
                (creds, now, None)
            }
        };
        if !creds.is_empty() {
            secrets.providers.insert(c.id.clone(), creds);
        }
        providers.push(StoredConnection { id: c.id, fields: c.fields, updated_at, edge_change });
    }
    let api_keys = match push.api_keys {
        Some(keys) => {
            keys.into_iter().map(|k| merge_key(k, stored, stored_secrets, keep_keys, hash_key, &mut secrets)).collect()
        }
        None => {
            if keep_keys {
                secrets.api_keys = stored_secrets.api_keys.clone();
            }
            stored.api_keys.clone()
        }
    };
    let machine = Machine {
        providers,
        provider_nodes: push.provider_nodes.unwrap_or_else(|| stored.provider_nodes.clone()),
        model_aliases: push.model_aliases.unwrap_or_else(|| stored.model_aliases.clone()),
        combos: push.combos.unwrap_or_else(|| stored.combos.clone()),
        api_keys,
        settings: push.settings.unwrap_or_else(|| stored.settings.clone()),
        version: push.version.or_else(|| stored.version.clone()),
        synced_at: now,
    };
    Merged { machine, secrets, changes, pushed }
}

/// A pushed key: the key it carries, else (a stripped bundle) the one stored under its id.
fn merge_key(
    k: Key,
    stored: &Machine,
    stored_secrets: &Secrets,
    keep_keys: bool,
    hash_key: &dyn Fn(&str) -> String,
    secrets: &mut Secrets,
) -> StoredKey {
    let old = stored.api_keys.iter().find(|o| o.id == k.id);
    let (key_hash, key_hint, plain) = match &k.key {
        Some(key) => (Some(hash_key(key.expose())), Some(key.hint()), Some(key.expose().to_string())),
        None => (
            old.and_then(|o| o.key_hash.clone()),
            old.and_then(|o| o.key_hint.clone()),
            stored_secrets.api_keys.get(&k.id).cloned(),
        ),
    };
    if let (true, Some(plain)) = (keep_keys, plain) {
        secrets.api_keys.insert(k.id.clone(), plain);
    }
    StoredKey { id: k.id, fields: k.fields, key_hash, key_hint }
}

/// Records that the edge changed a connection's credentials itself (a token refresh), so that the
/// next push from a client that has not seen the change does not undo it. `changed` holds the new
/// credentials and any public fields that go with them (`expiresAt`, `expiresIn`).
pub fn record_edge_change(
    machine: &mut Machine,
    secrets: &mut Secrets,
    id: &str,
    changed: Map<String, Value>,
    now: i64,
) -> bool {
    let Some(conn) = machine.providers.iter_mut().find(|c| c.id == id) else { return false };
    let creds = secrets.providers.entry(id.to_string()).or_default();
    // The base stays the client's last known copy across several edge changes in a row.
    let (base, mut fields) = match conn.edge_change.take() {
        Some(e) => (e.base, e.fields),
        None => (fingerprint(creds), Map::new()),
    };
    for (name, value) in changed {
        if SECRET_FIELDS.contains(&name.as_str()) {
            creds.insert(name, value);
        } else {
            fields.insert(name, value);
        }
    }
    conn.edge_change = Some(EdgeChange { at: now, base, fields });
    conn.updated_at = now;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::wire::parse;
    use serde_json::json;

    fn push(v: Value) -> Push {
        parse(v.to_string().as_bytes()).unwrap()
    }
    /// Stands in for the HMAC: deterministic, and not containing the key.
    fn hash(k: &str) -> String {
        format!("h:{}", k.chars().rev().collect::<String>())
    }
    fn creds(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn first() -> Merged {
        let p = push(json!({
            "providers": [{"id": "c1", "provider": "claude", "authType": "oauth", "accessToken": "at-1", "refreshToken": "rt-1"},
                          {"id": "c2", "provider": "openai", "apiKey": "sk-2"}],
            "modelAliases": {"fast": "openai/gpt-4o-mini"},
            "combos": [{"name": "c", "models": ["openai/gpt-4o"]}],
            "apiKeys": [{"id": "k1", "name": "n", "key": "sk-m-k1"}],
            "settings": {"a": 1}
        }));
        merge(&Machine::default(), &Secrets::default(), p, 100, false, &hash)
    }

    #[test]
    fn a_first_push_takes_everything_and_splits_secrets() {
        let m = first();
        assert_eq!(m.changes.updated, ["c1", "c2"]);
        assert!(m.changes.from_worker.is_empty());
        assert_eq!(m.secrets.providers["c2"], creds(json!({"apiKey": "sk-2"})));
        assert_eq!(m.machine.api_keys[0].key_hash.as_deref(), Some("h:1k-m-ks"));
        assert!(m.secrets.api_keys.is_empty(), "keys kept as HMAC only");
        let stored = serde_json::to_string(&m.machine).unwrap();
        for secret in ["at-1", "rt-1", "sk-2", "sk-m-k1"] {
            assert!(!stored.contains(secret), "{secret} must not be in the plain record");
        }
    }

    #[test]
    fn omitted_sections_are_kept_given_ones_replaced_and_missing_connections_deleted() {
        let m = first();
        let next = push(json!({"providers": [{"id": "c2", "provider": "openai", "apiKey": "sk-2b"}], "combos": []}));
        let n = merge(&m.machine, &m.secrets, next, 200, false, &hash);
        assert_eq!(n.machine.providers.len(), 1, "c1 deleted by omission");
        assert!(!n.secrets.providers.contains_key("c1"), "with its credentials");
        assert_eq!(n.secrets.providers["c2"]["apiKey"], "sk-2b");
        assert!(n.machine.combos.is_empty(), "combos replaced as a whole");
        assert_eq!(n.machine.model_aliases, m.machine.model_aliases, "aliases kept");
        assert_eq!(n.machine.api_keys, m.machine.api_keys, "keys kept");
        assert_eq!(n.machine.settings, m.machine.settings);
        assert_eq!(n.machine.synced_at, 200);
    }

    #[test]
    fn a_stripped_push_keeps_stored_credentials() {
        let m = first();
        let stripped = push(json!({
            "providers": [{"id": "c1", "provider": "claude", "authType": "oauth"}, {"id": "c2", "provider": "openai", "name": "renamed"}],
            "apiKeys": [{"id": "k1", "name": "n2"}]
        }));
        let n = merge(&m.machine, &m.secrets, stripped, 200, false, &hash);
        assert!(n.secrets == m.secrets, "credentials kept");
        assert_eq!(n.machine.providers[1].fields["name"], "renamed");
        assert_eq!(n.machine.api_keys[0].key_hash.as_deref(), Some("h:1k-m-ks"));
        assert_eq!(n.machine.api_keys[0].fields["name"], "n2");
    }

    #[test]
    fn an_edge_refresh_survives_a_stale_push_but_not_a_local_edit() {
        let mut m = first();
        assert!(record_edge_change(
            &mut m.machine,
            &mut m.secrets,
            "c1",
            creds(json!({"accessToken": "at-edge"})),
            150
        ));
        // The client still has at-1/rt-1: the edge's refresh wins and is reported.
        let stale =
            json!({"providers": [{"id": "c1", "provider": "claude", "accessToken": "at-1", "refreshToken": "rt-1"}]});
        let n = merge(&m.machine, &m.secrets, push(stale.clone()), 200, false, &hash);
        assert_eq!(n.changes.from_worker, ["c1"]);
        assert_eq!(n.secrets.providers["c1"]["accessToken"], "at-edge");
        assert_eq!(n.machine.providers[0].updated_at, 150);
        // And again on the next stale push (the base is remembered).
        let again = merge(&n.machine, &n.secrets, push(stale), 300, false, &hash);
        assert_eq!(again.changes.from_worker, ["c1"]);
        // The user logged in again locally: their new tokens win.
        let edited =
            json!({"providers": [{"id": "c1", "provider": "claude", "accessToken": "at-2", "refreshToken": "rt-2"}]});
        let e = merge(&again.machine, &again.secrets, push(edited), 400, false, &hash);
        assert_eq!(e.changes.updated, ["c1"]);
        assert_eq!(e.secrets.providers["c1"]["accessToken"], "at-2");
        assert_eq!(e.machine.providers[0].edge_change, None);
        assert!(!record_edge_change(&mut m.machine, &mut m.secrets, "nope", Map::new(), 1));
    }

    #[test]
    fn keys_are_kept_in_plaintext_only_when_allowed() {
        let p = push(json!({"providers": [], "apiKeys": [{"id": "k1", "key": "sk-m-k1"}]}));
        let m = merge(&Machine::default(), &Secrets::default(), p, 1, true, &hash);
        assert_eq!(m.secrets.api_keys["k1"], "sk-m-k1");
        let stripped = push(json!({"providers": [], "apiKeys": [{"id": "k1"}]}));
        let n = merge(&m.machine, &m.secrets, stripped, 2, true, &hash);
        assert_eq!(n.secrets.api_keys["k1"], "sk-m-k1");
    }

    proptest::proptest! {
        /// Every pushed connection is reported exactly once, and the result holds exactly the pushed ids.
        #[test]
        fn each_pushed_connection_is_reported_once(ids in proptest::collection::btree_set("[a-z]{1,4}", 0..8), stored_ids in proptest::collection::btree_set("[a-z]{1,4}", 0..8)) {
            let stored_push = push(json!({"providers": stored_ids.iter().map(|i| json!({"id": i, "provider": "p", "apiKey": "k"})).collect::<Vec<_>>()}));
            let base = merge(&Machine::default(), &Secrets::default(), stored_push, 1, false, &hash);
            let p = push(json!({"providers": ids.iter().map(|i| json!({"id": i, "provider": "p"})).collect::<Vec<_>>()}));
            let m = merge(&base.machine, &base.secrets, p, 2, false, &hash);
            let mut reported: Vec<String> = m.changes.updated.iter().chain(&m.changes.from_worker).cloned().collect();
            reported.sort();
            let want: Vec<String> = ids.iter().cloned().collect();
            proptest::prop_assert_eq!(&reported, &want);
            let held: Vec<String> = m.machine.providers.iter().map(|c| c.id.clone()).collect();
            proptest::prop_assert_eq!(held, want);
            for id in m.secrets.providers.keys() {
                proptest::prop_assert!(ids.contains(id) && stored_ids.contains(id));
            }
        }
    }
}
