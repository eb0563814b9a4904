//! The ledger of one gateway key: what its admitted requests spent and are about to spend, held by
//! an authoritative object (one per key) that every request of a limited key awaits.
//!
//! A request **reserves** an estimate before its first upstream call (its input tokens at the first
//! target's price) and **settles** with the real cost from its usage record afterwards (a failed
//! request settles at 0). A reservation is admitted only while settled spend plus the open
//! reservations are below each budget, and while fewer than the allowed requests (or tokens) were
//! admitted in the last 60 s, and fewer requests than allowed today (UTC). So parallel requests
//! overshoot a budget by at most the real cost of the requests in flight when it was reached; a
//! property test checks this under any interleaving.

use super::minute::{Measure, Minute};
use super::periods::Period;
use super::KeyLimits;
use crate::error::{ErrorKind, GatewayError};
use crate::state::Machine;
use crate::time::iso;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reservation whose request never settled (its isolate died) stops holding budget after this.
const PENDING_TTL_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ledger {
    /// Requests admitted in the last minute and their tokens (estimates until settled).
    minute: Minute,
    /// Settled spend and admitted requests in the current day, week and month.
    spent: BTreeMap<Period, Window>,
    /// Admitted and not yet settled, by ticket.
    pending: BTreeMap<u64, Pending>,
    next_ticket: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Window {
    start: i64,
    usd: f64,
    #[serde(default)]
    requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Pending {
    at: i64,
    usd: f64,
    /// The token estimate, and the second of the minute it was counted in.
    tokens: u64,
    sec: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LedgerCommand {
    /// Admit a request estimated at `usd` and `tokens` under `limits` (the key's, sent along so a
    /// change applies to the next request), after applying `settle`: settlements the isolate had
    /// not sent yet ride on its next reservation, so a busy key costs one object call per request.
    Reserve {
        limits: KeyLimits,
        usd: f64,
        tokens: u64,
        #[serde(default)]
        settle: Vec<Settlement>,
    },
    /// Requests' real costs, from their usage records.
    Settle { settlements: Vec<Settlement> },
}

/// One request's real cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub ticket: u64,
    pub usd: f64,
    pub tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LedgerReply {
    Admitted { ticket: u64 },
    Refused { refusal: Refusal },
    Settled,
}

impl LedgerReply {
    /// A reservation's outcome for the pipeline: the ticket, or the refusal as the client's error.
    pub fn admitted(self) -> crate::error::Result<u64> {
        match self {
            LedgerReply::Admitted { ticket } => Ok(ticket),
            LedgerReply::Refused { refusal } => Err(refusal.error()),
            LedgerReply::Settled => Err(GatewayError::internal("the ledger settled instead of reserving")),
        }
    }
}

/// What a key has used, for `GET /api/keys/{id}/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerUsage {
    pub usd_today: f64,
    pub usd_this_week: f64,
    pub usd_this_month: f64,
    /// Estimates of admitted requests not yet settled.
    pub usd_reserved: f64,
    pub requests_last_minute: u64,
    pub tokens_last_minute: u64,
    /// Requests admitted today (UTC).
    pub requests_today: u64,
}

/// Which limit refused a request, and when it will admit again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub limit: Limit,
    /// The limit's value (requests, tokens or USD).
    pub allowance: f64,
    pub retry_after_ms: i64,
    /// When the refusing window resets (ms since epoch).
    pub resets_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    RequestsPerMinute,
    TokensPerMinute,
    RequestsPerDay,
    Usd(Period),
}

impl Refusal {
    /// The client's error: 429 with `Retry-After`; an exhausted budget has its own code and says
    /// when it resets.
    pub fn error(&self) -> GatewayError {
        let secs = (self.retry_after_ms.max(1) as u64).div_ceil(1000);
        let (message, code) = match self.limit {
            Limit::RequestsPerMinute => (
                format!(
                    "This API key's limit of {} requests per minute is reached; retry in {secs} s.",
                    self.allowance
                ),
                "rate_limit_exceeded",
            ),
            Limit::TokensPerMinute => (
                format!("This API key's limit of {} tokens per minute is reached; retry in {secs} s.", self.allowance),
                "rate_limit_exceeded",
            ),
            Limit::RequestsPerDay => (
                format!(
                    "This API key's limit of {} requests per day is reached; it resets at {}.",
                    self.allowance,
                    iso(self.resets_at)
                ),
                "rate_limit_exceeded",
            ),
            Limit::Usd(p) => (
                format!(
                    "This API key's {} budget of ${} is spent; it resets at {}.",
                    p.name(),
                    self.allowance,
                    iso(self.resets_at)
                ),
                "budget_exhausted",
            ),
        };
        GatewayError::new(ErrorKind::RateLimited, message).with_code(code).with_retry_after(Some(secs))
    }
}

/// A cost as the ledger counts it: never negative, never NaN.
fn sane(usd: f64) -> f64 {
    if usd.is_finite() {
        usd.max(0.0)
    } else {
        0.0
    }
}

impl Ledger {
    /// Drops what no longer counts at `now`: requests and tokens older than a minute, reservations
    /// past their time to live, spend of past windows.
    fn prune(&mut self, now: i64) {
        self.minute.prune(now);
        self.pending.retain(|_, p| p.at > now - PENDING_TTL_MS);
        for p in Period::ALL {
            let start = p.bounds(now).0;
            let w = self.spent.entry(p).or_default();
            if w.start != start {
                *w = Window { start, ..Window::default() };
            }
        }
    }

    /// Settled spend in the window of `period` holding `now` (as of the last change).
    pub fn spent(&self, period: Period, now: i64) -> f64 {
        self.window(period, now).usd
    }

    /// What the window of `period` holding `now` counted (as of the last change).
    fn window(&self, period: Period, now: i64) -> Window {
        self.spent.get(&period).filter(|w| w.start == period.bounds(now).0).copied().unwrap_or_default()
    }

    pub fn usage(&mut self, now: i64) -> LedgerUsage {
        self.prune(now);
        LedgerUsage {
            usd_today: self.spent(Period::Day, now),
            usd_this_week: self.spent(Period::Week, now),
            usd_this_month: self.spent(Period::Month, now),
            usd_reserved: self.reserved(),
            requests_last_minute: self.minute.total(Measure::Requests),
            tokens_last_minute: self.minute.total(Measure::Tokens),
            requests_today: self.window(Period::Day, now).requests,
        }
    }

    /// The estimates of the admitted requests not yet settled.
    pub fn reserved(&self) -> f64 {
        self.pending.values().map(|p| p.usd).sum()
    }

    pub fn reserve(&mut self, limits: &KeyLimits, usd: f64, tokens: u64, now: i64) -> LedgerReply {
        self.prune(now);
        if let Some(refusal) = self.refusal(limits, now) {
            return LedgerReply::Refused { refusal };
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let sec = self.minute.add(now, tokens);
        for w in self.spent.values_mut() {
            w.requests += 1;
        }
        self.pending.insert(ticket, Pending { at: now, usd: sane(usd), tokens, sec });
        LedgerReply::Admitted { ticket }
    }

    fn refusal(&self, limits: &KeyLimits, now: i64) -> Option<Refusal> {
        let rates = [
            (Limit::RequestsPerMinute, Measure::Requests, limits.requests_per_minute.map(u64::from)),
            (Limit::TokensPerMinute, Measure::Tokens, limits.tokens_per_minute),
        ];
        for (limit, measure, allowance) in rates {
            let Some(allowance) = allowance else { continue };
            if let Some(wait) = self.minute.wait(measure, allowance, now) {
                let refusal =
                    Refusal { limit, allowance: allowance as f64, retry_after_ms: wait, resets_at: now + wait };
                return Some(refusal);
            }
        }
        if let Some(allowance) = limits.requests_per_day {
            let (_, resets_at) = Period::Day.bounds(now);
            if self.window(Period::Day, now).requests >= u64::from(allowance) {
                let limit = Limit::RequestsPerDay;
                let allowance = f64::from(allowance);
                return Some(Refusal { limit, allowance, retry_after_ms: resets_at - now, resets_at });
            }
        }
        let reserved = self.reserved();
        let budgets = [
            (Period::Day, limits.usd_per_day),
            (Period::Week, limits.usd_per_week),
            (Period::Month, limits.usd_per_month),
        ];
        budgets.into_iter().find_map(|(period, allowance)| {
            let allowance = allowance?;
            (self.spent(period, now) + reserved >= allowance).then(|| {
                let resets_at = period.bounds(now).1;
                Refusal { limit: Limit::Usd(period), allowance, retry_after_ms: resets_at - now, resets_at }
            })
        })
    }

    /// Records a request's real cost. A reservation that expired still spends: money spent is spent.
    pub fn settle(&mut self, ticket: u64, usd: f64, tokens: u64, now: i64) {
        self.prune(now);
        if let Some(p) = self.pending.remove(&ticket) {
            self.minute.correct_tokens(p.sec, p.tokens, tokens);
        }
        let usd = sane(usd);
        for w in self.spent.values_mut() {
            w.usd += usd;
        }
    }
}

impl Machine for Ledger {
    type Stored = Ledger;
    type State = Ledger;
    type Command = LedgerCommand;
    type Reply = LedgerReply;
    const STORAGE_KEY: &'static str = "ledger";

    fn load(stored: Ledger) -> Ledger {
        stored
    }
    fn store(state: &mut Ledger, now_ms: i64) -> Ledger {
        state.prune(now_ms);
        state.clone()
    }
    fn apply(state: &mut Ledger, command: &LedgerCommand, now_ms: i64) -> LedgerReply {
        match command {
            LedgerCommand::Reserve { limits, usd, tokens, settle } => {
                for s in settle {
                    state.settle(s.ticket, s.usd, s.tokens, now_ms);
                }
                state.reserve(limits, *usd, *tokens, now_ms)
            }
            LedgerCommand::Settle { settlements } => {
                for s in settlements {
                    state.settle(s.ticket, s.usd, s.tokens, now_ms);
                }
                LedgerReply::Settled
            }
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
