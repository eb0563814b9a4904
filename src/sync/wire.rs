//! The push body, as OmniRoute (`providers[]`, `providerNodes[]`, `modelAliases{}`, `combos[]`,
//! `apiKeys[]`, `settings{}`, `version`) and 9router (`providers`, `modelAliases`, `combos`,
//! `apiKeys`) send it (omniroute.md §4.4).
//!
//! Lenient where the clients differ or grow: unknown fields of a connection, node, combo or key are
//! kept as given (they go back to the client unchanged), unknown top-level fields are ignored, and a
//! section that is absent (or `null`) means "keep what the edge has". Strict where it matters for
//! safety: the shape the gateway relies on, sizes and counts. A push that fails a check is refused
//! whole (400/413) and changes nothing.

use super::MAX_BODY_BYTES;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::security::Secret;
use serde_json::{Map, Value};

pub const MAX_CONNECTIONS: usize = 500;
pub const MAX_NODES: usize = 200;
pub const MAX_COMBOS: usize = 500;
pub const MAX_ALIASES: usize = 2000;
pub const MAX_KEYS: usize = 500;
/// Ids (connection, node, key) and provider names.
pub const MAX_ID_CHARS: usize = 200;
/// All secret fields of one connection, serialised.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Connection fields that hold credentials: stored encrypted, never answered in plaintext unless the
/// enrollment allows it. `providerSpecificData` is among them because OmniRoute itself treats it as
/// secret (it may hold cookies and session tokens; omniroute.md §4.6).
pub const SECRET_FIELDS: &[&str] = &[
    "apiKey",
    "accessToken",
    "refreshToken",
    "idToken",
    "providerSpecificData",
    "password",
    "cookie",
    "sessionToken",
    "clientSecret",
];

/// One provider connection: its public fields (`id` and `provider` among them) and its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: String,
    pub provider: String,
    pub fields: Map<String, Value>,
    /// Only the secret fields the push carried; absent ones are kept from the edge's copy.
    pub secrets: Map<String, Value>,
}

/// One API key of the instance: its record without the key, and the key when the push carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub id: String,
    pub fields: Map<String, Value>,
    pub key: Option<Secret>,
}

/// A parsed push. `None` sections were absent: the edge keeps what it has for them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Push {
    pub providers: Vec<Connection>,
    pub provider_nodes: Option<Vec<Map<String, Value>>>,
    pub model_aliases: Option<Map<String, Value>>,
    pub combos: Option<Vec<Map<String, Value>>>,
    pub api_keys: Option<Vec<Key>>,
    pub settings: Option<Map<String, Value>>,
    pub version: Option<String>,
}

fn bad(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param).with_code("invalid_sync_body")
}

/// Parses and checks a push body; `Err` is a 4xx naming what is wrong.
pub fn parse(body: &[u8]) -> Result<Push> {
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("The sync body is larger than {MAX_BODY_BYTES} bytes."),
        )
        .with_code("request_too_large"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::invalid_request(format!("The sync body is not valid JSON: {e}")).with_code("invalid_json")
    })?;
    let Value::Object(mut top) = value else {
        return Err(bad("body", "The sync body must be a JSON object."));
    };
    let providers = match top.remove("providers") {
        Some(Value::Array(list)) => list,
        // What a 9router GET answers (`{id: connection}`) pushed back as is.
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(id, mut c)| {
                if let Some(o) = c.as_object_mut() {
                    o.entry("id").or_insert(Value::String(id));
                }
                c
            })
            .collect(),
        _ => return Err(bad("providers", "Missing providers array.").with_code("missing_providers")),
    };
    let providers = parse_connections(providers)?;
    let provider_nodes =
        section(&mut top, "providerNodes")?.map(|v| objects(v, "providerNodes", MAX_NODES)).transpose()?;
    if let Some(nodes) = &provider_nodes {
        unique_ids(nodes.iter().map(id_of), "providerNodes")?;
    }
    let model_aliases = section(&mut top, "modelAliases")?.map(aliases).transpose()?;
    let combos = section(&mut top, "combos")?.map(|v| objects(v, "combos", MAX_COMBOS)).transpose()?;
    let api_keys = section(&mut top, "apiKeys")?.map(keys).transpose()?;
    let settings = match section(&mut top, "settings")? {
        None => None,
        Some(Value::Object(o)) => Some(o),
        Some(_) => return Err(bad("settings", "`settings` must be an object.")),
    };
    let version = match top.remove("version") {
        Some(Value::String(v)) if v.len() <= MAX_ID_CHARS => Some(v),
        None | Some(Value::Null) => None,
        Some(_) => return Err(bad("version", "`version` must be a short string.")),
    };
    Ok(Push { providers, provider_nodes, model_aliases, combos, api_keys, settings, version })
}

/// A section's value; absent and `null` are both "not sent".
fn section(top: &mut Map<String, Value>, name: &str) -> Result<Option<Value>> {
    Ok(top.remove(name).filter(|v| !v.is_null()))
}

fn objects(v: Value, name: &str, max: usize) -> Result<Vec<Map<String, Value>>> {
    let Value::Array(list) = v else { return Err(bad(name, format!("`{name}` must be an array."))) };
    if list.len() > max {
        return Err(bad(name, format!("At most {max} entries in `{name}`.")));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(o) => Ok(o),
            _ => Err(bad(&format!("{name}[{i}]"), format!("`{name}[{i}]` must be an object."))),
        })
        .collect()
}

fn id_of(o: &Map<String, Value>) -> Option<&str> {
    o.get("id").and_then(Value::as_str)
}

/// Every entry has a sane, unique string `id`.
fn unique_ids<'a>(ids: impl Iterator<Item = Option<&'a str>>, name: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, id) in ids.enumerate() {
        let param = format!("{name}[{i}].id");
        let id = id.ok_or_else(|| bad(&param, format!("`{param}` must be a string.")))?;
        if !valid_id(id) {
            return Err(bad(&param, format!("`{param}` must be 1 to {MAX_ID_CHARS} visible characters.")));
        }
        if !seen.insert(id) {
            return Err(bad(&param, format!("`{param}`: the id `{id}` appears twice.")));
        }
    }
    Ok(())
}

pub fn valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.chars().count()) && !id.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn parse_connections(list: Vec<Value>) -> Result<Vec<Connection>> {
    if list.len() > MAX_CONNECTIONS {
        return Err(bad("providers", format!("At most {MAX_CONNECTIONS} connections.")));
    }
    let list = objects(Value::Array(list), "providers", MAX_CONNECTIONS)?;
    unique_ids(list.iter().map(id_of), "providers")?;
    list.into_iter()
        .enumerate()
        .map(|(i, mut fields)| {
            let provider = match fields.get("provider").and_then(Value::as_str) {
                Some(p) if valid_id(p) => p.to_string(),
                _ => {
                    let param = format!("providers[{i}].provider");
                    return Err(bad(&param, format!("`{param}` must be a provider id.")));
                }
            };
            let mut secrets = Map::new();
            for name in SECRET_FIELDS {
                if let Some(v) = fields.remove(*name) {
                    secrets.insert(name.to_string(), v);
                }
            }
            if Value::Object(secrets.clone()).to_string().len() > MAX_SECRET_BYTES {
                return Err(bad(&format!("providers[{i}]"), "A connection's credentials are too large."));
            }
            let id = id_of(&fields).unwrap_or_default().to_string();
            Ok(Connection { id, provider, fields, secrets })
        })
        .collect()
}

fn aliases(v: Value) -> Result<Map<String, Value>> {
    let Value::Object(map) = v else { return Err(bad("modelAliases", "`modelAliases` must be an object.")) };
    if map.len() > MAX_ALIASES {
        return Err(bad("modelAliases", format!("At most {MAX_ALIASES} aliases.")));
    }
    if let Some((name, _)) = map.iter().find(|(k, v)| !v.is_string() || k.len() > 400) {
        return Err(bad(&format!("modelAliases.{name}"), format!("The alias `{name}` must map to a model name.")));
    }
    Ok(map)
}

fn keys(v: Value) -> Result<Vec<Key>> {
    let list = objects(v, "apiKeys", MAX_KEYS)?;
    unique_ids(list.iter().map(id_of), "apiKeys")?;
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .enumerate()
        .map(|(i, mut fields)| {
            let param = format!("apiKeys[{i}].key");
            let key = match fields.remove("key") {
                None | Some(Value::Null) => None,
                Some(Value::String(k)) if !k.is_empty() && k.len() <= 512 && valid_id(&k) => Some(Secret::new(k)),
                Some(_) => return Err(bad(&param, format!("`{param}` must be a key without spaces."))),
            };
            if let Some(k) = &key {
                if !seen.insert(k.expose().to_string()) {
                    return Err(bad(&param, "The same key appears twice."));
                }
            }
            let id = id_of(&fields).unwrap_or_default().to_string();
            Ok(Key { id, fields, key })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn push(v: Value) -> Result<Push> {
        parse(v.to_string().as_bytes())
    }

    #[test]
    fn splits_secrets_from_public_fields() {
        let p = push(json!({"providers": [{"id": "c1", "provider": "openai", "apiKey": "sk-1", "name": "n",
            "providerSpecificData": {"x": 1}, "futureField": [1]}]}))
        .unwrap();
        let c = &p.providers[0];
        assert_eq!((c.id.as_str(), c.provider.as_str()), ("c1", "openai"));
        assert_eq!(
            c.secrets,
            json!({"apiKey": "sk-1", "providerSpecificData": {"x": 1}}).as_object().cloned().unwrap()
        );
        assert_eq!(c.fields.get("futureField"), Some(&json!([1])), "unknown fields are kept");
        assert!(!c.fields.contains_key("apiKey"));
        assert_eq!((p.combos, p.api_keys, p.model_aliases, p.settings), (None, None, None, None));
    }

    #[test]
    fn a_9router_map_of_providers_is_read_too() {
        let p = push(json!({"providers": {"c1": {"provider": "openai", "updatedAt": "2026-01-01T00:00:00Z"}},
            "combos": [], "modelAliases": {}, "apiKeys": []}))
        .unwrap();
        assert_eq!(p.providers[0].id, "c1");
        assert_eq!(p.combos, Some(vec![]));
    }

    #[test]
    fn refuses_what_it_cannot_use_with_a_clear_400() {
        for (body, param) in [
            (json!({}), "providers"),
            (json!({"providers": "x"}), "providers"),
            (json!([]), "body"),
            (json!({"providers": [1]}), "providers[0]"),
            (json!({"providers": [{"provider": "openai"}]}), "providers[0].id"),
            (json!({"providers": [{"id": "a b", "provider": "openai"}]}), "providers[0].id"),
            (
                json!({"providers": [{"id": "a", "provider": "openai"}, {"id": "a", "provider": "x"}]}),
                "providers[1].id",
            ),
            (json!({"providers": [{"id": "a"}]}), "providers[0].provider"),
            (json!({"providers": [], "modelAliases": {"a": 1}}), "modelAliases.a"),
            (json!({"providers": [], "modelAliases": []}), "modelAliases"),
            (json!({"providers": [], "combos": {}}), "combos"),
            (json!({"providers": [], "apiKeys": [{"id": "k", "key": 5}]}), "apiKeys[0].key"),
            (json!({"providers": [], "apiKeys": [{"id": "k", "key": "a"}, {"id": "j", "key": "a"}]}), "apiKeys[1].key"),
            (json!({"providers": [], "settings": 3}), "settings"),
            (json!({"providers": [], "providerNodes": [{"id": 3}]}), "providerNodes[0].id"),
        ] {
            let e = push(body.clone()).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{body}");
        }
        assert_eq!(parse(b"{").unwrap_err().code.as_deref(), Some("invalid_json"));
        let big = vec![b' '; MAX_BODY_BYTES as usize + 1];
        assert_eq!(parse(&big).unwrap_err().status, 413);
        let many: Vec<Value> =
            (0..=MAX_CONNECTIONS).map(|i| json!({"id": format!("c{i}"), "provider": "openai"})).collect();
        assert_eq!(push(json!({"providers": many})).unwrap_err().status, 400);
        let huge = "x".repeat(MAX_SECRET_BYTES);
        assert_eq!(push(json!({"providers": [{"id": "a", "provider": "p", "apiKey": huge}]})).unwrap_err().status, 400);
    }

    #[test]
    fn null_sections_are_absent_and_keys_may_come_without_the_key() {
        let p = push(json!({"providers": [], "combos": null, "apiKeys": [{"id": "k1", "name": "n"}]})).unwrap();
        assert_eq!(p.combos, None);
        let k = &p.api_keys.unwrap()[0];
        assert_eq!((k.id.as_str(), k.key.is_none()), ("k1", true));
    }

    proptest::proptest! {
        /// Whatever bytes arrive, parsing answers Ok or a 4xx: never a panic, never a 5xx.
        #[test]
        fn any_body_gets_ok_or_a_4xx(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Err(e) = parse(&bytes) {
                proptest::prop_assert!((400..500).contains(&e.status));
            }
        }

        /// Any JSON shape inside the sections is accepted or refused with a 4xx.
        #[test]
        fn any_json_in_the_sections_gets_ok_or_a_4xx(
            section in proptest::sample::select(vec!["providers", "providerNodes", "modelAliases", "combos", "apiKeys", "settings", "version"]),
            value in proptest::sample::select(vec![
                json!(null), json!(1), json!("s"), json!([]), json!({}), json!([{}]), json!([{"id": 1}]),
                json!({"a": {"b": 1}}), json!([{"id": "x", "provider": "p", "key": 1}]),
            ]),
        ) {
            let mut body = json!({"providers": []});
            body[section] = value;
            if let Err(e) = push(body) {
                proptest::prop_assert_eq!(e.status, 400);
            }
        }
    }
}
