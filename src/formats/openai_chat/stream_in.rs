//! Chat Completions SSE (`data: {chunk}` … `data: [DONE]`) → IR events.
//!
//! Tool-call deltas carry the provider's own `index`; IR indexes count tool calls in order of
//! appearance, so they are mapped. Reasoning arrives as `reasoning_content` (DeepSeek, vLLM),
//! `reasoning` (OpenRouter) or inline `<think>` tags in `content`. The finish reason comes before the
//! usage chunk, so `Finish` is held until `[DONE]` (or the end of the stream).

use super::response::{finish_from_str, usage_to_ir};
use crate::error::ErrorKind;
use crate::formats::StreamDecoder;
use crate::ir::think_tags::{Piece, ThinkSplitter};
use crate::ir::{FinishReason, IrEvent, StreamError};
use crate::sse::SseEvent;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// The usual chunk, parsed without building a `Value` tree (strings borrowed where unescaped).
/// Chunks of any other shape take the `Value` path, which reads every documented variant.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

#[derive(Default)]
pub struct Decoder {
    started: bool,
    finished: bool,
    finish: Option<FinishReason>,
    /// Provider tool index → (IR index, started).
    tools: Vec<(u64, usize)>,
    pending_tool_ids: Vec<(u64, String, String)>,
    think: ThinkSplitter,
}

impl Decoder {
    pub fn new(_id_seed: &str) -> Self {
        Self::default()
    }

    fn ir_index(&mut self, provider_index: u64) -> Option<usize> {
        self.tools.iter().find(|(p, _)| *p == provider_index).map(|(_, i)| *i)
    }

    fn tool_delta(&mut self, tc: &Value, out: &mut Vec<IrEvent>) {
        let pidx = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
        let id = tc.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
        let name = tc.pointer("/function/name").and_then(Value::as_str).filter(|s| !s.is_empty());
        let args = tc.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let index = match self.ir_index(pidx) {
            Some(i) => i,
            None => {
                // Some providers send the id before the name: wait for both (or for arguments).
                if let Some(p) = self.pending_tool_ids.iter_mut().find(|(p, _, _)| *p == pidx) {
                    if let Some(id) = id {
                        p.1 = id.to_string();
                    }
                    if let Some(name) = name {
                        p.2 = name.to_string();
                    }
                } else {
                    self.pending_tool_ids.push((
                        pidx,
                        id.unwrap_or_default().to_string(),
                        name.unwrap_or_default().to_string(),
                    ));
                }
                let ready = self
                    .pending_tool_ids
                    .iter()
                    .position(|(p, i, n)| *p == pidx && !n.is_empty() && (!i.is_empty() || !args.is_empty()));
                let Some(pos) = ready else { return };
                let (_, id, name) = self.pending_tool_ids.remove(pos);
                let index = self.tools.len();
                let id = if id.is_empty() { format!("call_{index}") } else { id };
                self.tools.push((pidx, index));
                out.push(IrEvent::ToolCallStart { index, id, name });
                index
            }
        };
        if !args.is_empty() {
            out.push(IrEvent::ToolCallArgs { index, delta: args.to_string() });
        }
    }

    fn text(&mut self, t: &str, out: &mut Vec<IrEvent>) {
        for piece in self.think.feed(t) {
            out.push(match piece {
                Piece::Text(t) => IrEvent::Text(t),
                Piece::Thinking(t) => IrEvent::Thinking(t),
            });
        }
    }

    fn end(&mut self, out: &mut Vec<IrEvent>) {
        if self.finished {
            return;
        }
        for piece in self.think.finish() {
            out.push(match piece {
                Piece::Text(t) => IrEvent::Text(t),
                Piece::Thinking(t) => IrEvent::Thinking(t),
            });
        }
        if let Some(f) = self.finish {
            self.finished = true;
            out.push(IrEvent::Finish(f));
        }
    }

    fn start(&mut self, id: Option<&str>, model: Option<&str>, out: &mut Vec<IrEvent>) {
        if !self.started {
            self.started = true;
            let (id, model) = (id.unwrap_or_default().to_string(), model.unwrap_or_default().to_string());
            out.push(IrEvent::Start { id, model });
        }
    }

    fn upstream_error(&mut self, err: &Value, out: &mut Vec<IrEvent>) {
        let message = err.get("message").and_then(Value::as_str).unwrap_or("upstream error").to_string();
        self.finished = true;
        out.push(IrEvent::Error(StreamError { kind: ErrorKind::Upstream, status: 502, message }));
    }

    /// One choice's delta and finish reason, however they were parsed.
    fn choice(
        &mut self,
        reasoning: Option<&str>,
        content: Option<&str>,
        tools: &[Value],
        finish: Option<&str>,
        out: &mut Vec<IrEvent>,
    ) {
        if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
            out.push(IrEvent::Thinking(r.to_string()));
        }
        if let Some(t) = content.filter(|t| !t.is_empty()) {
            self.text(t, out);
        }
        for tc in tools {
            self.tool_delta(tc, out);
        }
        if let Some(f) = finish {
            let f = finish_from_str(f);
            self.finish =
                Some(if f == FinishReason::Stop && !self.tools.is_empty() { FinishReason::ToolCalls } else { f });
        }
    }

    fn typed(&mut self, chunk: Chunk, out: &mut Vec<IrEvent>) {
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            return self.upstream_error(err, out);
        }
        self.start(chunk.id.as_deref(), chunk.model.as_deref(), out);
        if let Some(c) = chunk.choices.first() {
            let d = c.delta.as_ref();
            let reasoning = d.and_then(|d| d.reasoning_content.as_deref().or(d.reasoning.as_deref()));
            let tools = d.and_then(|d| d.tool_calls.as_deref()).unwrap_or_default();
            self.choice(reasoning, d.and_then(|d| d.content.as_deref()), tools, c.finish_reason.as_deref(), out);
        }
        if let Some(u) = chunk.usage.as_ref().filter(|u| u.is_object()) {
            out.push(IrEvent::Usage(usage_to_ir(u)));
        }
    }

    /// Chunks of any other shape (a field of an unexpected type, for instance).
    fn untyped(&mut self, chunk: &Value, out: &mut Vec<IrEvent>) {
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            return self.upstream_error(err, out);
        }
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        self.start(s(chunk, "id").as_deref(), s(chunk, "model").as_deref(), out);
        if let Some(c) = chunk.pointer("/choices/0") {
            let d = c.get("delta").unwrap_or(&Value::Null);
            let reasoning = s(d, "reasoning_content").or_else(|| s(d, "reasoning"));
            let tools = d.get("tool_calls").and_then(Value::as_array).cloned().unwrap_or_default();
            self.choice(
                reasoning.as_deref(),
                s(d, "content").as_deref(),
                &tools,
                s(c, "finish_reason").as_deref(),
                out,
            );
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(IrEvent::Usage(usage_to_ir(u)));
        }
    }
}

impl StreamDecoder for Decoder {
    fn feed(&mut self, event: &SseEvent) -> Vec<IrEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            self.end(&mut out);
            return out;
        }
        // Not JSON at all: nothing to relay (a cut-off stream still surfaces in finish()).
        match serde_json::from_str::<Chunk>(data) {
            Ok(chunk) => self.typed(chunk, &mut out),
            Err(_) => {
                if let Ok(chunk) = serde_json::from_str::<Value>(data) {
                    self.untyped(&chunk, &mut out);
                }
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<IrEvent> {
        let mut out = Vec::new();
        self.end(&mut out);
        if !self.finished {
            self.finished = true;
            out.push(IrEvent::Error(StreamError {
                kind: ErrorKind::Upstream,
                status: 502,
                message: "The upstream stream ended before the answer was complete.".into(),
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use proptest::prelude::*;

    /// Tool-call stream in the shape of a real capture (openai-python fixture, two parallel tools).
    pub const TOOL_STREAM: &str = concat!(
        "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":149,\"completion_tokens\":60,\"total_tokens\":209}}\n\n",
        "data: [DONE]\n\n",
    );

    pub fn decode(stream: &str) -> Vec<IrEvent> {
        let mut p = SseParser::new();
        let mut d = Decoder::new("s");
        let mut out: Vec<IrEvent> = p.feed(stream.as_bytes()).iter().flat_map(|e| d.feed(e)).collect();
        out.extend(p.finish().iter().flat_map(|e| d.feed(e)).collect::<Vec<_>>());
        out.extend(d.finish());
        out
    }

    #[test]
    fn decodes_parallel_tool_calls_with_usage_then_finish() {
        let ev = decode(TOOL_STREAM);
        assert_eq!(ev[0], IrEvent::Start { id: "c1".into(), model: "gpt-4o".into() });
        assert_eq!(ev[1], IrEvent::ToolCallStart { index: 0, id: "call_A".into(), name: "get_weather".into() });
        let args: String = ev
            .iter()
            .filter_map(|e| match e {
                IrEvent::ToolCallArgs { index: 0, delta } => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        assert!(ev.contains(&IrEvent::ToolCallStart { index: 1, id: "call_B".into(), name: "get_time".into() }));
        let n = ev.len();
        assert!(matches!(ev[n - 2], IrEvent::Usage(u) if u.input_tokens == 149));
        assert_eq!(ev[n - 1], IrEvent::Finish(FinishReason::ToolCalls));
    }

    #[test]
    fn reasoning_fields_and_think_tags_become_thinking() {
        let s = concat!(
            "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"plan\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"<thi\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"nk>more</think>Answer\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n"
        );
        let ev = decode(s);
        let thinking: String =
            ev.iter().filter_map(|e| if let IrEvent::Thinking(t) = e { Some(t.as_str()) } else { None }).collect();
        let text: String =
            ev.iter().filter_map(|e| if let IrEvent::Text(t) = e { Some(t.as_str()) } else { None }).collect();
        assert_eq!((thinking.as_str(), text.as_str()), ("planmore", "Answer"));
        assert_eq!(ev.last(), Some(&IrEvent::Finish(FinishReason::Stop)));
    }

    #[test]
    fn chunks_of_unusual_shape_take_the_general_path() {
        // `reasoning` as an object (OpenRouter's details) does not fit the fast path's types.
        let ev = decode("data: {\"choices\":[{\"delta\":{\"content\":\"a\",\"reasoning\":{\"x\":1}},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        assert!(ev.contains(&IrEvent::Text("a".into())));
        assert_eq!(ev.last(), Some(&IrEvent::Finish(FinishReason::Stop)));
    }

    #[test]
    fn mid_stream_error_and_cut_off_stream_become_errors() {
        let ev = decode("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n");
        assert!(matches!(ev.last(), Some(IrEvent::Error(e)) if e.message == "overloaded"));
        let ev = decode("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n");
        assert!(matches!(ev.last(), Some(IrEvent::Error(_))));
        assert_eq!(ev.iter().filter(|e| matches!(e, IrEvent::Error(_))).count(), 1);
    }

    proptest! {
        #[test]
        fn any_cut_ends_in_finish_or_error(cut in 0usize..TOOL_STREAM.len()) {
            let ev = decode(&TOOL_STREAM[..cut]);
            let ends = ev.iter().filter(|e| matches!(e, IrEvent::Finish(_) | IrEvent::Error(_))).count();
            prop_assert_eq!(ends, 1);
        }

        #[test]
        fn arbitrary_data_never_panics(data in ".{0,200}", name in proptest::option::of("[a-z]{1,8}")) {
            let mut d = Decoder::new("s");
            let _ = d.feed(&SseEvent { event: name, data });
            let _ = d.feed(&SseEvent { event: None, data: "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":\"x\"},{}]}}],\"usage\":7}".into() });
            let _ = d.finish();
        }
    }
}
