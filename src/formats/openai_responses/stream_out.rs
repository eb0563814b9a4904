//! Encoder of [`IrEvent`]s into a Responses SSE stream for clients (formats.md §3.3, §7.12).
//!
//! Frames are `event: <type>` + `data: <json>` with `sequence_number` counting from 0 on every event.
//! The stream opens with `response.created` then `response.in_progress`. Each output item gets the
//! next `output_index` and the full lifecycle the official SDK's accumulator expects:
//! - reasoning: `output_item.added` → `reasoning_summary_part.added` → `reasoning_summary_text.delta`*
//!   → `reasoning_summary_text.done` → `reasoning_summary_part.done` → `output_item.done`;
//! - message: `output_item.added` → `content_part.added` → `output_text.delta`* → `output_text.done`
//!   → `content_part.done` → `output_item.done`;
//! - function call: `output_item.added` → `function_call_arguments.delta`* → `.done` → `output_item.done`.
//!
//! Switching kind closes the open item. Several function calls may be open at once (Chat upstreams
//! may interleave parallel calls' arguments); they close together, in output order. The stream ends
//! with exactly one terminal event: `response.completed`/`response.incomplete` (all items, same ids as
//! streamed, plus usage) or, on an error or a cut upstream, `error` then `response.failed`.
//! Redacted thinking has no Responses form and is dropped.

use crate::formats::openai_chat::error::error_type;
use crate::formats::{json_out, StreamEncoder};
use crate::ir::{ids, EncodeCtx, FinishReason, IrEvent, IrUsage, StreamError};
use crate::sse::frame;
use serde_json::{json, Value};

use super::error::response_error_code;
use super::response::{
    function_item, item_id, message_item, output_text_part, reasoning_item, response_object, usage_json,
};
use crate::error::ErrorKind;

/// An output item that has been announced (`output_item.added`) but not yet closed.
enum Open {
    Reasoning { id: String, index: usize, text: String, part_open: bool, signature: Option<String> },
    Message { id: String, index: usize, text: String },
    Function { id: String, index: usize, ir_index: usize, call_id: String, name: String, args: String },
}

pub struct Encoder {
    ctx: EncodeCtx,
    seq: u64,
    started: bool,
    /// A terminal event was written; nothing follows it.
    ended: bool,
    /// Closed items, at their `output_index`.
    output: Vec<Value>,
    /// Open items, in `output_index` order (one reasoning/message, or any number of function calls).
    open: Vec<Open>,
    finish: Option<FinishReason>,
    usage: Option<IrUsage>,
}

impl Encoder {
    pub fn new(ctx: &EncodeCtx) -> Self {
        Encoder {
            ctx: ctx.clone(),
            seq: 0,
            started: false,
            ended: false,
            output: Vec::new(),
            open: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    /// A per-token event: `{"type":kind,"sequence_number":n,` + `fields` (raw JSON members), written
    /// directly because it runs once per token.
    fn emit_raw(&mut self, out: &mut Vec<String>, kind: &str, fields: &str) {
        let data = format!(r#"{{"type":"{kind}","sequence_number":{},{fields}}}"#, self.seq);
        self.seq += 1;
        out.push(frame(Some(kind), &data));
    }

    fn emit(&mut self, out: &mut Vec<String>, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.push(frame(Some(kind), &data.to_string()));
    }

    fn start(&mut self, out: &mut Vec<String>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(&self.ctx, None, vec![], Value::Null);
        self.emit(out, "response.created", json!({"response": response.clone()}));
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    fn next_index(&self) -> usize {
        self.output.len() + self.open.len()
    }

    fn close_all(&mut self, out: &mut Vec<String>) {
        for item in std::mem::take(&mut self.open) {
            self.close(item, out);
        }
    }

    fn close(&mut self, item: Open, out: &mut Vec<String>) {
        let (index, done) = match item {
            Open::Reasoning { id, index, text, part_open, signature } => {
                if part_open {
                    let base = json!({"item_id": id, "output_index": index, "summary_index": 0});
                    let mut ev = base.clone();
                    ev["text"] = json!(text);
                    self.emit(out, "response.reasoning_summary_text.done", ev);
                    let mut ev = base;
                    ev["part"] = json!({"type": "summary_text", "text": text});
                    self.emit(out, "response.reasoning_summary_part.done", ev);
                }
                (index, reasoning_item(&id, &text, signature.as_deref()))
            }
            Open::Message { id, index, text } => {
                let base = json!({"item_id": id, "output_index": index, "content_index": 0});
                let mut ev = base.clone();
                ev["text"] = json!(text);
                ev["logprobs"] = json!([]);
                self.emit(out, "response.output_text.done", ev);
                let mut ev = base;
                ev["part"] = output_text_part(&text);
                self.emit(out, "response.content_part.done", ev);
                (index, message_item(&id, &text, "completed"))
            }
            Open::Function { id, index, call_id, name, args, .. } => {
                let ev = json!({"item_id": id, "output_index": index, "name": name, "arguments": args});
                self.emit(out, "response.function_call_arguments.done", ev);
                (index, function_item(&id, &call_id, &name, &args, "completed"))
            }
        };
        self.emit(out, "response.output_item.done", json!({"output_index": index, "item": done.clone()}));
        self.output.push(done);
    }

    /// Makes sure the single open item is a reasoning item (closing anything else first). A signed
    /// reasoning item is finished: the next thinking block gets an item of its own, keeping its signature.
    fn reasoning(&mut self, out: &mut Vec<String>) {
        if matches!(self.open.as_slice(), [Open::Reasoning { signature: None, .. }]) {
            return;
        }
        self.close_all(out);
        let index = self.next_index();
        let id = item_id("rs", &self.ctx.id_seed, index);
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": reasoning_item(&id, "", None)}),
        );
        self.open.push(Open::Reasoning { id, index, text: String::new(), part_open: false, signature: None });
    }

    fn thinking(&mut self, delta: &str, out: &mut Vec<String>) {
        self.reasoning(out);
        let Some(Open::Reasoning { id, index, text, part_open, .. }) = self.open.last_mut() else { return };
        text.push_str(delta);
        let base = json!({"item_id": id, "output_index": *index, "summary_index": 0});
        let first = !*part_open;
        *part_open = true;
        if first {
            let mut ev = base.clone();
            ev["part"] = json!({"type": "summary_text", "text": ""});
            self.emit(out, "response.reasoning_summary_part.added", ev);
        }
        let mut ev = base;
        ev["delta"] = json!(delta);
        self.emit(out, "response.reasoning_summary_text.delta", ev);
    }

    fn text(&mut self, delta: &str, out: &mut Vec<String>) {
        if !matches!(self.open.as_slice(), [Open::Message { .. }]) {
            self.close_all(out);
            let index = self.next_index();
            let id = item_id("msg", &self.ctx.id_seed, index);
            let item = message_item(&id, "", "in_progress");
            self.emit(out, "response.output_item.added", json!({"output_index": index, "item": item}));
            let ev = json!({"item_id": id, "output_index": index, "content_index": 0, "part": output_text_part("")});
            self.emit(out, "response.content_part.added", ev);
            self.open.push(Open::Message { id, index, text: String::new() });
        }
        let Some(Open::Message { id, index, text }) = self.open.last_mut() else { return };
        text.push_str(delta);
        let fields = format!(
            r#""item_id":{},"output_index":{},"content_index":0,"delta":{},"logprobs":[]"#,
            json_out::string(id),
            *index,
            json_out::string(delta)
        );
        self.emit_raw(out, "response.output_text.delta", &fields);
    }

    fn tool_start(&mut self, ir_index: usize, call_id: &str, name: &str, out: &mut Vec<String>) {
        if self.open.iter().any(|o| !matches!(o, Open::Function { .. })) {
            self.close_all(out);
        }
        if self.open.iter().any(|o| matches!(o, Open::Function { ir_index: i, .. } if *i == ir_index)) {
            return; // a repeated start for the same call
        }
        let index = self.next_index();
        let id = item_id("fc", &self.ctx.id_seed, index);
        let call_id =
            if call_id.is_empty() { ids::tool_call_id(&self.ctx.id_seed, ir_index) } else { call_id.to_string() };
        let item = function_item(&id, &call_id, name, "", "in_progress");
        self.emit(out, "response.output_item.added", json!({"output_index": index, "item": item}));
        self.open.push(Open::Function { id, index, ir_index, call_id, name: name.to_string(), args: String::new() });
    }

    fn tool_args(&mut self, ir_index: usize, delta: &str, out: &mut Vec<String>) {
        // Arguments for a call that is not open (never started, or already closed) cannot be placed.
        let Some(Open::Function { id, index, args, .. }) =
            self.open.iter_mut().find(|o| matches!(o, Open::Function { ir_index: i, .. } if *i == ir_index))
        else {
            return;
        };
        args.push_str(delta);
        let ev = json!({"item_id": id, "output_index": *index, "delta": delta});
        self.emit(out, "response.function_call_arguments.delta", ev);
    }

    fn fail(&mut self, err: &StreamError, out: &mut Vec<String>) {
        self.start(out);
        let code = response_error_code(err.kind);
        let ev = json!({
            "error": {"type": error_type(err.kind), "code": code, "message": err.message, "param": null},
            // The spec's ResponseErrorEvent has these at the top level; real streams nest them. Send both.
            "code": code, "message": err.message, "param": null,
        });
        self.emit(out, "error", ev);
        let usage = self.usage.as_ref().map(usage_json).unwrap_or(Value::Null);
        let mut response = response_object(&self.ctx, None, std::mem::take(&mut self.output), usage);
        response["status"] = json!("failed");
        response["error"] = json!({"code": code, "message": err.message});
        self.emit(out, "response.failed", json!({"response": response}));
        self.ended = true;
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &IrEvent) -> Vec<String> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        if !matches!(event, IrEvent::Error(_)) {
            self.start(&mut out);
        }
        match event {
            IrEvent::Start { .. } | IrEvent::RedactedThinking(_) => {}
            IrEvent::Text(t) if !t.is_empty() => self.text(t, &mut out),
            IrEvent::Thinking(t) if !t.is_empty() => self.thinking(t, &mut out),
            IrEvent::Text(_) | IrEvent::Thinking(_) => {}
            IrEvent::ThinkingSignature(sig) => {
                self.reasoning(&mut out);
                if let Some(Open::Reasoning { signature, .. }) = self.open.last_mut() {
                    *signature = Some(sig.clone());
                }
            }
            IrEvent::ToolCallStart { index, id, name } => self.tool_start(*index, id, name, &mut out),
            IrEvent::ToolCallArgs { index, delta } if !delta.is_empty() => self.tool_args(*index, delta, &mut out),
            IrEvent::ToolCallArgs { .. } => {}
            IrEvent::Usage(u) => self.usage = Some(*u),
            IrEvent::Finish(f) => self.finish = Some(*f),
            IrEvent::Error(e) => self.fail(e, &mut out),
        }
        out
    }

    fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        let Some(finish) = self.finish else {
            let err = StreamError {
                kind: ErrorKind::Upstream,
                status: 502,
                message: "The upstream stream ended before the response was complete.".to_string(),
            };
            self.fail(&err, &mut out);
            return out;
        };
        self.start(&mut out);
        self.close_all(&mut out);
        let usage = self.usage.as_ref().map(usage_json).unwrap_or(Value::Null);
        let response = response_object(&self.ctx, Some(finish), std::mem::take(&mut self.output), usage);
        let kind = if response["status"] == "completed" { "response.completed" } else { "response.incomplete" };
        self.emit(&mut out, kind, json!({"response": response}));
        self.ended = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::openai_responses::stream_in::{tests::captured_stream, Decoder};
    use crate::formats::StreamDecoder;
    use crate::sse::{SseEvent, SseParser};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn ctx() -> EncodeCtx {
        EncodeCtx { model: "client-model".into(), id_seed: "s1".into(), created: 1_700_000_000, include_usage: false }
    }

    fn encode(events: &[IrEvent]) -> Vec<SseEvent> {
        let mut e = Encoder::new(&ctx());
        let mut text: String = events.iter().flat_map(|ev| e.encode(ev)).collect();
        text.extend(e.finish());
        text.extend(e.finish()); // a second finish must add nothing
        let mut p = SseParser::new();
        let mut out = p.feed(text.as_bytes());
        out.extend(p.finish());
        out
    }

    fn data(events: &[SseEvent]) -> Vec<Value> {
        events.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    }

    /// Checks what openai-python's `responses.stream` accumulator and the spec require:
    /// `response.created` first, `event:` = `type`, sequence numbers 0,1,2…, contiguous output
    /// indexes, matching ids between `.added` and `.done`, and exactly one terminal event, last.
    fn check_sdk_rules(events: &[SseEvent]) -> Result<Vec<Value>, TestCaseError> {
        let datas = data(events);
        prop_assert!(!datas.is_empty());
        prop_assert_eq!(&datas[0]["type"], "response.created");
        let mut added: HashMap<u64, String> = HashMap::new();
        let mut done: Vec<u64> = Vec::new();
        for (n, (e, d)) in events.iter().zip(&datas).enumerate() {
            prop_assert_eq!(e.event.as_deref(), d["type"].as_str());
            prop_assert_eq!(d["sequence_number"].as_u64(), Some(n as u64));
            let kind = d["type"].as_str().unwrap_or_default();
            let terminal = matches!(kind, "response.completed" | "response.incomplete" | "response.failed");
            prop_assert_eq!(terminal, n == datas.len() - 1, "terminal event must be last and unique: {}", kind);
            if kind == "response.output_item.added" {
                let idx = d["output_index"].as_u64().unwrap_or(u64::MAX);
                prop_assert_eq!(idx, added.len() as u64, "output_index contiguous");
                added.insert(idx, d["item"]["id"].as_str().unwrap_or_default().to_string());
            }
            if kind == "response.output_item.done" {
                let idx = d["output_index"].as_u64().unwrap_or(u64::MAX);
                prop_assert_eq!(added.get(&idx).map(String::as_str), d["item"]["id"].as_str());
                done.push(idx);
            }
            if let Some(item_id) = d["item_id"].as_str() {
                let idx = d["output_index"].as_u64().unwrap_or(u64::MAX);
                prop_assert_eq!(added.get(&idx).map(String::as_str), Some(item_id));
                prop_assert!(!done.contains(&idx), "event for a closed item");
            }
        }
        let last = &datas[datas.len() - 1];
        if last["type"] != "response.failed" {
            let output = last["response"]["output"].as_array().cloned().unwrap_or_default();
            prop_assert_eq!(output.len(), added.len());
            for (i, item) in output.iter().enumerate() {
                prop_assert_eq!(item["id"].as_str(), added.get(&(i as u64)).map(String::as_str));
            }
        }
        Ok(datas)
    }

    fn types(datas: &[Value]) -> Vec<&str> {
        datas.iter().map(|d| d["type"].as_str().unwrap_or_default()).collect()
    }

    #[test]
    fn encodes_text_with_the_full_item_lifecycle() {
        let events = [
            IrEvent::Start { id: "up".into(), model: "up-model".into() },
            IrEvent::Text("Hel".into()),
            IrEvent::Text("lo".into()),
            IrEvent::Usage(IrUsage { input_tokens: 9, cached_tokens: 2, output_tokens: 3, ..IrUsage::default() }),
            IrEvent::Finish(FinishReason::Stop),
        ];
        let datas = check_sdk_rules(&encode(&events)).unwrap();
        assert_eq!(
            types(&datas),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_eq!(datas[0]["response"]["status"], "in_progress");
        assert!(datas[0]["response"]["usage"].is_null());
        assert_eq!(datas[0]["response"]["model"], "client-model");
        assert_eq!(datas[6]["text"], "Hello");
        let done = &datas[9]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["id"], datas[0]["response"]["id"]);
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(done["usage"]["input_tokens"], 9);
        assert_eq!(done["usage"]["input_tokens_details"]["cached_tokens"], 2);
        assert_eq!(done["usage"]["total_tokens"], 12);
    }

    #[test]
    fn encodes_thinking_then_tool_calls_and_length() {
        let events = [
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Thinking("Let me".into()),
            IrEvent::Thinking(" think".into()),
            IrEvent::ThinkingSignature("sig".into()),
            IrEvent::ToolCallStart { index: 0, id: "call_1".into(), name: "a".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "{\"x\":".into() },
            IrEvent::ToolCallStart { index: 1, id: "call_2".into(), name: "b".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "1}".into() },
            IrEvent::ToolCallArgs { index: 1, delta: "{}".into() },
            IrEvent::Finish(FinishReason::Length),
        ];
        let datas = check_sdk_rules(&encode(&events)).unwrap();
        assert_eq!(
            types(&datas)[2..9],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
            ]
        );
        let last = datas.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["incomplete_details"]["reason"], "max_output_tokens");
        let output = &last["response"]["output"];
        assert_eq!(output[0]["summary"][0]["text"], "Let me think");
        assert_eq!(output[0]["encrypted_content"], "sig");
        assert_eq!(output[1]["arguments"], "{\"x\":1}");
        assert_eq!(output[1]["call_id"], "call_1");
        assert_eq!(output[2]["arguments"], "{}");
        let args_done: Vec<&Value> =
            datas.iter().filter(|d| d["type"] == "response.function_call_arguments.done").collect();
        assert_eq!(args_done[0]["arguments"], "{\"x\":1}");
    }

    #[test]
    fn each_signed_thinking_block_keeps_its_own_reasoning_item() {
        let events = [
            IrEvent::Thinking("one".into()),
            IrEvent::ThinkingSignature("sig1".into()),
            IrEvent::Thinking("two".into()),
            IrEvent::ThinkingSignature("sig2".into()),
            IrEvent::ThinkingSignature("sig3".into()),
            IrEvent::RedactedThinking("opaque".into()),
            IrEvent::Text("".into()),
            IrEvent::Finish(FinishReason::Stop),
        ];
        let datas = check_sdk_rules(&encode(&events)).unwrap();
        let output = datas.last().unwrap()["response"]["output"].as_array().unwrap().clone();
        let summary: Vec<(&str, &str)> = output
            .iter()
            .map(|o| (o["summary"][0]["text"].as_str().unwrap_or(""), o["encrypted_content"].as_str().unwrap()))
            .collect();
        assert_eq!(summary, [("one", "sig1"), ("two", "sig2"), ("", "sig3")]);
        assert_eq!(output[2]["summary"], json!([]));
    }

    #[test]
    fn errors_end_with_error_then_failed_and_nothing_after() {
        let events = [
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Text("partial".into()),
            IrEvent::Error(StreamError { kind: ErrorKind::RateLimited, status: 429, message: "slow down".into() }),
            IrEvent::Text("ignored".into()),
            IrEvent::Finish(FinishReason::Stop),
        ];
        let datas = check_sdk_rules(&encode(&events)).unwrap();
        let n = datas.len();
        assert_eq!(datas[n - 2]["type"], "error");
        assert_eq!(datas[n - 2]["error"]["code"], "rate_limit_exceeded");
        assert_eq!(datas[n - 2]["error"]["message"], "slow down");
        assert!(datas[n - 2]["error"]["param"].is_null());
        assert_eq!(datas[n - 1]["response"]["status"], "failed");
        assert_eq!(datas[n - 1]["response"]["error"], json!({"code": "rate_limit_exceeded", "message": "slow down"}));
    }

    #[test]
    fn a_cut_upstream_ends_in_failure_even_before_start() {
        let datas = check_sdk_rules(&encode(&[])).unwrap();
        assert_eq!(types(&datas), ["response.created", "response.in_progress", "error", "response.failed"]);
        let datas = check_sdk_rules(&encode(&[IrEvent::Text("a".into())])).unwrap();
        assert_eq!(datas.last().unwrap()["type"], "response.failed");
    }

    #[test]
    fn decoder_then_encoder_round_trip_keeps_the_answer() {
        let mut d = Decoder::new("seed");
        let mut ir: Vec<IrEvent> = captured_stream().iter().flat_map(|e| d.feed(e)).collect();
        ir.extend(d.finish());
        let datas = check_sdk_rules(&encode(&ir)).unwrap();
        let resp = &datas.last().unwrap()["response"];
        assert_eq!(resp["status"], "completed");
        assert_eq!(resp["output"][0]["summary"][0]["text"], "**Calculating**\n\nAdd.");
        assert_eq!(resp["output"][0]["encrypted_content"], "enc");
        assert_eq!(resp["output"][1]["content"][0]["text"], "The sum");
        assert_eq!(resp["output"][2]["call_id"], "call_AB6");
        assert_eq!(resp["output"][2]["arguments"], "{\"a\":12}");
        assert_eq!(resp["usage"]["output_tokens_details"]["reasoning_tokens"], 8);
        // And the client stream decodes back into the same IR events.
        let mut d = Decoder::new("seed");
        let mut again: Vec<IrEvent> = encode(&ir).iter().flat_map(|e| d.feed(e)).collect();
        again.extend(d.finish());
        assert_eq!(again[1..], ir[1..]);
    }

    fn arb_event() -> impl Strategy<Value = IrEvent> {
        prop_oneof![
            Just(IrEvent::Start { id: "x".into(), model: "m".into() }),
            "[a-z ]{0,5}".prop_map(IrEvent::Text),
            "[a-z ]{0,5}".prop_map(IrEvent::Thinking),
            "[a-z]{1,5}".prop_map(IrEvent::ThinkingSignature),
            "[a-z]{1,5}".prop_map(IrEvent::RedactedThinking),
            (0usize..3, "[a-z]{0,3}").prop_map(|(index, name)| IrEvent::ToolCallStart {
                index,
                id: format!("c{index}"),
                name
            }),
            (0usize..3, "[{}a-z\"]{0,4}").prop_map(|(index, delta)| IrEvent::ToolCallArgs { index, delta }),
            Just(IrEvent::Usage(IrUsage { input_tokens: 3, output_tokens: 2, ..IrUsage::default() })),
            prop_oneof![
                Just(FinishReason::Stop),
                Just(FinishReason::Length),
                Just(FinishReason::ToolCalls),
                Just(FinishReason::ContentFilter)
            ]
            .prop_map(IrEvent::Finish),
            Just(IrEvent::Error(StreamError { kind: ErrorKind::Upstream, status: 502, message: "x".into() })),
        ]
    }

    proptest! {
        /// Any event sequence (even out of IR order) gives a stream the SDK accepts, ending once.
        #[test]
        fn any_events_give_a_valid_stream(events in proptest::collection::vec(arb_event(), 0..25)) {
            check_sdk_rules(&encode(&events))?;
        }
    }
}
