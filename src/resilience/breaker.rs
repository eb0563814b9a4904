//! A circuit breaker per provider: after enough upstream failures the gateway stops sending the
//! provider requests for a while, then lets a probe through and closes again if it succeeds.
//!
//! Follows OmniRoute's breaker (omniroute.md §3.5) without its DEGRADED state (traffic flows there
//! anyway): `Closed{failures}` → `Open{until, cycles}` at the profile's threshold → `HalfOpen` once
//! the reset timeout has passed → `Closed` on a probe's success, or `Open` again on its failure with
//! the timeout doubled per cycle beyond `escalate_after_cycles` (at most `max_multiplier`×).
//!
//! Invariants:
//! - an `Open` breaker admits nothing before its `until_ms`;
//! - failures while `Open` are ignored, so stragglers from before the trip do not push the timer out;
//! - a success in `HalfOpen` always closes (and forgets the cycles); a success while `Closed` takes
//!   one failure off the count (gradual recovery);
//! - a probe that never reports (its isolate died) does not wedge the breaker: after `reset_ms` in
//!   `HalfOpen` a new probe is admitted.
//!
//! Sharing: the platform keeps the authoritative breaker in a Durable Object and sends it events
//! (success/failure); isolates keep copies and adopt the object's state with [`Breaker::merge`],
//! which keeps the most recently changed state. Counts from two copies are not added: the object
//! has seen every event, so its count is the right one, and a copy only needs to catch up with it.

use serde::{Deserialize, Serialize};

/// Thresholds and timeouts for one kind of provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerProfile {
    /// Failures (net of successes) that open a closed breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before a probe.
    pub reset_ms: i64,
    /// Concurrent probes allowed while half-open (at least 1).
    pub half_open_probes: u32,
    /// Upper bound on the escalated reset timeout, as a multiple of `reset_ms`.
    pub max_multiplier: u32,
    /// Re-opens that keep the plain `reset_ms` before the timeout starts doubling.
    pub escalate_after_cycles: u32,
}

impl BreakerProfile {
    pub const API_KEY: BreakerProfile = BreakerProfile {
        failure_threshold: 12,
        reset_ms: 30_000,
        half_open_probes: 1,
        max_multiplier: 4,
        escalate_after_cycles: 3,
    };
    pub const OAUTH: BreakerProfile = BreakerProfile {
        failure_threshold: 8,
        reset_ms: 60_000,
        half_open_probes: 1,
        max_multiplier: 8,
        escalate_after_cycles: 2,
    };
    /// Local model servers: fail fast, recover fast, never escalate.
    pub const LOCAL: BreakerProfile = BreakerProfile {
        failure_threshold: 2,
        reset_ms: 15_000,
        half_open_probes: 1,
        max_multiplier: 1,
        escalate_after_cycles: 0,
    };

    /// The reset timeout after the `cycles`-th re-open: `reset_ms`, doubled for each cycle beyond
    /// `escalate_after_cycles`, at most `max_multiplier × reset_ms`.
    pub fn reset_timeout_ms(&self, cycles: u32) -> i64 {
        let doublings = cycles.saturating_sub(self.escalate_after_cycles).min(31);
        let multiplier = (1u32 << doublings).min(self.max_multiplier.max(1));
        self.reset_ms.max(0).saturating_mul(i64::from(multiplier))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    /// `cycles` counts the re-opens after failed probes since the breaker last closed.
    Open {
        until_ms: i64,
        cycles: u32,
    },
    /// `since_ms` is when the current probes were admitted, to replace probes that never report.
    HalfOpen {
        probes_in_flight: u32,
        cycles: u32,
        since_ms: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    pub state: BreakerState,
    /// When `state` last changed; `merge` keeps the later one.
    pub changed_ms: i64,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker { state: BreakerState::Closed { failures: 0 }, changed_ms: i64::MIN }
    }
}

impl Breaker {
    /// Whether a request may go to the provider now. In `HalfOpen` an admitted request is a probe:
    /// the caller must report its outcome with `on_success` or `on_failure`.
    pub fn allow(&mut self, now_ms: i64, p: &BreakerProfile) -> bool {
        let probes = p.half_open_probes.max(1);
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until_ms, .. } if now_ms < until_ms => false,
            BreakerState::Open { cycles, .. } => {
                self.set(BreakerState::HalfOpen { probes_in_flight: 1, cycles, since_ms: now_ms }, now_ms);
                true
            }
            // The probes in flight have gone silent for a whole reset period: admit fresh ones.
            BreakerState::HalfOpen { cycles, since_ms, .. } if now_ms.saturating_sub(since_ms) >= p.reset_ms => {
                self.set(BreakerState::HalfOpen { probes_in_flight: 1, cycles, since_ms: now_ms }, now_ms);
                true
            }
            BreakerState::HalfOpen { probes_in_flight, cycles, since_ms } if probes_in_flight < probes => {
                self.set(BreakerState::HalfOpen { probes_in_flight: probes_in_flight + 1, cycles, since_ms }, now_ms);
                true
            }
            BreakerState::HalfOpen { .. } => false,
        }
    }

    pub fn on_success(&mut self, now_ms: i64) {
        match self.state {
            BreakerState::Closed { failures: 0 } => {}
            BreakerState::Closed { failures } => self.set(BreakerState::Closed { failures: failures - 1 }, now_ms),
            BreakerState::HalfOpen { .. } => self.set(BreakerState::Closed { failures: 0 }, now_ms),
            // A request admitted before the trip that happened to succeed: the timer decides, as
            // for failures while open.
            BreakerState::Open { .. } => {}
        }
    }

    pub fn on_failure(&mut self, now_ms: i64, p: &BreakerProfile) {
        match self.state {
            BreakerState::Closed { failures } => {
                let failures = failures.saturating_add(1);
                if failures >= p.failure_threshold.max(1) {
                    self.set(
                        BreakerState::Open { until_ms: now_ms.saturating_add(p.reset_timeout_ms(0)), cycles: 0 },
                        now_ms,
                    );
                } else {
                    self.set(BreakerState::Closed { failures }, now_ms);
                }
            }
            BreakerState::HalfOpen { cycles, .. } => {
                let cycles = cycles.saturating_add(1);
                let until_ms = now_ms.saturating_add(p.reset_timeout_ms(cycles));
                self.set(BreakerState::Open { until_ms, cycles }, now_ms);
            }
            BreakerState::Open { .. } => {}
        }
    }

    /// `closed`, `open` or `half_open`, for health reports.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            BreakerState::Closed { .. } => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        }
    }

    /// Milliseconds until an open breaker lets a probe through; `None` if it is not waiting on its timer.
    pub fn retry_in_ms(&self, now_ms: i64) -> Option<i64> {
        match self.state {
            BreakerState::Open { until_ms, .. } if until_ms > now_ms => Some(until_ms - now_ms),
            _ => None,
        }
    }

    /// Adopts `other` if it changed later (ties: the more severe state, then the larger fields), so
    /// merging copies in any order ends in the same state.
    pub fn merge(&mut self, other: &Breaker) {
        if other.order_key() > self.order_key() {
            *self = other.clone();
        }
    }

    fn order_key(&self) -> (i64, u8, i64, u32, u32) {
        match self.state {
            BreakerState::Closed { failures } => (self.changed_ms, 0, 0, failures, 0),
            BreakerState::HalfOpen { probes_in_flight, cycles, since_ms } => {
                (self.changed_ms, 1, since_ms, cycles, probes_in_flight)
            }
            BreakerState::Open { until_ms, cycles } => (self.changed_ms, 2, until_ms, cycles, 0),
        }
    }

    fn set(&mut self, state: BreakerState, now_ms: i64) {
        self.state = state;
        self.changed_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LOCAL: BreakerProfile = BreakerProfile::LOCAL;

    fn open_local(now: i64) -> Breaker {
        let mut b = Breaker::default();
        b.on_failure(now, &LOCAL);
        b.on_failure(now, &LOCAL);
        b
    }

    #[test]
    fn profiles_match_the_reference() {
        let a = BreakerProfile::API_KEY;
        assert_eq!(
            (a.failure_threshold, a.reset_ms, a.half_open_probes, a.max_multiplier, a.escalate_after_cycles),
            (12, 30_000, 1, 4, 3)
        );
        let o = BreakerProfile::OAUTH;
        assert_eq!(
            (o.failure_threshold, o.reset_ms, o.half_open_probes, o.max_multiplier, o.escalate_after_cycles),
            (8, 60_000, 1, 8, 2)
        );
        let l = BreakerProfile::LOCAL;
        assert_eq!(
            (l.failure_threshold, l.reset_ms, l.half_open_probes, l.max_multiplier, l.escalate_after_cycles),
            (2, 15_000, 1, 1, 0)
        );
    }

    #[test]
    fn closed_counts_failures_and_opens_at_the_threshold() {
        let p = BreakerProfile::API_KEY;
        let mut b = Breaker::default();
        for i in 1..12 {
            b.on_failure(i, &p);
            assert_eq!(b.state, BreakerState::Closed { failures: i as u32 });
            assert!(b.allow(i, &p));
        }
        b.on_failure(100, &p);
        assert_eq!(b.state, BreakerState::Open { until_ms: 30_100, cycles: 0 });
        assert_eq!((b.state_name(), b.retry_in_ms(100), b.changed_ms), ("open", Some(30_000), 100));
    }

    #[test]
    fn success_while_closed_recovers_gradually() {
        let mut b = Breaker::default();
        b.on_failure(0, &LOCAL);
        b.on_success(1);
        assert_eq!(b.state, BreakerState::Closed { failures: 0 });
        b.on_success(2);
        assert_eq!(b.state, BreakerState::Closed { failures: 0 }, "never below zero");
        b.on_failure(3, &LOCAL);
        assert_eq!(b.state_name(), "closed", "one failure after a success is not two in a row");
    }

    #[test]
    fn open_refuses_until_its_time_and_ignores_failures() {
        let mut b = open_local(0);
        assert!(!b.allow(14_999, &LOCAL));
        b.on_failure(10_000, &LOCAL);
        b.on_success(10_000);
        assert_eq!(b.state, BreakerState::Open { until_ms: 15_000, cycles: 0 }, "timer not reset");
        assert_eq!(b.retry_in_ms(10_000), Some(5_000));
        assert_eq!(b.retry_in_ms(15_000), None);
    }

    #[test]
    fn half_open_admits_the_configured_probes() {
        let mut b = open_local(0);
        assert!(b.allow(15_000, &LOCAL));
        assert_eq!(b.state, BreakerState::HalfOpen { probes_in_flight: 1, cycles: 0, since_ms: 15_000 });
        assert_eq!((b.state_name(), b.retry_in_ms(15_000)), ("half_open", None));
        assert!(!b.allow(15_001, &LOCAL), "one probe at a time");
        let two = BreakerProfile { half_open_probes: 2, ..LOCAL };
        let mut b = open_local(0);
        assert!(b.allow(15_000, &two) && b.allow(15_001, &two) && !b.allow(15_002, &two));
    }

    #[test]
    fn a_silent_probe_is_replaced_after_a_reset_period() {
        let mut b = open_local(0);
        assert!(b.allow(15_000, &LOCAL));
        assert!(!b.allow(29_999, &LOCAL));
        assert!(b.allow(30_000, &LOCAL));
        assert_eq!(b.state, BreakerState::HalfOpen { probes_in_flight: 1, cycles: 0, since_ms: 30_000 });
    }

    #[test]
    fn probe_success_closes_and_forgets_cycles() {
        let p = BreakerProfile::OAUTH;
        let mut b = Breaker { state: BreakerState::Open { until_ms: 0, cycles: 5 }, changed_ms: 0 };
        assert!(b.allow(0, &p));
        b.on_success(1);
        assert_eq!(b.state, BreakerState::Closed { failures: 0 });
        // The next trip starts from the plain reset timeout.
        for t in 0..8 {
            b.on_failure(10 + t, &p);
        }
        assert_eq!(b.state, BreakerState::Open { until_ms: 17 + 60_000, cycles: 0 });
    }

    #[test]
    fn probe_failure_reopens_with_escalating_timeouts() {
        // API key: three re-opens at 30 s, then 60 s, then capped at 4× = 120 s.
        let p = BreakerProfile::API_KEY;
        let mut b = Breaker { state: BreakerState::Open { until_ms: 0, cycles: 0 }, changed_ms: 0 };
        let mut now = 0;
        let mut waits = vec![];
        for _ in 0..6 {
            assert!(b.allow(now, &p));
            b.on_failure(now, &p);
            let wait = b.retry_in_ms(now).unwrap_or(0);
            waits.push(wait);
            now += wait;
        }
        assert_eq!(waits, [30_000, 30_000, 30_000, 60_000, 120_000, 120_000]);
        assert_eq!(b.state, BreakerState::Open { until_ms: now, cycles: 6 });
        // OAuth escalates after 2 cycles up to 8×; LOCAL never does.
        let o = BreakerProfile::OAUTH;
        let oauth: Vec<_> = (1..=6).map(|c| o.reset_timeout_ms(c)).collect();
        assert_eq!(oauth, [60_000, 60_000, 120_000, 240_000, 480_000, 480_000]);
        assert_eq!(LOCAL.reset_timeout_ms(9), 15_000);
        assert_eq!(BreakerProfile { max_multiplier: u32::MAX, ..p }.reset_timeout_ms(u32::MAX), 30_000 << 31);
    }

    #[test]
    fn merge_keeps_the_latest_change() {
        let open = open_local(100);
        let mut local = Breaker { state: BreakerState::Closed { failures: 1 }, changed_ms: 50 };
        local.merge(&open);
        assert_eq!(local, open);
        // The object closed it after a successful probe: copies that still see it open catch up.
        let mut closed = open.clone();
        assert!(closed.allow(15_100, &LOCAL));
        closed.on_success(15_200);
        let mut stale = open.clone();
        stale.merge(&closed);
        assert_eq!(stale.state, BreakerState::Closed { failures: 0 });
        let mut newer = closed.clone();
        newer.merge(&open);
        assert_eq!(newer, closed, "an older state does not win");
    }

    #[test]
    fn breaker_round_trips_through_json() {
        let b =
            Breaker { state: BreakerState::HalfOpen { probes_in_flight: 1, cycles: 2, since_ms: 7 }, changed_ms: 7 };
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.contains(r#""state":"half_open""#), "{json}");
        assert_eq!(serde_json::from_str::<Breaker>(&json).unwrap(), b);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allow,
        Success,
        Failure,
    }

    fn op() -> impl Strategy<Value = (u8, i64)> {
        (0u8..3, 0i64..20_000)
    }

    fn profile() -> impl Strategy<Value = BreakerProfile> {
        (0u32..5, 0i64..40_000, 0u32..3, 0u32..10, 0u32..4).prop_map(|(t, r, h, m, e)| BreakerProfile {
            failure_threshold: t,
            reset_ms: r,
            half_open_probes: h,
            max_multiplier: m,
            escalate_after_cycles: e,
        })
    }

    proptest! {
        /// Any sequence of events at non-decreasing times: no panic, no admission by an open breaker
        /// before its time, failures while open change nothing, and a success in half-open closes.
        #[test]
        fn breaker_invariants(p in profile(), ops in proptest::collection::vec(op(), 0..80)) {
            let mut b = Breaker::default();
            let mut now = 0i64;
            for (kind, step) in ops {
                now += step;
                let op = [Op::Allow, Op::Success, Op::Failure][usize::from(kind)].clone();
                let before = b.clone();
                match op {
                    Op::Allow => {
                        let admitted = b.allow(now, &p);
                        if let BreakerState::Open { until_ms, .. } = before.state {
                            prop_assert_eq!(admitted, now >= until_ms);
                            if !admitted {
                                prop_assert_eq!(&b, &before);
                            }
                        }
                        if matches!(before.state, BreakerState::Closed { .. }) {
                            prop_assert!(admitted);
                        }
                    }
                    Op::Success => {
                        b.on_success(now);
                        if matches!(before.state, BreakerState::HalfOpen { .. }) {
                            prop_assert_eq!(b.state, BreakerState::Closed { failures: 0 });
                        }
                    }
                    Op::Failure => {
                        b.on_failure(now, &p);
                        if matches!(before.state, BreakerState::Open { .. }) {
                            prop_assert_eq!(&b, &before);
                        }
                        // A trip starts the timer from now, never in the past.
                        if let (BreakerState::Open { until_ms, .. }, false) =
                            (b.state, matches!(before.state, BreakerState::Open { .. }))
                        {
                            prop_assert!(until_ms >= now);
                        }
                    }
                }
                prop_assert!(b.retry_in_ms(now).is_none_or(|ms| ms > 0));
            }
        }

        /// Merging copies in any order gives the same breaker.
        #[test]
        fn merge_is_order_independent(states in proptest::collection::vec((0u8..3, 0i64..50, 0u32..4), 1..6)) {
            let copies: Vec<Breaker> = states
                .iter()
                .map(|(k, t, n)| Breaker {
                    state: match k {
                        0 => BreakerState::Closed { failures: *n },
                        1 => BreakerState::HalfOpen { probes_in_flight: *n, cycles: *n, since_ms: *t },
                        _ => BreakerState::Open { until_ms: *t + 10, cycles: *n },
                    },
                    changed_ms: *t,
                })
                .collect();
            let mut forward = Breaker::default();
            copies.iter().for_each(|c| forward.merge(c));
            let mut backward = Breaker::default();
            copies.iter().rev().for_each(|c| backward.merge(c));
            prop_assert_eq!(forward, backward);
        }
    }
}
