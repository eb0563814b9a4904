//! [`IrEvent`]s → Gemini `alt=sse` frames for a client (formats.md §1, §5.3, §7.12).
//!
//! The google-genai SDK only understands `data: <single-line json>` plus blank lines: no `event:`
//! lines, no comments, no `[DONE]` (each would reach `json.loads` and fail). Every frame is a whole
//! `GenerateContentResponse` with only the new parts. Function calls must arrive whole, so a call's
//! arguments are buffered until it is complete (the next call, `Finish` or `finish()`). The stream
//! ends, like Gemini's, with a chunk carrying `finishReason` and `usageMetadata`, then nothing;
//! a failure ends it with a `{"error":{…}}` frame (which the SDK raises as `APIError`).

use super::error::error_object;
use super::response::{finish_to, usage_to};
use super::wire;
use crate::error::ErrorKind;
use crate::formats::{json_out, StreamEncoder};
use crate::ir::{EncodeCtx, FinishReason, IrEvent, IrUsage};
use crate::sse::frame;
use serde_json::{json, Value};

/// A function call whose arguments are still arriving.
struct PendingCall {
    index: usize,
    name: String,
    args: String,
    signature: Option<String>,
}

pub struct Encoder {
    model: String,
    response_id: String,
    call: Option<PendingCall>,
    /// A signature waiting for the next part it belongs to.
    signature: Option<String>,
    usage: Option<IrUsage>,
    finish: Option<FinishReason>,
    /// The stream has ended (finish chunk or error frame written).
    closed: bool,
}

impl Encoder {
    pub fn new(ctx: &EncodeCtx) -> Self {
        Encoder {
            model: ctx.model.clone(),
            response_id: ctx.id_seed.clone(),
            call: None,
            signature: None,
            usage: None,
            finish: None,
            closed: false,
        }
    }

    /// A chunk holding one text part (once per token, so written directly).
    fn text_chunk(&self, text: &str, thought: bool) -> String {
        let thought = if thought { r#","thought":true"# } else { "" };
        let data = format!(
            r#"{{"candidates":[{{"content":{{"role":"model","parts":[{{"text":{}{thought}}}]}},"index":0}}],"modelVersion":{},"responseId":{}}}"#,
            json_out::string(text),
            json_out::string(&self.model),
            json_out::string(&self.response_id),
        );
        frame(None, &data)
    }

    fn chunk(&self, parts: Vec<Value>, finish: Option<FinishReason>) -> String {
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            cand["finishReason"] = json!(finish_to(f));
        }
        let mut body = json!({"candidates": [cand], "modelVersion": self.model, "responseId": self.response_id});
        if let (Some(u), Some(_)) = (&self.usage, finish) {
            body["usageMetadata"] = usage_to(u);
        }
        frame(None, &body.to_string())
    }

    /// Emits the buffered function call, if any, as one chunk.
    fn flush_call(&mut self, out: &mut Vec<String>) {
        if let Some(call) = self.call.take() {
            let args = match serde_json::from_str::<Value>(&call.args) {
                Ok(v @ Value::Object(_)) => v,
                _ => json!({}),
            };
            let mut part = json!({"functionCall": {"name": call.name, "args": args}});
            wire::sign(&mut part, call.signature);
            out.push(self.chunk(vec![part], None));
        }
    }

    fn error(&mut self, kind: ErrorKind, status: u16, message: &str) -> String {
        self.closed = true;
        self.call = None;
        frame(None, &json!({"error": error_object(kind, status, message, None)}).to_string())
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &IrEvent) -> Vec<String> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        match event {
            IrEvent::Start { id, .. } => {
                if !id.is_empty() {
                    self.response_id = id.clone();
                }
            }
            IrEvent::Text(t) if !t.is_empty() => {
                self.flush_call(&mut out);
                match self.signature.take() {
                    None => out.push(self.text_chunk(t, false)),
                    signature => {
                        let mut part = json!({"text": t});
                        wire::sign(&mut part, signature);
                        out.push(self.chunk(vec![part], None));
                    }
                }
            }
            IrEvent::Thinking(t) if !t.is_empty() => {
                self.flush_call(&mut out);
                out.push(self.text_chunk(t, true));
            }
            IrEvent::ThinkingSignature(s) => {
                if wire::is_base64(s) {
                    self.signature = Some(s.clone());
                }
            }
            IrEvent::ToolCallStart { index, name, .. } => {
                self.flush_call(&mut out);
                self.call = Some(PendingCall {
                    index: *index,
                    name: name.clone(),
                    args: String::new(),
                    signature: self.signature.take(),
                });
            }
            IrEvent::ToolCallArgs { index, delta } => {
                if let Some(call) = self.call.as_mut().filter(|c| c.index == *index) {
                    call.args.push_str(delta);
                }
            }
            IrEvent::Usage(u) => self.usage = Some(*u),
            IrEvent::Finish(f) => {
                self.flush_call(&mut out);
                self.finish = Some(*f);
            }
            IrEvent::Error(e) => out.push(self.error(e.kind, e.status, &e.message)),
            IrEvent::Text(_) | IrEvent::Thinking(_) | IrEvent::RedactedThinking(_) => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<String> {
        if self.closed {
            return Vec::new();
        }
        let Some(finish) = self.finish else {
            return vec![self.error(ErrorKind::Upstream, 502, "The upstream stream ended unexpectedly.")];
        };
        let mut out = Vec::new();
        self.flush_call(&mut out);
        // Gemini's own last chunk holds an empty text part (carrying the closing signature, if any).
        let mut part = json!({"text": ""});
        wire::sign(&mut part, self.signature.take());
        out.push(self.chunk(vec![part], Some(finish)));
        self.closed = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::StreamError;
    use crate::sse::SseParser;
    use proptest::prelude::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx { model: "gemini-2.5-flash".into(), id_seed: "seed42".into(), created: 0, include_usage: false }
    }

    /// Encodes events then `finish()`, and parses the frames back the way the SDK does.
    fn encode_all(events: &[IrEvent]) -> (String, Vec<Value>) {
        let mut e = Encoder::new(&ctx());
        let mut text: String = events.iter().flat_map(|ev| e.encode(ev)).collect();
        text.push_str(&e.finish().concat());
        text.push_str(&e.finish().concat()); // a second finish() writes nothing
        let mut p = SseParser::new();
        let mut parsed = p.feed(text.as_bytes());
        parsed.extend(p.finish());
        let values = parsed.iter().map(|ev| serde_json::from_str(&ev.data).unwrap()).collect();
        (text, values)
    }

    /// The google-genai SDK line rules: only `data: ` lines and blank lines.
    fn sdk_accepts(text: &str) -> bool {
        text.split('\n')
            .all(|l| l.is_empty() || (l.starts_with("data: {") && serde_json::from_str::<Value>(&l[6..]).is_ok()))
    }

    #[test]
    fn encodes_text_thinking_and_tool_calls() {
        let (text, chunks) = encode_all(&[
            IrEvent::Start { id: "msg_01".into(), model: "claude".into() },
            IrEvent::Thinking("Let me think".into()),
            IrEvent::ThinkingSignature("RXFV".into()),
            IrEvent::Text("Hi".into()),
            IrEvent::ToolCallStart { index: 0, id: "toolu_a".into(), name: "weather".into() },
            IrEvent::ToolCallArgs { index: 0, delta: r#"{"loc"#.into() },
            IrEvent::ToolCallArgs { index: 0, delta: r#"ation":"Paris"}"#.into() },
            IrEvent::ToolCallStart { index: 1, id: "toolu_b".into(), name: "time".into() },
            IrEvent::Usage(IrUsage { input_tokens: 10, output_tokens: 25, reasoning_tokens: 5, ..Default::default() }),
            IrEvent::Finish(FinishReason::ToolCalls),
        ]);
        assert!(sdk_accepts(&text), "{text}");
        let parts: Vec<&Value> = chunks.iter().map(|c| &c["candidates"][0]["content"]["parts"][0]).collect();
        assert_eq!(
            parts,
            vec![
                &json!({"text": "Let me think", "thought": true}),
                &json!({"text": "Hi", "thoughtSignature": "RXFV"}),
                &json!({"functionCall": {"name": "weather", "args": {"location": "Paris"}}}),
                &json!({"functionCall": {"name": "time", "args": {}}}),
                &json!({"text": ""}),
            ]
        );
        for c in &chunks {
            assert_eq!(c["responseId"], "msg_01");
            assert_eq!(c["modelVersion"], "gemini-2.5-flash");
            assert_eq!(c["candidates"][0]["index"], 0);
            assert_eq!(c["candidates"][0]["content"]["role"], "model");
        }
        let last = chunks.last().unwrap();
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            last["usageMetadata"],
            json!({"promptTokenCount": 10, "candidatesTokenCount": 20, "thoughtsTokenCount": 5, "totalTokenCount": 35})
        );
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c["candidates"][0].get("finishReason").is_none()));
    }

    #[test]
    fn errors_end_the_stream() {
        let err = StreamError { kind: ErrorKind::RateLimited, status: 429, message: "slow down".into() };
        let (text, chunks) = encode_all(&[
            IrEvent::Start { id: String::new(), model: String::new() },
            IrEvent::Text("partial".into()),
            IrEvent::ToolCallStart { index: 0, id: "c".into(), name: "f".into() },
            IrEvent::Error(err),
            IrEvent::Text("ignored".into()),
            IrEvent::Finish(FinishReason::Stop),
        ]);
        assert!(sdk_accepts(&text));
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0]["responseId"], "seed42");
        assert_eq!(chunks[1], json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}));

        // Upstream cut: no Finish, no Error → the error form.
        let (_, chunks) = encode_all(&[IrEvent::Text("half".into())]);
        assert_eq!(chunks.last().unwrap()["error"]["status"], "UNAVAILABLE");
        assert_eq!(chunks.last().unwrap()["error"]["code"], 502);
    }

    #[test]
    fn decoder_and_encoder_round_trip() {
        use crate::formats::StreamDecoder;
        let (text, _) = encode_all(&[
            IrEvent::Start { id: "r".into(), model: "m".into() },
            IrEvent::Text("a".into()),
            IrEvent::ThinkingSignature("QUJD".into()),
            IrEvent::ToolCallStart { index: 0, id: "x".into(), name: "f".into() },
            IrEvent::ToolCallArgs { index: 0, delta: r#"{"k":1}"#.into() },
            IrEvent::Usage(IrUsage { input_tokens: 3, output_tokens: 4, ..Default::default() }),
            IrEvent::Finish(FinishReason::ToolCalls),
        ]);
        let mut p = SseParser::new();
        let mut d = super::super::stream_in::Decoder::new("s");
        let mut out: Vec<IrEvent> = p.feed(text.as_bytes()).iter().flat_map(|e| d.feed(e)).collect();
        out.extend(d.finish());
        assert_eq!(
            out,
            vec![
                IrEvent::Start { id: "r".into(), model: "gemini-2.5-flash".into() },
                IrEvent::Text("a".into()),
                IrEvent::Thinking(String::new()),
                IrEvent::ThinkingSignature("QUJD".into()),
                IrEvent::ToolCallStart { index: 0, id: "call_s0".into(), name: "f".into() },
                IrEvent::ToolCallArgs { index: 0, delta: r#"{"k":1}"#.into() },
                IrEvent::Usage(IrUsage { input_tokens: 3, output_tokens: 4, ..Default::default() }),
                IrEvent::Finish(FinishReason::ToolCalls),
            ]
        );
    }

    fn arb_event() -> impl Strategy<Value = IrEvent> {
        prop_oneof![
            ".{0,6}".prop_map(IrEvent::Text),
            ".{0,6}".prop_map(IrEvent::Thinking),
            prop_oneof![Just("QUJD".to_string()), ".{0,6}"].prop_map(IrEvent::ThinkingSignature),
            (0usize..3, "[a-z]{0,4}").prop_map(|(index, name)| IrEvent::ToolCallStart { index, id: "i".into(), name }),
            (0usize..3, ".{0,6}").prop_map(|(index, delta)| IrEvent::ToolCallArgs { index, delta }),
            (0u64..100, 0u64..100).prop_map(|(i, o)| IrEvent::Usage(IrUsage {
                input_tokens: i,
                output_tokens: o,
                reasoning_tokens: o / 2,
                ..Default::default()
            })),
            prop_oneof![Just(FinishReason::Stop), Just(FinishReason::Length), Just(FinishReason::ToolCalls)]
                .prop_map(IrEvent::Finish),
            Just(IrEvent::Error(StreamError { kind: ErrorKind::Upstream, status: 500, message: "x".into() })),
        ]
    }

    proptest! {
        /// Whatever the events, the SDK can read every frame and the stream ends exactly once.
        #[test]
        fn always_ends_exactly_once(events in proptest::collection::vec(arb_event(), 0..12)) {
            let (text, chunks) = encode_all(&events);
            prop_assert!(sdk_accepts(&text), "{}", text);
            let ends = chunks.iter().filter(|c| c.get("error").is_some() || c["candidates"][0].get("finishReason").is_some()).count();
            prop_assert_eq!(ends, 1);
            let last = chunks.last().unwrap();
            prop_assert!(last.get("error").is_some() || last["candidates"][0].get("finishReason").is_some());
        }
    }
}
