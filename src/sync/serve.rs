//! What of a synced machine the gateway can serve, as this gateway's own configuration: provider
//! connections, provider nodes, combos, aliases and API keys of the machine's tenant.
//!
//! OmniRoute's ids and fields are mapped onto the catalog: a built-in provider id (or alias) is used
//! as is; an OpenAI- (Chat Completions or Responses) or Anthropic-compatible node
//! (`openai-compatible-chat-<uuid>`) becomes a provider node whose id is the node's `prefix`, which is
//! also what its models are called by (`prefix/model`), with its own chat path if it has one; its
//! connections and model names are renamed to it. Whatever cannot be served
//! (an OAuth subscription account, an unknown provider, a node with an unsafe base URL or chat path,
//! a key the edge cannot restrict as the instance does) is left out here and reported with the
//! reason; the machine's record still holds it and answers it back unchanged. A key's restrictions
//! become the gateway key's access and limits (`sync::keys`).
//!
//! A combo or alias none of whose targets this machine can serve (OmniRoute seeds `antigravity/*`
//! aliases, a provider the edge does not have) is still stored, so that it works as soon as its
//! provider is served (a later push, or a gateway whose catalog gained the provider), and a request
//! for it gets a 404 naming the target rather than an unknown name; but it is not counted as served
//! and is listed as unservable with the reason. The verdict is `engine::models_list`'s, the one that
//! decides what `GET /v1/models` lists, so the status and the list agree.

use super::keys::{self, KeyContext};
use super::machine::{Machine, Secrets};
use crate::config::key_access::KeyAccess;
use crate::config::{ConnectionRecord, TenantSnapshot};
use crate::engine::models_list::why_unservable;
use crate::limits::{ConnectionLimits, KeyLimits};
use crate::net_policy::validate_base_url;
use crate::providers::node::NodeFormat;
use crate::providers::{self, ProviderNode};
use crate::routing::alias::{self, Aliases};
use crate::routing::combo::{self, Combo, ComboConfig, ComboTarget};
use crate::routing::strategy::Strategy;
use crate::security::names;
use crate::security::Secret;
use crate::time::iso;
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

impl ServedConnection {
    /// The connection as stored, its key as `api_key_enc` (ciphertext, or nothing when only routing
    /// is asked of it).
    pub fn record(&self, api_key_enc: String, now: i64) -> ConnectionRecord {
        ConnectionRecord {
            id: self.id.clone(),
            provider: self.provider.clone(),
            name: self.name.clone(),
            priority: self.priority,
            is_active: self.is_active,
            base_url: self.base_url.clone(),
            api_key_enc,
            api_key_hint: self.api_key.hint(),
            created_at: now,
            updated_at: now,
            limits: ConnectionLimits::default(),
        }
    }
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
        out.leave_out_cycles();
        out.report_unservable_targets(machine_id);
        let combos: Vec<String> = out.combos.iter().map(|c| c.name.clone()).collect();
        let cx = KeyContext { machine_id, renames: &renames, combos: &combos, zone_known };
        for k in &m.api_keys {
            let reason = match (keys::restrictions(&k.fields, &cx), &k.key_hash) {
                (Err(why), _) => format!("{why}; it is not served at the edge"),
                (Ok(_), None) => "the key itself never reached the edge (push it once with the key)".to_string(),
                (Ok((access, limits)), Some(hash)) => {
                    out.keys.push(ServedKey {
                        id: row_id(machine_id, &k.id),
                        name: names::visible(text(&k.fields, "name").unwrap_or(&k.id)).chars().take(100).collect(),
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

    /// Leaves out (and reports) the combos and aliases on a cycle: unlike an unserved target, a
    /// cycle never becomes servable, and the admin API and imports refuse them. A push is not
    /// refused for it (OmniRoute accepts it); the machine's record keeps them as pushed.
    fn leave_out_cycles(&mut self) {
        while let Some(cycle) = combo::find_cycle(&self.combos) {
            let reason = format!("the combos name each other in a cycle: {}", cycle.join(" -> "));
            let (on, off): (Vec<Combo>, Vec<Combo>) =
                std::mem::take(&mut self.combos).into_iter().partition(|c| cycle.contains(&c.name));
            self.combos = off;
            let found = on.into_iter().map(|c| Unservable { kind: "combo", id: c.name, reason: reason.clone() });
            self.unservable.extend(found);
        }
        while let Some(cycle) = Aliases::new(self.aliases.iter().cloned()).find_loop() {
            let reason = format!("the aliases lead back to one another: {}", cycle.join(" -> "));
            // The aliases that make its steps: from a name on it (or a pattern matching one) to the next.
            let step = |(pattern, target): &(String, String)| {
                cycle.contains(target) && cycle.iter().any(|n| n == pattern || alias::glob_match(pattern, n))
            };
            let (on, off): (Vec<_>, Vec<_>) = std::mem::take(&mut self.aliases).into_iter().partition(step);
            self.aliases = off;
            let found = on.into_iter().map(|(p, _)| Unservable { kind: "alias", id: p, reason: reason.clone() });
            self.unservable.extend(found);
        }
    }

    /// Lists the stored combos and aliases whose targets this machine cannot serve (they stay
    /// stored; see the module's comment). An alias pattern is judged by its target.
    fn report_unservable_targets(&mut self, machine_id: &str) {
        let tenant = self.tenant(machine_id);
        let combos = self.combos.iter().map(|c| ("combo", c.name.as_str(), c.name.as_str()));
        let aliases = self.aliases.iter().map(|(pattern, target)| {
            let name = if alias::has_wildcard(pattern) { target } else { pattern };
            ("alias", pattern.as_str(), name.as_str())
        });
        let found: Vec<Unservable> = combos
            .chain(aliases)
            .filter_map(|(kind, id, name)| {
                why_unservable(&tenant, name).map(|reason| Unservable { kind, id: id.to_string(), reason })
            })
            .collect();
        self.unservable.extend(found);
    }

    /// The machine's tenant as requests will see it once stored (credentials left out).
    fn tenant(&self, machine_id: &str) -> TenantSnapshot {
        TenantSnapshot {
            tenant: machine_id.to_string(),
            connections: self.connections.iter().map(|c| c.record(String::new(), 0)).collect(),
            combos: self.combos.clone(),
            aliases: Aliases::new(self.aliases.iter().cloned()),
            nodes: self.nodes.clone(),
            ..TenantSnapshot::default()
        }
    }

    /// How many stored rows of `kind` (`combo`, `alias`) among `ids` are served: not listed as
    /// unservable.
    pub fn served_count<'a>(&self, kind: &str, ids: impl Iterator<Item = &'a str>) -> usize {
        ids.filter(|id| !self.unservable.iter().any(|u| u.kind == kind && u.id == *id)).count()
    }
}

/// A secret revoked at the edge (`revoked_keys`): its hash, the row it was revoked as, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Revoked {
    pub key_hash: String,
    pub row_id: String,
    pub at: i64,
}

/// The machine's keys that were revoked at the edge, by their row or by their secret (revoked in any
/// tenant): the client's key id and when. A push cannot bring them back.
pub fn revoked_keys(machine_id: &str, m: &Machine, revoked: &[Revoked]) -> BTreeMap<String, i64> {
    m.api_keys
        .iter()
        .filter_map(|k| {
            let row = row_id(machine_id, &k.id);
            let hit = revoked.iter().find(|r| r.row_id == row || k.key_hash.as_deref() == Some(r.key_hash.as_str()))?;
            Some((k.id.clone(), hit.at))
        })
        .collect()
}

impl Served {
    /// Takes the keys revoked at the edge (from [`revoked_keys`]) out of what is served.
    pub fn withdraw_revoked(&mut self, machine_id: &str, revoked: &BTreeMap<String, i64>) {
        for (id, at) in revoked {
            let row = row_id(machine_id, id);
            self.keys.retain(|k| k.id != row);
            let reason = format!("the key was revoked at the edge ({}); a push cannot bring it back", iso(*at));
            self.unservable.retain(|u| !(u.kind == "api_key" && u.id == *id));
            self.unservable.push(Unservable { kind: "api_key", id: id.clone(), reason });
        }
    }
}

/// An OmniRoute provider node (`{id, type, prefix, apiType, baseUrl, chatPath}`) as a gateway node:
/// `apiType` picks Chat Completions or Responses, `chatPath` the node's own request path.
fn node(n: &Map<String, Value>, allow_private: bool) -> Result<ProviderNode, String> {
    let id = text(n, "id").unwrap_or_default();
    let kind = text(n, "type").unwrap_or(id);
    let format = if kind.starts_with("anthropic") {
        NodeFormat::Anthropic
    } else if kind.starts_with("openai") {
        match text(n, "apiType") {
            None | Some("chat") => NodeFormat::Openai,
            Some("responses") => NodeFormat::OpenaiResponses,
            Some(other) => return Err(format!("`{other}` API nodes are not served at the edge")),
        }
    } else {
        return Err(format!("unknown node type `{kind}`"));
    };
    let prefix = text(n, "prefix").ok_or("the node has no `prefix`")?;
    let base_url = text(n, "baseUrl").ok_or("the node has no `baseUrl`")?;
    ProviderNode {
        id: prefix.to_string(),
        name: text(n, "name").map(str::to_string),
        format,
        base_url: base_url.to_string(),
        chat_path: text(n, "chatPath").map(str::to_string),
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
        name: names::visible(name.trim()).chars().take(100).collect(),
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
        assert_eq!(reasons(&s), [("alias", "gemini-3-pro-high")], "`antigravity` is not served: {:?}", s.unservable);
    }

    /// The first push the unmodified OmniRoute 3.7.9 sent (tests/fixtures), as a body.
    fn captured_push() -> Value {
        let capture: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/omniroute-3.7.9-sync-capture.json")).unwrap();
        let requests = capture["requests"].as_array().unwrap();
        let push = requests.iter().find(|r| r["method"] == "POST").unwrap();
        serde_json::from_str(push["body_raw"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn the_seeded_antigravity_aliases_are_kept_but_reported_unservable_naming_their_target() {
        // The capture's node URL is a loopback one; this test is about aliases, not URLs.
        let push = merge(
            &Machine::default(),
            &Secrets::default(),
            parse(captured_push().to_string().as_bytes()).unwrap(),
            1,
            false,
            &|k| k.to_string(),
        );
        let s = Served::of("m1", &push.machine, &push.secrets, true, &|_| true);
        assert_eq!(s.aliases.len(), 6, "stored, to work once `antigravity` is served");
        assert_eq!(s.unservable.len(), 6, "{:?}", s.unservable);
        for u in &s.unservable {
            assert_eq!(u.kind, "alias");
            let target = push.machine.model_aliases[&u.id].as_str().unwrap();
            assert!(u.reason.contains(&format!("`{target}`: `antigravity` is not a provider")), "{}", u.reason);
        }
        let status = crate::sync::store::status(&push.machine, &s);
        assert_eq!((status["synced"]["aliases"].as_u64(), status["served"]["aliases"].as_u64()), (Some(6), Some(0)));
        assert_eq!(status["served"]["connections"], 1);
    }

    #[test]
    fn pushed_names_lose_their_control_and_bidi_characters() {
        let s = served(json!({
            "providers": [{"id": "o", "provider": "openai", "apiKey": "k", "name": "main\u{202E}\u{0}"}],
            "apiKeys": [{"id": "k1", "name": "ci\u{200B}key", "key": "sk-m-k1"}],
            "modelAliases": {"fast\u{202E}": "openai/gpt-4o"}
        }));
        assert_eq!(s.connections[0].name, "main");
        assert_eq!(s.keys[0].name, "cikey");
        assert!(s.aliases.is_empty(), "an alias pattern is not rewritten: it is reported");
        assert!(reasons(&s).contains(&("alias", "fast\u{202E}")), "{:?}", s.unservable);
    }

    #[test]
    fn combos_and_aliases_count_as_served_only_when_a_target_can_be_served() {
        let s = served(json!({
            "providers": [{"id": "o", "provider": "openai", "apiKey": "k"},
                          {"id": "off", "provider": "groq", "apiKey": "k", "isActive": false}],
            "combos": [
                {"name": "ok", "models": ["openai/gpt-4o", "antigravity/x"]},
                {"name": "idle", "models": ["groq/llama-3.3-70b-versatile"]},
                {"name": "dangling", "models": [{"kind": "combo-ref", "comboName": "missing"}]},
                {"name": "via-bad", "models": [{"kind": "combo-ref", "comboName": "idle"}]},
                {"name": "via-good", "models": [{"kind": "combo-ref", "comboName": "idle"}, {"kind": "combo-ref", "comboName": "ok"}]},
                {"name": "ping", "models": [{"kind": "combo-ref", "comboName": "pong"}]},
                {"name": "pong", "models": [{"kind": "combo-ref", "comboName": "ping"}]}
            ],
            "modelAliases": {"to-ok": "ok", "to-idle": "idle", "to-nothing": "no-such-combo",
                             "hop": "to-ok", "gpt-*": "antigravity/x", "o-*": "openai/gpt-4o",
                             "loop-a": "loop-b", "loop-b": "loop-a"}
        }));
        let why = |kind: &str, id: &str| {
            s.unservable.iter().find(|u| u.kind == kind && u.id == id).map(|u| u.reason.as_str())
        };
        for ok in ["ok", "via-good"] {
            assert_eq!(why("combo", ok), None, "{ok}");
        }
        for ok in ["to-ok", "hop", "o-*"] {
            assert_eq!(why("alias", ok), None, "{ok}");
        }
        assert!(why("combo", "idle").unwrap().contains("no active connection of `groq`"));
        assert!(why("combo", "dangling").unwrap().contains("`missing`"));
        assert!(why("combo", "via-bad").unwrap().contains("`groq/llama-3.3-70b-versatile`"));
        for (kind, id) in [("combo", "ping"), ("combo", "pong")] {
            assert!(why(kind, id).unwrap().contains("cycle: ping -> pong -> ping"), "{:?}", why(kind, id));
        }
        for id in ["loop-a", "loop-b"] {
            assert!(why("alias", id).unwrap().contains("loop-a -> loop-b -> loop-a"), "{:?}", why("alias", id));
        }
        assert!(why("alias", "to-idle").unwrap().contains("groq"));
        assert!(why("alias", "to-nothing").unwrap().contains("`no-such-combo`"));
        assert!(why("alias", "gpt-*").unwrap().contains("`antigravity`"), "a pattern is judged by its target");
        assert_eq!((s.combos.len(), s.aliases.len()), (5, 6), "stored, but for the cycles");
        let status = crate::sync::store::status(&Machine::default(), &s);
        assert_eq!((status["served"]["combos"].as_u64(), status["served"]["aliases"].as_u64()), (Some(2), Some(3)));
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
                               "apiType": "responses", "baseUrl": "https://r.example.com/v1"},
                              {"id": "rt", "type": "openai-compatible", "prefix": "rt", "apiType": "realtime", "baseUrl": "https://rt.example.com"},
                              {"id": "up", "type": "openai-compatible", "prefix": "up", "chatPath": "/../admin", "baseUrl": "https://up.example.com"}],
            "combos": [{"name": "openai", "models": ["a/b"]}, {"name": "bad name", "models": ["a/b"]}, {"name": "empty", "models": []}],
            "modelAliases": {"self": "self"},
            "apiKeys": [{"id": "sessions", "key": "sk-r", "maxSessions": 2}, {"id": "stripped"}, {"id": "off", "key": "sk-o", "isActive": false}]
        }));
        assert_eq!(s.connections.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["m1.viaresp", "m1.ok"]);
        assert_eq!(
            (s.nodes[0].id.as_str(), s.nodes[0].format),
            ("r", NodeFormat::OpenaiResponses),
            "a Responses node is served"
        );
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(
            reasons(&s),
            [
                ("provider_node", "rt"),
                ("provider_node", "up"),
                ("connection", "oauth"),
                ("connection", "unknown"),
                ("connection", "nokey"),
                ("connection", "lan"),
                ("combo", "openai"),
                ("combo", "bad name"),
                ("combo", "empty"),
                ("alias", "self"),
                ("api_key", "sessions"),
                ("api_key", "stripped"),
            ]
        );
        assert!(s.unservable[1].reason.contains("chat_path"), "{}", s.unservable[1].reason);
        let off: Vec<_> = s.keys.iter().map(|k| (k.id.as_str(), k.access.enabled)).collect();
        assert_eq!(off, [("m1.off", false)], "an inactive key is kept, disabled");
        assert!(s.unservable[10].reason.contains("`maxSessions`, which the edge cannot enforce"));
    }

    #[test]
    fn a_node_keeps_its_own_chat_path_unless_it_is_the_formats() {
        let node = |id: &str, kind: &str, api: &str, path: Value| json!({"id": id, "type": kind, "prefix": id, "apiType": api, "baseUrl": "https://lab.example.com/v4", "chatPath": path});
        let s = served(json!({"providers": [], "providerNodes": [
            node("lab4", "openai-compatible", "chat", json!("/chat")),
            node("plain", "openai-compatible", "chat", json!("/chat/completions")),
            node("resp", "openai-compatible", "responses", json!("/api/responses")),
            node("msgs", "anthropic-compatible", "chat", json!("/messages")),
            node("none", "openai-compatible", "chat", json!(""))]}));
        let paths: Vec<_> = s.nodes.iter().map(|n| (n.id.as_str(), n.format, n.chat_path.as_deref())).collect();
        assert_eq!(
            paths,
            [
                ("lab4", NodeFormat::Openai, Some("/chat")),
                ("plain", NodeFormat::Openai, None),
                ("resp", NodeFormat::OpenaiResponses, Some("/api/responses")),
                ("msgs", NodeFormat::Anthropic, None),
                ("none", NodeFormat::Openai, None),
            ]
        );
        assert!(s.unservable.is_empty(), "{:?}", s.unservable);
    }

    #[test]
    fn restricted_keys_are_served_with_their_scopes_limits_and_schedule_in_edge_names() {
        let node = "openai-compatible-chat-1c9a";
        let schedule =
            |tz: &str| json!({"enabled": true, "from": "09:00", "until": "17:00", "days": [1, 2, 3, 4, 5], "tz": tz});
        let s = served(json!({
            "providers": [{"id": "c1", "provider": node, "apiKey": "sk-up"}, {"id": "c2", "provider": "openai", "apiKey": "sk-oa"}],
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

    #[test]
    fn a_key_revoked_at_the_edge_stays_unserved_by_row_or_by_secret() {
        let body = json!({"providers": [], "apiKeys": [{"id": "k1", "key": "sk-1"}, {"id": "k2", "key": "sk-2"}, {"id": "k3", "key": "sk-3"}]});
        let push = parse(body.to_string().as_bytes()).unwrap();
        let m = merge(&Machine::default(), &Secrets::default(), push, 1, false, &|k| format!("h({k})"));
        let revoked = [
            Revoked { key_hash: "h(old)".into(), row_id: "m1.k1".into(), at: 10 },
            Revoked { key_hash: "h(sk-2)".into(), row_id: "default.key_x".into(), at: 20 },
        ];
        let gone = revoked_keys("m1", &m.machine, &revoked);
        assert_eq!(gone, [("k1".to_string(), 10), ("k2".to_string(), 20)].into());
        let mut s = Served::of("m1", &m.machine, &m.secrets, false, &|_| true);
        s.withdraw_revoked("m1", &gone);
        assert_eq!(s.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["m1.k3"]);
        assert_eq!(reasons(&s), [("api_key", "k1"), ("api_key", "k2")]);
        assert!(s.unservable[0].reason.contains("revoked at the edge"));
    }
}
