//! `GenerateContentResponse` ↔ [`IrResponse`] (formats.md §5.2, §7.9, §7.10).
//!
//! Only the first candidate counts. Gemini reports `STOP` even when it called functions, so a
//! function call turns the finish into `ToolCalls`; a prompt blocked before generation has no
//! candidates and becomes `ContentFilter` with no parts. Usage: `candidatesTokenCount` excludes
//! thoughts while IR output includes them. Toward clients, signatures are only written when they are
//! valid base64 (the google-genai SDK decodes them), and function calls carry no `id`.

use super::wire::{self, field, str_field};
use crate::error::{GatewayError, Result};
use crate::ir::{ids, EncodeCtx, FinishReason, IrPart, IrResponse, IrUsage};
use serde_json::{json, Value};

/// IR finish reason for a Gemini `finishReason` (before the function-call override).
pub fn finish_from(reason: &str) -> FinishReason {
    match reason.to_ascii_uppercase().as_str() {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "RECITATION"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

pub fn finish_to(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
    }
}

fn count(v: &Value, camel: &str) -> u64 {
    field(v, camel).and_then(|n| n.as_u64().or_else(|| n.as_str().and_then(|s| s.parse().ok()))).unwrap_or(0)
}

/// `usageMetadata` → IR; `None` when it holds no counts (some stream chunks carry only `trafficType`).
pub fn usage_from(meta: &Value) -> Option<IrUsage> {
    let has = ["promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "totalTokenCount"]
        .iter()
        .any(|k| field(meta, k).is_some());
    if !has {
        return None;
    }
    let thoughts = count(meta, "thoughtsTokenCount");
    Some(IrUsage {
        input_tokens: count(meta, "promptTokenCount"),
        cached_tokens: count(meta, "cachedContentTokenCount"),
        cache_write_tokens: 0,
        output_tokens: count(meta, "candidatesTokenCount") + thoughts,
        reasoning_tokens: thoughts,
    })
}

pub fn usage_to(u: &IrUsage) -> Value {
    let mut m = json!({
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": u.output_tokens.saturating_sub(u.reasoning_tokens),
        "totalTokenCount": u.input_tokens + u.output_tokens,
    });
    if u.reasoning_tokens > 0 {
        m["thoughtsTokenCount"] = json!(u.reasoning_tokens);
    }
    if u.cached_tokens > 0 {
        m["cachedContentTokenCount"] = json!(u.cached_tokens);
    }
    m
}

/// The first candidate (the one with `index` 0, else the first listed).
pub fn first_candidate(body: &Value) -> Option<&Value> {
    let list = field(body, "candidates")?.as_array()?;
    list.iter().find(|c| field(c, "index").and_then(Value::as_u64).unwrap_or(0) == 0).or_else(|| list.first())
}

/// A function call's arguments as a JSON object string (`{}` when absent).
pub fn call_args(call: &Value) -> String {
    match field(call, "args") {
        Some(a @ Value::Object(_)) => a.to_string(),
        _ => "{}".to_string(),
    }
}

pub fn to_ir(body: &Value, id_seed: &str) -> Result<IrResponse> {
    if !body.is_object() {
        return Err(GatewayError::upstream("Gemini returned a body that is not a JSON object."));
    }
    if let Some(err) = body.get("error") {
        let msg = err.get("message").and_then(Value::as_str).unwrap_or("Gemini returned an error.");
        return Err(GatewayError::upstream(msg.to_string()));
    }
    let id = str_field(body, "responseId").filter(|s| !s.is_empty()).map(str::to_string);
    let mut resp = IrResponse {
        id: id.unwrap_or_else(|| id_seed.to_string()),
        model: str_field(body, "modelVersion").unwrap_or_default().to_string(),
        parts: Vec::new(),
        finish: FinishReason::Stop,
        usage: field(body, "usageMetadata").and_then(usage_from),
    };
    let Some(cand) = first_candidate(body) else {
        if field(body, "promptFeedback").and_then(|f| field(f, "blockReason")).is_some() {
            resp.finish = FinishReason::ContentFilter;
        }
        return Ok(resp);
    };
    let mut calls = 0;
    let parts = field(cand, "content").and_then(|c| field(c, "parts")).and_then(Value::as_array);
    for part in parts.into_iter().flatten() {
        let sig = str_field(part, "thoughtSignature").filter(|s| !s.is_empty()).map(str::to_string);
        if matches!(field(part, "thought"), Some(Value::Bool(true))) {
            let text = str_field(part, "text").unwrap_or_default().to_string();
            resp.parts.push(IrPart::Thinking { text, signature: sig });
            continue;
        }
        if let Some(s) = sig {
            // see mod.rs: a signature on a non-thought part travels as an empty Thinking before it
            resp.parts.push(IrPart::Thinking { text: String::new(), signature: Some(s) });
        }
        if let Some(call) = field(part, "functionCall") {
            // a call without a name (Vertex argument streaming, unsupported) cannot be replayed
            let Some(name) = str_field(call, "name").filter(|n| !n.is_empty()) else { continue };
            let id = match str_field(call, "id") {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => ids::tool_call_id(id_seed, calls),
            };
            calls += 1;
            resp.parts.push(IrPart::ToolCall { id, name: name.to_string(), arguments: call_args(call) });
        } else if let Some(text) = str_field(part, "text") {
            if !text.is_empty() {
                resp.parts.push(IrPart::Text(text.to_string()));
            }
        }
    }
    resp.finish = match str_field(cand, "finishReason") {
        _ if calls > 0 => FinishReason::ToolCalls,
        Some(r) => finish_from(r),
        None => FinishReason::Stop,
    };
    Ok(resp)
}

/// IR answer parts → Gemini client parts. Signature carriers (empty Thinking) sign the next part.
pub fn client_parts(parts: &[IrPart]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut pending: Option<String> = None;
    for p in parts {
        let mut part = match p {
            IrPart::Thinking { text, signature } if text.is_empty() => {
                if let Some(s) = signature.as_ref().filter(|s| wire::is_base64(s)) {
                    pending = Some(s.clone());
                }
                continue;
            }
            IrPart::Thinking { text, signature } => {
                let mut part = json!({"text": text, "thought": true});
                wire::sign(&mut part, signature.clone());
                out.push(part);
                continue;
            }
            IrPart::Text(t) if !t.is_empty() => json!({"text": t}),
            IrPart::ToolCall { name, arguments, .. } => {
                let args = match serde_json::from_str::<Value>(arguments) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({}),
                };
                json!({"functionCall": {"name": name, "args": args}})
            }
            _ => continue,
        };
        wire::sign(&mut part, pending.take());
        out.push(part);
    }
    if let Some(sig) = pending {
        let mut part = json!({"text": ""});
        wire::sign(&mut part, Some(sig));
        out.push(part);
    }
    out
}

pub fn from_ir(resp: &IrResponse, ctx: &EncodeCtx) -> Value {
    let response_id = if resp.id.is_empty() { ctx.id_seed.clone() } else { resp.id.clone() };
    let mut body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": client_parts(&resp.parts)},
            "finishReason": finish_to(resp.finish),
            "index": 0
        }],
        "modelVersion": ctx.model,
        "responseId": response_id,
    });
    if let Some(u) = &resp.usage {
        body["usageMetadata"] = usage_to(u);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx {
            model: "gemini-2.5-pro".into(),
            id_seed: "abc123".into(),
            created: 1_700_000_000,
            include_usage: false,
        }
    }

    /// Shape of the real capture in formats.md §5.2.
    fn tool_call_body() -> Value {
        json!({"candidates":[{"content":{"parts":[
                {"text":"**Planning**","thought":true},
                {"functionCall":{"name":"weather","args":{"location":"San Francisco"}},"thoughtSignature":"Eqo+Cqc="}],
            "role":"model"},"finishReason":"STOP","index":0,"finishMessage":"Model generated function call(s)."}],
         "usageMetadata":{"promptTokenCount":29,"candidatesTokenCount":15,"totalTokenCount":1845,
                          "promptTokensDetails":[{"modality":"TEXT","tokenCount":29}],"thoughtsTokenCount":1801,
                          "cachedContentTokenCount":8},
         "modelVersion":"gemini-3-pro-preview","responseId":"JniLacKqGqH0xs0P0O776As"})
    }

    #[test]
    fn reads_a_tool_call_answer() {
        let r = to_ir(&tool_call_body(), "seed").unwrap();
        assert_eq!(r.id, "JniLacKqGqH0xs0P0O776As");
        assert_eq!(r.model, "gemini-3-pro-preview");
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(
            r.parts,
            vec![
                IrPart::Thinking { text: "**Planning**".into(), signature: None },
                IrPart::Thinking { text: String::new(), signature: Some("Eqo+Cqc=".into()) },
                IrPart::ToolCall {
                    id: "call_seed0".into(),
                    name: "weather".into(),
                    arguments: r#"{"location":"San Francisco"}"#.into()
                },
            ]
        );
        assert_eq!(
            r.usage,
            Some(IrUsage {
                input_tokens: 29,
                cached_tokens: 8,
                cache_write_tokens: 0,
                output_tokens: 1816,
                reasoning_tokens: 1801
            })
        );
    }

    #[test]
    fn reads_finish_reasons_and_blocked_prompts() {
        let text = |reason: &str| json!({"candidates":[{"content":{"parts":[{"text":"Hi"},{"text":""}],"role":"model"},"finishReason":reason,"index":0}]});
        for (reason, want) in [
            ("STOP", FinishReason::Stop),
            ("MAX_TOKENS", FinishReason::Length),
            ("SAFETY", FinishReason::ContentFilter),
            ("RECITATION", FinishReason::ContentFilter),
            ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
            ("MALFORMED_FUNCTION_CALL", FinishReason::Stop),
            ("OTHER", FinishReason::Stop),
        ] {
            let r = to_ir(&text(reason), "s").unwrap();
            assert_eq!(r.finish, want, "{reason}");
            assert_eq!(r.parts, vec![IrPart::Text("Hi".into())]);
            assert_eq!(r.id, "s");
        }
        let blocked = json!({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5}});
        let r = to_ir(&blocked, "s").unwrap();
        assert_eq!((r.finish, r.parts.len()), (FinishReason::ContentFilter, 0));
        assert_eq!(r.usage.unwrap().input_tokens, 5);
        assert!(to_ir(&json!({"error":{"code":500,"message":"boom"}}), "s").is_err());
        assert!(to_ir(&json!("x"), "s").is_err());
    }

    #[test]
    fn writes_a_client_answer() {
        let resp = IrResponse {
            id: "msg_1".into(),
            model: "claude".into(),
            parts: vec![
                IrPart::Thinking { text: "hmm".into(), signature: Some("not base64 !".into()) },
                IrPart::Text("Sure.".into()),
                IrPart::Thinking { text: String::new(), signature: Some("RXFV".into()) },
                IrPart::ToolCall { id: "toolu_9".into(), name: "f".into(), arguments: "{bad".into() },
                IrPart::RedactedThinking("zzz".into()),
            ],
            finish: FinishReason::ToolCalls,
            usage: Some(IrUsage {
                input_tokens: 10,
                cached_tokens: 4,
                output_tokens: 30,
                reasoning_tokens: 20,
                ..Default::default()
            }),
        };
        let v = from_ir(&resp, &ctx());
        assert_eq!(
            v,
            json!({
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": "hmm", "thought": true},
                    {"text": "Sure."},
                    {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "RXFV"}
                ]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "thoughtsTokenCount": 20,
                                  "totalTokenCount": 40, "cachedContentTokenCount": 4},
                "modelVersion": "gemini-2.5-pro",
                "responseId": "msg_1"
            })
        );
    }

    #[test]
    fn round_trip_keeps_meaning() {
        let first = to_ir(&tool_call_body(), "seed").unwrap();
        let again = to_ir(&from_ir(&first, &ctx()), "seed").unwrap();
        assert_eq!(again.parts, first.parts);
        assert_eq!(again.finish, first.finish);
        assert_eq!(again.usage, first.usage);
        assert_eq!(again.id, first.id);
        let length = IrResponse {
            id: String::new(),
            model: String::new(),
            parts: vec![IrPart::Text("a".into())],
            finish: FinishReason::Length,
            usage: None,
        };
        let back = to_ir(&from_ir(&length, &ctx()), "x").unwrap();
        assert_eq!(
            (back.finish, back.parts, back.id),
            (FinishReason::Length, vec![IrPart::Text("a".into())], "abc123".to_string())
        );
    }
}
