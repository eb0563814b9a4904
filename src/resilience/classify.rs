//! What an upstream failure means for routing: move to another account of the same provider, skip to
//! the next combo/fallback target, or stop because the client's own request is at fault.
//!
//! Follows OmniRoute's fallback classification (omniroute.md §3.4, and §3.1 for which errors make a
//! combo move). Well-known error texts are checked first (case-insensitive substrings), because
//! providers report quotas and rate limits under many status codes; then the status decides.
//!
//! Invariants:
//! - a client error (`Reason::ClientError`) always stops, with no cooldown and no breaker count: a bad
//!   request must not be retried across every provider, nor punish the connection that rejected it;
//! - every verdict that moves on carries a cooldown, except a context overflow (the request itself is
//!   too big for this model; the account is fine);
//! - `classify` is total: any status, text and hint gives a verdict.
//!
//! Differences from OmniRoute: a 429 does not count toward the provider's breaker (it is scoped to one
//! account and model, and the cooldown already handles it; counting it would let one busy account
//! open the breaker for the provider's healthy ones).

use serde::{Deserialize, Serialize};

/// How long a whole-account quota parks the account when the upstream gives no reset time.
pub const QUOTA_COOLDOWN_MS: i64 = 10 * 60_000;
/// Rejected credentials: long enough not to hammer, short enough to pick up a fixed key.
pub const AUTH_COOLDOWN_MS: i64 = 2 * 60_000;
/// An unknown model on this account stays unknown for a while.
pub const MODEL_NOT_FOUND_COOLDOWN_MS: i64 = 2 * 60_000;
/// A redirect is the connection's base URL: asking again gets the same one until someone fixes it.
pub const REDIRECT_COOLDOWN_MS: i64 = 2 * 60_000;

/// An upstream failure, as the platform saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    /// `None` when there was no HTTP answer (connection error or timeout).
    pub status: Option<u16>,
    pub timed_out: bool,
    /// The upstream's error text in any format, already extracted from the body.
    pub message: &'a str,
    /// The upstream's retry hint (`Retry-After`, `x-ratelimit-reset`, Gemini `retryDelay`), parsed.
    pub retry_after_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    RateLimited,
    QuotaExhausted,
    Capacity,
    AuthFailed,
    /// A 3xx: the gateway follows no redirects (`upstream::map_error`).
    Redirected,
    ModelNotFound,
    ContextOverflow,
    ClientError,
    ServerError,
    Timeout,
    Network,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RateLimited => "rate_limited",
            Reason::QuotaExhausted => "quota_exhausted",
            Reason::Capacity => "capacity",
            Reason::AuthFailed => "auth_failed",
            Reason::Redirected => "redirected",
            Reason::ModelNotFound => "model_not_found",
            Reason::ContextOverflow => "context_overflow",
            Reason::ClientError => "client_error",
            Reason::ServerError => "server_error",
            Reason::Timeout => "timeout",
            Reason::Network => "network",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Try another connection of the same provider, then the other targets.
    NextAccount,
    /// Skip this provider/model and go on to the next combo or fallback target.
    NextTarget,
    /// The client's own error: answer it, never retry elsewhere.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooldownScope {
    /// The whole connection (credentials, account-wide quota).
    Account,
    /// The connection for this model only (per-model rate limits and capacity).
    AccountModel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CooldownRule {
    pub scope: CooldownScope,
    /// A fixed wait (a rule's or the upstream's hint); `None` = exponential backoff.
    pub fixed_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub reason: Reason,
    pub action: Action,
    pub cooldown: Option<CooldownRule>,
    /// Whether this failure counts toward the provider's circuit breaker.
    pub counts_for_breaker: bool,
}

const RATE_LIMIT_TEXTS: &[&str] = &["rate limit", "ratelimit", "rate_limit", "too many requests"];
const QUOTA_TEXTS: &[&str] = &[
    "quota exceeded",
    "quota has been exceeded",
    "exceeded your current quota",
    "insufficient_quota",
    "exhausted your capacity",
    "quota exhausted",
    "free tier of the model has been exhausted",
    "credit balance is too low",
    "billing",
];
const CAPACITY_TEXTS: &[&str] = &["overloaded", "capacity", "high demand"];
const CONTEXT_OVERFLOW_TEXTS: &[&str] = &[
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "prompt is too long",
    "too many tokens",
    "reduce the length",
];

fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

/// What to do after `f`.
pub fn classify(f: &Failure) -> Verdict {
    let text = f.message.to_lowercase();
    // A hint only counts if it is a wait; zero or negative ones fall back to the rule's own.
    let hint = f.retry_after_ms.filter(|ms| *ms > 0);
    let body_status = matches!(f.status, Some(400 | 413 | 422));

    // A redirect comes from the connection's URL, whatever its text says: another account (which may
    // have its own base URL) can still answer; this one cannot until it is fixed, so it is parked
    // whole and not retried.
    if matches!(f.status, Some(300..=399)) {
        return Verdict {
            reason: Reason::Redirected,
            action: Action::NextAccount,
            cooldown: Some(CooldownRule { scope: CooldownScope::Account, fixed_ms: Some(REDIRECT_COOLDOWN_MS) }),
            counts_for_breaker: false,
        };
    }

    // Quota before rate limit: OpenAI's insufficient_quota comes as a 429 whose text mentions both,
    // and waiting a few seconds will not bring a spent quota back.
    if contains_any(&text, QUOTA_TEXTS) {
        return quota(hint);
    }
    if contains_any(&text, RATE_LIMIT_TEXTS) {
        return rate_limited(hint);
    }
    // "capacity" is a weak word that also appears in context-overflow messages of 400s, and moving
    // such a request between accounts would loop (omniroute.md §3.1, #2101).
    if body_status && contains_any(&text, CONTEXT_OVERFLOW_TEXTS) {
        return context_overflow();
    }
    if contains_any(&text, CAPACITY_TEXTS) {
        return transient(Reason::Capacity, hint);
    }

    match f.status {
        Some(401 | 403) => Verdict {
            reason: Reason::AuthFailed,
            action: Action::NextAccount,
            cooldown: Some(CooldownRule { scope: CooldownScope::Account, fixed_ms: Some(AUTH_COOLDOWN_MS) }),
            counts_for_breaker: false,
        },
        Some(402) => quota(hint),
        Some(404) => Verdict {
            reason: Reason::ModelNotFound,
            action: Action::NextTarget,
            cooldown: Some(CooldownRule {
                scope: CooldownScope::AccountModel,
                fixed_ms: Some(MODEL_NOT_FOUND_COOLDOWN_MS),
            }),
            counts_for_breaker: false,
        },
        Some(429) => rate_limited(hint),
        Some(503 | 529) => transient(Reason::Capacity, hint),
        Some(400 | 413 | 422) => {
            Verdict { reason: Reason::ClientError, action: Action::Stop, cooldown: None, counts_for_breaker: false }
        }
        // 408, 500, 502, 504 and anything unexpected: the upstream's trouble, not the request's. Only
        // server-side statuses count toward the breaker (omniroute.md §3.5).
        Some(status) => {
            Verdict { counts_for_breaker: status >= 500 || status == 408, ..transient(Reason::ServerError, hint) }
        }
        None if f.timed_out => transient(Reason::Timeout, hint),
        None => transient(Reason::Network, hint),
    }
}

fn quota(hint: Option<i64>) -> Verdict {
    Verdict {
        reason: Reason::QuotaExhausted,
        action: Action::NextAccount,
        cooldown: Some(CooldownRule {
            scope: CooldownScope::Account,
            fixed_ms: Some(hint.unwrap_or(QUOTA_COOLDOWN_MS)),
        }),
        counts_for_breaker: false,
    }
}

fn rate_limited(hint: Option<i64>) -> Verdict {
    Verdict {
        reason: Reason::RateLimited,
        action: Action::NextAccount,
        cooldown: Some(CooldownRule { scope: CooldownScope::AccountModel, fixed_ms: hint }),
        counts_for_breaker: false,
    }
}

fn context_overflow() -> Verdict {
    Verdict { reason: Reason::ContextOverflow, action: Action::NextTarget, cooldown: None, counts_for_breaker: false }
}

/// Upstream trouble that may pass: next account, back off this account+model, count for the breaker.
fn transient(reason: Reason, hint: Option<i64>) -> Verdict {
    Verdict {
        reason,
        action: Action::NextAccount,
        cooldown: Some(CooldownRule { scope: CooldownScope::AccountModel, fixed_ms: hint }),
        counts_for_breaker: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status(s: u16, message: &str) -> Verdict {
        classify(&Failure { status: Some(s), timed_out: false, message, retry_after_ms: None })
    }

    fn summary(v: Verdict) -> (Reason, Action, Option<CooldownScope>, Option<i64>, bool) {
        (v.reason, v.action, v.cooldown.map(|c| c.scope), v.cooldown.and_then(|c| c.fixed_ms), v.counts_for_breaker)
    }

    use Action::*;
    use CooldownScope::*;

    #[test]
    fn rate_limit_texts_and_429() {
        let expected = (Reason::RateLimited, NextAccount, Some(AccountModel), None, false);
        assert_eq!(summary(status(429, "")), expected);
        assert_eq!(summary(status(400, "Rate limit reached for requests")), expected, "text wins over a 400");
        assert_eq!(summary(status(500, "Too Many Requests")), expected);
        assert_eq!(summary(status(200, "rate_limit_error")), expected);
        let hinted =
            classify(&Failure { status: Some(429), timed_out: false, message: "", retry_after_ms: Some(7_000) });
        assert_eq!(hinted.cooldown.and_then(|c| c.fixed_ms), Some(7_000));
        let bogus = classify(&Failure { status: Some(429), timed_out: false, message: "", retry_after_ms: Some(0) });
        assert_eq!(bogus.cooldown.and_then(|c| c.fixed_ms), None, "a zero hint means backoff");
    }

    #[test]
    fn quota_texts_park_the_whole_account() {
        let expected = (Reason::QuotaExhausted, NextAccount, Some(Account), Some(QUOTA_COOLDOWN_MS), false);
        for text in [
            "Quota exceeded for metric generate_content_free_tier_requests",
            "Your quota has been exceeded",
            "You exceeded your current quota, please check your plan and billing details.",
            r#"{"error":{"code":"insufficient_quota"}}"#,
            "You have exhausted your capacity on this model",
            "Quota exhausted",
            "Your credit balance is too low to access the Anthropic API",
            "Billing hard limit has been reached",
        ] {
            assert_eq!(summary(status(429, text)), expected, "{text}");
            assert_eq!(summary(status(400, text)), expected, "{text}");
        }
        assert_eq!(summary(status(402, "")), expected);
        let hinted = classify(&Failure {
            status: Some(429),
            timed_out: false,
            message: "quota exceeded",
            retry_after_ms: Some(33_000),
        });
        assert_eq!(hinted.cooldown.and_then(|c| c.fixed_ms), Some(33_000));
    }

    #[test]
    fn capacity_texts_and_overloaded_statuses_back_off_and_count() {
        let expected = (Reason::Capacity, NextAccount, Some(AccountModel), None, true);
        assert_eq!(summary(status(500, "The model is overloaded")), expected);
        assert_eq!(summary(status(400, "Model is at capacity")), expected);
        assert_eq!(summary(status(200, "experiencing HIGH DEMAND")), expected);
        assert_eq!(summary(status(503, "")), expected);
        assert_eq!(summary(status(529, "")), expected);
    }

    #[test]
    fn auth_failures_park_the_account_and_try_another() {
        let expected = (Reason::AuthFailed, NextAccount, Some(Account), Some(AUTH_COOLDOWN_MS), false);
        assert_eq!(summary(status(401, "invalid x-api-key")), expected);
        assert_eq!(summary(status(403, "permission denied")), expected);
    }

    #[test]
    fn redirects_park_the_account_whatever_they_say() {
        let expected = (Reason::Redirected, NextAccount, Some(Account), Some(REDIRECT_COOLDOWN_MS), false);
        for s in [301, 302, 307, 308] {
            assert_eq!(summary(status(s, "")), expected, "{s}");
            assert_eq!(summary(status(s, "rate limit moved")), expected, "{s}");
        }
    }

    #[test]
    fn unknown_model_skips_the_target() {
        let expected =
            (Reason::ModelNotFound, NextTarget, Some(AccountModel), Some(MODEL_NOT_FOUND_COOLDOWN_MS), false);
        assert_eq!(summary(status(404, "model `x` does not exist")), expected);
    }

    #[test]
    fn server_errors_back_off_and_count() {
        let expected = (Reason::ServerError, NextAccount, Some(AccountModel), None, true);
        for s in [408, 500, 502, 504] {
            assert_eq!(summary(status(s, "internal error")), expected, "{s}");
        }
        let hinted =
            classify(&Failure { status: Some(502), timed_out: false, message: "", retry_after_ms: Some(2_000) });
        assert_eq!(hinted.cooldown.and_then(|c| c.fixed_ms), Some(2_000));
    }

    #[test]
    fn context_overflow_moves_to_a_bigger_target_without_cooldown() {
        let expected = (Reason::ContextOverflow, NextTarget, None, None, false);
        for text in [
            "This model's maximum context length is 128000 tokens",
            "context_length_exceeded",
            "input exceeds the context window capacity of this model",
            "prompt is too long: 210000 tokens > 200000 maximum",
            "Too many tokens in request",
            "Please reduce the length of the messages",
        ] {
            for s in [400, 413, 422] {
                assert_eq!(summary(status(s, text)), expected, "{s} {text}");
            }
        }
    }

    #[test]
    fn other_client_errors_stop() {
        let expected = (Reason::ClientError, Stop, None, None, false);
        assert_eq!(summary(status(400, "messages: field required")), expected);
        assert_eq!(summary(status(413, "")), expected);
        assert_eq!(summary(status(422, "invalid temperature")), expected);
    }

    #[test]
    fn no_answer_is_a_timeout_or_a_network_error() {
        let timeout = classify(&Failure { status: None, timed_out: true, message: "", retry_after_ms: None });
        assert_eq!(summary(timeout), (Reason::Timeout, NextAccount, Some(AccountModel), None, true));
        let network =
            classify(&Failure { status: None, timed_out: false, message: "connection reset", retry_after_ms: None });
        assert_eq!(summary(network), (Reason::Network, NextAccount, Some(AccountModel), None, true));
    }

    #[test]
    fn any_other_status_is_treated_as_transient() {
        assert_eq!(summary(status(418, "")), (Reason::ServerError, NextAccount, Some(AccountModel), None, false));
        assert_eq!(summary(status(409, "")).1, NextAccount);
        assert_eq!(summary(status(599, "")), (Reason::ServerError, NextAccount, Some(AccountModel), None, true));
    }

    #[test]
    fn reasons_serialize_in_snake_case() {
        assert_eq!(serde_json::to_string(&Reason::QuotaExhausted).unwrap(), r#""quota_exhausted""#);
        for r in [Reason::RateLimited, Reason::ContextOverflow, Reason::ModelNotFound, Reason::Network] {
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
        }
        assert_eq!(serde_json::to_string(&Action::NextAccount).unwrap(), r#""next_account""#);
    }

    proptest! {
        /// Total, and a client error never moves on, never cools an account down, never trips a breaker;
        /// everything that moves to another account cools the failed one down.
        #[test]
        fn client_errors_always_stop(
            s in proptest::option::of(any::<u16>()),
            timed_out in any::<bool>(),
            message in ".{0,80}",
            hint in proptest::option::of(any::<i64>()),
        ) {
            let v = classify(&Failure { status: s, timed_out, message: &message, retry_after_ms: hint });
            prop_assert_eq!(v.reason == Reason::ClientError, v.action == Action::Stop);
            if v.action == Action::Stop {
                prop_assert!(v.cooldown.is_none() && !v.counts_for_breaker);
            }
            if v.action == Action::NextAccount {
                prop_assert!(v.cooldown.is_some());
            }
            if let Some(ms) = v.cooldown.and_then(|c| c.fixed_ms) {
                prop_assert!(ms > 0);
            }
        }
    }
}
