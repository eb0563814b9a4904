//! One request's usage record, from its arrival until its answer's last byte. Whoever ends the
//! request (the pipeline for an error or a whole answer, the relay when a stream ends) finishes the
//! meter; if nobody does — the client went away and the stream was dropped — dropping it records
//! the request anyway. Either way the sink gets exactly one record.

use super::cost::cost_usd;
use super::redact::capped_redacted;
use super::{TokenUsage, UsageRecord};
use crate::engine::ports::{Clock, UsageSink};
use crate::pricing::Price;
use std::rc::Rc;

/// Reads an answer as it reaches the client and learns, when the request ends, how it ended: the
/// replay side keeps whole answers for the response cache and idempotent retries, stored responses
/// keep a Responses answer's final object. The meter is the one place that sees every byte the
/// client gets, so every such reader hangs on it.
pub trait AnswerKeeper {
    /// The chosen answer's headers.
    fn headers(&mut self, _headers: &[(String, String)]) {}
    /// The answer's bytes, as they reach the client.
    fn push(&mut self, bytes: &[u8]);
    /// The request ended; `record` says how.
    fn finish(self: Box<Self>, record: &UsageRecord);
}

pub struct Meter {
    record: UsageRecord,
    sink: Rc<dyn UsageSink>,
    clock: Rc<dyn Clock>,
    /// The serving model's price, looked up when an attempt is chosen.
    price: Option<Price>,
    /// Estimated prompt tokens, used when the upstream reports no usage.
    pub input_estimate: u64,
    /// With the opt-in `log_bodies` setting: the answer's bytes as the client got them, up to the cap.
    capture: Option<(Vec<u8>, usize)>,
    /// Readers of the answer (kept for reuse, stored responses): fed as it passes and finished when
    /// the record is written, since both end with the request.
    keepers: Vec<Box<dyn AnswerKeeper>>,
    /// Earlier legs of a continued stream: their tokens, and their cost at their own model's price.
    banked: (TokenUsage, f64),
    done: bool,
}

/// How a request ended, for its record.
pub struct Ending<'a> {
    pub status: u16,
    pub error_code: Option<&'a str>,
    pub tokens: TokenUsage,
}

impl Meter {
    pub fn new(draft: UsageRecord, sink: Rc<dyn UsageSink>, clock: Rc<dyn Clock>) -> Meter {
        Meter {
            record: draft,
            sink,
            clock,
            price: None,
            input_estimate: 0,
            capture: None,
            keepers: Vec::new(),
            banked: Default::default(),
            done: false,
        }
    }

    /// Keeps the request body and (as it passes) the answer, redacted and capped at `max_bytes`.
    pub fn log_bodies(&mut self, request: &[u8], max_bytes: usize) {
        self.record.request_body = Some(capped_redacted(&String::from_utf8_lossy(request), max_bytes));
        self.capture = Some((Vec::new(), max_bytes));
    }

    /// Hands the answer, as it reaches the client, to `keeper`.
    pub fn keep_answer(&mut self, keeper: Box<dyn AnswerKeeper>) {
        self.keepers.push(keeper);
    }

    /// Whether the answer is read by a keeper (so every byte must pass through [`Meter::capture`]).
    pub fn keeps_answer(&self) -> bool {
        !self.keepers.is_empty()
    }

    /// The chosen answer's headers, for its keepers.
    pub fn answer_headers(&mut self, headers: &[(String, String)]) {
        self.keepers.iter_mut().for_each(|k| k.headers(headers));
    }

    /// The answer's bytes as they reach the client (a no-op unless bodies are logged or the answer
    /// is kept).
    pub fn capture(&mut self, bytes: &[u8]) {
        self.keepers.iter_mut().for_each(|k| k.push(bytes));
        if let Some((buf, max)) = &mut self.capture {
            // Room past the cap so a credential cut at the edge is still recognised whole.
            let room = (*max + 4096).saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// Fills in what the pipeline learned as it went (who served, attempts, first byte…).
    pub fn update(&mut self, f: impl FnOnce(&mut UsageRecord)) {
        f(&mut self.record)
    }

    pub fn set_price(&mut self, price: Option<Price>) {
        self.price = price;
    }

    /// A leg of the answer is over and another upstream takes over (a continued stream): its tokens
    /// count, at the price of the model that produced them (set the next one's price after this).
    pub fn bank(&mut self, tokens: TokenUsage) {
        let (total, cost) = &mut self.banked;
        *cost += cost_usd(&tokens, self.price);
        *total = TokenUsage {
            input: total.input + tokens.input,
            output: total.output + tokens.output,
            cached: total.cached + tokens.cached,
            cache_write: total.cache_write + tokens.cache_write,
            reasoning: total.reasoning + tokens.reasoning,
            estimated: total.estimated || tokens.estimated,
        };
    }

    /// Writes the record (once).
    pub fn finish(&mut self, end: Ending) {
        if self.done {
            return;
        }
        self.done = true;
        self.bank(end.tokens);
        let r = &mut self.record;
        r.status = end.status;
        r.error_code = end.error_code.map(str::to_string);
        (r.tokens, r.cost_usd) = self.banked;
        r.latency_ms = (self.clock.now_ms() - r.at).max(0) as u64;
        if let Some((buf, max)) = self.capture.take() {
            r.response_body = Some(capped_redacted(&String::from_utf8_lossy(&buf), max));
        }
        for keeper in std::mem::take(&mut self.keepers) {
            keeper.finish(r);
        }
        self.sink.record(std::mem::take(r));
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // The answer was abandoned mid-way (client disconnected): 499, as proxies log it.
        let tokens = TokenUsage { input: self.input_estimate, estimated: true, ..TokenUsage::default() };
        self.finish(Ending { status: 499, error_code: Some("client_closed"), tokens });
    }
}
