//! IR events → Chat Completions SSE for clients.
//!
//! Rules from the official SDK's accumulator: `role` only in the first delta; a tool call's `id`,
//! `type` and `name` only in its first delta (strings are concatenated across chunks); every tool
//! delta has its integer `index`. The finish chunk (`delta: {}`) comes last, then the usage chunk
//! (`choices: []`) only if the client asked for it, then `data: [DONE]`.

use super::error::error_type;
use super::response::{finish_str, usage_from_ir};
use crate::formats::{json_out, StreamEncoder};
use crate::ir::{EncodeCtx, FinishReason, IrEvent, IrUsage};
use crate::sse::frame;
use serde_json::{json, Value};

pub struct Encoder {
    ctx: EncodeCtx,
    /// `{"id":…,"object":…,"created":…,"model":…,` — the same on every chunk, so escaped once.
    prefix: String,
    started: bool,
    closed: bool,
    finish: Option<FinishReason>,
    usage: Option<IrUsage>,
    saw_tool_call: bool,
}

impl Encoder {
    pub fn new(ctx: &EncodeCtx) -> Self {
        let prefix = format!(
            r#"{{"id":{},"object":"chat.completion.chunk","created":{},"model":{},"#,
            json_out::string(&format!("chatcmpl-{}", ctx.id_seed)),
            ctx.created,
            json_out::string(&ctx.model),
        );
        Encoder {
            ctx: ctx.clone(),
            prefix,
            started: false,
            closed: false,
            finish: None,
            usage: None,
            saw_tool_call: false,
        }
    }

    /// One chunk with `delta` (raw JSON). Written directly: this runs once per token.
    fn chunk_raw(&self, delta: &str, finish: Option<&str>) -> String {
        let finish = finish.map_or_else(|| "null".to_string(), json_out::string);
        let data = format!(
            r#"{}"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]}}"#,
            self.prefix
        );
        frame(None, &data)
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> String {
        self.chunk_raw(&delta.to_string(), finish)
    }

    fn ensure_started(&mut self, out: &mut Vec<String>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
    }

    fn error_frames(&mut self, status: u16, kind: crate::error::ErrorKind, message: &str) -> Vec<String> {
        self.closed = true;
        let err =
            json!({"error": {"message": message, "type": error_type(kind), "param": null, "code": status.to_string()}});
        vec![frame(None, &err.to_string()), frame(None, "[DONE]")]
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &IrEvent) -> Vec<String> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        match event {
            IrEvent::Start { .. } => self.ensure_started(&mut out),
            IrEvent::Text(t) => {
                self.ensure_started(&mut out);
                out.push(self.chunk_raw(&format!(r#"{{"content":{}}}"#, json_out::string(t)), None));
            }
            IrEvent::Thinking(t) => {
                self.ensure_started(&mut out);
                out.push(self.chunk_raw(&format!(r#"{{"reasoning_content":{}}}"#, json_out::string(t)), None));
            }
            IrEvent::ThinkingSignature(_) | IrEvent::RedactedThinking(_) => {}
            IrEvent::ToolCallStart { index, id, name } => {
                self.ensure_started(&mut out);
                self.saw_tool_call = true;
                let d = json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]});
                out.push(self.chunk(d, None));
            }
            IrEvent::ToolCallArgs { index, delta } => {
                let d = format!(
                    r#"{{"tool_calls":[{{"index":{index},"function":{{"arguments":{}}}}}]}}"#,
                    json_out::string(delta)
                );
                out.push(self.chunk_raw(&d, None));
            }
            IrEvent::Usage(u) => self.usage = Some(*u),
            IrEvent::Finish(f) => self.finish = Some(*f),
            IrEvent::Error(e) => {
                self.ensure_started(&mut out);
                out.extend(self.error_frames(e.status, e.kind, &e.message));
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<String> {
        if self.closed {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.ensure_started(&mut out);
        let Some(f) = self.finish else {
            out.extend(self.error_frames(
                502,
                crate::error::ErrorKind::Upstream,
                "The upstream stream ended before the answer was complete.",
            ));
            return out;
        };
        let f = if f == FinishReason::Stop && self.saw_tool_call { FinishReason::ToolCalls } else { f };
        out.push(self.chunk(json!({}), Some(finish_str(f))));
        if self.ctx.include_usage {
            let usage = usage_from_ir(&self.usage.unwrap_or_default());
            let body = json!({
                "id": format!("chatcmpl-{}", self.ctx.id_seed), "object": "chat.completion.chunk",
                "created": self.ctx.created, "model": self.ctx.model, "choices": [], "usage": usage,
            });
            out.push(frame(None, &body.to_string()));
        }
        out.push(frame(None, "[DONE]"));
        self.closed = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::StreamError;

    fn ctx(include_usage: bool) -> EncodeCtx {
        EncodeCtx { model: "anthropic/claude".into(), id_seed: "s1".into(), created: 7, include_usage }
    }

    fn data(frames: &[String]) -> Vec<Value> {
        frames
            .iter()
            .map(|f| f.strip_prefix("data: ").unwrap().trim_end())
            .map(|d| if d == "[DONE]" { json!("[DONE]") } else { serde_json::from_str(d).unwrap() })
            .collect()
    }

    #[test]
    fn follows_the_sdk_accumulator_rules() {
        let mut e = Encoder::new(&ctx(true));
        let mut frames = Vec::new();
        for ev in [
            IrEvent::Start { id: "m".into(), model: "claude".into() },
            IrEvent::Text("Hi".into()),
            IrEvent::ToolCallStart { index: 0, id: "toolu_1".into(), name: "get_weather".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "{\"city\":".into() },
            IrEvent::ToolCallArgs { index: 0, delta: "\"Paris\"}".into() },
            IrEvent::Usage(IrUsage { input_tokens: 5, output_tokens: 3, ..Default::default() }),
            IrEvent::Finish(FinishReason::ToolCalls),
        ] {
            frames.extend(e.encode(&ev));
        }
        frames.extend(e.finish());
        let d = data(&frames);
        assert_eq!(d[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(d.iter().filter(|c| c.pointer("/choices/0/delta/role").is_some()).count(), 1, "role once");
        assert_eq!(d.iter().filter(|c| c.pointer("/choices/0/delta/tool_calls/0/id").is_some()).count(), 1, "id once");
        assert!(d.iter().all(|c| c.pointer("/choices/0/delta/tool_calls/0").is_none_or(|t| t.get("index").is_some())));
        let n = d.len();
        assert_eq!(d[n - 3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(d[n - 2]["choices"], json!([]));
        assert_eq!(d[n - 2]["usage"]["total_tokens"], 8);
        assert_eq!(d[n - 1], "[DONE]");
        assert!(d.iter().all(|c| c == "[DONE]" || c["model"] == "anthropic/claude"));
    }

    #[test]
    fn no_usage_chunk_unless_asked_and_errors_close_the_stream() {
        let mut e = Encoder::new(&ctx(false));
        e.encode(&IrEvent::Finish(FinishReason::Stop));
        let d = data(&e.finish());
        assert!(d.iter().all(|c| c == "[DONE]" || c.get("usage").is_none()));

        let mut e = Encoder::new(&ctx(false));
        let f = e.encode(&IrEvent::Error(StreamError {
            kind: crate::error::ErrorKind::Upstream,
            status: 529,
            message: "Overloaded".into(),
        }));
        let d = data(&f);
        assert_eq!(d[1]["error"]["message"], "Overloaded");
        assert!(e.finish().is_empty(), "nothing after the error");

        let mut e = Encoder::new(&ctx(false));
        let d = data(&e.finish());
        assert!(d.iter().any(|c| c.get("error").is_some()), "a stream cut before its finish ends with an error");
    }
}
