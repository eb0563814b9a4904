//! What to do with an upstream's answer: which of its headers reach the client, and how an upstream
//! error becomes a gateway error the client can act on.

use crate::error::{ErrorKind, GatewayError};
use crate::formats::Format;
use crate::metering::redact::capped_redacted_with;
use crate::security::Secret;

/// Longest upstream error message passed on; a body that is not in the format's error envelope
/// (an HTML page from a proxy) is cut shorter.
const MAX_DETAIL: usize = 2048;
const MAX_RAW_DETAIL: usize = 300;

/// Upstream response headers passed on to the client. Everything else (cookies, CDN and hop-by-hop
/// headers, content-length of a body we may re-frame) stays behind.
pub fn forwarded_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "content-type" | "retry-after" | "retry-after-ms" | "openai-processing-ms" | "x-request-id")
        || n.starts_with("x-ratelimit-")
}

/// Longest value the gateway writes into a response header of its own.
pub const MAX_HEADER_VALUE: usize = 1024;

/// Request data made fit for a response header of the gateway's own (`x-omniroute-model`), and an
/// upstream's header passed on: visible ASCII and the space stay, every other byte (and `%`) is
/// percent-encoded, and the result is cut to [`MAX_HEADER_VALUE`] bytes. A header can then neither
/// fail to be set (the runtime refuses non-Latin-1 values) nor grow with what the client sent, and
/// an ordinary value (`application/json; charset=utf-8`) arrives as it was sent.
pub fn header_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_HEADER_VALUE));
    for b in s.bytes() {
        let piece = match b {
            b' '..=b'~' if b != b'%' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        };
        if out.len() + piece.len() > MAX_HEADER_VALUE {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// `Retry-After` in whole seconds (rounded up), from `retry-after-ms` or a numeric `retry-after`.
pub fn retry_after_secs(retry_after: Option<&str>, retry_after_ms: Option<&str>) -> Option<u64> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) {
        return Some((ms / 1000.0).ceil() as u64);
    }
    retry_after
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|s| s.ceil() as u64)
}

/// Turns a non-2xx upstream answer into the error the client sees. The client's own mistakes keep
/// their status (the message is read from the upstream's own error format); failures of the provider or of the gateway's credentials become 502, so a client SDK
/// does not mistake them for a problem with its own gateway key.
///
/// A 3xx is an answer too: the gateway follows no redirect (it would carry the credential and the
/// prompt to another origin), so it says so, without the target or the body.
///
/// The upstream's text can echo the credential (`Incorrect API key provided: sk-…`): it leaves the
/// gateway with `credential` and anything key-shaped removed (`metering::redact`).
pub fn map_error(
    format: Format,
    provider: &str,
    status: u16,
    body: &[u8],
    retry_after: Option<u64>,
    credential: &Secret,
) -> GatewayError {
    if (300..400).contains(&status) {
        return GatewayError::upstream(format!(
            "Upstream `{provider}` answered {status}, a redirect; the gateway follows no upstream redirects. \
             Check the connection's base URL."
        ))
        .with_code("upstream_redirect");
    }
    let retry_after = retry_after.or_else(|| format.retry_after_from_body(body));
    let detail = match format.upstream_message(body) {
        Some(message) => capped_redacted_with(&message, credential.expose(), MAX_DETAIL),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no details".to_string()
            } else {
                capped_redacted_with(text, credential.expose(), MAX_RAW_DETAIL)
            }
        }
    };
    let msg = format!("Upstream `{provider}` returned {status}: {detail}");
    match status {
        429 => GatewayError::new(ErrorKind::RateLimited, msg)
            .with_code("upstream_rate_limited")
            .with_retry_after(retry_after),
        401 | 403 => GatewayError::upstream(format!(
            "Upstream `{provider}` rejected the gateway's credentials ({status}): {detail}"
        ))
        .with_code("upstream_auth_failed"),
        404 => GatewayError::new(ErrorKind::NotFound, msg).with_code("model_not_found"),
        400 | 409 | 413 | 422 => GatewayError::invalid_request(msg).with_status(status),
        _ => GatewayError::upstream(msg).with_code("upstream_error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_key() -> Secret {
        Secret::default()
    }

    #[test]
    fn header_values_keep_model_ids_and_encode_the_rest() {
        assert_eq!(header_value("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(header_value("accounts/fireworks/models/llama:v3"), "accounts/fireworks/models/llama:v3");
        assert_eq!(header_value("a b%\r\n\t模"), "a b%25%0D%0A%09%E6%A8%A1");
        assert_eq!(header_value("application/json; charset=utf-8"), "application/json; charset=utf-8");
        assert_eq!(header_value(&"x".repeat(5000)).len(), MAX_HEADER_VALUE);
        assert_eq!(
            header_value(&"é".repeat(1000)).len(),
            MAX_HEADER_VALUE - MAX_HEADER_VALUE % 3,
            "never half an escape"
        );
    }

    proptest::proptest! {
        #[test]
        fn header_values_are_bounded_visible_ascii(s in "(?s).{0,600}") {
            let v = header_value(&s);
            proptest::prop_assert!(v.len() <= MAX_HEADER_VALUE);
            proptest::prop_assert!(v.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            if s.len() <= MAX_HEADER_VALUE && s.bytes().all(|b| (b.is_ascii_graphic() || b == b' ') && b != b'%') {
                proptest::prop_assert_eq!(v, s);
            }
        }
    }

    #[test]
    fn forwards_only_safe_headers() {
        for h in ["Content-Type", "retry-after", "x-ratelimit-remaining-requests", "x-request-id"] {
            assert!(forwarded_header(h), "{h}");
        }
        for h in ["set-cookie", "content-length", "transfer-encoding", "cf-ray", "server", "connection"] {
            assert!(!forwarded_header(h), "{h}");
        }
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(retry_after_secs(Some("7"), None), Some(7));
        assert_eq!(retry_after_secs(Some("1.2"), None), Some(2));
        assert_eq!(retry_after_secs(Some("7"), Some("1500")), Some(2));
        assert_eq!(retry_after_secs(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None), None);
        assert_eq!(retry_after_secs(Some("-3"), None), None);
        assert_eq!(retry_after_secs(None, None), None);
    }

    #[test]
    fn maps_statuses_so_clients_blame_the_right_party() {
        let body = br#"{"error":{"message":"slow down","type":"requests"}}"#;
        let e = map_error(Format::OpenAiChat, "openai", 429, body, Some(3), &no_key());
        assert_eq!((e.status, e.retry_after_secs), (429, Some(3)));
        assert!(e.message.contains("slow down"));
        assert_eq!(map_error(Format::OpenAiChat, "openai", 401, b"", None, &no_key()).status, 502);
        assert_eq!(map_error(Format::OpenAiChat, "openai", 422, b"", None, &no_key()).status, 422);
        assert_eq!(map_error(Format::OpenAiChat, "openai", 404, b"", None, &no_key()).status, 404);
        assert_eq!(map_error(Format::OpenAiChat, "openai", 503, b"<html>busy</html>", None, &no_key()).status, 502);
        assert!(map_error(Format::OpenAiChat, "openai", 500, b"", None, &no_key()).message.contains("no details"));
    }

    #[test]
    fn an_echoed_credential_never_reaches_the_client() {
        let key = Secret::new("gw-conn-secret-0000aaaa");
        let json = br#"{"error":{"message":"Incorrect API key provided: gw-conn-secret-0000aaaa (also sk-proj-0123456789abcdefghij)."}}"#;
        let html = b"<html>bad key gw-conn-secret-0000aaaa</html>";
        for (format, body) in [(Format::OpenAiChat, &json[..]), (Format::Anthropic, &html[..])] {
            let e = map_error(format, "openai", 401, body, None, &key);
            assert_eq!(e.code.as_deref(), Some("upstream_auth_failed"));
            assert!(!e.message.contains("gw-conn-secret") && !e.message.contains("sk-proj-0123"), "{}", e.message);
            assert!(e.message.contains("[REDACTED]"), "{}", e.message);
        }
        let long = "x".repeat(5000);
        assert!(map_error(Format::OpenAiChat, "openai", 500, long.as_bytes(), None, &key).message.len() < 400);
    }

    #[test]
    fn a_redirect_is_an_upstream_error_that_names_its_status_and_not_its_target() {
        for status in [301, 302, 303, 307, 308] {
            let e = map_error(
                Format::Anthropic,
                "anthropic",
                status,
                b"<a href=\"https://elsewhere\">moved</a>",
                None,
                &no_key(),
            );
            assert_eq!((e.status, e.code.as_deref()), (502, Some("upstream_redirect")));
            assert!(e.message.contains(&status.to_string()) && e.message.contains("follows no"), "{}", e.message);
            assert!(!e.message.contains("elsewhere"), "{}", e.message);
        }
    }
}
