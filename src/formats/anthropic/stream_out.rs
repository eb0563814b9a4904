//! [`IrEvent`]s → Anthropic SSE for the client (formats.md §4.3, §7.12).
//!
//! Invariants the SDK accumulator (`accumulate_event`) relies on: `message_start` comes first;
//! `content_block_start` indexes are 0..n−1 in start order and deltas/stops name the open block;
//! every frame's `event:` equals `data.type`. A normal stream ends `message_delta` (stop reason and
//! cumulative usage) then `message_stop`; a failed one ends with `event: error` and nothing after.
//! `Finish` and `Usage` are held until `finish()` because usage often arrives after the finish.

use super::error;
use super::response::{stop_reason, usage_from_ir};
use crate::error::ErrorKind;
use crate::formats::{json_out, StreamEncoder};
use crate::ir::{ids, EncodeCtx, FinishReason, IrEvent, IrUsage};
use crate::sse::frame;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// The tool_use block of IR tool call `index`.
    Tool(usize),
}

#[derive(Debug)]
pub struct Encoder {
    id: String,
    model: String,
    started: bool,
    /// The stream has been ended (normally or by an error); nothing more is written.
    done: bool,
    open: Option<(Open, usize)>,
    next_index: usize,
    /// Block index of each IR tool call, for argument fragments that arrive after another block opened.
    tool_blocks: Vec<(usize, usize)>,
    usage: Option<IrUsage>,
    finish: Option<FinishReason>,
}

fn emit(out: &mut Vec<String>, data: Value) {
    let ty = data.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    out.push(frame(Some(&ty), &data.to_string()));
}

impl Encoder {
    pub fn new(ctx: &EncodeCtx) -> Self {
        Encoder {
            id: format!("msg_{}", ctx.id_seed),
            model: ctx.model.clone(),
            started: false,
            done: false,
            open: None,
            next_index: 0,
            tool_blocks: vec![],
            usage: None,
            finish: None,
        }
    }

    fn ensure_started(&mut self, out: &mut Vec<String>) {
        if self.started {
            return;
        }
        self.started = true;
        let mut usage = usage_from_ir(&self.usage.unwrap_or_default());
        // A placeholder, as Anthropic sends: the real count comes in message_delta.
        usage["output_tokens"] = json!(1);
        emit(
            out,
            json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": usage,
            }}),
        );
    }

    fn close(&mut self, out: &mut Vec<String>) {
        if let Some((_, index)) = self.open.take() {
            emit(out, json!({"type": "content_block_stop", "index": index}));
        }
    }

    /// Opens a block of `kind` unless it is already the open one; returns its index.
    fn open(&mut self, out: &mut Vec<String>, kind: Open, block: Value) -> usize {
        if let Some((k, i)) = self.open {
            if k == kind {
                return i;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        emit(out, json!({"type": "content_block_start", "index": index, "content_block": block}));
        self.open = Some((kind, index));
        index
    }

    /// A `content_block_delta` whose delta is `{"type": kind, field: value}` (once per token, so
    /// written directly rather than through a `Value`).
    fn delta(out: &mut Vec<String>, index: usize, kind: &str, field: &str, value: &str) {
        let value = json_out::string(value);
        let data = format!(
            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"{kind}","{field}":{value}}}}}"#
        );
        out.push(frame(Some("content_block_delta"), &data));
    }

    fn fail(&mut self, out: &mut Vec<String>, kind: ErrorKind, status: u16, message: &str) {
        self.close(out);
        emit(out, error::body(kind, status, message));
        self.done = true;
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &IrEvent) -> Vec<String> {
        let mut out = Vec::new();
        // Content after the finish has nowhere to go in this format.
        if self.done || (self.finish.is_some() && !matches!(event, IrEvent::Usage(_) | IrEvent::Error(_))) {
            return out;
        }
        match event {
            IrEvent::Error(e) => {
                // The SDK raises on `event: error` at any point, so it needs no message_start.
                self.fail(&mut out, e.kind, e.status, &e.message);
                return out;
            }
            IrEvent::Usage(u) => {
                self.usage = Some(*u);
                return out;
            }
            IrEvent::Finish(f) => {
                self.finish = Some(*f);
                return out;
            }
            _ => {}
        }
        self.ensure_started(&mut out);
        match event {
            IrEvent::Text(t) if !t.is_empty() => {
                let i = self.open(&mut out, Open::Text, json!({"type": "text", "text": ""}));
                Self::delta(&mut out, i, "text_delta", "text", t);
            }
            IrEvent::Thinking(t) if !t.is_empty() => {
                let block = json!({"type": "thinking", "thinking": "", "signature": ""});
                let i = self.open(&mut out, Open::Thinking, block);
                Self::delta(&mut out, i, "thinking_delta", "thinking", t);
            }
            IrEvent::ThinkingSignature(s) => {
                // Only a thinking block can carry a signature; one for another provider's text is dropped.
                if let Some((Open::Thinking, i)) = self.open {
                    Self::delta(&mut out, i, "signature_delta", "signature", s);
                }
            }
            IrEvent::RedactedThinking(d) => {
                self.close(&mut out);
                let index = self.next_index;
                self.next_index += 1;
                let block = json!({"type": "redacted_thinking", "data": d});
                emit(&mut out, json!({"type": "content_block_start", "index": index, "content_block": block}));
                emit(&mut out, json!({"type": "content_block_stop", "index": index}));
            }
            IrEvent::ToolCallStart { index, id, name } => {
                self.close(&mut out);
                let block = json!({"type": "tool_use", "id": ids::sanitize(id), "name": name, "input": {}});
                let b = self.open(&mut out, Open::Tool(*index), block);
                self.tool_blocks.push((*index, b));
            }
            IrEvent::ToolCallArgs { index, delta } if !delta.is_empty() => {
                // Fragments normally go to the open block; a late one for an earlier call keeps its
                // own index (the accumulator appends by index), an unknown call is dropped.
                let block = match self.open {
                    Some((Open::Tool(k), b)) if k == *index => Some(b),
                    _ => self.tool_blocks.iter().rev().find(|(k, _)| k == index).map(|(_, b)| *b),
                };
                if let Some(b) = block {
                    Self::delta(&mut out, b, "input_json_delta", "partial_json", delta);
                }
            }
            _ => {} // Start (message_start already sent), empty fragments
        }
        out
    }

    fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        let Some(finish) = self.finish else {
            self.fail(&mut out, ErrorKind::Upstream, 502, "The upstream stream ended before the answer finished.");
            return out;
        };
        self.ensure_started(&mut out);
        self.close(&mut out);
        let usage = match &self.usage {
            Some(u) => usage_from_ir(u),
            None => json!({"output_tokens": 0}),
        };
        emit(
            &mut out,
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(finish), "stop_sequence": null}, "usage": usage}),
        );
        emit(&mut out, json!({"type": "message_stop"}));
        self.done = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::anthropic::stream_in::{tests::tool_use_stream, Decoder};
    use crate::formats::StreamDecoder;
    use crate::ir::StreamError;
    use crate::sse::{SseEvent, SseParser};
    use proptest::prelude::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx { model: "claude-sonnet-4-5".into(), id_seed: "abc123".into(), created: 0, include_usage: false }
    }

    fn encode_all(events: &[IrEvent]) -> Vec<SseEvent> {
        let mut e = Encoder::new(&ctx());
        let mut text: String = events.iter().flat_map(|ev| e.encode(ev)).collect();
        text.extend(e.finish());
        text.extend(e.finish()); // a second finish writes nothing
        let mut p = SseParser::new();
        let mut out = p.feed(text.as_bytes());
        out.extend(p.finish());
        out
    }

    fn data(e: &SseEvent) -> Value {
        serde_json::from_str(&e.data).unwrap()
    }

    /// Checks what the Anthropic SDK accumulator checks, and returns the accumulated message.
    fn accumulate(frames: &[SseEvent]) -> Value {
        let mut msg = Value::Null;
        let mut open: Option<u64> = None;
        for (n, f) in frames.iter().enumerate() {
            let d = data(f);
            assert_eq!(f.event.as_deref(), d["type"].as_str(), "event name equals data.type");
            match d["type"].as_str().unwrap() {
                "message_start" => {
                    assert_eq!(n, 0, "message_start first");
                    msg = d["message"].clone();
                }
                "content_block_start" => {
                    assert!(open.is_none(), "one block open at a time");
                    let content = msg["content"].as_array_mut().unwrap();
                    assert_eq!(d["index"], content.len(), "indexes contiguous in start order");
                    content.push(d["content_block"].clone());
                    open = d["index"].as_u64();
                }
                "content_block_delta" => {
                    let b = &mut msg["content"][d["index"].as_u64().unwrap() as usize];
                    let delta = &d["delta"];
                    // Late arguments for an earlier call keep that call's index (documented exception).
                    let late_args = delta["type"] == "input_json_delta" && b["type"] == "tool_use";
                    assert!(d["index"].as_u64() == open || late_args, "delta for the open block");
                    match delta["type"].as_str().unwrap() {
                        "text_delta" => {
                            b["text"] =
                                json!(format!("{}{}", b["text"].as_str().unwrap(), delta["text"].as_str().unwrap()))
                        }
                        "thinking_delta" => {
                            b["thinking"] = json!(format!(
                                "{}{}",
                                b["thinking"].as_str().unwrap(),
                                delta["thinking"].as_str().unwrap()
                            ))
                        }
                        "signature_delta" => b["signature"] = delta["signature"].clone(),
                        "input_json_delta" => {
                            let buf = format!(
                                "{}{}",
                                b["_json"].as_str().unwrap_or(""),
                                delta["partial_json"].as_str().unwrap()
                            );
                            b["_json"] = json!(buf);
                        }
                        other => panic!("unexpected delta {other}"),
                    }
                }
                "content_block_stop" => {
                    assert_eq!(d["index"].as_u64(), open);
                    open = None;
                }
                "message_delta" => {
                    assert!(open.is_none());
                    msg["stop_reason"] = d["delta"]["stop_reason"].clone();
                    assert!(d["usage"]["output_tokens"].is_u64(), "output_tokens required");
                    msg["usage"]["output_tokens"] = d["usage"]["output_tokens"].clone();
                }
                "message_stop" => assert_eq!(n, frames.len() - 1, "message_stop last"),
                "error" => assert_eq!(n, frames.len() - 1, "nothing after an error"),
                other => panic!("unexpected event {other}"),
            }
        }
        msg
    }

    #[test]
    fn encodes_thinking_text_and_tools_in_sdk_order() {
        let events = vec![
            IrEvent::Start { id: "chatcmpl-1".into(), model: "gpt-4o".into() },
            IrEvent::Thinking("Let me".into()),
            IrEvent::Thinking(" think.".into()),
            IrEvent::ThinkingSignature("sig".into()),
            IrEvent::Text("Hello".into()),
            IrEvent::Text(" there".into()),
            IrEvent::ToolCallStart { index: 0, id: "call.1".into(), name: "get_weather".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "{\"city\":".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "\"Paris\"}".into() },
            IrEvent::ToolCallStart { index: 1, id: "call_2".into(), name: "noop".into() },
            IrEvent::Finish(FinishReason::ToolCalls),
            IrEvent::Usage(IrUsage { input_tokens: 100, cached_tokens: 60, output_tokens: 42, ..Default::default() }),
        ];
        let frames = encode_all(&events);
        let names: Vec<&str> = frames.iter().map(|f| f.event.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let start = data(&frames[0]);
        assert_eq!(start["message"]["id"], "msg_abc123");
        assert_eq!(start["message"]["model"], "claude-sonnet-4-5");
        assert_eq!(start["message"]["usage"]["input_tokens"], 0);
        assert_eq!(start["message"]["usage"]["output_tokens"], 1);
        let msg = accumulate(&frames);
        assert_eq!(msg["content"][0], json!({"type": "thinking", "thinking": "Let me think.", "signature": "sig"}));
        assert_eq!(msg["content"][1], json!({"type": "text", "text": "Hello there"}));
        assert_eq!(msg["content"][2]["id"], "call_1");
        assert_eq!(msg["content"][2]["_json"], "{\"city\":\"Paris\"}");
        assert_eq!(msg["content"][3]["name"], "noop");
        assert_eq!(msg["stop_reason"], "tool_use");
        let delta = data(&frames[16]);
        assert_eq!(
            delta,
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
                "usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":42}})
        );
    }

    #[test]
    fn errors_end_the_stream_once() {
        let err = StreamError { kind: ErrorKind::Upstream, status: 529, message: "Overloaded".into() };
        let frames = encode_all(&[
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Text("par".into()),
            IrEvent::Error(err.clone()),
            IrEvent::Text("ignored".into()),
            IrEvent::Finish(FinishReason::Stop),
        ]);
        let names: Vec<&str> = frames.iter().map(|f| f.event.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "error"]
        );
        assert_eq!(
            data(&frames[4]),
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
        );
        accumulate(&frames);

        // Cut off: no Finish and no Error → the error form, from finish().
        let frames =
            encode_all(&[IrEvent::Start { id: String::new(), model: String::new() }, IrEvent::Text("x".into())]);
        assert_eq!(frames.last().unwrap().event.as_deref(), Some("error"));
        assert_eq!(data(frames.last().unwrap())["error"]["type"], "api_error");
        accumulate(&frames);

        // An error before anything else is a lone error frame.
        let frames = encode_all(&[IrEvent::Error(err)]);
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn empty_answers_and_unsigned_thinking_still_close_properly() {
        let frames = encode_all(&[
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Finish(FinishReason::ContentFilter),
        ]);
        let names: Vec<&str> = frames.iter().map(|f| f.event.as_deref().unwrap()).collect();
        assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
        assert_eq!(data(&frames[1])["delta"]["stop_reason"], "refusal");
        assert_eq!(data(&frames[1])["usage"], json!({"output_tokens": 0}));

        let frames = encode_all(&[
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Thinking("t".into()),
            IrEvent::RedactedThinking("r".into()),
            IrEvent::ThinkingSignature("orphan".into()),
            IrEvent::Text("a".into()),
            IrEvent::Finish(FinishReason::Length),
        ]);
        let msg = accumulate(&frames);
        assert_eq!(msg["content"][0]["signature"], "");
        assert_eq!(msg["content"][1], json!({"type": "redacted_thinking", "data": "r"}));
        assert_eq!(msg["content"][2]["text"], "a");
        assert_eq!(msg["stop_reason"], "max_tokens");
    }

    #[test]
    fn decoder_then_encoder_reproduces_the_capture() {
        let mut d = Decoder::new("seed");
        let mut events: Vec<IrEvent> = tool_use_stream().iter().flat_map(|e| d.feed(e)).collect();
        events.extend(d.finish());
        let msg = accumulate(&encode_all(&events));
        assert_eq!(msg["content"][0]["text"], "I'll check.");
        assert_eq!(msg["content"][1]["id"], "toolu_01NRLabsLyVHZPKxbKvkfSMn");
        assert_eq!(msg["content"][1]["_json"], "{\"location\": \"Paris\"}");
        assert_eq!(msg["stop_reason"], "tool_use");
        assert_eq!(msg["usage"]["output_tokens"], 65);
    }

    /// IR → Anthropic SSE bytes → IR keeps the meaning (content, tool calls, finish, usage).
    #[test]
    fn encoder_output_decodes_back_to_the_same_events() {
        let usage = IrUsage {
            input_tokens: 90,
            cached_tokens: 40,
            cache_write_tokens: 10,
            output_tokens: 12,
            reasoning_tokens: 0,
        };
        let events = vec![
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Thinking("hm".into()),
            IrEvent::ThinkingSignature("sig".into()),
            IrEvent::RedactedThinking("opaque".into()),
            IrEvent::Text("Hi".into()),
            IrEvent::ToolCallStart { index: 0, id: "toolu_1".into(), name: "f".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "{\"a\":".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "1}".into() },
            IrEvent::Usage(usage),
            IrEvent::Finish(FinishReason::ToolCalls),
        ];
        let frames = encode_all(&events);
        let mut d = Decoder::new("seed");
        let mut back: Vec<IrEvent> = frames.iter().flat_map(|f| d.feed(f)).collect();
        back.extend(d.finish());
        assert_eq!(back[0], IrEvent::Start { id: "msg_abc123".into(), model: "claude-sonnet-4-5".into() });
        // message_start said 0 input tokens (unknown then); the cumulative message_delta corrects it.
        assert_eq!(back[1], IrEvent::Usage(IrUsage::default()));
        assert_eq!(&back[2..], &events[1..]);
    }

    fn arb_event() -> impl Strategy<Value = IrEvent> {
        prop_oneof![
            Just(IrEvent::Start { id: "x".into(), model: "m".into() }),
            "[a-z ]{0,5}".prop_map(IrEvent::Text),
            "[a-z ]{0,5}".prop_map(IrEvent::Thinking),
            "[a-z]{0,5}".prop_map(IrEvent::ThinkingSignature),
            "[a-z]{0,5}".prop_map(IrEvent::RedactedThinking),
            (0usize..3, "[a-z.]{0,5}").prop_map(|(index, id)| IrEvent::ToolCallStart { index, id, name: "f".into() }),
            (0usize..3, "[{}a:]{0,5}").prop_map(|(index, delta)| IrEvent::ToolCallArgs { index, delta }),
            Just(IrEvent::Usage(IrUsage { input_tokens: 3, output_tokens: 4, ..Default::default() })),
            Just(IrEvent::Finish(FinishReason::Stop)),
            Just(IrEvent::Error(StreamError { kind: ErrorKind::RateLimited, status: 429, message: "slow".into() })),
        ]
    }

    proptest! {
        /// Whatever events arrive, the output is a stream the SDK accepts, ending exactly once.
        #[test]
        fn any_event_sequence_gives_a_well_formed_stream(events in prop::collection::vec(arb_event(), 0..20)) {
            let frames = encode_all(&events);
            let last = frames.last().and_then(|f| f.event.clone()).unwrap_or_default();
            prop_assert!(last == "message_stop" || last == "error");
            let ends = frames.iter().filter(|f| matches!(f.event.as_deref(), Some("message_stop" | "error"))).count();
            prop_assert_eq!(ends, 1);
            accumulate(&frames);
        }
    }
}
