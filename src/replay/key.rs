//! When a request may be answered from the cache, and what identifies it.
//!
//! A request is cacheable when it is deterministic (`temperature` 0, where each format keeps it) or
//! the client opts in with `X-OmniRoute-Cache: force`; `X-OmniRoute-No-Cache: true` (OmniRoute's
//! header) or `X-OmniRoute-Cache: bypass` skips the cache. Two requests are the same when their
//! endpoint, URL model and stream flag and their bodies as JSON values are equal: the fingerprint
//! hashes the body re-serialized with sorted keys, so key order and whitespace do not matter.

use crate::formats::Format;
use crate::security::to_hex;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the client's headers ask of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheAsk {
    /// Cache deterministic requests (the tenant's setting permitting).
    #[default]
    Default,
    /// Cache this request even if it is not deterministic.
    Force,
    /// Neither read nor write the cache.
    Bypass,
}

impl CacheAsk {
    /// From `X-OmniRoute-No-Cache` and `X-OmniRoute-Cache`.
    pub fn from_headers(no_cache: Option<&str>, cache: Option<&str>) -> CacheAsk {
        let yes = |v: &str| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes");
        if no_cache.is_some_and(yes) {
            return CacheAsk::Bypass;
        }
        match cache.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("bypass" | "off" | "no-store") => CacheAsk::Bypass,
            Some("force" | "on") => CacheAsk::Force,
            _ => CacheAsk::Default,
        }
    }
}

/// How one request uses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Not cacheable (or the cache is off): no lookup, nothing stored, nothing counted.
    Off,
    /// Cacheable, but the client asked to skip the cache.
    Bypass,
    /// Look up (under [`cache_key`]), and store the answer on a miss.
    Use,
}

/// Decides how a request uses the cache. `enabled` is the tenant's setting.
pub fn cache_use(enabled: bool, ask: CacheAsk, format: Format, body: &Value) -> CacheUse {
    cache_use_if(enabled, ask, deterministic(format, body))
}

/// [`cache_use`] for a request whose answer is (`same_answer`) or is not the same every time.
pub fn cache_use_if(enabled: bool, ask: CacheAsk, same_answer: bool) -> CacheUse {
    match (enabled, ask) {
        (false, _) => CacheUse::Off,
        (true, CacheAsk::Force) => CacheUse::Use,
        (true, _) if !same_answer => CacheUse::Off,
        (true, CacheAsk::Bypass) => CacheUse::Bypass,
        (true, CacheAsk::Default) => CacheUse::Use,
    }
}

/// Whether the request asks for a deterministic answer: temperature exactly 0.
pub fn deterministic(format: Format, body: &Value) -> bool {
    let temperature = match format {
        Format::Gemini => body.pointer("/generationConfig/temperature"),
        Format::OpenAiChat | Format::OpenAiResponses | Format::Anthropic => body.get("temperature"),
    };
    temperature.and_then(Value::as_f64) == Some(0.0)
}

/// What makes two requests the same request: the endpoint, the model and stream flag a URL carries
/// (Gemini), and the body as a JSON value. Hex SHA-256.
pub fn fingerprint(endpoint: &str, url_model: Option<&str>, url_stream: Option<bool>, body: &Value) -> String {
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update([0]);
    h.update(url_model.unwrap_or("").as_bytes());
    h.update([0, url_stream.map_or(2, u8::from), 0]);
    hash_value(&mut h, body);
    to_hex(&h.finalize())
}

/// Feeds a JSON value to the hash in a canonical form: object keys sorted (`serde_json::Map` is a
/// BTreeMap here, no `preserve_order`), and numbers by value, so `0`, `0.0` and `0e0` are one
/// temperature. Each item is tagged, so no two values feed the same bytes.
fn hash_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            let integral = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64);
            match (n.as_i64(), integral) {
                (Some(i), _) | (None, Some(i)) => h.update(format!("i{i};")),
                _ => h.update(format!("d{n};")),
            }
        }
        Value::String(s) => {
            h.update(format!("s{}:", s.len()));
            h.update(s.as_bytes());
        }
        Value::Array(items) => {
            h.update(format!("a{}:", items.len()));
            items.iter().for_each(|item| hash_value(h, item));
        }
        Value::Object(map) => {
            h.update(format!("o{}:", map.len()));
            for (k, item) in map {
                h.update(format!("{}:", k.len()));
                h.update(k.as_bytes());
                hash_value(h, item);
            }
        }
    }
}

/// The cache entry of a request in a tenant.
pub fn cache_key(tenant: &str, fingerprint: &str) -> String {
    let mut h = Sha256::new();
    h.update(tenant.as_bytes());
    h.update([0]);
    h.update(fingerprint.as_bytes());
    format!("answer:{}", to_hex(&h.finalize()))
}

/// The idempotency object of a client key, scoped to the tenant and the gateway key that sent it
/// (another key's identical `Idempotency-Key` is another request). Hashed: client keys are
/// arbitrary text of any length.
pub fn idempotency_name(tenant: &str, key_id: &str, client_key: &str) -> String {
    let mut h = Sha256::new();
    for part in [tenant, key_id, client_key] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    to_hex(&h.finalize())
}

/// A usable `Idempotency-Key` value: 1 to 255 printable ASCII characters.
pub fn idempotency_key(header: Option<&str>) -> Option<&str> {
    let v = header?.trim();
    ((1..=255).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ')).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn temperature_zero_is_deterministic_where_each_format_keeps_it() {
        assert!(deterministic(Format::OpenAiChat, &json!({"temperature": 0})));
        assert!(deterministic(Format::OpenAiResponses, &json!({"temperature": 0.0})));
        assert!(deterministic(Format::Anthropic, &json!({"temperature": 0})));
        assert!(deterministic(Format::Gemini, &json!({"generationConfig": {"temperature": 0}})));
        assert!(!deterministic(Format::Gemini, &json!({"temperature": 0})));
        assert!(!deterministic(Format::OpenAiChat, &json!({"temperature": 0.2})));
        assert!(!deterministic(Format::OpenAiChat, &json!({})));
        assert!(!deterministic(Format::OpenAiChat, &json!({"temperature": "0"})));
    }

    #[test]
    fn headers_opt_in_and_out() {
        assert_eq!(CacheAsk::from_headers(None, None), CacheAsk::Default);
        assert_eq!(CacheAsk::from_headers(Some("true"), Some("force")), CacheAsk::Bypass);
        assert_eq!(CacheAsk::from_headers(Some("false"), Some("Force")), CacheAsk::Force);
        assert_eq!(CacheAsk::from_headers(None, Some("bypass")), CacheAsk::Bypass);
        assert_eq!(CacheAsk::from_headers(None, Some("whatever")), CacheAsk::Default);
    }

    #[test]
    fn cache_use_needs_the_setting_and_a_deterministic_or_forced_request() {
        let zero = json!({"temperature": 0});
        let warm = json!({"temperature": 1});
        let f = Format::OpenAiChat;
        assert_eq!(cache_use(false, CacheAsk::Force, f, &zero), CacheUse::Off);
        assert_eq!(cache_use(true, CacheAsk::Default, f, &zero), CacheUse::Use);
        assert_eq!(cache_use(true, CacheAsk::Default, f, &warm), CacheUse::Off);
        assert_eq!(cache_use(true, CacheAsk::Force, f, &warm), CacheUse::Use);
        assert_eq!(cache_use(true, CacheAsk::Bypass, f, &zero), CacheUse::Bypass);
        assert_eq!(cache_use(true, CacheAsk::Bypass, f, &warm), CacheUse::Off);
    }

    #[test]
    fn tenants_and_keys_do_not_share_entries() {
        assert_ne!(cache_key("a", "fp"), cache_key("b", "fp"));
        assert_ne!(idempotency_name("t", "k1", "x"), idempotency_name("t", "k2", "x"));
        assert_ne!(idempotency_name("t", "k", "x"), idempotency_name("tk", "", "x"));
    }

    #[test]
    fn idempotency_keys_are_bounded_printable_text() {
        assert_eq!(idempotency_key(Some(" abc-1 ")), Some("abc-1"));
        assert_eq!(idempotency_key(Some("")), None);
        assert_eq!(idempotency_key(Some("a\u{7}b")), None);
        assert_eq!(idempotency_key(Some(&"x".repeat(256))), None);
        assert_eq!(idempotency_key(None), None);
    }

    #[test]
    fn numbers_count_by_value() {
        let fp = |b: &str| fingerprint("/e", None, None, &serde_json::from_str(b).unwrap());
        assert_eq!(fp(r#"{"temperature":0}"#), fp(r#"{"temperature":0.0}"#));
        assert_eq!(fp(r#"{"t":1}"#), fp(r#"{"t":1e0}"#));
        assert_ne!(fp(r#"{"t":1}"#), fp(r#"{"t":1.5}"#));
        assert_ne!(fp(r#"{"t":1}"#), fp(r#"{"t":"1"}"#));
        assert_ne!(fp(r#"{"a":["b"]}"#), fp(r#"{"a":"b"}"#));
        assert_ne!(fp(r#"{"ab":"c"}"#), fp(r#"{"a":"bc"}"#));
    }

    #[test]
    fn the_stream_flag_and_url_model_make_another_request() {
        let b = json!({"model": "m"});
        let fp = |m, s| fingerprint("/v1beta/x", m, s, &b);
        assert_ne!(fp(Some("a"), None), fp(Some("b"), None));
        assert_ne!(fp(None, Some(true)), fp(None, Some(false)));
        assert_ne!(fp(None, None), fp(None, Some(false)));
        assert_ne!(fingerprint("/v1/a", None, None, &b), fingerprint("/v1/b", None, None, &b));
    }

    fn object() -> impl Strategy<Value = Vec<(String, i64)>> {
        proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 1..8).prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn key_order_and_whitespace_do_not_change_the_fingerprint(pairs in object(), spaced in any::<bool>()) {
            let forward: String = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",");
            let backward: String =
                pairs.iter().rev().map(|(k, v)| format!("\"{k}\" : {v}")).collect::<Vec<_>>().join(if spaced { " ,\n " } else { "," });
            let a: Value = serde_json::from_str(&format!("{{{forward}}}")).unwrap();
            let b: Value = serde_json::from_str(&format!("{{ {backward} }}")).unwrap();
            prop_assert_eq!(fingerprint("/v1/e", None, None, &a), fingerprint("/v1/e", None, None, &b));
        }

        #[test]
        fn different_bodies_have_different_fingerprints(a in object(), b in object()) {
            let to = |p: &Vec<(String, i64)>| Value::Object(p.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
            let (va, vb) = (to(&a), to(&b));
            prop_assert_eq!(va == vb, fingerprint("/e", None, None, &va) == fingerprint("/e", None, None, &vb));
        }
    }
}
