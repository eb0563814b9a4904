//! Anthropic SSE (upstream) → [`IrEvent`]s (formats.md §4.3, §7.12).
//!
//! Dispatches on `data.type` (falling back to the `event:` name) after a real JSON parse, since data
//! may carry padding spaces. Tool calls are numbered over `tool_use` blocks only. `message_delta`
//! usage is cumulative and may omit input counts, so it is merged over `message_start`'s.
//!
//! Malformed JSON in one event is ignored rather than fatal: a garbled keep-alive should not kill
//! an answer, and if the lost event was the ending, `finish()` still reports the cut-off stream.
//! The one exception is an `event: error` whose data is unreadable: that is still an error.

use super::error::kind_for_type;
use super::response::{finish_to_ir, WireUsage};
use crate::error::ErrorKind;
use crate::formats::StreamDecoder;
use crate::ir::{ids, FinishReason, IrEvent, StreamError};
use crate::sse::SseEvent;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Block {
    Text,
    Thinking,
    /// Tool call number `index`; `args_in_start` when the start carried the whole input already.
    Tool {
        index: usize,
        args_in_start: bool,
    },
    Other,
}

#[derive(Debug)]
pub struct Decoder {
    id_seed: String,
    started: bool,
    /// Set once `Finish` or `Error` went out; everything after is ignored.
    done: bool,
    /// Block kind by upstream block index.
    blocks: Vec<(u64, Block)>,
    tools: usize,
    usage: WireUsage,
}

impl Decoder {
    pub fn new(id_seed: &str) -> Self {
        Decoder {
            id_seed: id_seed.to_string(),
            started: false,
            done: false,
            blocks: vec![],
            tools: 0,
            usage: WireUsage::default(),
        }
    }

    fn start(&mut self, out: &mut Vec<IrEvent>, id: &str, model: &str) {
        if !self.started {
            self.started = true;
            out.push(IrEvent::Start { id: id.to_string(), model: model.to_string() });
        }
    }

    fn block(&self, index: u64) -> Option<Block> {
        self.blocks.iter().rev().find(|(i, _)| *i == index).map(|(_, b)| *b)
    }

    fn error(&mut self, out: &mut Vec<IrEvent>, kind: ErrorKind, status: u16, message: String) {
        self.done = true;
        out.push(IrEvent::Error(StreamError { kind, status, message }));
    }

    fn content_block_start(&mut self, data: &Value, out: &mut Vec<IrEvent>) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(self.blocks.len() as u64);
        let cb = data.get("content_block").unwrap_or(&Value::Null);
        let s = |k: &str| cb.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let kind = match cb.get("type").and_then(Value::as_str) {
            Some("text") => {
                push_nonempty(out, IrEvent::Text, s("text"));
                Block::Text
            }
            Some("thinking") => {
                push_nonempty(out, IrEvent::Thinking, s("thinking"));
                push_nonempty(out, IrEvent::ThinkingSignature, s("signature"));
                Block::Thinking
            }
            Some("redacted_thinking") => {
                out.push(IrEvent::RedactedThinking(s("data")));
                Block::Other
            }
            Some("tool_use") => {
                let index = self.tools;
                self.tools += 1;
                let id = match s("id") {
                    id if id.is_empty() => ids::tool_call_id(&self.id_seed, index),
                    id => id,
                };
                out.push(IrEvent::ToolCallStart { index, id, name: s("name") });
                // Anthropic sends `input: {}` then deltas; some compatible providers send it whole.
                let whole = cb.get("input").filter(|i| i.as_object().is_some_and(|o| !o.is_empty()));
                if let Some(input) = whole {
                    out.push(IrEvent::ToolCallArgs { index, delta: input.to_string() });
                }
                Block::Tool { index, args_in_start: whole.is_some() }
            }
            _ => Block::Other,
        };
        self.blocks.push((index, kind));
    }

    fn content_block_delta(&mut self, data: &Value, out: &mut Vec<IrEvent>) {
        let Some(delta) = data.get("delta") else { return };
        let s = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let block = data.get("index").and_then(Value::as_u64).and_then(|i| self.block(i));
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => push_nonempty(out, IrEvent::Text, s("text")),
            Some("thinking_delta") => push_nonempty(out, IrEvent::Thinking, s("thinking")),
            Some("signature_delta") => push_nonempty(out, IrEvent::ThinkingSignature, s("signature")),
            Some("input_json_delta") => {
                if let Some(Block::Tool { index, args_in_start: false }) = block {
                    push_nonempty(out, |delta| IrEvent::ToolCallArgs { index, delta }, s("partial_json"));
                }
            }
            _ => {} // citations_delta and future deltas
        }
    }

    fn message_delta(&mut self, data: &Value, out: &mut Vec<IrEvent>) {
        if let Some(u) = data.get("usage").filter(|u| u.is_object()) {
            self.usage = self.usage.merge(WireUsage::parse(u));
            out.push(IrEvent::Usage(self.usage.to_ir()));
        }
        let reason = data.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str);
        if let Some(r) = reason {
            let finish = finish_to_ir(r).unwrap_or(self.default_finish());
            self.done = true;
            out.push(IrEvent::Finish(finish));
        }
    }

    fn default_finish(&self) -> FinishReason {
        if self.tools > 0 {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        }
    }
}

fn push_nonempty(out: &mut Vec<IrEvent>, make: impl FnOnce(String) -> IrEvent, s: String) {
    if !s.is_empty() {
        out.push(make(s));
    }
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, event: &SseEvent) -> Vec<IrEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        let data: Option<Value> = serde_json::from_str(&event.data).ok();
        let ty = data
            .as_ref()
            .and_then(|d| d.get("type"))
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default()
            .to_string();
        let Some(data) = data else {
            if ty == "error" {
                self.error(&mut out, ErrorKind::Upstream, 502, format!("Upstream stream error: {}", event.data));
            }
            return out;
        };
        match ty.as_str() {
            "message_start" => {
                let msg = data.get("message").unwrap_or(&Value::Null);
                let s = |k: &str| msg.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                if let Some(u) = msg.get("usage").filter(|u| u.is_object()) {
                    // The output count here is a placeholder; message_delta brings the real one.
                    self.usage = WireUsage { output: None, ..WireUsage::parse(u) };
                }
                let (id, model) = (s("id"), s("model"));
                self.start(&mut out, &id, &model);
                // Input counts now, so a stream cut later still accounts for the prompt.
                if self.usage != WireUsage::default() {
                    out.push(IrEvent::Usage(self.usage.to_ir()));
                }
            }
            "content_block_start" => {
                self.start(&mut out, "", "");
                self.content_block_start(&data, &mut out);
            }
            "content_block_delta" => {
                self.start(&mut out, "", "");
                self.content_block_delta(&data, &mut out);
            }
            "message_delta" => {
                self.start(&mut out, "", "");
                self.message_delta(&data, &mut out);
            }
            "message_stop" => {
                // A stop without a stop_reason still ends the answer normally.
                self.start(&mut out, "", "");
                self.done = true;
                out.push(IrEvent::Finish(self.default_finish()));
            }
            "error" => {
                let err = data.get("error").unwrap_or(&Value::Null);
                let et = err.get("type").and_then(Value::as_str).unwrap_or("api_error");
                let msg = err.get("message").and_then(Value::as_str).unwrap_or("Upstream stream error").to_string();
                let (kind, status) = kind_for_type(et);
                self.error(&mut out, kind, status, msg);
            }
            _ => {} // ping, content_block_stop, unknown events
        }
        out
    }

    fn finish(&mut self) -> Vec<IrEvent> {
        let mut out = Vec::new();
        if !self.done {
            self.error(
                &mut out,
                ErrorKind::Upstream,
                502,
                "The upstream stream ended before the answer finished.".into(),
            );
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ir::IrUsage;
    use proptest::prelude::*;

    fn ev(name: &str, data: &str) -> SseEvent {
        SseEvent { event: Some(name.to_string()), data: data.to_string() }
    }

    /// The real tool-use capture from anthropic-sdk-python (formats.md §4.3), argument fragments
    /// included, with the newer cumulative usage shape in message_delta.
    pub(crate) fn tool_use_stream() -> Vec<SseEvent> {
        vec![
            ev(
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_019Q1hrJbZG26Fb9BQhrkHEr","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":377,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"service_tier":"standard"}}}"#,
            ),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            ev("ping", r#"{"type": "ping"}"#),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'ll check."}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01NRLabsLyVHZPKxbKvkfSMn","name":"get_weather","caller":{"type":"direct"},"input":{}}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"locati"}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"on\": \"Paris\"}"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":65}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"   }"#),
        ]
    }

    fn run(events: &[SseEvent]) -> Vec<IrEvent> {
        let mut d = Decoder::new("seed");
        let mut out: Vec<IrEvent> = events.iter().flat_map(|e| d.feed(e)).collect();
        out.extend(d.finish());
        out
    }

    #[test]
    fn decodes_text_and_a_fragmented_tool_call() {
        let out = run(&tool_use_stream());
        assert_eq!(
            out,
            vec![
                IrEvent::Start { id: "msg_019Q1hrJbZG26Fb9BQhrkHEr".into(), model: "claude-sonnet-4-20250514".into() },
                IrEvent::Usage(IrUsage { input_tokens: 377, ..Default::default() }),
                IrEvent::Text("I".into()),
                IrEvent::Text("'ll check.".into()),
                IrEvent::ToolCallStart {
                    index: 0,
                    id: "toolu_01NRLabsLyVHZPKxbKvkfSMn".into(),
                    name: "get_weather".into()
                },
                IrEvent::ToolCallArgs { index: 0, delta: "{\"locati".into() },
                IrEvent::ToolCallArgs { index: 0, delta: "on\": \"Paris\"}".into() },
                IrEvent::Usage(IrUsage { input_tokens: 377, output_tokens: 65, ..Default::default() }),
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn decodes_thinking_with_signature_cache_usage_and_event_name_fallback() {
        let events = vec![
            ev(
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-opus-4-1","usage":{"input_tokens":10,"cache_read_input_tokens":200,"cache_creation_input_tokens":30,"output_tokens":3}}}"#,
            ),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see."}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":""}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkYIBxgC"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"EmwKAhgB"}}"#,
            ),
            ev("content_block_stop", r#"{"type":"content_block_stop","index":1}"#),
            // No `type` in data: dispatch on the event name.
            ev("content_block_start", r#"{"index":2,"content_block":{"type":"text","text":""}}"#),
            ev("content_block_delta", r#"{"index":2,"delta":{"type":"text_delta","text":"42"}}"#),
            ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10,"cache_read_input_tokens":200,"cache_creation_input_tokens":30,"output_tokens":88}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ];
        let out = run(&events);
        assert_eq!(
            out,
            vec![
                IrEvent::Start { id: "msg_1".into(), model: "claude-opus-4-1".into() },
                IrEvent::Usage(IrUsage {
                    input_tokens: 240,
                    cached_tokens: 200,
                    cache_write_tokens: 30,
                    ..Default::default()
                }),
                IrEvent::Thinking("Let me see.".into()),
                IrEvent::ThinkingSignature("EqQBCkYIBxgC".into()),
                IrEvent::RedactedThinking("EmwKAhgB".into()),
                IrEvent::Text("42".into()),
                IrEvent::Usage(IrUsage {
                    input_tokens: 240,
                    cached_tokens: 200,
                    cache_write_tokens: 30,
                    output_tokens: 88,
                    reasoning_tokens: 0
                }),
                IrEvent::Finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn mid_stream_errors_cut_offs_and_refusals() {
        let mut events = tool_use_stream()[..4].to_vec();
        events.push(ev("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#));
        events.push(ev(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}"#,
        ));
        let out = run(&events);
        assert_eq!(out.len(), 4);
        assert_eq!(
            out[3],
            IrEvent::Error(StreamError { kind: ErrorKind::Upstream, status: 529, message: "Overloaded".into() })
        );

        let out = run(&tool_use_stream()[..9]);
        assert!(matches!(out.last(), Some(IrEvent::Error(StreamError { status: 502, .. }))));
        assert_eq!(out.iter().filter(|e| matches!(e, IrEvent::Error(_))).count(), 1);

        let refusal = [
            ev(
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_01RefusalStream","model":"m","usage":{"input_tokens":5,"output_tokens":1}}}"#,
            ),
            ev("ping", r#"{"type":"ping"}"#),
            ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"output_tokens":0}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ];
        assert_eq!(run(&refusal).last(), Some(&IrEvent::Finish(FinishReason::ContentFilter)));

        // Garbage data is ignored, except on an error event.
        let out = run(&[ev("content_block_delta", "{not json"), ev("error", "Internal Server Error")]);
        assert!(matches!(&out[..], [IrEvent::Error(StreamError { status: 502, .. })]));
    }

    #[test]
    fn whole_input_in_start_and_missing_ids() {
        let events = [
            ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"f","input":{"a":1}}}"#,
            ),
            ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
            ),
            ev("message_stop", r#"{"type":"message_stop"}"#),
        ];
        assert_eq!(
            run(&events),
            vec![
                IrEvent::Start { id: String::new(), model: String::new() },
                IrEvent::ToolCallStart { index: 0, id: "call_seed0".into(), name: "f".into() },
                IrEvent::ToolCallArgs { index: 0, delta: "{\"a\":1}".into() },
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_events(
            events in prop::collection::vec((
                prop::option::of(prop::sample::select(vec![
                    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
                    "message_delta", "message_stop", "ping", "error", "x",
                ])),
                prop_oneof![
                    ".{0,40}",
                    Just(r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{"}}"#.to_string()),
                    Just(r#"{"type":"content_block_start","index":-1,"content_block":{"type":"tool_use","input":[1]}}"#.to_string()),
                    Just(r#"{"type":"message_delta","delta":{"stop_reason":7},"usage":{"output_tokens":-1}}"#.to_string()),
                    Just(r#"{"type":"error","error":null}"#.to_string()),
                    Just(r#"{"type":"message_start","message":[]}"#.to_string()),
                ],
            ), 0..16)
        ) {
            let mut d = Decoder::new("s");
            let mut out = Vec::new();
            for (name, data) in &events {
                out.extend(d.feed(&SseEvent { event: name.map(str::to_string), data: data.clone() }));
            }
            out.extend(d.finish());
            let ends = out.iter().filter(|e| matches!(e, IrEvent::Finish(_) | IrEvent::Error(_))).count();
            prop_assert_eq!(ends, 1);
        }

        /// The same capture as bytes, cut at any byte (a truncated last event included).
        #[test]
        fn a_stream_cut_at_any_byte_ends_in_finish_or_error(cut in 0usize..4000) {
            let text: String =
                tool_use_stream().iter().map(|e| crate::sse::frame(e.event.as_deref(), &e.data)).collect();
            let bytes = &text.as_bytes()[..cut.min(text.len())];
            let mut parser = crate::sse::SseParser::new();
            let mut events = parser.feed(bytes);
            events.extend(parser.finish());
            let out = run(&events);
            let ends = out.iter().filter(|e| matches!(e, IrEvent::Finish(_) | IrEvent::Error(_))).count();
            prop_assert_eq!(ends, 1);
            prop_assert!(matches!(out.last(), Some(IrEvent::Finish(_) | IrEvent::Error(_))));
            if cut >= text.len() {
                prop_assert_eq!(out.last(), Some(&IrEvent::Finish(FinishReason::ToolCalls)));
            }
        }

        #[test]
        fn a_cut_stream_always_ends_in_finish_or_error(cut in 0usize..14) {
            let events = tool_use_stream();
            let out = run(&events[..cut.min(events.len())]);
            let last = out.last().cloned();
            prop_assert!(matches!(last, Some(IrEvent::Finish(_)) | Some(IrEvent::Error(_))));
            let ends = out.iter().filter(|e| matches!(e, IrEvent::Finish(_) | IrEvent::Error(_))).count();
            prop_assert_eq!(ends, 1);
            if cut == 0 {
                prop_assert_eq!(out.len(), 1);
            } else {
                prop_assert!(matches!(out.first(), Some(IrEvent::Start { .. })), "Start comes first");
            }
        }
    }
}
