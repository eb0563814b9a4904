//! Per-key limits in the pipeline: a request of a limited key reserves an estimate with the
//! `Admission` port before its first upstream call, and its usage record settles the reservation
//! with the real cost, whenever the record is written (at once, or when a stream ends). The
//! settlement rides on the usage sink, so every way a request can end settles exactly once.

use super::ports::{Admission, UsageSink};
use crate::error::Result;
use crate::metering::cost::cost_usd;
use crate::metering::{TokenUsage, UsageRecord};
use crate::pricing::Price;
use std::cell::Cell;
use std::rc::Rc;

/// The request's usage sink when its key has limits: settles the reservation, then records.
pub struct Settling {
    sink: Rc<dyn UsageSink>,
    gate: Rc<dyn Admission>,
    ticket: Cell<Option<u64>>,
}

impl Settling {
    pub fn new(sink: Rc<dyn UsageSink>, gate: Rc<dyn Admission>) -> Rc<Settling> {
        Rc::new(Settling { sink, gate, ticket: Cell::new(None) })
    }

    /// Reserves `input_tokens` at the first target's `price` (its output is not known yet).
    pub async fn admit(&self, input_tokens: u64, price: Option<Price>) -> Result<()> {
        let usd = cost_usd(&TokenUsage { input: input_tokens, ..TokenUsage::default() }, price);
        let ticket = self.gate.reserve(usd, input_tokens).await?;
        self.ticket.set(Some(ticket));
        Ok(())
    }
}

impl UsageSink for Settling {
    fn record(&self, record: UsageRecord) {
        if let Some(ticket) = self.ticket.take() {
            self.gate.settle(ticket, record.cost_usd, record.tokens.input + record.tokens.output);
        }
        self.sink.record(record);
    }
}
