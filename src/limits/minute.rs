//! Requests and tokens of the last minute, in one-second buckets: at most 60 buckets whatever the
//! rate, so a high limit costs no more to store than a low one. A request counts from the second it
//! was admitted until 60 s after that second began.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const WINDOW_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket {
    sec: i64,
    requests: u64,
    tokens: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Minute {
    buckets: VecDeque<Bucket>,
}

/// What to sum when asking whether a limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Requests,
    Tokens,
}

impl Bucket {
    fn value(&self, m: Measure) -> u64 {
        match m {
            Measure::Requests => self.requests,
            Measure::Tokens => self.tokens,
        }
    }
}

impl Minute {
    pub fn prune(&mut self, now_ms: i64) {
        let oldest = now_ms.div_euclid(1000) - WINDOW_SECS;
        while self.buckets.front().is_some_and(|b| b.sec <= oldest) {
            self.buckets.pop_front();
        }
    }

    /// Counts one request of `tokens` at `now_ms`; returns its second (to adjust its tokens later).
    pub fn add(&mut self, now_ms: i64, tokens: u64) -> i64 {
        let sec = now_ms.div_euclid(1000);
        match self.buckets.back_mut() {
            Some(b) if b.sec >= sec => {
                b.requests += 1;
                b.tokens = b.tokens.saturating_add(tokens);
                b.sec
            }
            _ => {
                self.buckets.push_back(Bucket { sec, requests: 1, tokens });
                sec
            }
        }
    }

    /// Replaces an estimate counted in second `sec` by the real count, if that second still counts.
    pub fn correct_tokens(&mut self, sec: i64, estimate: u64, actual: u64) {
        if let Some(b) = self.buckets.iter_mut().find(|b| b.sec == sec) {
            b.tokens = b.tokens.saturating_sub(estimate).saturating_add(actual);
        }
    }

    pub fn total(&self, m: Measure) -> u64 {
        self.buckets.iter().map(|b| b.value(m)).sum()
    }

    /// `None` while the minute's total is under `limit`; else the ms until enough has aged out.
    pub fn wait(&self, m: Measure, limit: u64, now_ms: i64) -> Option<i64> {
        let mut total = self.total(m);
        if total < limit {
            return None;
        }
        let frees_at = self.buckets.iter().find_map(|b| {
            total -= b.value(m);
            (total < limit).then_some((b.sec + WINDOW_SECS) * 1000)
        });
        Some(frees_at.map_or(1, |at| (at - now_ms).max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_second_and_ages_out_after_a_minute() {
        let mut m = Minute::default();
        let s = m.add(1_500, 10);
        m.add(1_900, 5);
        m.add(30_000, 1);
        assert_eq!((m.total(Measure::Requests), m.total(Measure::Tokens)), (3, 16));
        assert_eq!(m.buckets.len(), 2, "one bucket per second");
        // Two requests were admitted in second 1: they count until second 61 begins.
        assert_eq!(m.wait(Measure::Requests, 2, 30_000), Some(61_000 - 30_000));
        assert_eq!(m.wait(Measure::Requests, 4, 30_000), None);
        m.correct_tokens(s, 10, 2);
        assert_eq!(m.total(Measure::Tokens), 8);
        m.prune(60_999);
        assert_eq!(m.total(Measure::Requests), 3);
        m.prune(61_000);
        assert_eq!(m.total(Measure::Requests), 1);
    }

    #[test]
    fn stays_bounded_at_any_rate() {
        let mut m = Minute::default();
        for t in 0..600_000i64 {
            m.prune(t * 10);
            m.add(t * 10, 1);
        }
        assert!(m.buckets.len() <= 61);
    }
}
