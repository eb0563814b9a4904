//! Limits in the pipeline, through the `Admission` port. A request of a limited key reserves an
//! estimate before its first upstream call; an attempt on a limited connection takes a slot before
//! calling it (a busy connection is skipped for the next attempt). The request's usage record
//! settles the reservation with the real cost and gives back the slots still held, whenever it is
//! written (at once, or when a stream ends): riding on the usage sink, every way a request can end
//! settles and releases exactly once.

use super::ports::{Admission, Slot, UsageSink};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::limits::ConnectionLimits;
use crate::metering::cost::cost_usd;
use crate::metering::{TokenUsage, UsageRecord};
use crate::pricing::Price;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// The request's usage sink when limits apply to it: settles and releases, then records.
pub struct Settling {
    sink: Rc<dyn UsageSink>,
    gate: Rc<dyn Admission>,
    ticket: Cell<Option<u64>>,
    /// Slots held on limited connections: (connection, slot).
    slots: RefCell<Vec<(String, u64)>>,
}

impl Settling {
    pub fn new(sink: Rc<dyn UsageSink>, gate: Rc<dyn Admission>) -> Rc<Settling> {
        Rc::new(Settling { sink, gate, ticket: Cell::new(None), slots: RefCell::default() })
    }

    /// Reserves `input_tokens` at the first target's `price` (its output is not known yet), if
    /// the key has limits.
    pub async fn admit(&self, input_tokens: u64, price: Option<Price>) -> Result<()> {
        if !self.gate.key_limited() {
            return Ok(());
        }
        let usd = cost_usd(&TokenUsage { input: input_tokens, ..TokenUsage::default() }, price);
        let ticket = self.gate.reserve(usd, input_tokens).await?;
        self.ticket.set(Some(ticket));
        Ok(())
    }

    /// Takes a slot on `connection` (held until [`Settling::give_back`] or the request's end),
    /// waiting for it while the connection's hint stays within `wait_ms` in all.
    pub async fn take_slot(&self, connection: &str, limits: ConnectionLimits, wait_ms: u64) -> Result<Slot> {
        let mut waited = 0u64;
        loop {
            match self.gate.acquire(connection, limits).await? {
                Slot::Granted(id) => {
                    self.slots.borrow_mut().push((connection.to_string(), id));
                    return Ok(Slot::Granted(id));
                }
                Slot::Busy(ms) if waited + ms.max(1) as u64 <= wait_ms => {
                    self.gate.pause(ms.max(1) as u64).await;
                    waited += ms.max(1) as u64;
                }
                busy => return Ok(busy),
            }
        }
    }

    /// Releases the slot of an attempt that failed: the next attempt goes elsewhere.
    pub fn give_back(&self, connection: &str, slot: u64) {
        self.slots.borrow_mut().retain(|(c, s)| !(c == connection && *s == slot));
        self.gate.release(connection, slot, 0);
    }
}

impl UsageSink for Settling {
    fn record(&self, record: UsageRecord) {
        let tokens = record.tokens.input + record.tokens.output;
        if let Some(ticket) = self.ticket.take() {
            self.gate.settle(ticket, record.cost_usd, tokens);
        }
        for (connection, slot) in self.slots.take() {
            self.gate.release(&connection, slot, tokens);
        }
        self.sink.record(record);
    }
}

/// Every attempt's connection was at its limits (none was called).
pub fn accounts_busy(retry_after_ms: i64) -> GatewayError {
    let secs = (retry_after_ms.max(1) as u64).div_ceil(1000);
    GatewayError::new(
        ErrorKind::RateLimited,
        format!("Every account that serves this model is at its configured limits; retry in {secs} s."),
    )
    .with_code("accounts_busy")
    .with_retry_after(Some(secs))
}
