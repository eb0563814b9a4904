//! The OpenAI error envelope: `{"error":{"message","type","param","code"}}` — all four keys present,
//! `param`/`code` null when unknown, as the official spec requires.

use crate::error::{ErrorKind, GatewayError};
use serde_json::json;

pub fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::NotFound | ErrorKind::PayloadTooLarge => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Upstream | ErrorKind::UpstreamTimeout => "upstream_error",
        ErrorKind::NotConfigured | ErrorKind::Unavailable | ErrorKind::Internal => "server_error",
    }
}

pub fn render(err: &GatewayError) -> String {
    json!({
        "error": {
            "message": err.message,
            "type": error_type(err.kind),
            "param": err.param,
            "code": err.code,
        }
    })
    .to_string()
}

/// Reads the message out of an OpenAI-shaped error body from an upstream, if it is one.
pub fn upstream_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let err = v.get("error")?;
    match err {
        serde_json::Value::String(s) => Some(s.clone()),
        _ => err.get("message").and_then(|m| m.as_str()).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_four_keys() {
        let e = GatewayError::invalid_request("bad").with_param("model");
        let v: serde_json::Value = serde_json::from_str(&render(&e)).unwrap();
        assert_eq!(v["error"]["message"], "bad");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert!(v["error"].as_object().unwrap().contains_key("code"));
        assert!(v["error"]["code"].is_null());
    }

    #[test]
    fn reads_upstream_messages() {
        assert_eq!(upstream_message(br#"{"error":{"message":"quota","type":"x"}}"#).as_deref(), Some("quota"));
        assert_eq!(upstream_message(br#"{"error":"plain"}"#).as_deref(), Some("plain"));
        assert_eq!(upstream_message(b"<html>"), None);
    }
}
