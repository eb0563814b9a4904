//! Whole (non-streamed) Response objects (formats.md §3.2) to and from [`IrResponse`].
//!
//! Responses has no finish reason: `status: completed` plus `function_call` items means tool use, and
//! `status: incomplete` carries `incomplete_details.reason` (`max_output_tokens` | `content_filter`).
//! Usage already has IR's meaning (`input_tokens` includes cached, `output_tokens` includes reasoning).
//!
//! The item and object builders here are shared with `stream_out`, so streamed and whole answers
//! have the same shape: every field the official SDK's `Response` type requires is present.

use super::error::upstream_error;
use crate::error::{GatewayError, Result};
use crate::ir::{ids, EncodeCtx, FinishReason, IrPart, IrResponse, IrUsage};
use serde_json::{json, Value};

/// Parses an UPSTREAM Response object.
pub fn to_ir(body: &Value, id_seed: &str) -> Result<IrResponse> {
    if !body.is_object() {
        return Err(GatewayError::upstream("The upstream answer is not a JSON object."));
    }
    let status = body.get("status").and_then(Value::as_str).unwrap_or("completed");
    if status == "failed" || body.get("error").is_some_and(|e| !e.is_null()) {
        let field = |k: &str| body.get("error").and_then(|e| e.get(k)).and_then(Value::as_str);
        return Err(upstream_error(field("code"), field("message")));
    }
    let mut parts = Vec::new();
    let mut calls = 0;
    for item in body.get("output").and_then(Value::as_array).into_iter().flatten() {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for c in item.get("content").and_then(Value::as_array).into_iter().flatten() {
                    let text = match c.get("type").and_then(Value::as_str) {
                        Some("output_text") => c.get("text"),
                        Some("refusal") => c.get("refusal"),
                        _ => None,
                    };
                    if let Some(t) = text.and_then(Value::as_str) {
                        parts.push(IrPart::Text(t.to_string()));
                    }
                }
            }
            Some("function_call") => {
                let field = |k: &str| item.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
                let id = field("call_id").or_else(|| field("id")).unwrap_or_else(|| ids::tool_call_id(id_seed, calls));
                calls += 1;
                let name = field("name").unwrap_or_default();
                let arguments = field("arguments").unwrap_or_else(|| "{}".to_string());
                parts.push(IrPart::ToolCall { id, name, arguments });
            }
            Some("reasoning") => {
                let text = reasoning_text(item);
                let signature = item.get("encrypted_content").and_then(Value::as_str).map(str::to_string);
                if !text.is_empty() || signature.is_some() {
                    parts.push(IrPart::Thinking { text, signature });
                }
            }
            _ => {} // built-in tool items are not translated
        }
    }
    let finish = match status {
        "incomplete" => match body.pointer("/incomplete_details/reason").and_then(Value::as_str) {
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Length,
        },
        _ if calls > 0 => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    };
    Ok(IrResponse {
        id: body.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        model: body.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        parts,
        finish,
        usage: body.get("usage").and_then(usage_from_json),
    })
}

/// A reasoning item's text: its summary parts (or, failing those, its raw content) joined by blank lines.
pub(crate) fn reasoning_text(item: &Value) -> String {
    let texts = |key: &str| -> Vec<&str> {
        item.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.get("text").and_then(Value::as_str)).collect())
            .unwrap_or_default()
    };
    let summary = texts("summary");
    if summary.is_empty() { texts("content") } else { summary }.join("\n\n")
}

pub(crate) fn usage_from_json(u: &Value) -> Option<IrUsage> {
    if !u.is_object() {
        return None;
    }
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Some(IrUsage {
        input_tokens: n("/input_tokens"),
        cached_tokens: n("/input_tokens_details/cached_tokens"),
        cache_write_tokens: n("/input_tokens_details/cache_write_tokens"),
        output_tokens: n("/output_tokens"),
        reasoning_tokens: n("/output_tokens_details/reasoning_tokens"),
    })
}

pub(crate) fn usage_json(u: &IrUsage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_write_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

/// `status` and `incomplete_details.reason` for a finish reason.
pub(crate) fn status_for(finish: FinishReason) -> (&'static str, Option<&'static str>) {
    match finish {
        FinishReason::Stop | FinishReason::ToolCalls => ("completed", None),
        FinishReason::Length => ("incomplete", Some("max_output_tokens")),
        FinishReason::ContentFilter => ("incomplete", Some("content_filter")),
    }
}

/// An output item id: `<prefix>_<seed>_<n>`, unique within one answer.
pub(crate) fn item_id(prefix: &str, seed: &str, n: usize) -> String {
    format!("{prefix}_{seed}_{n}")
}

pub(crate) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content: Vec<Value> = if status == "in_progress" { vec![] } else { vec![output_text_part(text)] };
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

pub(crate) fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

pub(crate) fn reasoning_item(id: &str, text: &str, signature: Option<&str>) -> Value {
    let summary: Vec<Value> =
        if text.is_empty() { vec![] } else { vec![json!({"type": "summary_text", "text": text})] };
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if let Some(sig) = signature {
        item["encrypted_content"] = json!(sig);
    }
    item
}

pub(crate) fn function_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "arguments": arguments, "call_id": call_id, "name": name})
}

/// A full Response object. `finish` decides status/incomplete_details; `None` means still in progress.
pub(crate) fn response_object(
    ctx: &EncodeCtx,
    finish: Option<FinishReason>,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    let (status, reason) = match finish {
        Some(f) => status_for(f),
        None => ("in_progress", None),
    };
    json!({
        "id": format!("resp_{}", ctx.id_seed),
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "completed_at": if status == "completed" { json!(ctx.created) } else { Value::Null },
        "background": false,
        "error": null,
        "incomplete_details": reason.map(|r| json!({"reason": r})),
        "instructions": null,
        "max_output_tokens": null,
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "service_tier": "default",
        "store": false,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {},
    })
}

/// Builds the CLIENT's whole Response object.
pub fn from_ir(resp: &IrResponse, ctx: &EncodeCtx) -> Value {
    let seed = ctx.id_seed.as_str();
    let mut output: Vec<Value> = Vec::new();
    // Consecutive text parts form one message item.
    let mut text: Option<String> = None;
    let flush = |text: &mut Option<String>, output: &mut Vec<Value>| {
        if let Some(t) = text.take() {
            let id = item_id("msg", seed, output.len());
            output.push(message_item(&id, &t, "completed"));
        }
    };
    let mut calls = 0;
    for part in &resp.parts {
        match part {
            IrPart::Text(t) => text.get_or_insert_with(String::new).push_str(t),
            IrPart::Thinking { text: t, signature } => {
                flush(&mut text, &mut output);
                output.push(reasoning_item(&item_id("rs", seed, output.len()), t, signature.as_deref()));
            }
            IrPart::ToolCall { id, name, arguments } => {
                flush(&mut text, &mut output);
                let call_id = if id.is_empty() { ids::tool_call_id(seed, calls) } else { id.clone() };
                calls += 1;
                output.push(function_item(&item_id("fc", seed, output.len()), &call_id, name, arguments, "completed"));
            }
            _ => {} // redacted thinking has no Responses form
        }
    }
    flush(&mut text, &mut output);
    let usage = resp.usage.as_ref().map(usage_json).unwrap_or(Value::Null);
    response_object(ctx, Some(resp.finish), output, usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx { model: "my-model".into(), id_seed: "abc123".into(), created: 1_700_000_000, include_usage: false }
    }

    /// Shaped like the real completed Response of formats.md §3.3 (reasoning + function call).
    fn upstream_tool_answer() -> Value {
        json!({
            "id": "resp_68c", "object": "response", "created_at": 1757,
            "status": "completed", "error": null, "incomplete_details": null, "model": "o4-mini-2025-04-16",
            "output": [
                {"id": "rs_1", "type": "reasoning", "encrypted_content": "gAAAA",
                 "summary": [{"type": "summary_text", "text": "**Calculating**"}, {"type": "summary_text", "text": "Add."}]},
                {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Adding.", "annotations": [], "logprobs": []}]},
                {"id": "fc_1", "type": "function_call", "status": "completed", "arguments": "{\"a\":12,\"b\":7}",
                 "call_id": "call_AB6", "name": "calculator"},
                {"id": "ws_1", "type": "web_search_call", "status": "completed"}
            ],
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 60,
                      "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 160}
        })
    }

    #[test]
    fn parses_an_upstream_answer() {
        let r = to_ir(&upstream_tool_answer(), "seed").unwrap();
        assert_eq!(r.id, "resp_68c");
        assert_eq!(r.model, "o4-mini-2025-04-16");
        assert_eq!(
            r.parts,
            vec![
                IrPart::Thinking { text: "**Calculating**\n\nAdd.".into(), signature: Some("gAAAA".into()) },
                IrPart::Text("Adding.".into()),
                IrPart::ToolCall {
                    id: "call_AB6".into(),
                    name: "calculator".into(),
                    arguments: "{\"a\":12,\"b\":7}".into()
                },
            ]
        );
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(
            r.usage,
            Some(IrUsage {
                input_tokens: 100,
                cached_tokens: 40,
                cache_write_tokens: 0,
                output_tokens: 60,
                reasoning_tokens: 30
            })
        );
    }

    #[test]
    fn maps_statuses_refusals_and_failures() {
        let base = |status: &str, reason: Value| {
            json!({"id": "r", "model": "m", "status": status, "incomplete_details": reason,
                   "output": [{"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}]})
        };
        let r = to_ir(&base("completed", Value::Null), "s").unwrap();
        assert_eq!((r.finish, r.text()), (FinishReason::Stop, "No.".to_string()));
        assert_eq!(r.usage, None);
        let r = to_ir(&base("incomplete", json!({"reason": "max_output_tokens"})), "s").unwrap();
        assert_eq!(r.finish, FinishReason::Length);
        let r = to_ir(&base("incomplete", json!({"reason": "content_filter"})), "s").unwrap();
        assert_eq!(r.finish, FinishReason::ContentFilter);
        let e =
            to_ir(&json!({"status": "failed", "error": {"code": "server_error", "message": "boom"}}), "s").unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (502, "boom"));
        assert!(to_ir(&json!("x"), "s").is_err());
    }

    #[test]
    fn builds_a_complete_response_object() {
        let ir = to_ir(&upstream_tool_answer(), "seed").unwrap();
        let v = from_ir(&ir, &ctx());
        for key in [
            "id",
            "object",
            "created_at",
            "status",
            "error",
            "incomplete_details",
            "instructions",
            "model",
            "output",
            "parallel_tool_calls",
            "metadata",
            "tool_choice",
            "temperature",
            "top_p",
            "tools",
            "usage",
            "text",
            "reasoning",
            "store",
            "truncation",
            "max_output_tokens",
            "previous_response_id",
            "user",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["id"], "resp_abc123");
        assert_eq!(v["object"], "response");
        assert_eq!(v["model"], "my-model");
        assert_eq!(v["status"], "completed");
        assert!(v["incomplete_details"].is_null());
        let out = v["output"].as_array().unwrap();
        assert_eq!(out[0]["type"], "reasoning");
        assert!(out[0]["id"].as_str().unwrap().starts_with("rs_"));
        assert_eq!(out[0]["encrypted_content"], "gAAAA");
        assert_eq!(
            out[1]["content"][0],
            json!({"type": "output_text", "text": "Adding.", "annotations": [], "logprobs": []})
        );
        assert!(out[1]["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(out[2]["call_id"], "call_AB6");
        assert_eq!(out[2]["status"], "completed");
        assert!(out[2]["id"].as_str().unwrap().starts_with("fc_"));
        assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 40);
        assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 30);
        assert_eq!(v["usage"]["total_tokens"], 160);
    }

    #[test]
    fn incomplete_answers_say_why() {
        let ir = IrResponse {
            id: "x".into(),
            model: "m".into(),
            parts: vec![IrPart::Text("cut".into())],
            finish: FinishReason::Length,
            usage: None,
        };
        let v = from_ir(&ir, &ctx());
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"], json!({"reason": "max_output_tokens"}));
        assert!(v["usage"].is_null());
    }

    #[test]
    fn round_trip_keeps_meaning() {
        let ir = to_ir(&upstream_tool_answer(), "seed").unwrap();
        let again = to_ir(&from_ir(&ir, &ctx()), "seed").unwrap();
        assert_eq!((again.parts, again.finish, again.usage), (ir.parts, ir.finish, ir.usage));
        for finish in [FinishReason::Stop, FinishReason::Length, FinishReason::ContentFilter] {
            let ir = IrResponse {
                id: String::new(),
                model: String::new(),
                parts: vec![IrPart::Text("a".into())],
                finish,
                usage: None,
            };
            assert_eq!(to_ir(&from_ir(&ir, &ctx()), "s").unwrap().finish, finish);
        }
    }
}
