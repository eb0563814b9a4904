//! Anthropic `Message` (a whole answer) ↔ [`IrResponse`] (formats.md §4.2, §7.9, §7.10).
//!
//! Also home of the mappings the stream files share: `stop_reason` ↔ [`FinishReason`] and usage
//! (Anthropic `input_tokens` excludes cache reads/writes; IR input includes them).

use crate::error::{GatewayError, Result};
use crate::ir::{ids, EncodeCtx, FinishReason, IrPart, IrResponse, IrUsage};
use serde_json::{json, Value};

/// Anthropic `stop_reason` → IR; `None` for null or values with no meaning for the IR.
pub fn finish_to_ir(stop_reason: &str) -> Option<FinishReason> {
    match stop_reason {
        // pause_turn: a server tool paused the turn; to a client it is an ordinary end.
        "end_turn" | "stop_sequence" | "pause_turn" => Some(FinishReason::Stop),
        "max_tokens" | "model_context_window_exceeded" => Some(FinishReason::Length),
        "tool_use" => Some(FinishReason::ToolCalls),
        "refusal" => Some(FinishReason::ContentFilter),
        _ => None,
    }
}

pub fn stop_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

fn count(u: &Value, key: &str) -> Option<u64> {
    u.get(key).and_then(Value::as_u64)
}

/// Anthropic's usage counts as they appear on the wire (fields absent stay `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireUsage {
    pub input: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_creation: Option<u64>,
    pub output: Option<u64>,
    pub thinking: Option<u64>,
}

impl WireUsage {
    pub fn parse(u: &Value) -> Self {
        WireUsage {
            input: count(u, "input_tokens"),
            cache_read: count(u, "cache_read_input_tokens"),
            cache_creation: count(u, "cache_creation_input_tokens"),
            output: count(u, "output_tokens"),
            thinking: u.get("output_tokens_details").and_then(|d| count(d, "thinking_tokens")),
        }
    }

    /// `later`'s fields win where present (message_delta usage is cumulative but may omit input).
    pub fn merge(self, later: WireUsage) -> Self {
        WireUsage {
            input: later.input.or(self.input),
            cache_read: later.cache_read.or(self.cache_read),
            cache_creation: later.cache_creation.or(self.cache_creation),
            output: later.output.or(self.output),
            thinking: later.thinking.or(self.thinking),
        }
    }

    pub fn to_ir(self) -> IrUsage {
        let cached = self.cache_read.unwrap_or(0);
        let write = self.cache_creation.unwrap_or(0);
        IrUsage {
            input_tokens: self.input.unwrap_or(0) + cached + write,
            cached_tokens: cached,
            cache_write_tokens: write,
            output_tokens: self.output.unwrap_or(0),
            reasoning_tokens: self.thinking.unwrap_or(0),
        }
    }
}

/// IR usage → Anthropic's four counts (input excluding cache).
pub fn usage_from_ir(u: &IrUsage) -> Value {
    json!({
        "input_tokens": u.input_tokens.saturating_sub(u.cached_tokens).saturating_sub(u.cache_write_tokens),
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "output_tokens": u.output_tokens,
    })
}

pub fn to_ir(body: &Value, id_seed: &str) -> Result<IrResponse> {
    if body.get("type").and_then(Value::as_str) == Some("error") {
        let ty = body.get("error").and_then(|e| e.get("type")).and_then(Value::as_str).unwrap_or("api_error");
        let msg = body.get("error").and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("Upstream error");
        let (kind, status) = super::error::kind_for_type(ty);
        return Err(GatewayError::new(kind, msg).with_status(status));
    }
    let Some(content) = body.get("content").and_then(Value::as_array) else {
        return Err(GatewayError::upstream("The upstream answer has no `content` array."));
    };
    let mut parts = Vec::new();
    let mut tools = 0;
    for b in content {
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(IrPart::Text(s("text"))),
            Some("thinking") => {
                let sig = s("signature");
                parts.push(IrPart::Thinking { text: s("thinking"), signature: (!sig.is_empty()).then_some(sig) });
            }
            Some("redacted_thinking") => parts.push(IrPart::RedactedThinking(s("data"))),
            Some("tool_use") => {
                let id = match s("id") {
                    id if id.is_empty() => ids::tool_call_id(id_seed, tools),
                    id => id,
                };
                let arguments = match b.get("input") {
                    None | Some(Value::Null) => "{}".to_string(),
                    Some(v) => v.to_string(),
                };
                parts.push(IrPart::ToolCall { id, name: s("name"), arguments });
                tools += 1;
            }
            _ => {} // server_tool_use and *_tool_result blocks happen at Anthropic; nothing to relay
        }
    }
    let finish = body.get("stop_reason").and_then(Value::as_str).and_then(finish_to_ir).unwrap_or(if tools > 0 {
        FinishReason::ToolCalls
    } else {
        FinishReason::Stop
    });
    let id = match body.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("msg_{id_seed}"),
    };
    Ok(IrResponse {
        id,
        model: body.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        parts,
        finish,
        usage: body.get("usage").filter(|u| u.is_object()).map(|u| WireUsage::parse(u).to_ir()),
    })
}

/// A tool call's arguments as the `input` object (non-objects become `{}`: the type requires an object).
pub fn input_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

pub fn from_ir(resp: &IrResponse, ctx: &EncodeCtx) -> Value {
    let content: Vec<Value> = resp
        .parts
        .iter()
        .filter_map(|p| match p {
            IrPart::Text(t) => Some(json!({"type": "text", "text": t})),
            IrPart::Thinking { text, signature } => Some(
                json!({"type": "thinking", "thinking": text, "signature": signature.as_deref().unwrap_or_default()}),
            ),
            IrPart::RedactedThinking(d) => Some(json!({"type": "redacted_thinking", "data": d})),
            IrPart::ToolCall { id, name, arguments } => Some(
                json!({"type": "tool_use", "id": ids::sanitize(id), "name": name, "input": input_object(arguments)}),
            ),
            _ => None,
        })
        .collect();
    json!({
        "id": format!("msg_{}", ctx.id_seed),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop_reason(resp.finish),
        "stop_sequence": null,
        "usage": usage_from_ir(&resp.usage.unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx {
            model: "claude-sonnet-4-5".into(),
            id_seed: "0a1b2c".into(),
            created: 1_700_000_000,
            include_usage: false,
        }
    }

    #[test]
    fn reads_a_real_message() {
        let body = json!({"model":"claude-sonnet-4-5-20250929","id":"msg_01VdEjxAP5ahtHKrrRdNBteQ","type":"message","role":"assistant",
            "content":[
                {"type":"thinking","thinking":"Let me think.","signature":"EqQBCkYI"},
                {"type":"redacted_thinking","data":"EmwKAhgB"},
                {"type":"text","text":"Hello!"},
                {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},
                {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"location":"Paris"},"caller":{"type":"direct"}}
            ],
            "stop_reason":"tool_use","stop_sequence":null,
            "usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,
                "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},
                "output_tokens":29,"service_tier":"standard"}});
        let r = to_ir(&body, "seed").unwrap();
        assert_eq!(r.id, "msg_01VdEjxAP5ahtHKrrRdNBteQ");
        assert_eq!(r.model, "claude-sonnet-4-5-20250929");
        assert_eq!(
            r.parts,
            vec![
                IrPart::Thinking { text: "Let me think.".into(), signature: Some("EqQBCkYI".into()) },
                IrPart::RedactedThinking("EmwKAhgB".into()),
                IrPart::Text("Hello!".into()),
                IrPart::ToolCall {
                    id: "toolu_01A".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"location":"Paris"}"#.into()
                },
            ]
        );
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(
            r.usage,
            Some(IrUsage {
                input_tokens: 1112,
                cached_tokens: 1000,
                cache_write_tokens: 100,
                output_tokens: 29,
                reasoning_tokens: 0
            })
        );
    }

    #[test]
    fn maps_stop_reasons_both_ways() {
        for (s, f) in [
            ("end_turn", FinishReason::Stop),
            ("stop_sequence", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("model_context_window_exceeded", FinishReason::Length),
            ("tool_use", FinishReason::ToolCalls),
            ("refusal", FinishReason::ContentFilter),
        ] {
            assert_eq!(finish_to_ir(s), Some(f));
        }
        for f in [FinishReason::Stop, FinishReason::Length, FinishReason::ToolCalls, FinishReason::ContentFilter] {
            assert_eq!(finish_to_ir(stop_reason(f)), Some(f));
        }
    }

    #[test]
    fn upstream_error_bodies_and_garbage_are_errors() {
        let e = to_ir(&json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}), "s")
            .unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (529, "Overloaded"));
        assert_eq!(to_ir(&json!({"id": "x"}), "s").unwrap_err().status, 502);
        let r = to_ir(&json!({"content": [{"type": "tool_use", "name": "f"}]}), "abc").unwrap();
        assert_eq!(r.id, "msg_abc");
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert!(
            matches!(&r.parts[0], IrPart::ToolCall { id, arguments, .. } if id == "call_abc0" && arguments == "{}")
        );
    }

    #[test]
    fn writes_a_message_the_sdk_types_accept_and_round_trips() {
        let resp = IrResponse {
            id: "chatcmpl-1".into(),
            model: "gpt-4o".into(),
            parts: vec![
                IrPart::Thinking { text: "hmm".into(), signature: None },
                IrPart::Text("Hi".into()),
                IrPart::ToolCall { id: "call.9".into(), name: "f".into(), arguments: r#"{"x":[1]}"#.into() },
            ],
            finish: FinishReason::ToolCalls,
            usage: Some(IrUsage {
                input_tokens: 50,
                cached_tokens: 20,
                cache_write_tokens: 5,
                output_tokens: 7,
                reasoning_tokens: 3,
            }),
        };
        let v = from_ir(&resp, &ctx());
        assert_eq!(
            v,
            json!({"id":"msg_0a1b2c","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                "content":[{"type":"thinking","thinking":"hmm","signature":""},{"type":"text","text":"Hi"},
                    {"type":"tool_use","id":"call_9","name":"f","input":{"x":[1]}}],
                "stop_reason":"tool_use","stop_sequence":null,
                "usage":{"input_tokens":25,"cache_creation_input_tokens":5,"cache_read_input_tokens":20,"output_tokens":7}})
        );
        let back = to_ir(&v, "s").unwrap();
        assert_eq!(back.finish, resp.finish);
        assert_eq!(back.text(), "Hi");
        let usage = back.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.cached_tokens, usage.output_tokens), (50, 20, 7));
        // No usage known: the counts are still present (the SDK type requires them).
        let v = from_ir(&IrResponse { usage: None, parts: vec![], ..resp }, &ctx());
        assert_eq!(v["usage"]["output_tokens"], 0);
        assert_eq!(v["content"], json!([]));
    }
}
