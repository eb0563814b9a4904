//! What of a synced machine the gateway can serve, as this gateway's own configuration: provider
//! connections, provider nodes, combos, aliases and API keys of the machine's tenant.
//!
//! OmniRoute's ids and fields are mapped onto the catalog: a built-in provider id (or alias) is used
//! as is; an OpenAI- or Anthropic-compatible node (`openai-compatible-chat-<uuid>`) becomes a provider
//! node whose id is the node's `prefix`, which is also what its models are called by
//! (`prefix/model`), and its connections and model names are renamed to it. Whatever cannot be served
//! (an OAuth subscription account, an unknown provider, a Responses-API node, a key the edge cannot
//! restrict as the instance does) is left out here and reported with the reason; the machine's
//! record still holds it and answers it back unchanged. A key's restrictions become the gateway
//! key's access and limits (`sync::keys`).

use super::keys::{self, KeyContext};
use super::machine::{Machine, Secrets};
use crate::config::key_access::KeyAccess;
use crate::limits::KeyLimits;
use crate::net_policy::validate_base_url;
use crate::providers::node::NodeFormat;
use crate::providers::{self, ProviderNode};
use crate::routing::alias;
use crate::routing::combo::{Combo, ComboConfig, ComboTarget};
use crate::routing::strategy::Strategy;
use crate::security::Secret;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A connection ready to store; the caller encrypts `api_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedConnection {
    /// The row id: the machine's id and the connection's own (ids are unique across tenants).
    pub id: String,
    pub provider: String,
    pub name: String,
    pub priority: i64,
    pub is_active: bool,
    /// A built-in provider's base URL as the connection overrides it (`providerSpecificData.baseUrl`).
    pub base_url: Option<String>,
    pub api_key: Secret,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServedKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub key_prefix: String,
    /// The key's restrictions as the gateway's (`sync::keys`).
    pub access: KeyAccess,
    pub limits: KeyLimits,
}

/// Something synced that the edge keeps but does not serve, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unservable {
    pub kind: &'static str,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Served {
    pub connections: Vec<ServedConnection>,
    pub nodes: Vec<ProviderNode>,
    pub combos: Vec<Combo>,
    pub aliases: Vec<(String, String)>,
    pub keys: Vec<ServedKey>,
    pub unservable: Vec<Unservable>,
}

/// The gateway row id of a synced record (connection or key) of `machine`.
pub fn row_id(machine: &str, id: &str) -> String {
    format!("{machine}.{id}")
}

fn text<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

impl Served {
    /// Maps what the machine synced onto the gateway's configuration. `zone_known` says whether
    /// the runtime knows a time zone (a key scheduled in an unknown one is not served).
    pub fn of(
        machine_id: &str,
        m: &Machine,
        secrets: &Secrets,
        allow_private: bool,
        zone_known: &dyn Fn(&str) -> bool,
    ) -> Served {
        let mut out = Served::default();
        let mut renames: BTreeMap<String, String> = BTreeMap::new();
        let mut node_errors: BTreeMap<String, String> = BTreeMap::new();
        for n in &m.provider_nodes {
            let id = text(n, "id").unwrap_or_default().to_string();
            match node(n, allow_private) {
                Ok(node) if out.nodes.iter().any(|o| o.id == node.id) => {
                    let reason = format!("another node already uses the prefix `{}`", node.id);
                    node_errors.insert(id.clone(), reason.clone());
                    out.unservable.push(Unservable { kind: "provider_node", id, reason });
                }
                Ok(node) => {
                    renames.insert(id, node.id.clone());
                    out.nodes.push(node);
                }
                Err(reason) => {
                    node_errors.insert(id.clone(), reason.clone());
                    out.unservable.push(Unservable { kind: "provider_node", id, reason });
                }
            }
        }
        let rename = |model: &str| -> String {
            match model.split_once('/') {
                Some((p, rest)) => match renames.get(p) {
                    Some(prefix) => format!("{prefix}/{rest}"),
                    None => model.to_string(),
                },
                None => model.to_string(),
            }
        };
        for c in &m.providers {
            let creds = secrets.providers.get(&c.id);
            match connection(machine_id, &c.fields, creds, (&renames, &node_errors), allow_private) {
                Ok(conn) => out.connections.push(conn),
                Err(reason) => out.unservable.push(Unservable { kind: "connection", id: c.id.clone(), reason }),
            }
        }
        for c in &m.combos {
            let id = text(c, "name").or_else(|| text(c, "id")).unwrap_or_default().to_string();
            match combo(c, &rename) {
                Ok(combo) => out.combos.push(combo),
                Err(reason) => out.unservable.push(Unservable { kind: "combo", id, reason }),
            }
        }
        for (pattern, target) in &m.model_aliases {
            let target = rename(target.as_str().unwrap_or_default());
            match alias::validate_alias(pattern, &target) {
                Ok(()) => out.aliases.push((pattern.clone(), target)),
                Err(e) => out.unservable.push(Unservable { kind: "alias", id: pattern.clone(), reason: e.message }),
            }
        }
        let combos: Vec<String> = out.combos.iter().map(|c| c.name.clone()).collect();
        let cx = KeyContext { machine_id, renames: &renames, combos: &combos, zone_known };
        for k in &m.api_keys {
            let reason = match (keys::restrictions(&k.fields, &cx), &k.key_hash) {
                (Err(why), _) => format!("{why}; it is not served at the edge"),
                (Ok(_), None) => "the key itself never reached the edge (push it once with the key)".to_string(),
                (Ok((access, limits)), Some(hash)) => {
                    out.keys.push(ServedKey {
                        id: row_id(machine_id, &k.id),
                        name: text(&k.fields, "name").unwrap_or(&k.id).chars().take(100).collect(),
                        key_hash: hash.clone(),
                        key_prefix: k.key_hint.clone().unwrap_or_default(),
                        access,
                        limits,
                    });
                    continue;
                }
            };
            out.unservable.push(Unservable { kind: "api_key", id: k.id.clone(), reason });
        }
        out
    }
}

/// An OmniRoute provider node (`{id, type, prefix, apiType, baseUrl, chatPath}`) as a gateway node.
fn node(n: &Map<String, Value>, allow_private: bool) -> Result<ProviderNode, String> {
    let id = text(n, "id").unwrap_or_default();
    let kind = text(n, "type").unwrap_or(id);
    let format = if kind.starts_with("anthropic") {
        NodeFormat::Anthropic
    } else if kind.starts_with("openai") {
        match text(n, "apiType") {
            None | Some("chat") => NodeFormat::Openai,
            Some(other) => return Err(format!("`{other}` API nodes are not served at the edge yet")),
        }
    } else {
        return Err(format!("unknown node type `{kind}`"));
    };
    let default_path = if format == NodeFormat::Anthropic { "/messages" } else { "/chat/completions" };
    if let Some(path) = text(n, "chatPath").filter(|p| *p != default_path) {
        return Err(format!("a custom chat path (`{path}`) is not supported at the edge"));
    }
    let prefix = text(n, "prefix").ok_or("the node has no `prefix`")?;
    let base_url = text(n, "baseUrl").ok_or("the node has no `baseUrl`")?;
    ProviderNode {
        id: prefix.to_string(),
        name: text(n, "name").map(str::to_string),
        format,
        base_url: base_url.to_string(),
        headers: BTreeMap::new(),
        models: Vec::new(),
    }
    .validate(allow_private)
    .map_err(|e| e.message)
}

fn connection(
    machine_id: &str,
    fields: &Map<String, Value>,
    creds: Option<&Map<String, Value>>,
    (renames, node_errors): (&BTreeMap<String, String>, &BTreeMap<String, String>),
    allow_private: bool,
) -> Result<ServedConnection, String> {
    let id = text(fields, "id").unwrap_or_default();
    let auth = text(fields, "authType").unwrap_or("apikey");
    if !matches!(auth, "apikey" | "api_key" | "api-key") {
        return Err(format!("`{auth}` accounts are kept but not served at the edge yet"));
    }
    let pushed = text(fields, "provider").unwrap_or_default();
    let (provider, base_url) = match (renames.get(pushed), node_errors.get(pushed)) {
        // A node's connections use the node's base URL.
        (Some(prefix), _) => (prefix.clone(), None),
        (None, Some(why)) => return Err(format!("its provider node is not served: {why}")),
        (None, None) => {
            let id = providers::find(pushed)
                .map(|p| p.id.to_string())
                .ok_or_else(|| format!("the provider `{pushed}` is not in this gateway's catalog"))?;
            let custom = creds.and_then(|c| c.get("providerSpecificData")).and_then(Value::as_object);
            let url = custom.and_then(|d| text(d, "baseUrl"));
            (id, url.map(|u| validate_base_url(u, allow_private).map_err(|e| e.message)).transpose()?)
        }
    };
    let api_key = creds
        .and_then(|c| c.get("apiKey"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.contains(char::is_whitespace))
        .ok_or("no API key reached the edge")?;
    let name = ["name", "displayName", "email"].iter().find_map(|f| text(fields, f)).unwrap_or(id);
    Ok(ServedConnection {
        id: row_id(machine_id, id),
        provider,
        name: name.trim().chars().take(100).collect(),
        priority: fields.get("priority").and_then(Value::as_i64).unwrap_or(100).clamp(0, 10_000),
        is_active: fields.get("isActive").and_then(Value::as_bool).unwrap_or(true),
        base_url,
        api_key: Secret::new(api_key),
    })
}

/// An OmniRoute combo: `models` are strings or structured steps (`{kind: "model", provider?,
/// providerId?, model, weight?}`, `{kind: "combo-ref", comboName, weight?}`).
fn combo(c: &Map<String, Value>, rename: &dyn Fn(&str) -> String) -> Result<Combo, String> {
    let name = text(c, "name").ok_or("the combo has no `name`")?;
    if providers::find(name).is_some() {
        return Err(format!("`{name}` is a provider name at the edge"));
    }
    let steps = c.get("models").and_then(Value::as_array).ok_or("the combo has no `models`")?;
    let targets = steps
        .iter()
        .map(|step| match step {
            Value::String(s) => Ok(ComboTarget::new(rename(s))),
            Value::Object(o) => {
                let weight = o.get("weight").and_then(Value::as_u64).map_or(1, |w| w.min(100) as u32);
                let model = if text(o, "kind") == Some("combo-ref") {
                    text(o, "comboName").ok_or("a combo-ref step without `comboName`")?.to_string()
                } else {
                    let model = text(o, "model").ok_or("a step without `model`")?;
                    match text(o, "providerId").or_else(|| text(o, "provider")) {
                        Some(p) if !model.contains('/') => rename(&format!("{p}/{model}")),
                        _ => rename(model),
                    }
                };
                Ok(ComboTarget { model, weight })
            }
            _ => Err("a step that is neither a model name nor an object".to_string()),
        })
        .collect::<Result<Vec<_>, String>>()?;
    let strategy =
        c.get("strategy").cloned().and_then(|s| serde_json::from_value::<Strategy>(s).ok()).unwrap_or_default();
    let cfg = c.get("config").and_then(Value::as_object);
    let num = |key: &str| cfg.and_then(|o| o.get(key)).or_else(|| c.get(key)).and_then(Value::as_u64);
    let defaults = ComboConfig::default();
    let config = ComboConfig {
        max_retries: num("maxRetries").map_or(defaults.max_retries, |v| v.min(10) as u32),
        target_timeout_ms: num("targetTimeoutMs").map_or(defaults.target_timeout_ms, |v| v.clamp(1_000, 600_000)),
        sticky_limit: num("stickyRoundRobinLimit").map_or(defaults.sticky_limit, |v| v.clamp(1, 1000) as u32),
        continue_streams: false,
    };
    let combo = Combo { name: name.to_string(), targets, strategy, config };
    combo.validate().map_err(|e| e.message)?;
    Ok(combo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::machine::merge;
    use crate::sync::wire::parse;
    use serde_json::json;

    fn served(body: Value) -> Served {
        let push = parse(body.to_string().as_bytes()).unwrap();
        let m = merge(&Machine::default(), &Secrets::default(), push, 1, false, &|k| format!("h({k})"));
        Served::of("m1", &m.machine, &m.secrets, false, &|zone| zone == "UTC")
    }

    fn reasons(s: &Served) -> Vec<(&str, &str)> {
        s.unservable.iter().map(|u| (u.kind, u.id.as_str())).collect()
    }

    #[test]
    fn maps_the_captured_omniroute_shape() {
        let node = "openai-compatible-chat-1c9a";
        let s = served(json!({
            "providers": [{"id": "c1", "provider": node, "authType": "apikey", "name": "mock-conn", "priority": 1,
                           "isActive": true, "apiKey": "sk-up", "providerSpecificData": {"prefix": "mock"}}],
            "providerNodes": [{"id": node, "type": "openai-compatible", "name": "Mock", "prefix": "mock", "apiType": "chat",
                               "baseUrl": "https://mock.example.com/v1", "chatPath": null, "modelsPath": null}],
            "modelAliases": {"fast": format!("{node}/gpt-4o-mini"), "gemini-3-pro-high": "antigravity/gemini-3-pro-preview"},
            "combos": [{"name": "duo", "strategy": "round-robin", "models": [format!("{node}/a"),
                {"kind": "model", "providerId": node, "model": "b", "weight": 3}, {"kind": "combo-ref", "comboName": "other"}]}],
            "apiKeys": [{"id": "k1", "name": "bench-key", "key": "sk-m-k1", "allowedModels": [], "isActive": true}]
        }));
        let own = served(json!({"providers": [{"id": "o", "provider": "oai", "apiKey": "k",
            "providerSpecificData": {"baseUrl": "https://proxy.example.com/v1/"}}]}));
        assert_eq!(own.connections[0].provider, "openai", "a built-in's alias");
        assert_eq!(own.connections[0].base_url.as_deref(), Some("https://proxy.example.com/v1"));
        assert_eq!(s.nodes.len(), 1);
        assert_eq!((s.nodes[0].id.as_str(), s.nodes[0].format), ("mock", NodeFormat::Openai));
        let c = &s.connections[0];
        assert_eq!((c.id.as_str(), c.provider.as_str(), c.priority, c.api_key.expose()), ("m1.c1", "mock", 1, "sk-up"));
        assert_eq!(c.base_url, None, "a node's connection uses the node's URL");
        assert_eq!(s.aliases[0], ("fast".to_string(), "mock/gpt-4o-mini".to_string()));
        let targets: Vec<_> = s.combos[0].targets.iter().map(|t| (t.model.as_str(), t.weight)).collect();
        assert_eq!(targets, [("mock/a", 1), ("mock/b", 3), ("other", 1)]);
        assert_eq!(s.combos[0].strategy, Strategy::RoundRobin);
        assert_eq!(s.keys[0].key_hash, "h(sk-m-k1)");
        assert_eq!(s.keys[0].id, "m1.k1");
        assert!(s.unservable.is_empty(), "{:?}", s.unservable);
    }

    #[test]
    fn reports_what_it_cannot_serve() {
        let s = served(json!({
            "providers": [
                {"id": "oauth", "provider": "claude", "authType": "oauth", "accessToken": "at"},
                {"id": "unknown", "provider": "no-such-provider", "apiKey": "k"},
                {"id": "nokey", "provider": "openai"},
                {"id": "viaresp", "provider": "openai-compatible-responses-x", "apiKey": "k"},
                {"id": "ok", "provider": "openai", "apiKey": "k"},
                {"id": "lan", "provider": "openai", "apiKey": "k", "providerSpecificData": {"baseUrl": "http://192.168.1.2/v1"}},
            ],
            "providerNodes": [{"id": "openai-compatible-responses-x", "type": "openai-compatible", "prefix": "r",
                               "apiType": "responses", "baseUrl": "https://r.example.com/v1"}],
            "combos": [{"name": "openai", "models": ["a/b"]}, {"name": "bad name", "models": ["a/b"]}, {"name": "empty", "models": []}],
            "modelAliases": {"self": "self"},
            "apiKeys": [{"id": "sessions", "key": "sk-r", "maxSessions": 2}, {"id": "stripped"}, {"id": "off", "key": "sk-o", "isActive": false}]
        }));
        assert_eq!(s.connections.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["m1.ok"]);
        assert_eq!(
            reasons(&s),
            [
                ("provider_node", "openai-compatible-responses-x"),
                ("connection", "oauth"),
                ("connection", "unknown"),
                ("connection", "nokey"),
                ("connection", "viaresp"),
                ("connection", "lan"),
                ("combo", "openai"),
                ("combo", "bad name"),
                ("combo", "empty"),
                ("alias", "self"),
                ("api_key", "sessions"),
                ("api_key", "stripped"),
            ]
        );
        let off: Vec<_> = s.keys.iter().map(|k| (k.id.as_str(), k.access.enabled)).collect();
        assert_eq!(off, [("m1.off", false)], "an inactive key is kept, disabled");
        assert!(s.unservable[10].reason.contains("`maxSessions`, which the edge cannot enforce"));
    }

    #[test]
    fn restricted_keys_are_served_with_their_scopes_limits_and_schedule_in_edge_names() {
        let node = "openai-compatible-chat-1c9a";
        let schedule =
            |tz: &str| json!({"enabled": true, "from": "09:00", "until": "17:00", "days": [1, 2, 3, 4, 5], "tz": tz});
        let s = served(json!({
            "providers": [{"id": "c1", "provider": node, "apiKey": "sk-up"}],
            "providerNodes": [{"id": node, "type": "openai-compatible", "prefix": "mock", "baseUrl": "https://mock.example.com/v1"}],
            "combos": [{"name": "duo", "models": [format!("{node}/a")]}, {"name": "solo", "models": ["openai/gpt-4o"]}],
            "apiKeys": [
                {"id": "k1", "key": "sk-1", "allowedModels": [format!("{node}/*"), "openai/gpt-4o"], "allowedConnections": ["c1"],
                 "maxRequestsPerMinute": 5, "maxRequestsPerDay": 50, "accessSchedule": schedule("UTC")},
                {"id": "k2", "key": "sk-2", "allowedCombos": ["duo"]},
                {"id": "k3", "key": "sk-3", "accessSchedule": schedule("Mars/Olympus")},
            ]
        }));
        let k1 = &s.keys[0];
        assert_eq!(k1.access.scopes.models, ["mock/*", "openai/gpt-4o"]);
        assert_eq!(k1.access.scopes.connections, ["m1.c1"]);
        assert_eq!((k1.limits.requests_per_minute, k1.limits.requests_per_day), (Some(5), Some(50)));
        assert_eq!(k1.access.schedule.as_ref().map(|s| s.time_zone.as_str()), Some("UTC"));
        assert_eq!(s.keys[1].access.scopes.models, ["!solo"]);
        assert_eq!(reasons(&s), [("api_key", "k3")]);
        assert!(s.unservable[0].reason.contains("`Mars/Olympus`, which is unknown here"), "{}", s.unservable[0].reason);
    }

    #[test]
    fn a_node_must_have_a_safe_base_url_and_a_fresh_prefix() {
        let node = |id: &str, prefix: &str, url: &str| json!({"id": id, "type": "openai-compatible", "prefix": prefix, "baseUrl": url});
        let body = json!({"providers": [], "providerNodes": [
            node("n1", "lab", "https://lab.example.com/v1"), node("n2", "lab", "https://other.example.com/v1"),
            node("n3", "openai", "https://x.example.com/v1"), node("n4", "priv", "http://10.0.0.1/v1")]});
        let push = parse(body.to_string().as_bytes()).unwrap();
        let m = merge(&Machine::default(), &Secrets::default(), push, 1, false, &|k| k.to_string());
        let s = Served::of("m1", &m.machine, &m.secrets, false, &|_| true);
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(reasons(&s), [("provider_node", "n2"), ("provider_node", "n3"), ("provider_node", "n4")]);
    }
}
