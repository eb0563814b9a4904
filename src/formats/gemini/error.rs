//! Google's error envelope `{"error":{"code","message","status"}}` (google.rpc.Status, formats.md
//! §5.5), used for whole-body errors and, as a `data:` frame, for mid-stream ones. The google-genai
//! SDK reads `code`, `status` and `message`; `RetryInfo.retryDelay` in `details` tells when to retry.

use crate::error::{ErrorKind, GatewayError};
use serde_json::{json, Value};

/// The `status` string for an error (google.rpc.Code names).
pub fn status_name(kind: ErrorKind, status: u16) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge => "INVALID_ARGUMENT",
        ErrorKind::Authentication => "UNAUTHENTICATED",
        ErrorKind::PermissionDenied => "PERMISSION_DENIED",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorKind::UpstreamTimeout => "DEADLINE_EXCEEDED",
        ErrorKind::NotConfigured | ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::Internal => "INTERNAL",
        ErrorKind::Upstream => match status {
            502 | 503 | 529 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ => "INTERNAL",
        },
    }
}

/// The error kind an upstream HTTP status (or `error.code`) means.
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        400 | 409 | 422 => ErrorKind::InvalidRequest,
        401 => ErrorKind::Authentication,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::PayloadTooLarge,
        429 => ErrorKind::RateLimited,
        504 => ErrorKind::UpstreamTimeout,
        _ => ErrorKind::Upstream,
    }
}

/// The error object (without the outer `{"error": …}`), shared with the stream encoder.
pub fn error_object(kind: ErrorKind, status: u16, message: &str, retry_after: Option<u64>) -> Value {
    // Anthropic's 529 is not an HTTP status Google clients know; they retry any 5xx alike.
    let code = if status == 529 { 503 } else { status };
    let mut e = json!({"code": code, "message": message, "status": status_name(kind, status)});
    if let Some(secs) = retry_after {
        e["details"] = json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{secs}s")}]);
    }
    e
}

pub fn render(err: &GatewayError) -> String {
    json!({"error": error_object(err.kind, err.status, &err.message, err.retry_after_secs)}).to_string()
}

/// The message of a Google error body (`{"error":{"message":…}}`, or a list of them, which some
/// Google endpoints send).
pub fn upstream_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let v = match v {
        Value::Array(mut list) if !list.is_empty() => list.swap_remove(0),
        other => other,
    };
    let err = v.get("error")?;
    match err {
        Value::String(s) => Some(s.clone()),
        _ => err.get("message").and_then(Value::as_str).map(str::to_string),
    }
}

/// Seconds to wait from a 429 body's `details[].retryDelay` (`"34.4s"` → 35).
pub fn retry_delay_secs(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let details = v.get("error")?.get("details")?.as_array()?;
    details.iter().find_map(|d| {
        let delay = d.get("retryDelay")?.as_str()?.trim().strip_suffix('s')?;
        let secs: f64 = delay.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| secs.ceil() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(e: &GatewayError) -> Value {
        serde_json::from_str(&render(e)).unwrap()
    }

    #[test]
    fn renders_google_status_names() {
        let v = parsed(&GatewayError::invalid_request("bad").with_param("contents"));
        assert_eq!(v, json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}));
        let cases = [
            (GatewayError::authentication("k"), 401, "UNAUTHENTICATED"),
            (GatewayError::new(ErrorKind::PermissionDenied, "p"), 403, "PERMISSION_DENIED"),
            (GatewayError::not_found("m"), 404, "NOT_FOUND"),
            (GatewayError::new(ErrorKind::RateLimited, "r").with_retry_after(Some(7)), 429, "RESOURCE_EXHAUSTED"),
            (GatewayError::upstream("u"), 502, "UNAVAILABLE"),
            (GatewayError::upstream("o").with_status(529), 503, "UNAVAILABLE"),
            (GatewayError::new(ErrorKind::UpstreamTimeout, "t"), 504, "DEADLINE_EXCEEDED"),
            (GatewayError::internal("i"), 500, "INTERNAL"),
        ];
        for (e, code, status) in cases {
            let v = parsed(&e);
            assert_eq!(v["error"]["code"], code, "{e}");
            assert_eq!(v["error"]["status"], status, "{e}");
        }
        let v = parsed(&GatewayError::new(ErrorKind::RateLimited, "r").with_retry_after(Some(7)));
        assert_eq!(v["error"]["details"][0]["retryDelay"], "7s");
    }

    #[test]
    fn reads_upstream_messages_and_retry_delay() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"34.4s"}]}}"#;
        assert_eq!(upstream_message(body).as_deref(), Some("Quota exceeded"));
        assert_eq!(retry_delay_secs(body), Some(35));
        assert_eq!(retry_delay_secs(br#"{"error":{"details":[{"retryDelay":"20s"}]}}"#), Some(20));
        assert_eq!(upstream_message(br#"[{"error":{"message":"x"}}]"#).as_deref(), Some("x"));
        assert_eq!(upstream_message(b"<html>"), None);
        assert_eq!(retry_delay_secs(br#"{"error":{"message":"x"}}"#), None);
        assert_eq!(kind_for_status(429), ErrorKind::RateLimited);
    }
}
