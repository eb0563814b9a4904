//! Limits of one provider connection (an account): requests per minute, a minimum gap between
//! requests, a maximum of concurrent requests, and a quota window configured by hand (an allowance
//! of requests or tokens per so many hours, for providers that announce none). Held by an authoritative object per limited
//! connection (`Slots`): an attempt takes a slot before calling the upstream and gives it back when
//! the request ends. A connection at its limit is skipped for the next account or target (or, with
//! the tenant's `connection_wait_ms`, waited for up to that long).

use super::minute::{Measure, Minute};
use crate::engine::ports::Slot;
use crate::error::{GatewayError, Result};
use crate::state::Machine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A slot whose release never came (its isolate died) is free again after this.
const LEASE_MS: i64 = 15 * 60_000;
/// How soon to ask again when every concurrent slot is taken (no release time is known).
const CONCURRENCY_RETRY_MS: i64 = 50;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionLimits {
    pub requests_per_minute: Option<u32>,
    /// Milliseconds between the starts of two requests.
    pub min_gap_ms: Option<u64>,
    pub max_concurrent: Option<u32>,
    pub window: Option<QuotaWindow>,
    /// Set by the gateway when the stored limits did not decode: the connection is kept out of
    /// routing (never served as unlimited) until its limits are set again. Never input.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

/// An allowance per window of `hours`. A window starts with the first request after the previous
/// one ended (as subscription windows do), and lasts `hours`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuotaWindow {
    pub hours: u32,
    pub requests: Option<u64>,
    /// Input + output tokens, counted when each request ends.
    pub tokens: Option<u64>,
}

impl QuotaWindow {
    fn len_ms(&self) -> i64 {
        i64::from(self.hours) * 3_600_000
    }
}

/// How much of a configured window is used (`GET /api/quotas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowUse {
    pub started_at: i64,
    pub requests: u64,
    pub tokens: u64,
}

impl ConnectionLimits {
    pub fn is_empty(&self) -> bool {
        *self == ConnectionLimits::default()
    }

    /// What a connection whose stored limits do not decode has: no use.
    pub fn unreadable() -> ConnectionLimits {
        ConnectionLimits { unreadable: true, ..ConnectionLimits::default() }
    }

    /// A connection's stored `limits` (JSON text; NULL: none), written by this or another version:
    /// unknown fields are ignored; a value that does not decode is [`ConnectionLimits::unreadable`]
    /// (and the error is returned, for the log).
    pub fn from_stored(text: Option<&str>) -> (ConnectionLimits, Option<String>) {
        match text.map(serde_json::from_str::<ConnectionLimits>) {
            None => (ConnectionLimits::default(), None),
            Some(Ok(limits)) => (limits, None),
            Some(Err(e)) => (ConnectionLimits::unreadable(), Some(e.to_string())),
        }
    }

    /// Checks admin input.
    pub fn validate(self) -> Result<ConnectionLimits> {
        if self.unreadable {
            let msg = "`limits.unreadable` is set by the gateway, not by input.";
            return Err(GatewayError::invalid_request(msg).with_param("limits.unreadable"));
        }
        let check = |name: &str, v: Option<u64>, hi: u64| match v {
            Some(v) if !(1..=hi).contains(&v) => {
                let param = format!("limits.{name}");
                Err(GatewayError::invalid_request(format!("`{param}` must be between 1 and {hi}.")).with_param(&param))
            }
            _ => Ok(()),
        };
        check("requests_per_minute", self.requests_per_minute.map(u64::from), 1_000_000)?;
        check("min_gap_ms", self.min_gap_ms, 3_600_000)?;
        check("max_concurrent", self.max_concurrent.map(u64::from), 10_000)?;
        if let Some(w) = self.window {
            check("window.hours", Some(w.hours.into()), 24 * 31)?;
            check("window.requests", w.requests, 1_000_000_000)?;
            check("window.tokens", w.tokens, 1_000_000_000_000)?;
            if w.requests.is_none() && w.tokens.is_none() {
                let msg = "`limits.window` needs `requests` or `tokens`.";
                return Err(GatewayError::invalid_request(msg).with_param("limits.window"));
            }
        }
        Ok(self)
    }
}

/// One connection's requests: when the last minute's started, and the slots held now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Slots {
    started: Minute,
    last_start: Option<i64>,
    /// Held slots, by id, with when they were taken.
    held: BTreeMap<u64, i64>,
    next: u64,
    /// The configured window in progress, if any.
    window: Option<WindowUse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlotCommand {
    Acquire {
        limits: ConnectionLimits,
    },
    /// Gives a slot back; `tokens` are what the request used (for a configured window).
    Release {
        slot: u64,
        #[serde(default)]
        tokens: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SlotReply {
    Granted {
        slot: u64,
    },
    /// At a limit; `retry_after_ms` is when asking again may succeed.
    Busy {
        retry_after_ms: i64,
    },
    Released,
}

impl SlotReply {
    /// An acquisition's outcome for the pipeline.
    pub fn slot(self) -> Result<Slot> {
        match self {
            SlotReply::Granted { slot } => Ok(Slot::Granted(slot)),
            SlotReply::Busy { retry_after_ms } => Ok(Slot::Busy(retry_after_ms)),
            SlotReply::Released => Err(GatewayError::internal("the slots released instead of granting")),
        }
    }
}

impl Slots {
    fn prune(&mut self, now: i64) {
        self.started.prune(now);
        self.held.retain(|_, at| *at > now - LEASE_MS);
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.held.len()
    }

    /// The configured window in progress at `now`, if any.
    pub fn window_use(&self, window: &QuotaWindow, now: i64) -> Option<WindowUse> {
        self.window.filter(|w| now < w.started_at + window.len_ms())
    }

    pub fn acquire(&mut self, limits: &ConnectionLimits, now: i64) -> SlotReply {
        self.prune(now);
        let mut wait = 0i64;
        if let Some(max) = limits.max_concurrent {
            if self.held.len() >= max as usize {
                wait = wait.max(CONCURRENCY_RETRY_MS);
            }
        }
        if let (Some(gap), Some(last)) = (limits.min_gap_ms, self.last_start) {
            wait = wait.max(last + gap as i64 - now);
        }
        if let Some(rpm) = limits.requests_per_minute {
            wait = wait.max(self.started.wait(Measure::Requests, rpm.into(), now).unwrap_or(0));
        }
        if let Some(window) = &limits.window {
            self.window = self.window_use(window, now);
            if let Some(w) = self.window {
                let spent =
                    window.requests.is_some_and(|r| w.requests >= r) || window.tokens.is_some_and(|t| w.tokens >= t);
                if spent {
                    wait = wait.max(w.started_at + window.len_ms() - now);
                }
            }
        }
        if wait > 0 {
            return SlotReply::Busy { retry_after_ms: wait };
        }
        let slot = self.next;
        self.next += 1;
        self.held.insert(slot, now);
        self.last_start = Some(now);
        self.started.add(now, 0);
        if limits.window.is_some() {
            let w = self.window.get_or_insert(WindowUse { started_at: now, requests: 0, tokens: 0 });
            w.requests += 1;
        }
        SlotReply::Granted { slot }
    }

    pub fn release(&mut self, slot: u64, tokens: u64, now: i64) {
        self.prune(now);
        if self.held.remove(&slot).is_some() {
            if let Some(w) = &mut self.window {
                w.tokens = w.tokens.saturating_add(tokens);
            }
        }
    }
}

impl Machine for Slots {
    type Stored = Slots;
    type State = Slots;
    type Command = SlotCommand;
    type Reply = SlotReply;
    const STORAGE_KEY: &'static str = "slots";

    fn load(stored: Slots) -> Slots {
        stored
    }
    fn store(state: &mut Slots, now_ms: i64) -> Slots {
        state.prune(now_ms);
        state.clone()
    }
    fn apply(state: &mut Slots, command: &SlotCommand, now_ms: i64) -> SlotReply {
        match command {
            SlotCommand::Acquire { limits } => state.acquire(limits, now_ms),
            SlotCommand::Release { slot, tokens } => {
                state.release(*slot, *tokens, now_ms);
                SlotReply::Released
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_limits_of_a_newer_version_still_read_and_damaged_ones_are_unreadable() {
        let newer = r#"{"requests_per_minute": 5, "max_concurrent": 2, "burst": 9, "window": {"hours": 5, "requests": 50, "reset": "rolling"}}"#;
        let (limits, error) = ConnectionLimits::from_stored(Some(newer));
        assert_eq!((limits.requests_per_minute, limits.max_concurrent, error), (Some(5), Some(2), None));
        assert_eq!(limits.window.map(|w| (w.hours, w.requests)), Some((5, Some(50))));
        assert!(!limits.unreadable);
        assert_eq!(ConnectionLimits::from_stored(None), (ConnectionLimits::default(), None));
        for damaged in [r#"{"requests_per_minute": "many"}"#, "{", "\"none\"", r#"{"window": {"hours": -1}}"#] {
            let (limits, error) = ConnectionLimits::from_stored(Some(damaged));
            assert!(limits.unreadable && !limits.is_empty() && error.is_some(), "{damaged}");
        }
        // Written back (another field of the connection changed), it stays unreadable.
        let kept = serde_json::to_string(&ConnectionLimits::unreadable()).unwrap();
        assert!(ConnectionLimits::from_stored(Some(&kept)).0.unreadable);
        assert_eq!(serde_json::to_value(ConnectionLimits::default()).unwrap().get("unreadable"), None);
        let e = ConnectionLimits::unreadable().validate().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("limits.unreadable"), "not input");
    }
    use proptest::prelude::*;

    fn limits(json: &str) -> ConnectionLimits {
        serde_json::from_str(json).unwrap()
    }

    fn granted(r: SlotReply) -> u64 {
        match r {
            SlotReply::Granted { slot } => slot,
            other => panic!("expected a slot, got {other:?}"),
        }
    }

    #[test]
    fn concurrency_gap_and_rate_each_hold_a_request_back() {
        let mut s = Slots::default();
        let l = limits(r#"{"max_concurrent":1}"#);
        let a = granted(s.acquire(&l, 0));
        assert_eq!(s.acquire(&l, 1), SlotReply::Busy { retry_after_ms: CONCURRENCY_RETRY_MS });
        s.release(a, 0, 2);
        granted(s.acquire(&l, 3));

        let mut s = Slots::default();
        let l = limits(r#"{"min_gap_ms":500}"#);
        granted(s.acquire(&l, 1_000));
        assert_eq!(s.acquire(&l, 1_200), SlotReply::Busy { retry_after_ms: 300 });
        granted(s.acquire(&l, 1_500));

        let mut s = Slots::default();
        let l = limits(r#"{"requests_per_minute":2}"#);
        let a = granted(s.acquire(&l, 0));
        s.release(a, 0, 1);
        granted(s.acquire(&l, 10));
        assert_eq!(s.acquire(&l, 20), SlotReply::Busy { retry_after_ms: 59_980 }, "released requests still count");
        assert!(matches!(s.acquire(&l, 59_999), SlotReply::Busy { .. }));
        granted(s.acquire(&l, 60_000));
    }

    #[test]
    fn a_configured_window_starts_with_its_first_request_and_counts_requests_and_tokens() {
        const HOUR: i64 = 3_600_000;
        let mut s = Slots::default();
        let l = limits(r#"{"window":{"hours":5,"requests":2,"tokens":1000}}"#);
        let a = granted(s.acquire(&l, HOUR));
        s.release(a, 10, HOUR + 1);
        granted(s.acquire(&l, 2 * HOUR));
        assert_eq!(s.acquire(&l, 3 * HOUR), SlotReply::Busy { retry_after_ms: 3 * HOUR }, "2 requests used");
        // The window ends 5 h after its first request; the next request starts a new one.
        let b = granted(s.acquire(&l, 6 * HOUR));
        assert_eq!(
            s.window_use(&l.window.unwrap(), 6 * HOUR),
            Some(WindowUse { started_at: 6 * HOUR, requests: 1, tokens: 0 })
        );
        s.release(b, 5_000, 6 * HOUR + 1);
        assert_eq!(s.acquire(&l, 7 * HOUR), SlotReply::Busy { retry_after_ms: 4 * HOUR }, "tokens spent");
        assert!(limits(r#"{"window":{"hours":5}}"#).validate().is_err(), "an allowance is needed");
        assert!(limits(r#"{"window":{"hours":0,"requests":1}}"#).validate().is_err());
    }

    #[test]
    fn a_lost_slot_is_free_again_after_its_lease() {
        let mut s = Slots::default();
        let l = limits(r#"{"max_concurrent":1}"#);
        granted(s.acquire(&l, 0));
        assert!(matches!(s.acquire(&l, LEASE_MS - 1), SlotReply::Busy { .. }));
        granted(s.acquire(&l, LEASE_MS));
    }

    #[test]
    fn limits_are_validated() {
        assert!(limits(r#"{"max_concurrent":4,"min_gap_ms":100}"#).validate().is_ok());
        for (json, param) in [
            (r#"{"max_concurrent":0}"#, "limits.max_concurrent"),
            (r#"{"min_gap_ms":0}"#, "limits.min_gap_ms"),
            (r#"{"requests_per_minute":2000000}"#, "limits.requests_per_minute"),
        ] {
            assert_eq!(limits(json).validate().unwrap_err().param.as_deref(), Some(param));
        }
        assert!(limits("{}").is_empty());
    }

    proptest! {
        /// Under any interleaving of acquisitions, releases and time, no more than `max_concurrent`
        /// slots are held, starts are at least `min_gap_ms` apart, and no 60 s window holds more
        /// than `requests_per_minute` starts.
        #[test]
        fn caps_hold_under_any_interleaving(
            max in 1u32..5,
            gap in 0u64..300,
            rpm in 1u32..20,
            ops in proptest::collection::vec((0u8..3, any::<usize>(), 0i64..400), 1..200),
        ) {
            let l = ConnectionLimits {
                max_concurrent: Some(max),
                min_gap_ms: (gap > 0).then_some(gap),
                requests_per_minute: Some(rpm),
                window: None,
                unreadable: false,
            };
            let mut s = Slots::default();
            let (mut now, mut held, mut starts): (i64, Vec<u64>, Vec<i64>) = (0, Vec::new(), Vec::new());
            for (kind, pick, dt) in ops {
                match kind {
                    0 => if let SlotReply::Granted { slot } = s.acquire(&l, now) {
                        held.push(slot);
                        prop_assert!(held.len() <= max as usize);
                        if let Some(prev) = starts.last() {
                            prop_assert!(now - prev >= gap as i64);
                        }
                        starts.push(now);
                        prop_assert!(starts.iter().filter(|at| **at / 1000 > now / 1000 - 60).count() <= rpm as usize);
                    },
                    1 if !held.is_empty() => {
                        let slot = held.remove(pick % held.len());
                        s.release(slot, 0, now);
                    }
                    _ => now += dt,
                }
                prop_assert_eq!(s.in_flight(), held.len());
            }
        }
    }
}
