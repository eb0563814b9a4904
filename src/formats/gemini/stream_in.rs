//! Gemini `streamGenerateContent?alt=sse` → [`IrEvent`]s (formats.md §5.3, §7.12).
//!
//! Every `data:` frame is a whole `GenerateContentResponse` holding only the new parts. `Start`
//! comes from the first chunk; `usageMetadata` repeats with running totals, so `Usage` is emitted
//! whenever it changes; the chunk carrying `finishReason` ends the stream with `Finish`
//! (`ToolCalls` if any function call was seen). Gemini streams have no terminator: the connection
//! just closes, so `finish()` without a seen `finishReason` reports a cut-off stream as `Error`.
//!
//! A chunk that is not JSON is reported as an `Error` rather than skipped: dropping it would
//! silently lose part of the answer. Function calls arrive whole, so each becomes one
//! `ToolCallStart` and one `ToolCallArgs`. An error as the very first chunk yields `Error` without a
//! `Start` (encoders handle that already: a stream can be cut before its first byte). Signatures follow the convention in `mod.rs`: a thought
//! part's signature follows its `Thinking`; one on any other part comes first as an empty
//! `Thinking` plus `ThinkingSignature`. (Vertex's `partialArgs` argument streaming is not handled.)

use super::error::kind_for_status;
use super::response::{call_args, finish_from, first_candidate, usage_from};
use super::wire::{field, str_field};
use crate::error::ErrorKind;
use crate::formats::StreamDecoder;
use crate::ir::{ids, FinishReason, IrEvent, IrUsage, StreamError};
use crate::sse::SseEvent;
use serde_json::Value;

pub struct Decoder {
    seed: String,
    started: bool,
    /// A finish or an error was emitted: nothing more may follow.
    done: bool,
    calls: usize,
    usage: Option<IrUsage>,
}

impl Decoder {
    pub fn new(id_seed: &str) -> Self {
        Decoder { seed: id_seed.to_string(), started: false, done: false, calls: 0, usage: None }
    }

    fn fail(&mut self, kind: ErrorKind, status: u16, message: String) -> IrEvent {
        self.done = true;
        IrEvent::Error(StreamError { kind, status, message })
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<IrEvent>) {
        if self.done {
            return;
        }
        if let Some(err) = chunk.get("error") {
            let status = err.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(502);
            let message = err.get("message").and_then(Value::as_str).unwrap_or("Gemini reported an error.");
            let ev = self.fail(kind_for_status(status), status, message.to_string());
            out.push(ev);
            return;
        }
        if !chunk.is_object() {
            return;
        }
        if !self.started {
            self.started = true;
            out.push(IrEvent::Start {
                id: str_field(chunk, "responseId").unwrap_or_default().to_string(),
                model: str_field(chunk, "modelVersion").unwrap_or_default().to_string(),
            });
        }
        let cand = first_candidate(chunk);
        let parts = cand.and_then(|c| field(c, "content")).and_then(|c| field(c, "parts")).and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            self.part(part, out);
        }
        if let Some(u) = field(chunk, "usageMetadata").and_then(usage_from) {
            if self.usage != Some(u) {
                self.usage = Some(u);
                out.push(IrEvent::Usage(u));
            }
        }
        let finish = match cand.and_then(|c| str_field(c, "finishReason")) {
            Some(_) if self.calls > 0 => Some(FinishReason::ToolCalls),
            Some(r) => Some(finish_from(r)),
            None if cand.is_none()
                && field(chunk, "promptFeedback").and_then(|f| field(f, "blockReason")).is_some() =>
            {
                Some(FinishReason::ContentFilter)
            }
            None => None,
        };
        if let Some(f) = finish {
            self.done = true;
            out.push(IrEvent::Finish(f));
        }
    }

    fn part(&mut self, part: &Value, out: &mut Vec<IrEvent>) {
        let sig = str_field(part, "thoughtSignature").filter(|s| !s.is_empty()).map(str::to_string);
        if matches!(field(part, "thought"), Some(Value::Bool(true))) {
            let text = str_field(part, "text").unwrap_or_default();
            if !text.is_empty() || sig.is_some() {
                out.push(IrEvent::Thinking(text.to_string()));
            }
            out.extend(sig.map(IrEvent::ThinkingSignature));
            return;
        }
        if let Some(sig) = sig {
            out.push(IrEvent::Thinking(String::new()));
            out.push(IrEvent::ThinkingSignature(sig));
        }
        if let Some(call) = field(part, "functionCall") {
            let Some(name) = str_field(call, "name").filter(|n| !n.is_empty()) else { return };
            let index = self.calls;
            self.calls += 1;
            let id = match str_field(call, "id") {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => ids::tool_call_id(&self.seed, index),
            };
            out.push(IrEvent::ToolCallStart { index, id, name: name.to_string() });
            out.push(IrEvent::ToolCallArgs { index, delta: call_args(call) });
        } else if let Some(text) = str_field(part, "text").filter(|t| !t.is_empty()) {
            out.push(IrEvent::Text(text.to_string()));
        }
    }
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, event: &SseEvent) -> Vec<IrEvent> {
        let mut out = Vec::new();
        let data = event.data.trim();
        if self.done || data.is_empty() || data == "[DONE]" {
            return out;
        }
        match serde_json::from_str::<Value>(data) {
            // The non-SSE form streams a JSON array of responses; accept it whole too.
            Ok(Value::Array(chunks)) => chunks.iter().for_each(|c| self.chunk(c, &mut out)),
            Ok(chunk) => self.chunk(&chunk, &mut out),
            Err(e) => {
                let ev = self.fail(ErrorKind::Upstream, 502, format!("Gemini sent a malformed stream chunk: {e}"));
                out.push(ev);
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<IrEvent> {
        if self.done {
            return Vec::new();
        }
        vec![self.fail(ErrorKind::Upstream, 502, "The Gemini stream ended before a finishReason.".into())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(data: &str) -> SseEvent {
        SseEvent { event: None, data: data.to_string() }
    }

    fn run(frames: &[&str]) -> Vec<IrEvent> {
        let mut d = Decoder::new("seed");
        let mut out: Vec<IrEvent> = frames.iter().flat_map(|f| d.feed(&ev(f))).collect();
        out.extend(d.finish());
        out
    }

    /// Captured shape (vercel google-text.chunks.txt): text deltas, a closing signed empty part.
    const TEXT: &[&str] = &[
        r#"{"candidates":[{"content":{"parts":[{"text":"**Thinking about it**","thought":true}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}],"thoughtsTokenCount":100},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9,"thoughtsTokenCount":100},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":", world"}],"role":"model"},"index":0}],"usageMetadata":{"trafficType":"ON_DEMAND"},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"","thoughtSignature":"Q2lRQjRi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":28,"totalTokenCount":137,"thoughtsTokenCount":100},"modelVersion":"gemini-2.5-flash","responseId":"r1"}"#,
    ];

    /// Captured shape (vercel google-tool-call.chunks.txt).
    const TOOL: &[&str] = &[
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"weather","args":{"location":"San Francisco"}},"thoughtSignature":"EqUCCqIC"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":29,"candidatesTokenCount":15,"totalTokenCount":89,"thoughtsTokenCount":45},"modelVersion":"gemini-3-pro-preview","responseId":"b36L"}"#,
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"time"}}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":29,"candidatesTokenCount":15,"totalTokenCount":89,"thoughtsTokenCount":45},"modelVersion":"gemini-3-pro-preview","responseId":"b36L"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":29,"candidatesTokenCount":15,"totalTokenCount":89,"thoughtsTokenCount":45},"modelVersion":"gemini-3-pro-preview","responseId":"b36L"}"#,
    ];

    #[test]
    fn decodes_text_and_thinking() {
        let out = run(TEXT);
        let usage = |output, input| IrUsage {
            input_tokens: input,
            output_tokens: output,
            reasoning_tokens: 100,
            ..Default::default()
        };
        assert_eq!(
            out,
            vec![
                IrEvent::Start { id: "r1".into(), model: "gemini-2.5-flash".into() },
                IrEvent::Thinking("**Thinking about it**".into()),
                IrEvent::Usage(usage(100, 9)),
                IrEvent::Text("Hello".into()),
                IrEvent::Text(", world".into()),
                IrEvent::Thinking(String::new()),
                IrEvent::ThinkingSignature("Q2lRQjRi".into()),
                IrEvent::Usage(usage(128, 9)),
                IrEvent::Finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn decodes_tool_calls() {
        let out = run(TOOL);
        assert_eq!(
            out,
            vec![
                IrEvent::Start { id: "b36L".into(), model: "gemini-3-pro-preview".into() },
                IrEvent::Thinking(String::new()),
                IrEvent::ThinkingSignature("EqUCCqIC".into()),
                IrEvent::ToolCallStart { index: 0, id: "call_seed0".into(), name: "weather".into() },
                IrEvent::ToolCallArgs { index: 0, delta: r#"{"location":"San Francisco"}"#.into() },
                IrEvent::Usage(IrUsage {
                    input_tokens: 29,
                    output_tokens: 60,
                    reasoning_tokens: 45,
                    ..Default::default()
                }),
                IrEvent::ToolCallStart { index: 1, id: "call_seed1".into(), name: "time".into() },
                IrEvent::ToolCallArgs { index: 1, delta: "{}".into() },
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn decodes_errors_blocks_and_cuts() {
        let out = run(&[
            TEXT[0],
            r#"{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}"#,
            TEXT[1],
        ]);
        assert_eq!(
            out.last(),
            Some(&IrEvent::Error(StreamError {
                kind: ErrorKind::RateLimited,
                status: 429,
                message: "Resource exhausted".into()
            }))
        );
        assert_eq!(out.len(), 4); // Start, Thinking, Usage, Error; nothing after the error

        let out = run(&[TEXT[0], TEXT[1]]);
        assert!(matches!(out.last(), Some(IrEvent::Error(StreamError { status: 502, .. }))));

        let out = run(&[
            r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"modelVersion":"m","responseId":"x"}"#,
        ]);
        assert_eq!(out.first(), Some(&IrEvent::Start { id: "x".into(), model: "m".into() }));
        assert_eq!(out.last(), Some(&IrEvent::Finish(FinishReason::ContentFilter)));

        let out = run(&[TEXT[0], "{not json"]);
        assert!(matches!(out.last(), Some(IrEvent::Error(StreamError { kind: ErrorKind::Upstream, .. }))));

        let out = run(&[
            r#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS","index":0}]}"#,
            TEXT[1],
        ]);
        assert_eq!(out.last(), Some(&IrEvent::Finish(FinishReason::Length)));
        assert_eq!(out.len(), 3, "chunks after the finish are ignored");
    }

    fn terminal(e: &IrEvent) -> bool {
        matches!(e, IrEvent::Finish(_) | IrEvent::Error(_))
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_events(events in proptest::collection::vec((proptest::option::of("[a-z]{0,8}"), ".{0,80}"), 0..8)) {
            let mut d = Decoder::new("s");
            let mut out = Vec::new();
            for (name, data) in &events {
                out.extend(d.feed(&SseEvent { event: name.clone(), data: data.clone() }));
            }
            out.extend(d.finish());
            prop_assert_eq!(out.iter().filter(|e| terminal(e)).count(), 1);
        }

        #[test]
        fn never_panics_on_arbitrary_json_chunks(parts in proptest::collection::vec(
            prop_oneof![
                Just(r#"{"text":"a"}"#.to_string()), Just(r#"{"text":1}"#.to_string()), Just(r#"{"functionCall":5}"#.to_string()),
                Just(r#"{"functionCall":{"name":"f","args":[1]}}"#.to_string()), Just(r#"{"thought":true,"thoughtSignature":7}"#.to_string()),
                Just("null".to_string()), Just("[]".to_string()),
            ], 0..5), reason in proptest::option::of("[A-Z_]{0,12}")) {
            let chunk = format!(
                r#"{{"candidates":[{{"content":{{"parts":[{}]}}{}}}],"usageMetadata":{{"promptTokenCount":"x"}}}}"#,
                parts.join(","),
                reason.map(|r| format!(r#","finishReason":"{r}""#)).unwrap_or_default()
            );
            let out = run(&[&chunk]);
            prop_assert_eq!(out.iter().filter(|e| terminal(e)).count(), 1);
        }

        /// A real stream cut at any byte, then `finish()`: always exactly one Finish or Error, last.
        #[test]
        fn cut_streams_always_end(which in 0usize..2, cut in 0usize..2000, crlf in any::<bool>()) {
            let frames = if which == 0 { TEXT } else { TOOL };
            let nl = if crlf { "\r\n" } else { "\n" };
            let text: String = frames.iter().map(|f| format!("data: {f}{nl}{nl}")).collect();
            let cut = cut.min(text.len());
            let mut parser = crate::sse::SseParser::new();
            let mut events = parser.feed(&text.as_bytes()[..cut]);
            events.extend(parser.finish());
            let mut d = Decoder::new("s");
            let mut out: Vec<IrEvent> = events.iter().flat_map(|e| d.feed(e)).collect();
            out.extend(d.finish());
            prop_assert_eq!(out.iter().filter(|e| terminal(e)).count(), 1);
            prop_assert!(out.last().is_some_and(terminal));
            if cut == text.len() {
                prop_assert!(matches!(out.last(), Some(IrEvent::Finish(_))));
            }
        }
    }
}
