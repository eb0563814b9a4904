//! Quota windows an upstream announces in its response headers: how many requests and tokens an
//! account has left, of how many, and when the window resets.
//!
//! - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`,
//!   the reset as an RFC 3339 time.
//! - OpenAI and most compatible APIs: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the
//!   reset as a duration (`1s`, `6m0s`, `20ms`, `1h2m3.5s`) or plain seconds.
//!
//! An account whose window says 0 remaining is skipped by routing until the reset
//! (`resilience::state`), instead of being found out with a failed call; one with little left goes
//! after the accounts that have more (`routing::headroom`).

use crate::time::{parse_iso, NoZone};
use serde::{Deserialize, Serialize};

/// One window: what is left of an allowance, and when it is whole again (ms since epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub limit: Option<u64>,
    pub remaining: u64,
    pub reset_at: i64,
}

/// What one answer said of an account's quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub requests: Option<Window>,
    pub tokens: Option<Window>,
    /// When it was observed (ms); a later observation replaces an earlier one.
    pub at: i64,
}

impl Quota {
    /// Until when the account has nothing left in some window, if it has not.
    pub fn exhausted_until(&self, now_ms: i64) -> Option<i64> {
        [self.requests, self.tokens]
            .into_iter()
            .flatten()
            .filter(|w| w.remaining == 0 && w.reset_at > now_ms)
            .map(|w| w.reset_at)
            .max()
    }

    /// The fraction of its allowance the account has left now, in [0, 1]: the scarcest of its windows
    /// whose limit is known and whose reset is still ahead. `None` when no such window is known (no
    /// limit announced, or every window has reset since).
    pub fn left(&self, now_ms: i64) -> Option<f64> {
        [self.requests, self.tokens]
            .into_iter()
            .flatten()
            .filter(|w| w.reset_at > now_ms)
            .filter_map(|w| w.limit.filter(|&l| l > 0).map(|l| (w.remaining as f64 / l as f64).min(1.0)))
            .reduce(f64::min)
    }
}

/// The quota an answer's headers announce, if any.
pub fn read(headers: &[(String, String)], now_ms: i64) -> Option<Quota> {
    let announced = |k: &str| {
        let k = k.as_bytes();
        k.len() > 20
            && (k[..12].eq_ignore_ascii_case(b"x-ratelimit-") || k[..20].eq_ignore_ascii_case(b"anthropic-ratelimit-"))
    };
    if !headers.iter().any(|(k, _)| announced(k)) {
        return None; // the usual case: nothing to parse
    }
    let get = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
    let window = |limit: &str, remaining: &str, reset: &str| -> Option<Window> {
        let remaining = get(remaining)?.parse::<u64>().ok()?;
        let reset_at = reset_time(get(reset)?, now_ms)?;
        Some(Window { limit: get(limit).and_then(|v| v.parse().ok()), remaining, reset_at })
    };
    let anthropic = |kind: &str| {
        let h = |part: &str| format!("anthropic-ratelimit-{kind}-{part}");
        window(&h("limit"), &h("remaining"), &h("reset"))
    };
    let openai = |kind: &str| {
        let h = |part: &str| format!("x-ratelimit-{part}-{kind}");
        window(&h("limit"), &h("remaining"), &h("reset"))
    };
    let requests = anthropic("requests").or_else(|| openai("requests"));
    // Anthropic may report input and output tokens separately: the scarcer one is the window.
    let tokens = [anthropic("tokens"), anthropic("input-tokens"), anthropic("output-tokens"), openai("tokens")]
        .into_iter()
        .flatten()
        .min_by_key(|w| w.remaining);
    (requests.is_some() || tokens.is_some()).then_some(Quota { requests, tokens, at: now_ms })
}

/// A reset as an RFC 3339 time, a duration (`6m0s`, `20ms`) or plain seconds, as ms since epoch.
fn reset_time(v: &str, now_ms: i64) -> Option<i64> {
    if v.contains('T') {
        return parse_iso(v, NoZone::Refuse);
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| now_ms + (secs * 1000.0) as i64);
    }
    duration_ms(v).map(|ms| now_ms + ms)
}

/// Go-style durations: a sequence of number + unit (`h`, `m`, `s`, `ms`), e.g. `1h2m3.5s`.
fn duration_ms(v: &str) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    let mut rest = v;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1.0, 2)
        } else if rest.starts_with('h') {
            (3_600_000.0, 1)
        } else if rest.starts_with('m') {
            (60_000.0, 1)
        } else if rest.starts_with('s') {
            (1_000.0, 1)
        } else {
            return None;
        };
        total += n * unit_ms;
        rest = &rest[len..];
    }
    (total.is_finite() && total < 1e12).then_some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::iso;
    use proptest::prelude::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_openai_headers_with_durations() {
        let q = read(
            &h(&[
                ("x-ratelimit-limit-requests", "3"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "7s"),
                ("X-RateLimit-Remaining-Tokens", "149984"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ]),
            1_000,
        )
        .unwrap();
        assert_eq!(q.requests, Some(Window { limit: Some(3), remaining: 0, reset_at: 8_000 }));
        assert_eq!(q.tokens, Some(Window { limit: None, remaining: 149_984, reset_at: 361_000 }));
        assert_eq!(q.exhausted_until(1_000), Some(8_000));
        assert_eq!(q.exhausted_until(8_000), None, "whole again at its reset");
    }

    #[test]
    fn reads_anthropic_headers_with_times_and_the_scarcer_token_window() {
        let q = read(
            &h(&[
                ("anthropic-ratelimit-requests-limit", "50"),
                ("anthropic-ratelimit-requests-remaining", "49"),
                ("anthropic-ratelimit-requests-reset", "2026-11-22T03:15:40Z"),
                ("anthropic-ratelimit-input-tokens-remaining", "900"),
                ("anthropic-ratelimit-input-tokens-reset", "2026-11-22T03:16:00.5Z"),
                ("anthropic-ratelimit-output-tokens-remaining", "0"),
                ("anthropic-ratelimit-output-tokens-reset", "2026-11-22T04:15:31+01:00"),
            ]),
            0,
        )
        .unwrap();
        assert_eq!(iso(q.requests.unwrap().reset_at), "2026-11-22T03:15:40.000Z");
        let t = q.tokens.unwrap();
        assert_eq!((t.remaining, iso(t.reset_at).as_str()), (0, "2026-11-22T03:15:31.000Z"));
        assert_eq!(iso(reset_time("2026-11-22T03:16:00.5Z", 0).unwrap()), "2026-11-22T03:16:00.500Z");
    }

    #[test]
    fn ignores_answers_without_a_quota_and_malformed_values() {
        assert_eq!(read(&h(&[("content-type", "application/json")]), 0), None);
        assert_eq!(read(&h(&[("x-ratelimit-remaining-requests", "0")]), 0), None, "no reset, no window");
        assert_eq!(read(&h(&[("x-ratelimit-remaining-requests", "x"), ("x-ratelimit-reset-requests", "1s")]), 0), None);
        for bad in ["", "5q", "1.2.3s", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "-3"] {
            assert_eq!(reset_time(bad, 0), None, "{bad}");
        }
        assert_eq!(duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(reset_time("2.5", 100), Some(2_600));
    }

    #[test]
    fn what_is_left_is_the_scarcest_window_still_running_with_a_known_limit() {
        let w = |limit, remaining, reset_at| Some(Window { limit, remaining, reset_at });
        let q = Quota { requests: w(Some(100), 40, 5_000), tokens: w(Some(1_000), 100, 2_000), at: 0 };
        assert_eq!(q.left(1_000), Some(0.1), "tokens are scarcer");
        assert_eq!(q.left(2_000), Some(0.4), "the tokens window has reset: it says nothing now");
        assert_eq!(q.left(5_000), None, "both have reset");
        let no_limit = Quota { requests: w(None, 3, 5_000), tokens: w(Some(0), 0, 5_000), at: 0 };
        assert_eq!(no_limit.left(0), None, "without a (usable) limit there is no fraction");
        let over = Quota { requests: w(Some(10), 12, 5_000), tokens: None, at: 0 };
        assert_eq!(over.left(0), Some(1.0), "more left than the limit (a raised limit) is all of it");
    }

    proptest! {
        #[test]
        fn left_is_a_fraction_no_larger_than_any_running_window(
            windows in proptest::collection::vec((proptest::option::of(0u64..2_000), 0u64..3_000, 0i64..100), 2),
            now in 0i64..100,
        ) {
            let ws: Vec<Window> =
                windows.iter().map(|&(limit, remaining, reset_at)| Window { limit, remaining, reset_at }).collect();
            let q = Quota { requests: Some(ws[0]), tokens: Some(ws[1]), at: 0 };
            let running: Vec<f64> = ws
                .iter()
                .filter(|w| w.reset_at > now && w.limit.is_some_and(|l| l > 0))
                .map(|w| w.remaining as f64 / w.limit.unwrap() as f64)
                .collect();
            match q.left(now) {
                None => prop_assert!(running.is_empty()),
                Some(f) => {
                    prop_assert!((0.0..=1.0).contains(&f));
                    prop_assert!(running.iter().all(|&r| f <= r));
                    prop_assert!(running.iter().any(|&r| f == r.min(1.0)));
                }
            }
        }

        #[test]
        fn arbitrary_header_values_never_panic(v in ".{0,40}") {
            let _ = reset_time(&v, 0);
            let _ = read(&h(&[("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", v.as_str())]), 0);
        }
    }
}
