//! Chat Completions requests ↔ IR.

use crate::error::{GatewayError, Result};
use crate::ir::{
    media, reasoning, IrMessage, IrPart, IrReasoning, IrRequest, IrResponseFormat, IrRole, IrTool, IrToolChoice,
};
use serde_json::{json, Map, Value};

fn bad(msg: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(msg).with_param(param)
}

/// A client's Chat request → IR.
pub fn to_ir(body: &Value) -> Result<IrRequest> {
    let obj =
        body.as_object().ok_or_else(|| GatewayError::invalid_request("The request body must be a JSON object."))?;
    let model = obj.get("model").and_then(Value::as_str).filter(|m| !m.trim().is_empty());
    let model = model.ok_or_else(|| bad("You must provide a model parameter.", "model"))?;
    let raw_messages = obj.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty());
    let raw_messages = raw_messages.ok_or_else(|| bad("`messages` must be a non-empty array.", "messages"))?;

    let mut ir = IrRequest { model: model.trim().to_string(), ..Default::default() };
    for (i, m) in raw_messages.iter().enumerate() {
        message_to_ir(&mut ir, m).map_err(|e| e.with_param(&format!("messages[{i}]")))?;
    }
    ir.tools = obj
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(tool_to_ir).collect())
        .unwrap_or_default();
    ir.tool_choice = obj.get("tool_choice").and_then(tool_choice_to_ir);
    ir.parallel_tool_calls = obj.get("parallel_tool_calls").and_then(Value::as_bool);
    ir.max_tokens = obj.get("max_completion_tokens").or_else(|| obj.get("max_tokens")).and_then(Value::as_u64);
    ir.temperature = obj.get("temperature").and_then(Value::as_f64);
    ir.top_p = obj.get("top_p").and_then(Value::as_f64);
    ir.top_k = obj.get("top_k").and_then(Value::as_u64);
    ir.stop = match obj.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    ir.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    ir.include_usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    ir.reasoning = obj.get("reasoning_effort").and_then(Value::as_str).map(|e| IrReasoning {
        effort: (e != "none").then(|| e.to_string()),
        budget_tokens: None,
        disabled: e == "none",
    });
    ir.response_format = obj.get("response_format").and_then(response_format_to_ir);
    ir.user = obj.get("user").or_else(|| obj.get("safety_identifier")).and_then(Value::as_str).map(str::to_string);
    Ok(ir)
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").or_else(|| p.get("refusal")).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn content_parts(content: &Value) -> Result<Vec<IrPart>> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) => return Ok(if s.is_empty() { vec![] } else { vec![IrPart::Text(s.clone())] }),
        Value::Array(parts) => parts,
        _ => return Err(GatewayError::invalid_request("`content` must be a string or an array of parts.")),
    };
    let mut out = Vec::new();
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("text") | Some("input_text") => {
                out.push(IrPart::Text(p.get("text").and_then(Value::as_str).unwrap_or_default().to_string()))
            }
            Some("refusal") => out.push(IrPart::Text(text_of(&Value::Array(vec![p.clone()])))),
            Some("image_url") => {
                let url = p.pointer("/image_url/url").or_else(|| p.get("image_url")).and_then(Value::as_str);
                let url = url.ok_or_else(|| GatewayError::invalid_request("`image_url.url` is required."))?;
                out.push(IrPart::Image(media::from_url(url)));
            }
            Some("input_audio") => {
                let data = p.pointer("/input_audio/data").and_then(Value::as_str).unwrap_or_default();
                let fmt = p.pointer("/input_audio/format").and_then(Value::as_str).unwrap_or("wav");
                let mime = if fmt == "mp3" { "audio/mpeg".to_string() } else { format!("audio/{fmt}") };
                out.push(IrPart::File {
                    media: crate::ir::IrMedia::Base64 { mime, data: data.to_string() },
                    filename: None,
                });
            }
            Some("file") => {
                let data = p.pointer("/file/file_data").and_then(Value::as_str).ok_or_else(|| {
                    GatewayError::invalid_request("Only inline files (`file.file_data`) can be translated; `file_id` needs the provider's own file store.")
                })?;
                let filename = p.pointer("/file/filename").and_then(Value::as_str).map(str::to_string);
                out.push(IrPart::File { media: media::from_url(data), filename });
            }
            other => {
                return Err(GatewayError::invalid_request(format!(
                    "Unsupported content part type `{}`.",
                    other.unwrap_or("?")
                )))
            }
        }
    }
    Ok(out)
}

/// The name of the tool call `id` among the assistant's earlier calls.
fn call_name(ir: &IrRequest, id: &str) -> Option<String> {
    ir.messages.iter().rev().flat_map(|m| m.parts.iter()).find_map(|p| match p {
        IrPart::ToolCall { id: cid, name, .. } if cid == id => Some(name.clone()),
        _ => None,
    })
}

/// Appends parts to the last message if it has `role`, else starts a new message.
fn push_parts(ir: &mut IrRequest, role: IrRole, parts: Vec<IrPart>, merge: bool) {
    match ir.messages.last_mut() {
        Some(last) if merge && last.role == role => last.parts.extend(parts),
        _ => ir.messages.push(IrMessage { role, parts }),
    }
}

fn message_to_ir(ir: &mut IrRequest, m: &Value) -> Result<()> {
    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
    let content = m.get("content").unwrap_or(&Value::Null);
    match role {
        "system" | "developer" => {
            let t = text_of(content);
            if !t.is_empty() {
                ir.system.push(t);
            }
        }
        "user" => push_parts(ir, IrRole::User, content_parts(content)?, false),
        "assistant" => {
            let mut parts = Vec::new();
            if let Some(r) = m.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                parts.push(IrPart::Thinking { text: r.to_string(), signature: None });
            }
            parts.extend(content_parts(content)?);
            for (i, tc) in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let name = tc.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
                let id =
                    tc.get("id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("call_{i}"));
                let args = tc.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}");
                parts.push(IrPart::ToolCall { id, name: name.to_string(), arguments: args.to_string() });
            }
            if let Some(fc) = m.get("function_call") {
                let name = fc.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                let args = fc.get("arguments").and_then(Value::as_str).unwrap_or("{}").to_string();
                parts.push(IrPart::ToolCall { id: format!("call_{name}"), name, arguments: args });
            }
            push_parts(ir, IrRole::Assistant, parts, false);
        }
        "tool" | "function" => {
            let call_id = match role {
                "tool" => m.get("tool_call_id").and_then(Value::as_str).unwrap_or_default().to_string(),
                _ => format!("call_{}", m.get("name").and_then(Value::as_str).unwrap_or_default()),
            };
            let name = call_name(ir, &call_id).or_else(|| m.get("name").and_then(Value::as_str).map(str::to_string));
            let result =
                IrPart::ToolResult { call_id, name, content: vec![IrPart::Text(text_of(content))], is_error: false };
            // Consecutive tool messages answer one assistant turn: keep them in one user message.
            let merge =
                matches!(ir.messages.last(), Some(l) if l.parts.iter().all(|p| matches!(p, IrPart::ToolResult { .. })));
            push_parts(ir, IrRole::User, vec![result], merge);
        }
        other => return Err(GatewayError::invalid_request(format!("Unknown message role `{other}`."))),
    }
    Ok(())
}

fn tool_to_ir(t: &Value) -> Option<IrTool> {
    let f = t.get("function")?;
    let mut parameters = f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    if parameters.get("type").is_none() {
        if let Some(o) = parameters.as_object_mut() {
            o.insert("type".into(), json!("object"));
        }
    }
    Some(IrTool {
        name: f.get("name")?.as_str()?.to_string(),
        description: f.get("description").and_then(Value::as_str).map(str::to_string),
        parameters,
        strict: f.get("strict").and_then(Value::as_bool),
    })
}

fn tool_choice_to_ir(v: &Value) -> Option<IrToolChoice> {
    match v {
        Value::String(s) => match s.as_str() {
            "none" => Some(IrToolChoice::None),
            "required" => Some(IrToolChoice::Required),
            _ => Some(IrToolChoice::Auto),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function") => o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .map(|n| IrToolChoice::Tool(n.into())),
            _ => Some(IrToolChoice::Auto),
        },
        _ => None,
    }
}

fn response_format_to_ir(v: &Value) -> Option<IrResponseFormat> {
    match v.get("type").and_then(Value::as_str)? {
        "json_object" => Some(IrResponseFormat::JsonObject),
        "json_schema" => {
            let js = v.get("json_schema")?;
            Some(IrResponseFormat::JsonSchema {
                name: js.get("name").and_then(Value::as_str).unwrap_or("response").to_string(),
                schema: js.get("schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
                strict: js.get("strict").and_then(Value::as_bool),
            })
        }
        _ => Some(IrResponseFormat::Text),
    }
}

/// IR → an upstream Chat request body for `model`.
pub fn from_ir(req: &IrRequest, model: &str) -> Result<Value> {
    let mut messages = Vec::new();
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    for m in &req.messages {
        match m.role {
            IrRole::User => {
                let mut rest = Vec::new();
                for p in &m.parts {
                    match p {
                        IrPart::ToolResult { call_id, content, is_error, .. } => {
                            let text = parts_text(content);
                            let text =
                                if *is_error && !text.starts_with("Error") { format!("Error: {text}") } else { text };
                            messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": text}));
                        }
                        other => rest.push(other),
                    }
                }
                if !rest.is_empty() {
                    messages.push(json!({"role": "user", "content": user_content(&rest)}));
                }
            }
            IrRole::Assistant => {
                let text: String = m
                    .parts
                    .iter()
                    .filter_map(|p| if let IrPart::Text(t) = p { Some(t.as_str()) } else { None })
                    .collect();
                let calls: Vec<Value> = m
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        IrPart::ToolCall { id, name, arguments } => Some(json!({
                            "id": id, "type": "function", "function": {"name": name, "arguments": arguments}
                        })),
                        _ => None,
                    })
                    .collect();
                let mut msg = Map::new();
                msg.insert("role".into(), json!("assistant"));
                msg.insert(
                    "content".into(),
                    if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
                );
                if !calls.is_empty() {
                    msg.insert("tool_calls".into(), Value::Array(calls));
                }
                messages.push(Value::Object(msg));
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(p) = req.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(tc) = &req.tool_choice {
        let v = match tc {
            IrToolChoice::Auto => json!("auto"),
            IrToolChoice::None => json!("none"),
            IrToolChoice::Required => json!("required"),
            IrToolChoice::Tool(n) => json!({"type": "function", "function": {"name": n}}),
        };
        if !req.tools.is_empty() {
            body.insert("tool_choice".into(), v);
        }
    }
    if let Some(n) = req.max_tokens {
        // OpenAI's reasoning models refuse `max_tokens`; most compatible providers only know it.
        let key = if uses_max_completion_tokens(model) { "max_completion_tokens" } else { "max_tokens" };
        body.insert(key.into(), json!(n));
    }
    for (k, v) in [("temperature", req.temperature), ("top_p", req.top_p)] {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if let Some(r) = &req.reasoning {
        let effort = r.effort.clone().or_else(|| r.budget_tokens.map(|b| reasoning::effort_for_budget(b).to_string()));
        if let Some(e) = effort.filter(|_| !r.disabled) {
            body.insert("reasoning_effort".into(), json!(e));
        }
    }
    match &req.response_format {
        Some(IrResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(IrResponseFormat::JsonSchema { name, schema, strict }) => {
            let mut js = json!({"name": name, "schema": schema});
            if let Some(s) = strict {
                js["strict"] = json!(s);
            }
            body.insert("response_format".into(), json!({"type": "json_schema", "json_schema": js}));
        }
        _ => {}
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    body.insert("stream".into(), json!(req.stream));
    if req.stream {
        // The gateway needs usage to translate the end of the stream, whatever the client asked.
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(body))
}

fn uses_max_completion_tokens(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    m.starts_with("gpt-5") || (m.starts_with('o') && m.chars().nth(1).is_some_and(|c| c.is_ascii_digit()))
}

fn parts_text(parts: &[IrPart]) -> String {
    parts
        .iter()
        .filter_map(|p| if let IrPart::Text(t) = p { Some(t.as_str()) } else { None })
        .collect::<Vec<_>>()
        .join("\n")
}

fn user_content(parts: &[&IrPart]) -> Value {
    if let [IrPart::Text(t)] = parts {
        return json!(t);
    }
    let items: Vec<Value> = parts
        .iter()
        .filter_map(|p| match p {
            IrPart::Text(t) => Some(json!({"type": "text", "text": t})),
            IrPart::Image(m) => Some(json!({"type": "image_url", "image_url": {"url": media::to_url(m)}})),
            IrPart::File { media: m, filename } => Some(json!({"type": "file", "file": {
                "filename": filename.clone().unwrap_or_else(|| "file".into()), "file_data": media::to_url(m)}})),
            _ => None,
        })
        .collect();
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hoists_system_and_groups_tool_results() {
        let body = json!({
            "model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": "noon"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required", "max_completion_tokens": 100, "reasoning_effort": "high",
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
        });
        let ir = to_ir(&body).unwrap();
        assert_eq!(ir.system, vec!["be brief"]);
        assert_eq!(ir.messages.len(), 3);
        assert!(
            matches!(&ir.messages[0].parts[1], IrPart::Image(crate::ir::IrMedia::Base64 { mime, .. }) if mime == "image/png")
        );
        let results: Vec<_> = ir.messages[2]
            .parts
            .iter()
            .filter_map(|p| match p {
                IrPart::ToolResult { call_id, name, .. } => Some((call_id.as_str(), name.as_deref())),
                _ => None,
            })
            .collect();
        assert_eq!(results, vec![("call_1", Some("get_weather")), ("call_2", Some("get_time"))]);
        assert_eq!(ir.tool_choice, Some(IrToolChoice::Required));
        assert_eq!((ir.max_tokens, ir.stream, ir.include_usage), (Some(100), true, true));
        assert_eq!(ir.reasoning.as_ref().and_then(|r| r.effort.as_deref()), Some("high"));
        assert!(matches!(ir.response_format, Some(IrResponseFormat::JsonSchema { .. })));

        // Back to Chat: system first, one `tool` message per result, in order.
        let out = from_ir(&ir, "gpt-4o").unwrap();
        let roles: Vec<_> = out["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
        assert_eq!(out["messages"][2]["content"], Value::Null);
        assert_eq!(out["messages"][4]["tool_call_id"], "call_2");
        assert_eq!(out["stream_options"]["include_usage"], true);
        assert_eq!(out["max_tokens"], 100);
        assert_eq!(from_ir(&ir, "o3").unwrap()["max_completion_tokens"], 100);
    }

    #[test]
    fn refuses_what_cannot_be_translated() {
        let e = to_ir(&json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]})).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("messages[0]")));
        assert_eq!(
            to_ir(&json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]})).unwrap_err().status,
            400
        );
        assert_eq!(to_ir(&json!({"messages": []})).unwrap_err().param.as_deref(), Some("model"));
    }

    proptest! {
        #[test]
        fn to_ir_never_panics(roles in proptest::collection::vec(0u8..6, 0..5), text in ".{0,20}") {
            let names = ["system", "user", "assistant", "tool", "developer", "x"];
            let msgs: Vec<Value> = roles.iter().map(|r| json!({"role": names[*r as usize], "content": text, "tool_calls": [{"function": {}}]})).collect();
            let _ = to_ir(&json!({"model": "m", "messages": msgs, "tools": [{"function": {"name": 1}}], "tool_choice": {"type": "function"}}));
        }
    }
}
