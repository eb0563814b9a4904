//! A Responses answer's final Response object, read from the bytes its client receives: the whole
//! JSON body, or the `response` of a stream's terminal `response.completed`/`response.incomplete`
//! event (which holds every output item). Streams are parsed as they pass and only that event is
//! kept, so a long stream costs no memory here.

use super::log::LIMITS;
use crate::sse::{SseEvent, SseParser};
use serde_json::Value;

pub struct FinalResponse {
    stream: Option<SseParser>,
    /// A whole answer's bytes (up to what a log could keep).
    body: Vec<u8>,
    too_large: bool,
    /// A stream's last terminal Response object; a `response.failed` clears it.
    last: Option<Value>,
}

impl FinalResponse {
    pub fn new(streamed: bool) -> FinalResponse {
        FinalResponse { stream: streamed.then(SseParser::new), body: Vec::new(), too_large: false, last: None }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        match &mut self.stream {
            Some(parser) => {
                let events = parser.feed(bytes);
                self.read(events);
            }
            None if self.too_large || self.body.len() + bytes.len() > LIMITS.bytes => {
                self.too_large = true;
                self.body = Vec::new();
            }
            None => self.body.extend_from_slice(bytes),
        }
    }

    fn read(&mut self, events: Vec<SseEvent>) {
        for e in events {
            // Only terminal events are parsed: a cheap look at the text first skips every delta.
            let named = |kind: &str| e.event.as_deref() == Some(kind) || e.data.contains(kind);
            if !(named("response.completed") || named("response.incomplete") || named("response.failed")) {
                continue;
            }
            let Ok(data) = serde_json::from_str::<Value>(&e.data) else { continue };
            match data.get("type").and_then(Value::as_str) {
                Some("response.completed" | "response.incomplete") => self.last = data.get("response").cloned(),
                Some("response.failed") => self.last = None,
                _ => {}
            }
        }
    }

    /// The Response object, if the answer had one with an id.
    pub fn finish(mut self) -> Option<Value> {
        let response = match self.stream.take() {
            Some(mut parser) => {
                let events = parser.finish();
                self.read(events);
                self.last
            }
            None if self.too_large => None,
            None => serde_json::from_slice(&self.body).ok(),
        }?;
        let is_response = response.get("object").and_then(Value::as_str) == Some("response");
        let has_id = response.get("id").and_then(Value::as_str).is_some_and(|id| !id.is_empty());
        (is_response && has_id).then_some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn response(id: &str, status: &str) -> Value {
        json!({"id": id, "object": "response", "status": status, "output": [{"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "hi"}]}]})
    }

    fn stream(terminal: &str, status: &str) -> String {
        let created = json!({"type": "response.created", "response": response("resp_1", "in_progress")});
        let delta = json!({"type": "response.output_text.delta", "delta": "response.completed"});
        let end = json!({"type": terminal, "response": response("resp_1", status)});
        [created, delta, end].iter().map(|d| format!("event: {}\ndata: {d}\n\n", d["type"].as_str().unwrap())).collect()
    }

    #[test]
    fn a_whole_answer_is_its_body() {
        let mut f = FinalResponse::new(false);
        let body = response("resp_1", "completed").to_string();
        f.push(&body.as_bytes()[..10]);
        f.push(&body.as_bytes()[10..]);
        assert_eq!(f.finish(), Some(response("resp_1", "completed")));
        let mut f = FinalResponse::new(false);
        f.push(br#"{"error":{"message":"x"}}"#);
        assert_eq!(f.finish(), None, "an error body is no response");
    }

    #[test]
    fn a_stream_is_its_terminal_event() {
        for (terminal, status) in [("response.completed", "completed"), ("response.incomplete", "incomplete")] {
            let mut f = FinalResponse::new(true);
            f.push(stream(terminal, status).as_bytes());
            assert_eq!(f.finish(), Some(response("resp_1", status)));
        }
        let mut f = FinalResponse::new(true);
        f.push(stream("response.failed", "failed").as_bytes());
        assert_eq!(f.finish(), None);
        let mut f = FinalResponse::new(true);
        let s = stream("response.completed", "completed");
        f.push(&s.as_bytes()[..s.len() / 2]);
        assert_eq!(f.finish(), None, "a stream cut before its end has no final response");
    }

    #[test]
    fn an_oversized_whole_answer_is_not_kept() {
        let mut f = FinalResponse::new(false);
        f.push(&vec![b' '; LIMITS.bytes]);
        f.push(b"{}");
        assert_eq!(f.finish(), None);
    }

    proptest! {
        /// However the stream is cut into pieces, the same final response is read.
        #[test]
        fn any_chunking_reads_the_same_response(cuts in proptest::collection::vec(0usize..400, 0..12)) {
            let s = stream("response.completed", "completed");
            let bytes = s.as_bytes();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % bytes.len()).collect();
            points.sort_unstable();
            let mut f = FinalResponse::new(true);
            let mut at = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                f.push(&bytes[at..p.max(at)]);
                at = p.max(at);
            }
            prop_assert_eq!(f.finish(), Some(response("resp_1", "completed")));
        }
    }
}
