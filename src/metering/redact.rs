//! Request and response bodies as the log may keep them (only with the opt-in `log_bodies` setting),
//! and upstream error texts as a client or a connection test may see them: credentials removed, size
//! capped.
//!
//! Three passes, all over ASCII patterns so every cut lands on a char boundary:
//! - JSON fields whose name says they hold a credential (`api_key`, `authorization`, `x-api-key`,
//!   `password`, `client_secret`, `access_token`, …) get their string value replaced;
//! - `Bearer <token>` loses its token;
//! - provider-key-shaped words (`sk-…`, `sk-ant-…`, `AIza…`, `gsk_…`, `xai-…`, …) and cloud-sync
//!   tokens (`oes_…`) are replaced.
//!
//! It is a safety net for bodies that should not carry credentials at all, not a parser: text that
//! is not JSON still gets the last two passes, and where a pattern could be a credential or a word
//! (`bearer of …`, `task-2024…`) it is treated as a credential.

use crate::sync::enroll::TOKEN_PREFIX;

const REDACTED: &str = "[REDACTED]";
const TRUNCATED: &str = "…[truncated]";
/// Redaction looks this far past the cap, so a credential cut by the cap is still found whole.
const LOOKAHEAD: usize = 4096;

/// `text` with credentials removed, at most `max_bytes` long (cut on a char boundary, marked).
pub fn capped_redacted(text: &str, max_bytes: usize) -> String {
    capped_redacted_with(text, "", max_bytes)
}

/// Shortest credential replaced wherever it appears: a shorter one would garble ordinary text.
const MIN_KNOWN: usize = 8;

/// [`capped_redacted`], and every occurrence of `known` removed too: a credential the caller holds
/// (an upstream error text that echoes the connection's own key or token, whatever its shape).
pub fn capped_redacted_with(text: &str, known: &str, max_bytes: usize) -> String {
    let window = &text[..floor_boundary(text, max_bytes.saturating_add(LOOKAHEAD))];
    let whole = window.len() == text.len();
    let known_gone;
    let window = if known.len() >= MIN_KNOWN && window.contains(known) {
        known_gone = window.replace(known, REDACTED);
        &known_gone
    } else {
        window
    };
    let clean = redact_keys(&redact_bearer(&redact_fields(window)));
    if clean.len() <= max_bytes && whole {
        return clean;
    }
    if max_bytes < TRUNCATED.len() {
        return clean[..floor_boundary(&clean, max_bytes)].to_string();
    }
    let mut out = clean[..floor_boundary(&clean, max_bytes - TRUNCATED.len())].to_string();
    out.push_str(TRUNCATED);
    out
}

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Whether a JSON field name (any case, `-`/`_` ignored) names a credential.
fn sensitive_name(name: &str) -> bool {
    let n: String = name.chars().filter(|c| *c != '-' && *c != '_').flat_map(char::to_lowercase).collect();
    matches!(n.as_str(), "authorization" | "proxyauthorization" | "cookie" | "setcookie")
        || ["apikey", "secret", "password", "passwd", "token", "credential", "credentials", "privatekey", "accesskey"]
            .iter()
            .any(|s| n.ends_with(s))
}

/// The end (exclusive) of the JSON string starting at the quote `start`; the text's end if unclosed.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// What a pass sees at one position of the text.
enum Step {
    /// Nothing here: look at the next byte.
    Next,
    /// Nothing here up to `usize`: continue there.
    Skip(usize),
    /// Replace `from..to` with the marker and continue at `resume`.
    Redact { from: usize, to: usize, resume: usize },
}

/// Copies `text`, replacing what `step` finds. Every position `step` returns is an ASCII byte's (or
/// the end), so every slice is on a char boundary.
fn rewrite(text: &str, step: impl Fn(&[u8], usize) -> Step) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut i) = (0, 0);
    while i < b.len() {
        match step(b, i) {
            Step::Next => i += 1,
            Step::Skip(next) => i = next,
            Step::Redact { from, to, resume } => {
                out.push_str(&text[copied..from]);
                out.push_str(REDACTED);
                copied = to;
                i = resume;
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn redact_fields(text: &str) -> String {
    rewrite(text, |b, i| {
        if b[i] != b'"' {
            return Step::Next;
        }
        let end = string_end(b, i);
        let colon = skip_ws(b, end);
        let name = std::str::from_utf8(&b[i + 1..end.saturating_sub(1).max(i + 1)]).unwrap_or("");
        if colon < b.len() && b[colon] == b':' && sensitive_name(name) {
            let value = skip_ws(b, colon + 1);
            if value < b.len() && b[value] == b'"' {
                let value_end = string_end(b, value);
                let closed = value_end > value + 1 && b[value_end - 1] == b'"';
                let to = if closed { value_end - 1 } else { value_end };
                return Step::Redact { from: value + 1, to, resume: value_end };
            }
        }
        Step::Skip(end)
    })
}

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

fn redact_bearer(text: &str) -> String {
    rewrite(text, |b, i| {
        if i + 6 < b.len() && b[i..i + 6].eq_ignore_ascii_case(b"bearer") && b[i + 6] == b' ' {
            let start = (i + 6..b.len()).find(|&j| b[j] != b' ').unwrap_or(b.len());
            let end = (start..b.len()).find(|&j| !token_char(b[j])).unwrap_or(b.len());
            if end > start {
                return Step::Redact { from: start, to: end, resume: end };
            }
        }
        Step::Next
    })
}

/// Prefixes of provider API keys (OpenAI and most OpenAI-compatible ones, Anthropic, Google, Groq,
/// xAI, Hugging Face, GitHub, and this gateway's own `sk-oe-`) and of this gateway's cloud-sync
/// enrollment tokens (`oes_`, `sync::enroll::TOKEN_PREFIX`).
const KEY_PREFIXES: [&str; 9] = ["sk-", "sk_", "AIza", "gsk_", "xai-", "hf_", "ghp_", "github_pat_", TOKEN_PREFIX];
/// Characters a key needs after its prefix: fewer is a word such as `sk-learn`.
const MIN_KEY_BODY: usize = 16;

fn key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn redact_keys(text: &str) -> String {
    // No word-boundary check: a key glued to a word is still a key (over-redaction is the lesser harm).
    rewrite(text, |b, i| {
        if let Some(p) = KEY_PREFIXES.iter().find(|p| b[i..].starts_with(p.as_bytes())) {
            let body = i + p.len();
            let end = (body..b.len()).find(|&j| !key_char(b[j])).unwrap_or(b.len());
            // A key is long and mixes digits in; prose (`sk-learn-compatible-models`) does not. A
            // sync token is random base64 and may happen to have no digit; prose never says `oes_`.
            let mixed = *p == TOKEN_PREFIX || b[body..end].iter().any(u8::is_ascii_digit);
            if end - body >= MIN_KEY_BODY && mixed {
                return Step::Redact { from: i, to: end, resume: end };
            }
        }
        Step::Next
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const BIG: usize = 1 << 20;

    #[test]
    fn removes_credentials_in_json_headers_and_prose() {
        let body = r#"{"model":"m","api_key":"abc\"def","nested":{"X-Api-Key":"k1","client_secret":"s","Authorization":"Basic Zm9v"},"max_tokens":5,"token":null}"#;
        let out: Value = serde_json::from_str(&capped_redacted(body, BIG)).unwrap();
        assert_eq!(
            out,
            json!({"model":"m","api_key":REDACTED,"nested":{"X-Api-Key":REDACTED,"client_secret":REDACTED,"Authorization":REDACTED},"max_tokens":5,"token":null})
        );
        let text = "curl -H 'authorization: Bearer abc.DEF-123' -H 'x-api-key: sk-ant-api03-AbCdEf0123456789xyz' ?key=AIzaSyA1234567890abcdefghijklmnopqrstu";
        let out = capped_redacted(text, BIG);
        assert_eq!(out, "curl -H 'authorization: Bearer [REDACTED]' -H 'x-api-key: [REDACTED]' ?key=[REDACTED]");
    }

    #[test]
    fn sync_tokens_are_removed_even_without_a_digit() {
        let token = crate::sync::enroll::token(&[7; 32]);
        let all_letters = format!("oes_{}", "Ab_-".repeat(10) + "xyz");
        for t in [token.as_str(), all_letters.as_str()] {
            let text = format!(r#"{{"cloud_url":"https://gw.example/cloud/{t}","note":"{t} again"}}"#);
            let out = capped_redacted(&text, BIG);
            assert!(!out.contains(&t[4..20]), "{out}");
            assert_eq!(out.matches(REDACTED).count(), 2, "{out}");
        }
        assert_eq!(capped_redacted("shoes_and_socks", BIG), "shoes_and_socks", "too short to be a token");
    }

    #[test]
    fn leaves_prose_that_only_looks_like_a_key() {
        for text in ["use sk-learn-compatible-estimators", "sk-short1", "the bearer,"] {
            assert_eq!(capped_redacted(text, BIG), text);
        }
        // Erring the other way is accepted: a glued key is caught, and so is a look-alike word.
        assert_eq!(capped_redacted("ask-0123456789abcdefghij", BIG), "a[REDACTED]");
    }

    #[test]
    fn a_known_credential_goes_whatever_its_shape() {
        let token = "ya29.a0Af_opaque-oauth.token";
        let text = format!("Invalid token {token}; key {token}, and sk-proj-0123456789abcdefghijkl too");
        assert_eq!(
            capped_redacted_with(&text, token, BIG),
            "Invalid token [REDACTED]; key [REDACTED], and [REDACTED] too"
        );
        assert_eq!(capped_redacted_with("a short word", "short", BIG), "a short word", "too short to be a credential");
        let cut = capped_redacted_with(&format!("{}{token}", "x ".repeat(30)), token, 65);
        assert!(cut.len() <= 65 && cut.ends_with(TRUNCATED) && !cut.contains("ya29"), "{cut}");
    }

    #[test]
    fn caps_on_a_char_boundary_and_marks_the_cut() {
        let text = "é".repeat(100); // 200 bytes
        let out = capped_redacted(&text, 51);
        assert!(out.len() <= 51 && out.ends_with(TRUNCATED), "{out}");
        assert!(text.starts_with(out.trim_end_matches(TRUNCATED)));
        assert_eq!(capped_redacted(&text, 5), "éé");
        assert_eq!(capped_redacted(&text, 200), text);
    }

    #[test]
    fn a_key_cut_by_the_cap_is_still_removed() {
        let key = "sk-proj-0123456789abcdefghijklmnop";
        let text = format!("{}{key}", "x ".repeat(50));
        let out = capped_redacted(&text, 100 + TRUNCATED.len());
        assert!(!out.contains("sk-proj-0123"), "{out}");
    }

    proptest! {
        #[test]
        fn output_never_exceeds_the_cap(text in "\\PC{0,400}", max in 0usize..500) {
            prop_assert!(capped_redacted(&text, max).len() <= max);
        }

        #[test]
        fn text_without_credentials_is_kept_or_cut(text in "[a-zé中 ,.:]{0,300}", max in 0usize..400) {
            let out = capped_redacted(&text, max);
            if text.len() <= max {
                prop_assert_eq!(out, text);
            } else {
                prop_assert!(text.starts_with(out.trim_end_matches(TRUNCATED)));
            }
        }

        #[test]
        fn sensitive_json_fields_lose_their_value_and_the_json_stays_valid(
            name in "(api_key|apiKey|x-api-key|Authorization|password|client_secret|refresh_token|x-goog-api-key)",
            secret in "\\PC{0,60}",
            others in prop::collection::btree_map("[a-z]{1,8}", "[a-z ]{0,20}", 0..5),
        ) {
            let mut doc = json!({"messages": [{"role": "user", "content": "hi"}]});
            for (k, v) in &others {
                doc[k] = json!(v);
            }
            doc["nested"] = json!({ name.as_str(): secret });
            let out: Value = serde_json::from_str(&capped_redacted(&doc.to_string(), BIG)).unwrap();
            doc["nested"][name.as_str()] = json!(REDACTED);
            prop_assert_eq!(out, doc);
        }

        #[test]
        fn planted_keys_never_survive(
            before in "[a-z .,:;(){}\\[\\]'=\\n]{0,80}",
            after in "[ .,:;(){}\\[\\]'\\n][a-z .,]{0,80}",
            prefix in "(sk-|sk-ant-api03-|sk-oe-|sk-proj-|AIza|gsk_|xai-|hf_|oes_)",
            body in "[A-Za-z]{8,30}[0-9][A-Za-z0-9_-]{8,40}",
            max in 0usize..400,
        ) {
            let key = format!("{prefix}{body}");
            let out = capped_redacted(&format!("{before}{key}{after}"), max);
            prop_assert!(!out.contains(&body[..12]), "{}", out);
        }

        #[test]
        fn bearer_tokens_never_survive(before in "[a-z :\"'\\n]{0,40}", token in "[A-Za-z0-9._~+/=-]{1,80}", max in 0usize..300) {
            let out = capped_redacted(&format!("{before}Bearer {token}\n"), max);
            let planted = format!("Bearer {}", token);
            prop_assert!(!out.contains(&planted), "{}", out);
        }
    }
}
