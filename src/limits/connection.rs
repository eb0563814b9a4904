//! Limits of one provider connection (an account): requests per minute, a minimum gap between
//! requests, a maximum of concurrent requests. Held by an authoritative object per limited
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
}

impl ConnectionLimits {
    pub fn is_empty(&self) -> bool {
        *self == ConnectionLimits::default()
    }

    pub fn validate(self) -> Result<ConnectionLimits> {
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlotCommand {
    Acquire { limits: ConnectionLimits },
    Release { slot: u64 },
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
        if wait > 0 {
            return SlotReply::Busy { retry_after_ms: wait };
        }
        let slot = self.next;
        self.next += 1;
        self.held.insert(slot, now);
        self.last_start = Some(now);
        self.started.add(now, 0);
        SlotReply::Granted { slot }
    }

    pub fn release(&mut self, slot: u64, now: i64) {
        self.prune(now);
        self.held.remove(&slot);
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
            SlotCommand::Release { slot } => {
                state.release(*slot, now_ms);
                SlotReply::Released
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        s.release(a, 2);
        granted(s.acquire(&l, 3));

        let mut s = Slots::default();
        let l = limits(r#"{"min_gap_ms":500}"#);
        granted(s.acquire(&l, 1_000));
        assert_eq!(s.acquire(&l, 1_200), SlotReply::Busy { retry_after_ms: 300 });
        granted(s.acquire(&l, 1_500));

        let mut s = Slots::default();
        let l = limits(r#"{"requests_per_minute":2}"#);
        let a = granted(s.acquire(&l, 0));
        s.release(a, 1);
        granted(s.acquire(&l, 10));
        assert_eq!(s.acquire(&l, 20), SlotReply::Busy { retry_after_ms: 59_980 }, "released requests still count");
        assert!(matches!(s.acquire(&l, 59_999), SlotReply::Busy { .. }));
        granted(s.acquire(&l, 60_000));
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
                        s.release(slot, now);
                    }
                    _ => now += dt,
                }
                prop_assert_eq!(s.in_flight(), held.len());
            }
        }
    }
}
