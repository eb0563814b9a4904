//! Admin API input, validated before anything is stored. Raw JSON in, checked values out.
//!
//! Admin input is strict: a key the gateway does not know is refused (a typo must not be silently
//! dropped). What storage holds is read leniently instead (see `config::snapshot`): it may have been
//! written by another version of the gateway. Types that are both, such as combos and provider nodes,
//! derive a lenient `Deserialize` and come in through [`parse_strict`].

use super::key_access::KeyAccess;
use crate::error::{GatewayError, Result};
use crate::limits::{ConnectionLimits, KeyLimits};
use crate::net_policy::validate_base_url;
use crate::providers::Catalog;
use crate::security::Secret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/providers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    pub provider: String,
    #[serde(default)]
    pub name: Option<String>,
    pub api_key: Secret,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "strict_limits")]
    pub limits: Option<ConnectionLimits>,
}

/// Connection limits in admin input: `ConnectionLimits` reads stored values leniently, so unknown
/// keys are refused here (`limits.max_concurent`).
fn strict_limits<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<ConnectionLimits>, D::Error> {
    use serde::de::Error;
    let raw = Value::deserialize(d)?;
    let limits: ConnectionLimits = serde_json::from_value(raw.clone()).map_err(D::Error::custom)?;
    let known = serde_json::to_value(limits).map_err(D::Error::custom)?;
    match unknown_key(&raw, &known) {
        Some(path) => Err(D::Error::custom(format!("unknown field `limits.{path}`"))),
        None => Ok(Some(limits)),
    }
}

/// A connection ready to store; the API key is still plaintext and must be encrypted by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidConnection {
    pub provider: String,
    pub name: String,
    pub api_key: Secret,
    pub base_url: Option<String>,
    pub priority: i64,
    pub is_active: bool,
    pub limits: ConnectionLimits,
}

/// `PATCH /api/providers/{id}`: every field optional; `base_url: null` clears an override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub api_key: Option<Secret>,
    #[serde(default, deserialize_with = "nullable")]
    pub base_url: Option<Option<String>>,
    pub priority: Option<i64>,
    pub is_active: Option<bool>,
    /// Replaces the connection's limits (`{}` removes them).
    #[serde(default, deserialize_with = "strict_limits")]
    pub limits: Option<ConnectionLimits>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `POST /api/keys` (parsed with [`parse_strict`]: unknown keys are refused inside `limits` too).
#[derive(Debug, Serialize, Deserialize)]
pub struct NewApiKey {
    pub name: String,
    #[serde(default)]
    pub limits: KeyLimits,
    /// Enabled, expiry, scopes (`config::key_access`); open when left out.
    #[serde(default)]
    pub access: KeyAccess,
}

/// `PATCH /api/keys/{id}`: a new name, and/or limits that replace the key's (`{}` removes them).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ApiKeyPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub limits: Option<KeyLimits>,
    /// Replaces the key's enabled flag, expiry and scopes (`{}`: enabled, no expiry, no scopes).
    #[serde(default)]
    pub access: Option<KeyAccess>,
}

pub fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| GatewayError::invalid_request(format!("Invalid request body: {e}")))
}

/// Parses admin input into a type whose own `Deserialize` ignores unknown keys (because it is also
/// read from storage), refusing every key, at any depth, that the type does not have.
pub fn parse_strict<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T> {
    let raw: Value = parse(body)?;
    let value: T = serde_json::from_value(raw.clone())
        .map_err(|e| GatewayError::invalid_request(format!("Invalid request body: {e}")))?;
    // Serializing writes every field the type has, so a key of the input missing there is unknown.
    let known = serde_json::to_value(&value).map_err(|e| GatewayError::internal(e.to_string()))?;
    match unknown_key(&raw, &known) {
        Some(path) => Err(unknown_key_error(&path)),
        None => Ok(value),
    }
}

/// The path (`targets[0].wieght`) of the first key of `input` that `known` lacks, comparing objects
/// key by key and arrays item by item.
pub fn unknown_key(input: &Value, known: &Value) -> Option<String> {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => i.iter().find_map(|(key, v)| match k.get(key) {
            None => Some(key.clone()),
            Some(kv) => unknown_key(v, kv).map(|rest| join_path(key, &rest)),
        }),
        (Value::Array(i), Value::Array(k)) => i
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(n, (v, kv))| unknown_key(v, kv).map(|rest| join_path(&format!("[{n}]"), &rest))),
        _ => None,
    }
}

fn join_path(head: &str, rest: &str) -> String {
    if rest.starts_with('[') {
        format!("{head}{rest}")
    } else {
        format!("{head}.{rest}")
    }
}

pub fn unknown_key_error(path: &str) -> GatewayError {
    GatewayError::invalid_request(format!("Unknown field `{path}`.")).with_param(path).with_code("unknown_field")
}

/// A key's or connection's display name: 1 to 100 visible characters (`security::names`).
pub fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(GatewayError::invalid_request("`name` must be 1 to 100 characters.").with_param("name"));
    }
    crate::security::names::check_visible("name", name)?;
    Ok(name.to_string())
}

pub fn check_api_key(key: &Secret) -> Result<Secret> {
    let key = key.expose().trim();
    if key.is_empty() || key.len() > 8192 || key.chars().any(|c| c.is_control() || c == ' ') {
        return Err(
            GatewayError::invalid_request("`api_key` must be a non-empty token without spaces.").with_param("api_key")
        );
    }
    Ok(Secret::new(key))
}

pub fn check_priority(p: i64) -> Result<i64> {
    if !(0..=10_000).contains(&p) {
        return Err(GatewayError::invalid_request("`priority` must be between 0 and 10000.").with_param("priority"));
    }
    Ok(p)
}

impl NewConnection {
    pub fn validate(self, allow_private: bool, catalog: &Catalog) -> Result<ValidConnection> {
        let spec = catalog.find(&self.provider).ok_or_else(|| {
            GatewayError::invalid_request(format!(
                "Unknown provider `{}`; GET /api/providers/catalog lists them.",
                self.provider
            ))
            .with_param("provider")
        })?;
        Ok(ValidConnection {
            provider: spec.id.to_string(),
            name: check_name(self.name.as_deref().unwrap_or(&spec.name))?,
            api_key: check_api_key(&self.api_key)?,
            base_url: self.base_url.map(|u| validate_base_url(&u, allow_private)).transpose()?,
            priority: check_priority(self.priority.unwrap_or(100))?,
            is_active: self.is_active.unwrap_or(true),
            limits: self.limits.unwrap_or_default().validate()?,
        })
    }
}

impl ConnectionPatch {
    /// Checks every given field; returns the patch with normalised values.
    pub fn validate(self, allow_private: bool) -> Result<ConnectionPatch> {
        Ok(ConnectionPatch {
            name: self.name.as_deref().map(check_name).transpose()?,
            api_key: self.api_key.as_ref().map(check_api_key).transpose()?,
            base_url: match self.base_url {
                Some(Some(u)) => Some(Some(validate_base_url(&u, allow_private)?)),
                other => other,
            },
            priority: self.priority.map(check_priority).transpose()?,
            is_active: self.is_active,
            limits: self.limits.map(ConnectionLimits::validate).transpose()?,
        })
    }
}

impl NewApiKey {
    pub fn validate(self) -> Result<NewApiKey> {
        Ok(NewApiKey {
            name: check_name(&self.name)?,
            limits: self.limits.validate()?,
            access: self.access.validate()?,
        })
    }
}

impl ApiKeyPatch {
    pub fn validate(self) -> Result<ApiKeyPatch> {
        Ok(ApiKeyPatch {
            name: self.name.as_deref().map(check_name).transpose()?,
            limits: self.limits.map(KeyLimits::validate).transpose()?,
            access: self.access.map(KeyAccess::validate).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_conn(json: &str) -> Result<ValidConnection> {
        parse::<NewConnection>(json.as_bytes())?.validate(false, &Catalog::default())
    }

    #[test]
    fn key_and_connection_names_refuse_control_and_bidi_characters() {
        for bad in [r#""ci\u0000key""#, r#""\u202Egpj.exe""#, r#""a\u200Bb""#] {
            let e = new_conn(&format!(r#"{{"provider":"ds","api_key":"sk-1","name":{bad}}}"#)).unwrap_err();
            assert_eq!((e.param.as_deref(), e.code.as_deref()), (Some("name"), Some("invalid_characters")), "{bad}");
            let key = parse::<NewApiKey>(format!(r#"{{"name":{bad}}}"#).as_bytes()).unwrap().validate();
            assert_eq!(key.unwrap_err().code.as_deref(), Some("invalid_characters"), "{bad}");
        }
        assert_eq!(check_name(" Clé 生产 🚀 ").unwrap(), "Clé 生产 🚀");
    }

    #[test]
    fn validates_a_connection_with_defaults() {
        let c = new_conn(r#"{"provider":"ds","api_key":" sk-1 "}"#).unwrap();
        assert_eq!(
            (c.provider.as_str(), c.name.as_str(), c.api_key.expose(), c.priority, c.is_active),
            ("deepseek", "DeepSeek", "sk-1", 100, true)
        );
    }

    #[test]
    fn refuses_bad_connections() {
        for (json, param) in [
            (r#"{"provider":"nope","api_key":"k"}"#, Some("provider")),
            (r#"{"provider":"openai","api_key":""}"#, Some("api_key")),
            (r#"{"provider":"openai","api_key":"a b"}"#, Some("api_key")),
            (r#"{"provider":"openai","api_key":"k","priority":-1}"#, Some("priority")),
            (r#"{"provider":"openai","api_key":"k","base_url":"http://127.0.0.1:1"}"#, Some("base_url")),
            (r#"{"provider":"openai","api_key":"k","name":""}"#, Some("name")),
            (r#"{"provider":"openai","api_key":"k","extra":1}"#, None),
            (r#"{"provider":"openai"}"#, None),
        ] {
            let e = new_conn(json).unwrap_err();
            assert_eq!(e.status, 400, "{json}");
            assert_eq!(e.param.as_deref(), param, "{json}");
        }
    }

    #[test]
    fn api_keys_never_show_in_debug_output() {
        let key = "sk-live-0123456789abcdef";
        let body = format!(r#"{{"provider":"openai","api_key":" {key} "}}"#);
        let new = parse::<NewConnection>(body.as_bytes()).unwrap();
        assert!(!format!("{new:?}").contains(key));
        let valid = new.validate(false, &Catalog::default()).unwrap();
        assert!(!format!("{valid:?}").contains(key));
        assert_eq!(valid.api_key.expose(), key);
        let patch = parse::<ConnectionPatch>(format!(r#"{{"api_key":"{key}"}}"#).as_bytes()).unwrap();
        assert!(!format!("{patch:?}").contains(key));
        let patch = patch.validate(false).unwrap();
        assert!(!format!("{patch:?}").contains(key));
        assert_eq!(patch.api_key.map(|k| k.hint()), Some("…cdef".to_string()));
    }

    #[test]
    fn keys_take_validated_limits_and_refuse_unknown_ones() {
        let k = parse_strict::<NewApiKey>(br#"{"name":" ci ","limits":{"usd_per_day":2.5,"requests_per_minute":10}}"#)
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!((k.name.as_str(), k.limits.usd_per_day, k.limits.requests_per_minute), ("ci", Some(2.5), Some(10)));
        assert!(parse_strict::<NewApiKey>(br#"{"name":"ci"}"#).unwrap().validate().unwrap().limits.is_empty());
        let e = parse_strict::<NewApiKey>(br#"{"name":"ci","limits":{"usd_per_dya":1}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits.usd_per_dya"));
        let e =
            parse_strict::<ApiKeyPatch>(br#"{"limits":{"requests_per_minute":0}}"#).unwrap().validate().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits.requests_per_minute"));
        let p = parse_strict::<ApiKeyPatch>(br#"{"limits":{}}"#).unwrap().validate().unwrap();
        assert_eq!((p.name, p.limits), (None, Some(KeyLimits::default())), "{{}} clears the limits");
        assert!(parse_strict::<ApiKeyPatch>(br#"{"nmae":"x"}"#).is_err());
    }

    #[test]
    fn connections_take_validated_limits_and_refuse_unknown_ones() {
        let c = new_conn(r#"{"provider":"openai","api_key":"k","limits":{"max_concurrent":2}}"#).unwrap();
        assert_eq!(c.limits.max_concurrent, Some(2));
        assert!(new_conn(r#"{"provider":"openai","api_key":"k"}"#).unwrap().limits.is_empty());
        let e = new_conn(r#"{"provider":"openai","api_key":"k","limits":{"max_concurent":2}}"#).unwrap_err();
        assert!(e.message.contains("limits.max_concurent"), "{}", e.message);
        let e = new_conn(r#"{"provider":"openai","api_key":"k","limits":{"min_gap_ms":0}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits.min_gap_ms"));
        let p = parse::<ConnectionPatch>(br#"{"limits":{}}"#).unwrap().validate(false).unwrap();
        assert_eq!(p.limits, Some(ConnectionLimits::default()));
    }

    #[test]
    fn patch_distinguishes_null_from_absent_base_url() {
        let p = parse::<ConnectionPatch>(br#"{"base_url":null}"#).unwrap().validate(false).unwrap();
        assert_eq!(p.base_url, Some(None));
        let p = parse::<ConnectionPatch>(br#"{"priority":3}"#).unwrap().validate(false).unwrap();
        assert_eq!((p.base_url, p.priority), (None, Some(3)));
        assert!(parse::<ConnectionPatch>(br#"{"priority":99999}"#).unwrap().validate(false).is_err());
    }
}
