//! The Anthropic error envelope: `{"type":"error","error":{"type":"<ErrorType>","message":"…"}}`
//! (<https://docs.anthropic.com/en/api/errors>). The `error.type` follows the HTTP status, as the
//! SDK's `ErrorType` literal does; statuses Anthropic never sends fall back to the error kind.

use crate::error::{ErrorKind, GatewayError};
use serde_json::{json, Value};

/// Anthropic's `error.type` for a gateway error.
pub fn error_type(kind: ErrorKind, status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        500 | 502 | 503 => "api_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => match kind {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::PayloadTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
            ErrorKind::Upstream | ErrorKind::NotConfigured | ErrorKind::Unavailable | ErrorKind::Internal => {
                "api_error"
            }
        },
    }
}

/// The gateway's kind and the HTTP status for an Anthropic `error.type` (upstream errors, including
/// mid-stream `event: error`). Unknown types count as a bad upstream (502).
pub fn kind_for_type(error_type: &str) -> (ErrorKind, u16) {
    match error_type {
        "invalid_request_error" => (ErrorKind::InvalidRequest, 400),
        "authentication_error" => (ErrorKind::Authentication, 401),
        "billing_error" => (ErrorKind::PermissionDenied, 402),
        "permission_error" => (ErrorKind::PermissionDenied, 403),
        "not_found_error" => (ErrorKind::NotFound, 404),
        "request_too_large" => (ErrorKind::PayloadTooLarge, 413),
        "rate_limit_error" => (ErrorKind::RateLimited, 429),
        "api_error" => (ErrorKind::Upstream, 500),
        "timeout_error" => (ErrorKind::UpstreamTimeout, 504),
        "overloaded_error" => (ErrorKind::Upstream, 529),
        _ => (ErrorKind::Upstream, 502),
    }
}

/// The error body as a JSON value (also used for the stream's `event: error` frame).
pub fn body(kind: ErrorKind, status: u16, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(kind, status), "message": message}})
}

pub fn render(err: &GatewayError) -> String {
    body(err.kind, err.status, &err.message).to_string()
}

/// Reads the message out of an Anthropic-shaped error body (`error.message`), tolerating the
/// variants compatible providers send (`error` as a string, a top-level `message`).
pub fn upstream_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match v.get("error") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(err) => err.get("message").and_then(Value::as_str).map(str::to_string),
        None => v.get("message").and_then(Value::as_str).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_envelope_with_the_type_for_the_status() {
        let e = GatewayError::invalid_request("max_tokens: Field required").with_param("max_tokens");
        let v: Value = serde_json::from_str(&render(&e)).unwrap();
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}})
        );
        let cases = [
            (ErrorKind::Authentication, 401, "authentication_error"),
            (ErrorKind::PermissionDenied, 402, "billing_error"),
            (ErrorKind::PermissionDenied, 403, "permission_error"),
            (ErrorKind::NotFound, 404, "not_found_error"),
            (ErrorKind::PayloadTooLarge, 413, "request_too_large"),
            (ErrorKind::RateLimited, 429, "rate_limit_error"),
            (ErrorKind::Internal, 500, "api_error"),
            (ErrorKind::Upstream, 502, "api_error"),
            (ErrorKind::NotConfigured, 503, "api_error"),
            (ErrorKind::UpstreamTimeout, 504, "timeout_error"),
            (ErrorKind::Upstream, 529, "overloaded_error"),
            (ErrorKind::RateLimited, 499, "rate_limit_error"),
        ];
        for (kind, status, ty) in cases {
            let e = GatewayError::new(kind, "x").with_status(status);
            let v: Value = serde_json::from_str(&render(&e)).unwrap();
            assert_eq!(v["error"]["type"], ty, "{status}");
        }
    }

    #[test]
    fn upstream_types_round_trip_through_render() {
        for ty in [
            "invalid_request_error",
            "authentication_error",
            "billing_error",
            "permission_error",
            "not_found_error",
            "request_too_large",
            "rate_limit_error",
            "api_error",
            "timeout_error",
            "overloaded_error",
        ] {
            let (kind, status) = kind_for_type(ty);
            assert_eq!(error_type(kind, status), ty);
        }
        assert_eq!(kind_for_type("something_new"), (ErrorKind::Upstream, 502));
    }

    #[test]
    fn reads_upstream_messages() {
        let real = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CYK5n67SytMUxm8WMZUWY"}"#;
        assert_eq!(upstream_message(real).as_deref(), Some("Overloaded"));
        assert_eq!(upstream_message(br#"{"error":"plain"}"#).as_deref(), Some("plain"));
        assert_eq!(upstream_message(br#"{"message":"top"}"#).as_deref(), Some("top"));
        assert_eq!(upstream_message(b"<html>"), None);
    }
}
