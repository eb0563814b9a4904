//! Collects a successful answer as it reaches the client, so that it can be served again.

use crate::metering::{AnswerKeeper, TokenUsage, UsageRecord};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// The largest answer kept (bytes of body or stream). A Durable Object value holds 2 MB; larger
/// answers are served, just not kept.
pub const MAX_BODY: usize = 1 << 20;

/// Response headers that describe one request, not its answer: a replay gets its own.
const PER_REQUEST: [&str; 5] = ["x-request-id", "server-timing", "x-omniroute-cache", "x-omniroute-idempotent", "date"];

/// An answer as its client received it, and what it took to make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The JSON answer, or the stream's SSE text, as sent.
    pub body: String,
    pub streamed: bool,
    /// Who made it, what it used and cost then (a replay costs nothing and says what it saved).
    pub provider: String,
    pub connection: String,
    pub upstream_model: String,
    pub tokens: TokenUsage,
    pub cost_usd: f64,
}

/// Where a request's answer goes when the request ends: `Some` when it ended with a complete,
/// successful answer small enough to keep, else `None` (so an idempotency claim is released).
pub trait AnswerSink {
    fn kept(&self, answer: Option<Recorded>);
}

/// Copies the client's bytes as they pass, up to [`MAX_BODY`].
#[derive(Default)]
pub struct Recorder {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    too_large: bool,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { headers: Vec::new(), body: Vec::new(), too_large: false }
    }

    /// The answer's headers as sent, once an answer is chosen (per-request ones are left out).
    pub fn set_headers(&mut self, headers: &[(String, String)]) {
        self.headers =
            headers.iter().filter(|(k, _)| !PER_REQUEST.iter().any(|p| k.eq_ignore_ascii_case(p))).cloned().collect();
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.too_large || self.body.len() + bytes.len() > MAX_BODY {
            self.too_large = true;
            self.body = Vec::new();
            return;
        }
        self.body.extend_from_slice(bytes);
    }

    /// The answer, if the request's record says it ended whole and well.
    pub fn finish(self, record: &UsageRecord) -> Option<Recorded> {
        if self.too_large || !(200..300).contains(&record.status) || record.error_code.is_some() {
            return None;
        }
        Some(Recorded {
            status: record.status,
            headers: self.headers,
            body: String::from_utf8(self.body).ok()?,
            streamed: record.streamed,
            provider: record.provider.clone(),
            connection: record.connection.clone(),
            upstream_model: record.upstream_model.clone(),
            tokens: record.tokens,
            cost_usd: record.cost_usd,
        })
    }
}

/// The meter's keeper for reuse: a recorder, and where its answer goes when the request ends.
pub struct Keep {
    pub recorder: Recorder,
    pub sink: Rc<dyn AnswerSink>,
}

impl AnswerKeeper for Keep {
    fn headers(&mut self, headers: &[(String, String)]) {
        self.recorder.set_headers(headers);
    }
    fn push(&mut self, bytes: &[u8]) {
        self.recorder.push(bytes);
    }
    fn finish(self: Box<Self>, record: &UsageRecord) {
        let Keep { recorder, sink } = *self;
        sink.kept(recorder.finish(record));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: u16, error: Option<&str>) -> UsageRecord {
        UsageRecord {
            status,
            error_code: error.map(str::to_string),
            provider: "openai".into(),
            cost_usd: 0.25,
            ..UsageRecord::default()
        }
    }

    #[test]
    fn keeps_a_whole_successful_answer_without_per_request_headers() {
        let headers =
            vec![("content-type".to_string(), "application/json".to_string()), ("x-request-id".into(), "req_1".into())];
        let mut r = Recorder::new();
        r.set_headers(&headers);
        r.push(b"{\"a\":");
        r.push(b"1}");
        let kept = r.finish(&record(200, None)).unwrap();
        assert_eq!(kept.body, "{\"a\":1}");
        assert_eq!(kept.headers, vec![("content-type".to_string(), "application/json".to_string())]);
        assert_eq!((kept.provider.as_str(), kept.cost_usd), ("openai", 0.25));
    }

    #[test]
    fn keeps_nothing_of_a_failed_cut_or_oversized_answer() {
        let mut r = Recorder::new();
        r.push(b"x");
        assert!(r.finish(&record(500, None)).is_none());
        let mut r = Recorder::new();
        r.push(b"data: partial\n\n");
        assert!(r.finish(&record(200, Some("upstream_cut"))).is_none());
        let mut r = Recorder::new();
        r.push(&vec![b'a'; MAX_BODY]);
        r.push(b"b");
        assert!(r.finish(&record(200, None)).is_none());
        let mut r = Recorder::new();
        r.push(&vec![b'a'; MAX_BODY]);
        assert_eq!(r.finish(&record(200, None)).unwrap().body.len(), MAX_BODY);
    }
}
