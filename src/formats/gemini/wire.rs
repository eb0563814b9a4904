//! Small helpers shared by the Gemini files: reading a field under either casing (protobuf JSON
//! accepts `lowerCamelCase` and `snake_case`, and the google-genai SDK sends both, even mixed), and
//! thought-signature handling (the SDK base64-decodes `thoughtSignature`, so only valid base64 may
//! reach a client).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;

/// Google's documented value for a replayed `functionCall` whose real signature is unknown.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// `camel` turned into `snake_case` (`maxOutputTokens` → `max_output_tokens`).
pub fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The field named `camel` (or its snake_case spelling) of an object; `None` for JSON null too.
pub fn field<'a>(v: &'a Value, camel: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    let found = match obj.get(camel) {
        Some(x) => Some(x),
        None => obj.get(&snake(camel)),
    };
    found.filter(|x| !x.is_null())
}

/// A string field under either casing.
pub fn str_field<'a>(v: &'a Value, camel: &str) -> Option<&'a str> {
    field(v, camel).and_then(Value::as_str)
}

/// Whether `s` is base64 the google-genai SDK accepts (standard or URL-safe, padded or not).
pub fn is_base64(s: &str) -> bool {
    !s.is_empty()
        && (STANDARD.decode(s).is_ok()
            || URL_SAFE.decode(s).is_ok()
            || STANDARD_NO_PAD.decode(s).is_ok()
            || URL_SAFE_NO_PAD.decode(s).is_ok())
}

/// Sets `thoughtSignature` on a part object when `sig` is valid base64.
pub fn sign(part: &mut Value, sig: Option<String>) {
    if let (Some(sig), Some(obj)) = (sig, part.as_object_mut()) {
        if is_base64(&sig) {
            obj.insert("thoughtSignature".into(), Value::String(sig));
        }
    }
}

/// Whether a part object already carries a signature.
pub fn is_signed(part: &Value) -> bool {
    part.get("thoughtSignature").is_some()
}

/// Case-insensitive enum value (`"any"` and `"ANY"` both occur in client traffic), upper-cased.
pub fn enum_upper(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_either_casing() {
        let v = json!({"max_output_tokens": 5, "topP": 0.5, "nullish": null});
        assert_eq!(field(&v, "maxOutputTokens"), Some(&json!(5)));
        assert_eq!(field(&v, "topP"), Some(&json!(0.5)));
        assert_eq!(field(&v, "nullish"), None);
        assert_eq!(snake("parametersJsonSchema"), "parameters_json_schema");
    }

    #[test]
    fn signatures_must_be_base64() {
        assert!(is_base64("EqUCCqIC"));
        assert!(is_base64(SKIP_SIGNATURE));
        assert!(!is_base64("not base64!"));
        let mut p = json!({"text": "x"});
        sign(&mut p, Some("%%%".into()));
        assert!(!is_signed(&p));
        sign(&mut p, Some("QUJD".into()));
        assert_eq!(p["thoughtSignature"], "QUJD");
    }
}
