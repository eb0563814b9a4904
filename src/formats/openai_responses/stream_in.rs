//! Decoder for a Responses upstream's SSE stream (formats.md §3.3) into [`IrEvent`]s.
//!
//! Dispatches on the JSON `type` (the `event:` line is only a fallback, as in openai-python).
//! Function calls are numbered in order of appearance and their argument deltas are routed by
//! `item_id`. Items that arrive whole in `output_item.done` without deltas (some compatible servers
//! do that) are still emitted. A frame whose data is not JSON is ignored: one bad frame should not
//! kill an otherwise good answer, and a stream that never reaches a terminal event is reported as
//! an error by `finish()` anyway.

use std::collections::{HashMap, HashSet};

use crate::error::ErrorKind;
use crate::formats::StreamDecoder;
use crate::ir::{ids, FinishReason, IrEvent, StreamError};
use crate::sse::SseEvent;
use serde_json::Value;

use super::error::upstream_error;
use super::response::{reasoning_text, usage_from_json};

pub struct Decoder {
    id_seed: String,
    started: bool,
    /// A terminal event (Finish or Error) was emitted; everything after is ignored.
    done: bool,
    /// Function-call item id → IR tool index.
    tools: HashMap<String, usize>,
    /// Items whose content already arrived as deltas (so `output_item.done` must not repeat it).
    streamed: HashSet<String>,
}

impl Decoder {
    pub fn new(id_seed: &str) -> Self {
        Decoder {
            id_seed: id_seed.to_string(),
            started: false,
            done: false,
            tools: HashMap::new(),
            streamed: HashSet::new(),
        }
    }

    fn start(&mut self, out: &mut Vec<IrEvent>, response: Option<&Value>) {
        if !self.started {
            self.started = true;
            let field =
                |k: &str| response.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or_default().to_string();
            out.push(IrEvent::Start { id: field("id"), model: field("model") });
        }
    }

    /// Registers a function-call item (under `key`, see [`item_key`]) and emits its start; returns its tool index.
    fn tool_start(&mut self, item: &Value, key: &str, out: &mut Vec<IrEvent>) -> usize {
        if let Some(&index) = self.tools.get(key) {
            return index;
        }
        let index = self.tools.len();
        self.tools.insert(key.to_string(), index);
        let item_id = str_of(item, "id");
        let id = Some(str_of(item, "call_id"))
            .filter(|s| !s.is_empty())
            .or_else(|| Some(item_id).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| ids::tool_call_id(&self.id_seed, index));
        out.push(IrEvent::ToolCallStart { index, id, name: str_of(item, "name") });
        index
    }

    fn item_done(&mut self, item: &Value, key: &str, out: &mut Vec<IrEvent>) {
        let streamed = self.streamed.contains(key);
        match item.get("type").and_then(Value::as_str) {
            Some("function_call") => {
                let known = self.tools.contains_key(key);
                let index = self.tool_start(item, key, out);
                let args = str_of(item, "arguments");
                if (!known || !streamed) && !args.is_empty() {
                    out.push(IrEvent::ToolCallArgs { index, delta: args });
                }
            }
            Some("reasoning") => {
                let text = reasoning_text(item);
                if !streamed && !text.is_empty() {
                    out.push(IrEvent::Thinking(text));
                }
                if let Some(sig) = item.get("encrypted_content").and_then(Value::as_str) {
                    out.push(IrEvent::ThinkingSignature(sig.to_string()));
                }
            }
            Some("message") if !streamed => {
                for c in item.get("content").and_then(Value::as_array).into_iter().flatten() {
                    let text = c.get("text").or_else(|| c.get("refusal")).and_then(Value::as_str).unwrap_or_default();
                    if !text.is_empty() {
                        out.push(IrEvent::Text(text.to_string()));
                    }
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, response: &Value, out: &mut Vec<IrEvent>) {
        if let Some(usage) = response.get("usage").and_then(usage_from_json) {
            out.push(IrEvent::Usage(usage));
        }
        let finish = match response.pointer("/incomplete_details/reason").and_then(Value::as_str) {
            Some("content_filter") => FinishReason::ContentFilter,
            Some(_) => FinishReason::Length,
            None if response.get("status").and_then(Value::as_str) == Some("incomplete") => FinishReason::Length,
            None if !self.tools.is_empty() => FinishReason::ToolCalls,
            None => FinishReason::Stop,
        };
        out.push(IrEvent::Finish(finish));
        self.done = true;
    }

    fn error(&mut self, error: Option<&Value>, out: &mut Vec<IrEvent>) {
        self.start(out, None);
        let get = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
        let e = upstream_error(get("code").or_else(|| get("type")), get("message"));
        out.push(IrEvent::Error(StreamError { kind: e.kind, status: e.status, message: e.message }));
        self.done = true;
    }
}

/// How an item is tracked: its id, or its `output_index` when a lax server sends no id.
fn item_key(id: String, data: &Value) -> String {
    if id.is_empty() {
        format!("#{}", data.get("output_index").and_then(Value::as_u64).unwrap_or(0))
    } else {
        id
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, event: &SseEvent) -> Vec<IrEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else { return out };
        let kind = data.get("type").and_then(Value::as_str).or(event.event.as_deref()).unwrap_or_default();
        let delta = || data.get("delta").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string);
        let item_id = item_key(str_of(&data, "item_id"), &data);
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {
                self.start(&mut out, data.get("response"))
            }
            "response.output_item.added" => {
                self.start(&mut out, None);
                let item = data.get("item").unwrap_or(&Value::Null);
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    let key = item_key(str_of(item, "id"), &data);
                    let index = self.tool_start(item, &key, &mut out);
                    let args = str_of(item, "arguments");
                    if !args.is_empty() {
                        self.streamed.insert(key);
                        out.push(IrEvent::ToolCallArgs { index, delta: args });
                    }
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.start(&mut out, None);
                if let Some(d) = delta() {
                    self.streamed.insert(item_id);
                    out.push(IrEvent::Text(d));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.start(&mut out, None);
                if let Some(d) = delta() {
                    out.push(IrEvent::Thinking(d));
                    self.streamed.insert(item_id);
                }
            }
            // A second summary part of the same item: keep the parts apart, as `response::to_ir` joins them.
            "response.reasoning_summary_part.added"
                if data.get("summary_index").and_then(Value::as_u64).unwrap_or(0) > 0 =>
            {
                self.start(&mut out, None);
                out.push(IrEvent::Thinking("\n\n".to_string()))
            }
            "response.function_call_arguments.delta" => {
                if let (Some(&index), Some(d)) = (self.tools.get(&item_id), delta()) {
                    self.streamed.insert(item_id);
                    out.push(IrEvent::ToolCallArgs { index, delta: d });
                }
            }
            "response.output_item.done" => {
                self.start(&mut out, None);
                if let Some(item) = data.get("item") {
                    self.item_done(item, &item_key(str_of(item, "id"), &data), &mut out);
                }
            }
            "response.completed" | "response.incomplete" => {
                let response = data.get("response").unwrap_or(&Value::Null);
                self.start(&mut out, Some(response));
                self.end(response, &mut out);
            }
            "response.failed" => self.error(data.pointer("/response/error"), &mut out),
            // Real streams nest the details under `error`; the spec puts them at the top level.
            "error" => self.error(Some(data.get("error").filter(|e| e.is_object()).unwrap_or(&data)), &mut out),
            _ => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<IrEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.done = true;
        self.start(&mut out, None);
        out.push(IrEvent::Error(StreamError {
            kind: ErrorKind::Upstream,
            status: 502,
            message: "The upstream stream ended before the response was complete.".to_string(),
        }));
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ir::IrUsage;
    use proptest::prelude::*;
    use serde_json::json;

    fn ev(data: Value) -> SseEvent {
        SseEvent { event: data["type"].as_str().map(str::to_string), data: data.to_string() }
    }

    /// A stream shaped like vercel/ai's `openai-reasoning-encrypted-content.1.chunks.txt` (formats.md §3.3):
    /// reasoning with two summary parts, a message, then a function call streamed in fragments.
    pub(crate) fn captured_stream() -> Vec<SseEvent> {
        let resp = |status: &str, output: Value, usage: Value| {
            json!({"id": "resp_1", "object": "response", "created_at": 1, "status": status, "model": "o4-mini",
                   "output": output, "usage": usage, "error": null, "incomplete_details": null})
        };
        let fc_done = json!({"id": "fc_1", "type": "function_call", "status": "completed", "arguments": "{\"a\":12}", "call_id": "call_AB6", "name": "calculator"});
        [
            json!({"type": "response.created", "sequence_number": 0, "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.in_progress", "sequence_number": 1, "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "encrypted_content": "enc", "summary": []}}),
            json!({"type": "response.reasoning_summary_part.added", "sequence_number": 3, "item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 4, "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "**Calcul", "obfuscation": "x"}),
            json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 5, "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "ating**"}),
            json!({"type": "response.reasoning_summary_text.done", "sequence_number": 6, "item_id": "rs_1", "output_index": 0, "summary_index": 0, "text": "**Calculating**"}),
            json!({"type": "response.reasoning_summary_part.done", "sequence_number": 7, "item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": "**Calculating**"}}),
            json!({"type": "response.reasoning_summary_part.added", "sequence_number": 8, "item_id": "rs_1", "output_index": 0, "summary_index": 1, "part": {"type": "summary_text", "text": ""}}),
            json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 9, "item_id": "rs_1", "output_index": 0, "summary_index": 1, "delta": "Add."}),
            json!({"type": "response.output_item.done", "sequence_number": 10, "output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "encrypted_content": "enc", "summary": [{"type": "summary_text", "text": "**Calculating**"}, {"type": "summary_text", "text": "Add."}]}}),
            json!({"type": "response.output_item.added", "sequence_number": 11, "output_index": 1, "item": {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}}),
            json!({"type": "response.content_part.added", "sequence_number": 12, "item_id": "msg_1", "output_index": 1, "content_index": 0, "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}),
            json!({"type": "response.output_text.delta", "sequence_number": 13, "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "The", "logprobs": []}),
            json!({"type": "response.output_text.delta", "sequence_number": 14, "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": " sum", "logprobs": []}),
            json!({"type": "response.output_text.done", "sequence_number": 15, "item_id": "msg_1", "output_index": 1, "content_index": 0, "text": "The sum", "logprobs": []}),
            json!({"type": "response.content_part.done", "sequence_number": 16, "item_id": "msg_1", "output_index": 1, "content_index": 0, "part": {"type": "output_text", "text": "The sum", "annotations": []}}),
            json!({"type": "response.output_item.done", "sequence_number": 17, "output_index": 1, "item": {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": "The sum", "annotations": []}]}}),
            json!({"type": "response.output_item.added", "sequence_number": 18, "output_index": 2, "item": {"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "call_AB6", "name": "calculator"}}),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 19, "item_id": "fc_1", "output_index": 2, "delta": "{\""}),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 20, "item_id": "fc_1", "output_index": 2, "delta": "a\":12}"}),
            json!({"type": "response.function_call_arguments.done", "sequence_number": 21, "item_id": "fc_1", "output_index": 2, "arguments": "{\"a\":12}"}),
            json!({"type": "response.output_item.done", "sequence_number": 22, "output_index": 2, "item": fc_done.clone()}),
            json!({"type": "response.completed", "sequence_number": 23, "response": resp("completed", json!([fc_done]),
                json!({"input_tokens": 50, "input_tokens_details": {"cached_tokens": 10}, "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 8}, "total_tokens": 70}))}),
        ]
        .into_iter()
        .map(ev)
        .collect()
    }

    fn decode(events: &[SseEvent]) -> Vec<IrEvent> {
        let mut d = Decoder::new("seed");
        let mut out: Vec<IrEvent> = events.iter().flat_map(|e| d.feed(e)).collect();
        out.extend(d.finish());
        out
    }

    #[test]
    fn decodes_a_captured_stream() {
        let out = decode(&captured_stream());
        assert_eq!(
            out,
            vec![
                IrEvent::Start { id: "resp_1".into(), model: "o4-mini".into() },
                IrEvent::Thinking("**Calcul".into()),
                IrEvent::Thinking("ating**".into()),
                IrEvent::Thinking("\n\n".into()),
                IrEvent::Thinking("Add.".into()),
                IrEvent::ThinkingSignature("enc".into()),
                IrEvent::Text("The".into()),
                IrEvent::Text(" sum".into()),
                IrEvent::ToolCallStart { index: 0, id: "call_AB6".into(), name: "calculator".into() },
                IrEvent::ToolCallArgs { index: 0, delta: "{\"".into() },
                IrEvent::ToolCallArgs { index: 0, delta: "a\":12}".into() },
                IrEvent::Usage(IrUsage {
                    input_tokens: 50,
                    cached_tokens: 10,
                    cache_write_tokens: 0,
                    output_tokens: 20,
                    reasoning_tokens: 8
                }),
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn plain_text_ends_with_stop_and_incomplete_with_length() {
        let events = [
            json!({"type": "response.created", "response": {"id": "r", "model": "m"}}),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hi"}),
            json!({"type": "response.completed", "response": {"status": "completed", "usage": null}}),
        ];
        let out = decode(&events.map(ev));
        assert_eq!(out[1..], [IrEvent::Text("Hi".into()), IrEvent::Finish(FinishReason::Stop)]);
        let events = [
            json!({"type": "response.output_text.delta", "item_id": "m", "delta": "Hi"}),
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}}),
        ];
        let out = decode(&events.map(ev));
        assert_eq!(out[0], IrEvent::Start { id: String::new(), model: String::new() }, "Start is synthesised");
        assert_eq!(out.last(), Some(&IrEvent::Finish(FinishReason::ContentFilter)));
    }

    #[test]
    fn items_without_deltas_are_emitted_from_done() {
        let events = [
            json!({"type": "response.created", "response": {"id": "r", "model": "m"}}),
            json!({"type": "response.output_item.done", "item": {"id": "msg_1", "type": "message", "content": [{"type": "output_text", "text": "Whole"}]}}),
            json!({"type": "response.output_item.done", "item": {"id": "fc_9", "type": "function_call", "call_id": "c9", "name": "f", "arguments": "{}"}}),
            json!({"type": "response.completed", "response": {"status": "completed"}}),
        ];
        let out = decode(&events.map(ev));
        assert_eq!(
            out[1..],
            [
                IrEvent::Text("Whole".into()),
                IrEvent::ToolCallStart { index: 0, id: "c9".into(), name: "f".into() },
                IrEvent::ToolCallArgs { index: 0, delta: "{}".into() },
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn items_without_ids_are_tracked_by_output_index() {
        let events = [
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "call_id": "a", "name": "f"}}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "function_call", "call_id": "b", "name": "g"}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{}"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "[]"}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "function_call", "call_id": "b", "arguments": "{}"}}),
            json!({"type": "response.completed", "response": {"status": "completed"}}),
        ];
        let out = decode(&events.map(ev));
        assert_eq!(
            out[1..],
            [
                IrEvent::ToolCallStart { index: 0, id: "a".into(), name: "f".into() },
                IrEvent::ToolCallStart { index: 1, id: "b".into(), name: "g".into() },
                IrEvent::ToolCallArgs { index: 1, delta: "{}".into() },
                IrEvent::ToolCallArgs { index: 0, delta: "[]".into() },
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    #[test]
    fn mid_stream_error_is_reported_once() {
        // openai-error.1.chunks.txt (formats.md §3.3): error nested under `error`, then response.failed.
        let events = [
            json!({"type": "response.created", "sequence_number": 0, "response": {"id": "r", "model": "m"}}),
            json!({"type": "error", "sequence_number": 2, "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "No quota.", "param": null}}),
            json!({"type": "response.failed", "sequence_number": 3, "response": {"status": "failed", "error": {"code": "insufficient_quota", "message": "No quota."}}}),
        ];
        let out = decode(&events.map(ev));
        assert_eq!(
            out[1..],
            [IrEvent::Error(StreamError { kind: ErrorKind::RateLimited, status: 429, message: "No quota.".into() })]
        );
        let out = decode(&[ev(
            json!({"type": "response.failed", "response": {"error": {"code": "server_error", "message": "boom"}}}),
        )]);
        assert_eq!(
            out[1..],
            [IrEvent::Error(StreamError { kind: ErrorKind::Upstream, status: 502, message: "boom".into() })]
        );
        let out = decode(&[]);
        assert!(
            matches!(out[..], [IrEvent::Start { .. }, IrEvent::Error(_)]),
            "even an empty stream starts, then fails"
        );
    }

    #[test]
    fn cut_stream_and_garbage_end_in_an_error() {
        let mut events = captured_stream();
        events.truncate(15);
        events.insert(3, SseEvent { event: None, data: "{not json".into() });
        events.insert(4, SseEvent { event: Some("ping".into()), data: "[DONE]".into() });
        let out = decode(&events);
        assert!(matches!(out.last(), Some(IrEvent::Error(e)) if e.status == 502));
        assert_eq!(out.iter().filter(|e| matches!(e, IrEvent::Error(_))).count(), 1);
    }

    /// Whatever the input, events come out in the IR order: one Start first, then at most one terminal, last.
    fn assert_ir_order(out: &[IrEvent]) -> Result<(), TestCaseError> {
        let terminals = out.iter().filter(|e| matches!(e, IrEvent::Finish(_) | IrEvent::Error(_))).count();
        prop_assert_eq!(terminals, 1);
        let last_is_terminal = matches!(out.last(), Some(IrEvent::Finish(_) | IrEvent::Error(_)));
        prop_assert!(last_is_terminal);
        let starts = out.iter().filter(|e| matches!(e, IrEvent::Start { .. })).count();
        prop_assert_eq!(starts, 1);
        let first_is_start = matches!(out[0], IrEvent::Start { .. });
        prop_assert!(first_is_start);
        Ok(())
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_events(
            events in proptest::collection::vec((
                proptest::option::of("(response\\.)?[a-z_.]{0,30}"),
                prop_oneof![
                    "[ -~]{0,40}",
                    ("(response\\.(created|completed|failed|output_item\\.(added|done)|function_call_arguments\\.delta|output_text\\.delta)|error)",
                     "[a-z_]{0,6}", "[ -~]{0,8}")
                        .prop_map(|(t, k, v)| json!({"type": t, "item_id": k, "delta": v, "item": {"type": "function_call", "id": k}, "response": {"usage": v}, "error": v}).to_string()),
                ],
            ), 0..20)
        ) {
            let events: Vec<SseEvent> = events.into_iter().map(|(event, data)| SseEvent { event, data }).collect();
            let out = decode(&events);
            assert_ir_order(&out)?;
        }

        #[test]
        fn any_cut_ends_in_finish_or_error(cut in 0usize..30) {
            let mut events = captured_stream();
            events.truncate(cut);
            let out = decode(&events);
            assert_ir_order(&out)?;
            if cut < 24 {
                let last_is_error = matches!(out.last(), Some(IrEvent::Error(_)));
                prop_assert!(last_is_error);
            }
        }
    }
}
