//! Responses errors use the OpenAI envelope `{"error":{"message","type","param","code"}}`, the same
//! as Chat Completions, so this module reuses that one mechanism. It adds the `ResponseErrorCode`
//! used inside a failed Response object (`response.failed`, `error.code`).

use crate::error::{ErrorKind, GatewayError};

/// The error body for a Responses client.
pub fn render(err: &GatewayError) -> String {
    crate::formats::openai_chat::error::render(err)
}

/// The message of an OpenAI-shaped upstream error body.
pub fn upstream_message(body: &[u8]) -> Option<String> {
    crate::formats::openai_chat::error::upstream_message(body)
}

/// The `code` of a failed Response object (the spec's `ResponseErrorCode` enum has no generic
/// client-error value; `invalid_prompt` is the closest).
pub fn response_error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimited => "rate_limit_exceeded",
        ErrorKind::InvalidRequest | ErrorKind::PayloadTooLarge => "invalid_prompt",
        _ => "server_error",
    }
}

/// A gateway error for an upstream's failed response or `error` event, from its `code` (or `type`).
pub fn upstream_error(code: Option<&str>, message: Option<&str>) -> GatewayError {
    let message = message.unwrap_or("The upstream reported an error.");
    match code {
        Some("rate_limit_exceeded" | "insufficient_quota") => {
            GatewayError::new(ErrorKind::RateLimited, message).with_code(code.unwrap_or_default())
        }
        Some(c) if !c.is_empty() => GatewayError::upstream(message).with_code(c),
        _ => GatewayError::upstream(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_openai_envelope() {
        let e = GatewayError::invalid_request("stateless").with_param("previous_response_id");
        let v: serde_json::Value = serde_json::from_str(&render(&e)).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "previous_response_id");
        assert!(v["error"]["code"].is_null());
        let v: serde_json::Value = serde_json::from_str(&render(&GatewayError::upstream("down"))).unwrap();
        assert_eq!(v["error"]["message"], "down");
    }

    #[test]
    fn reads_upstream_messages_and_maps_codes() {
        assert_eq!(
            upstream_message(br#"{"error":{"message":"quota","type":"insufficient_quota"}}"#).as_deref(),
            Some("quota")
        );
        assert_eq!(upstream_message(b"nope"), None);
        assert_eq!(response_error_code(ErrorKind::RateLimited), "rate_limit_exceeded");
        assert_eq!(response_error_code(ErrorKind::Upstream), "server_error");
        let e = upstream_error(Some("insufficient_quota"), Some("No quota."));
        assert_eq!((e.status, e.code.as_deref(), e.message.as_str()), (429, Some("insufficient_quota"), "No quota."));
        assert_eq!(upstream_error(None, None).status, 502);
    }
}
