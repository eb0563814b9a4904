//! Whole Chat Completions answers ↔ IR.

use crate::error::{GatewayError, Result};
use crate::ir::think_tags::{self, Piece};
use crate::ir::{EncodeCtx, FinishReason, IrPart, IrResponse, IrUsage};
use serde_json::{json, Map, Value};

pub fn finish_from_str(s: &str) -> FinishReason {
    match s {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

pub fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// Chat `usage` → IR. `prompt_tokens` already includes cached tokens (DeepSeek reports its cache
/// hits as `prompt_cache_hit_tokens`).
pub fn usage_to_ir(u: &Value) -> IrUsage {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    IrUsage {
        input_tokens: n("/prompt_tokens"),
        cached_tokens: n("/prompt_tokens_details/cached_tokens").max(n("/prompt_cache_hit_tokens")),
        cache_write_tokens: n("/prompt_tokens_details/cache_write_tokens"),
        output_tokens: n("/completion_tokens"),
        reasoning_tokens: n("/completion_tokens_details/reasoning_tokens"),
    }
}

pub fn usage_from_ir(u: &IrUsage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    })
}

/// An upstream's Chat answer → IR.
pub fn to_ir(body: &Value, _id_seed: &str) -> Result<IrResponse> {
    let choice =
        body.pointer("/choices/0").ok_or_else(|| GatewayError::upstream("The upstream answer has no choices."))?;
    let msg = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut parts = Vec::new();
    if let Some(r) = msg.get("reasoning_content").or_else(|| msg.get("reasoning")).and_then(Value::as_str) {
        if !r.is_empty() {
            parts.push(IrPart::Thinking { text: r.to_string(), signature: None });
        }
    }
    if let Some(text) = msg.get("content").and_then(Value::as_str) {
        for piece in think_tags::split(text) {
            parts.push(match piece {
                Piece::Text(t) => IrPart::Text(t),
                Piece::Thinking(t) => IrPart::Thinking { text: t, signature: None },
            });
        }
    }
    if let Some(r) = msg.get("refusal").and_then(Value::as_str) {
        parts.push(IrPart::Text(r.to_string()));
    }
    for tc in msg.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        parts.push(IrPart::ToolCall {
            id: tc.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
            name: tc.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_string(),
            arguments: tc.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}").to_string(),
        });
    }
    let has_calls = parts.iter().any(|p| matches!(p, IrPart::ToolCall { .. }));
    let finish = match choice.get("finish_reason").and_then(Value::as_str).map(finish_from_str) {
        Some(FinishReason::Stop) | None if has_calls => FinishReason::ToolCalls,
        Some(f) => f,
        None => FinishReason::Stop,
    };
    Ok(IrResponse {
        id: body.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: body.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        parts,
        finish,
        usage: body.get("usage").filter(|u| u.is_object()).map(usage_to_ir),
    })
}

/// IR → the client's Chat answer.
pub fn from_ir(resp: &IrResponse, ctx: &EncodeCtx) -> Value {
    let text = resp.text();
    let reasoning: String = resp
        .parts
        .iter()
        .filter_map(|p| if let IrPart::Thinking { text, .. } = p { Some(text.as_str()) } else { None })
        .collect();
    let calls: Vec<Value> = resp
        .parts
        .iter()
        .filter_map(|p| match p {
            IrPart::ToolCall { id, name, arguments } => {
                Some(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
            }
            _ => None,
        })
        .collect();
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) });
    message.insert("refusal".into(), Value::Null);
    if !reasoning.is_empty() {
        // Not in OpenAI's spec, but the common convention (DeepSeek, vLLM); SDKs keep unknown fields.
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut body = json!({
        "id": format!("chatcmpl-{}", ctx.id_seed),
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_str(resp.finish)}],
    });
    if let Some(u) = &resp.usage {
        body["usage"] = usage_from_ir(u);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx { model: "ds/deepseek-reasoner".into(), id_seed: "abc".into(), created: 1, include_usage: false }
    }

    #[test]
    fn reads_reasoning_think_tags_tool_calls_and_usage() {
        let body = json!({"id": "x", "model": "deepseek-reasoner", "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "<think>hmm</think>It is 4.", "reasoning_content": "first",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 4,
                      "completion_tokens_details": {"reasoning_tokens": 2}}});
        let ir = to_ir(&body, "s").unwrap();
        assert_eq!(ir.text(), "It is 4.");
        assert_eq!(ir.finish, FinishReason::ToolCalls, "tool calls with finish `stop` are a tool-call finish");
        let thinking: Vec<_> = ir
            .parts
            .iter()
            .filter_map(|p| if let IrPart::Thinking { text, .. } = p { Some(text.as_str()) } else { None })
            .collect();
        assert_eq!(thinking, ["first", "hmm"]);
        assert_eq!(
            ir.usage,
            Some(IrUsage {
                input_tokens: 10,
                cached_tokens: 4,
                cache_write_tokens: 0,
                output_tokens: 5,
                reasoning_tokens: 2
            })
        );
        assert!(to_ir(&json!({"choices": []}), "s").is_err());
    }

    #[test]
    fn writes_a_complete_chat_completion() {
        let resp = IrResponse {
            id: "u".into(),
            model: "claude".into(),
            parts: vec![
                IrPart::Thinking { text: "t".into(), signature: Some("sig".into()) },
                IrPart::Text("hi".into()),
            ],
            finish: FinishReason::Length,
            usage: Some(IrUsage { input_tokens: 3, output_tokens: 4, ..Default::default() }),
        };
        let out = from_ir(&resp, &ctx());
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["model"], "ds/deepseek-reasoner");
        assert_eq!(out["choices"][0]["message"]["content"], "hi");
        assert_eq!(out["choices"][0]["message"]["reasoning_content"], "t");
        assert_eq!(out["choices"][0]["finish_reason"], "length");
        assert_eq!(out["usage"]["total_tokens"], 7);
    }
}
