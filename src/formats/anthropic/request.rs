//! Anthropic `MessageCreateParams` ↔ [`IrRequest`] (formats.md §4.1, §7.1–7.8).
//!
//! `to_ir` reads a client's request: required `model`, `max_tokens`, `messages`; bad shapes give a
//! 400 naming the field (`param`); unknown fields and block types it cannot represent (server tools,
//! search results) are ignored. `from_ir` writes an upstream body that the API accepts: system texts
//! joined, same-role turns merged, `tool_result` blocks first in the user turn after the `tool_use`,
//! ids sanitised, thinking blocks replayed only with their signature, `max_tokens` always present.
//! It also avoids requests the API is known to reject: unanswered calls get an error result and
//! results without their call become text; tools used in history are declared when `tools` is
//! missing; thinking is left off with a forced tool or when the last tool turn has no signed
//! thinking (a history from another format); temperature/top_k go with thinking on, and top_p
//! yields to temperature (newer Claude models reject both).

use crate::error::{GatewayError, Result};
use crate::ir::{
    ids, reasoning, IrMedia, IrMessage, IrPart, IrReasoning, IrRequest, IrResponseFormat, IrRole, IrTool, IrToolChoice,
};
use base64::Engine;
use serde_json::{json, Map, Value};

/// Used when the client's format has no `max_tokens` (it is required here).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// Anthropic's smallest thinking budget.
const MIN_BUDGET: u64 = 1024;
/// The image types Anthropic accepts in a base64 source.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

fn bad(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

fn opt_f64(body: &Map<String, Value>, key: &str) -> Result<Option<f64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| bad(format!("`{key}` must be a number."), key)),
    }
}

fn opt_u64(body: &Map<String, Value>, key: &str) -> Result<Option<u64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| bad(format!("`{key}` must be a non-negative integer."), key)),
    }
}

pub fn to_ir(body: &Value) -> Result<IrRequest> {
    let Value::Object(body) = body else {
        return Err(GatewayError::invalid_request("The request body must be a JSON object."));
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        _ => return Err(bad("model: Field required (a non-empty string).", "model")),
    };
    let max_tokens = match body.get("max_tokens") {
        None | Some(Value::Null) => return Err(bad("max_tokens: Field required", "max_tokens")),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => n,
            _ => return Err(bad("max_tokens: must be an integer of at least 1.", "max_tokens")),
        },
    };
    let mut req = IrRequest { model, max_tokens: Some(max_tokens), include_usage: true, ..Default::default() };

    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(v) => req
            .system
            .extend(system_texts(v).ok_or_else(|| bad("system: expected a string or text blocks.", "system"))?),
    }

    let messages = match body.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => return Err(bad("messages: at least one message is required.", "messages")),
        None | Some(Value::Null) => return Err(bad("messages: Field required", "messages")),
        Some(_) => return Err(bad("messages: must be an array.", "messages")),
    };
    // Tool names by call id, so a tool_result can carry the name (Gemini needs it).
    let mut names: Vec<(String, String)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages.{i}");
        let role = m.get("role").and_then(Value::as_str);
        let content =
            m.get("content").ok_or_else(|| bad(format!("{at}.content: Field required"), &format!("{at}.content")))?;
        match role {
            // Claude Code sends mid-conversation system messages; the IR keeps system text apart.
            Some("system") => {
                let texts = system_texts(content)
                    .ok_or_else(|| bad(format!("{at}.content: expected text."), &format!("{at}.content")))?;
                req.system.extend(texts);
            }
            Some(r @ ("user" | "assistant")) => {
                let role = if r == "user" { IrRole::User } else { IrRole::Assistant };
                let parts = content_parts(content, &at, &mut names)?;
                req.messages.push(IrMessage { role, parts });
            }
            _ => return Err(bad(format!("{at}.role: expected \"user\" or \"assistant\"."), &format!("{at}.role"))),
        }
    }

    if let Some(tools) = body.get("tools").filter(|t| !t.is_null()) {
        let tools = tools.as_array().ok_or_else(|| bad("tools: must be an array.", "tools"))?;
        for (i, t) in tools.iter().enumerate() {
            if let Some(tool) = tool_to_ir(t, i)? {
                req.tools.push(tool);
            }
        }
    }
    if let Some(tc) = body.get("tool_choice").filter(|t| !t.is_null()) {
        let ty = tc.get("type").and_then(Value::as_str);
        req.tool_choice = Some(match ty {
            Some("auto") => IrToolChoice::Auto,
            Some("any") => IrToolChoice::Required,
            Some("none") => IrToolChoice::None,
            Some("tool") => match tc.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => IrToolChoice::Tool(n.to_string()),
                _ => return Err(bad("tool_choice.name: Field required", "tool_choice.name")),
            },
            _ => return Err(bad("tool_choice.type: expected auto, any, tool or none.", "tool_choice.type")),
        });
        if tc.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            req.parallel_tool_calls = Some(false);
        }
    }

    req.temperature = opt_f64(body, "temperature")?;
    req.top_p = opt_f64(body, "top_p")?;
    req.top_k = opt_u64(body, "top_k")?;
    match body.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for s in a {
                let s = s.as_str().ok_or_else(|| bad("stop_sequences: must be strings.", "stop_sequences"))?;
                req.stop.push(s.to_string());
            }
        }
        Some(_) => return Err(bad("stop_sequences: must be an array of strings.", "stop_sequences")),
    }
    req.stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("stream: must be a boolean.", "stream")),
    };
    req.user = body.get("metadata").and_then(|m| m.get("user_id")).and_then(Value::as_str).map(str::to_string);

    let output_config = body.get("output_config");
    let effort = output_config.and_then(|o| o.get("effort")).and_then(Value::as_str);
    if let Some(th) = body.get("thinking").filter(|t| !t.is_null()) {
        req.reasoning = Some(match th.get("type").and_then(Value::as_str) {
            Some("enabled") => match th.get("budget_tokens").and_then(Value::as_u64) {
                Some(b) => IrReasoning { budget_tokens: Some(b), ..Default::default() },
                None => return Err(bad("thinking.budget_tokens: Field required", "thinking.budget_tokens")),
            },
            Some("adaptive") => {
                IrReasoning { effort: Some(effort.unwrap_or("medium").to_string()), ..Default::default() }
            }
            Some("disabled") => IrReasoning { disabled: true, ..Default::default() },
            _ => return Err(bad("thinking.type: expected enabled, adaptive or disabled.", "thinking.type")),
        });
    }
    if let Some(format) = output_config.and_then(|o| o.get("format")).filter(|f| !f.is_null()) {
        match (format.get("type").and_then(Value::as_str), format.get("schema")) {
            (Some("json_schema"), Some(schema)) if schema.is_object() => {
                req.response_format = Some(IrResponseFormat::JsonSchema {
                    name: "response".into(),
                    schema: schema.clone(),
                    strict: None,
                });
            }
            _ => {
                return Err(bad(
                    "output_config.format: expected {\"type\":\"json_schema\",\"schema\":{…}}.",
                    "output_config.format",
                ))
            }
        }
    }
    Ok(req)
}

/// `system` (or a system message's content): a string or an array of text blocks.
fn system_texts(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) if s.is_empty() => Some(vec![]),
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => b.get("text").and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn content_parts(content: &Value, at: &str, names: &mut Vec<(String, String)>) -> Result<Vec<IrPart>> {
    let blocks = match content {
        Value::String(s) => return Ok(vec![IrPart::Text(s.clone())]),
        Value::Array(b) => b,
        _ => return Err(bad(format!("{at}.content: expected a string or blocks."), &format!("{at}.content"))),
    };
    let mut parts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        if let Some(p) = block_to_ir(b, &at, names)? {
            parts.push(p);
        }
    }
    Ok(parts)
}

fn str_field<'a>(b: &'a Value, key: &str, at: &str) -> Result<&'a str> {
    b.get(key).and_then(Value::as_str).ok_or_else(|| bad(format!("{at}.{key}: Field required"), &format!("{at}.{key}")))
}

/// One request content block; `None` for block types the IR does not carry (server tools…).
fn block_to_ir(b: &Value, at: &str, names: &mut Vec<(String, String)>) -> Result<Option<IrPart>> {
    let ty = b
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.type: Field required"), &format!("{at}.type")))?;
    Ok(Some(match ty {
        "text" => IrPart::Text(str_field(b, "text", at)?.to_string()),
        "image" => IrPart::Image(media(b, at)?),
        "document" => {
            let src =
                b.get("source").ok_or_else(|| bad(format!("{at}.source: Field required"), &format!("{at}.source")))?;
            match src.get("type").and_then(Value::as_str) {
                // Plain-text and inline-content documents are just text to the model.
                Some("text") => IrPart::Text(str_field(src, "data", &format!("{at}.source"))?.to_string()),
                Some("content") => {
                    let texts = match src.get("content") {
                        Some(c) => system_texts(c),
                        None => None,
                    };
                    let texts = texts.ok_or_else(|| {
                        bad(format!("{at}.source.content: expected text."), &format!("{at}.source.content"))
                    })?;
                    IrPart::Text(texts.join("\n"))
                }
                _ => IrPart::File {
                    media: media(b, at)?,
                    filename: b.get("title").and_then(Value::as_str).map(str::to_string),
                },
            }
        }
        "tool_use" => {
            let id = str_field(b, "id", at)?.to_string();
            let name = str_field(b, "name", at)?.to_string();
            let arguments = match b.get("input") {
                None | Some(Value::Null) => "{}".to_string(),
                Some(v) => v.to_string(),
            };
            names.push((id.clone(), name.clone()));
            IrPart::ToolCall { id, name, arguments }
        }
        "tool_result" => {
            let call_id = str_field(b, "tool_use_id", at)?.to_string();
            let name = names.iter().rev().find(|(id, _)| *id == call_id).map(|(_, n)| n.clone());
            let content = match b.get("content") {
                None | Some(Value::Null) => vec![],
                Some(Value::String(s)) => vec![IrPart::Text(s.clone())],
                Some(Value::Array(items)) => {
                    let mut out = Vec::new();
                    for (k, item) in items.iter().enumerate() {
                        let at = format!("{at}.content.{k}");
                        match item.get("type").and_then(Value::as_str) {
                            Some("text") => out.push(IrPart::Text(str_field(item, "text", &at)?.to_string())),
                            Some("image") => out.push(IrPart::Image(media(item, &at)?)),
                            // search_result, document, tool_reference: not representable in a result.
                            _ => {}
                        }
                    }
                    out
                }
                Some(_) => {
                    return Err(bad(format!("{at}.content: expected a string or blocks."), &format!("{at}.content")))
                }
            };
            let is_error = b.get("is_error").and_then(Value::as_bool).unwrap_or(false);
            IrPart::ToolResult { call_id, name, content, is_error }
        }
        "thinking" => IrPart::Thinking {
            text: b.get("thinking").and_then(Value::as_str).unwrap_or_default().to_string(),
            signature: b.get("signature").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
        },
        "redacted_thinking" => IrPart::RedactedThinking(str_field(b, "data", at)?.to_string()),
        _ => return Ok(None),
    }))
}

/// An image or document `source`: base64 or url (Files-API ids have no IR form).
fn media(b: &Value, at: &str) -> Result<IrMedia> {
    let at = format!("{at}.source");
    let src = b.get("source").ok_or_else(|| bad(format!("{at}: Field required"), &at))?;
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(IrMedia::Base64 {
            mime: str_field(src, "media_type", &at)?.to_string(),
            data: str_field(src, "data", &at)?.to_string(),
        }),
        Some("url") => Ok(IrMedia::Url(str_field(src, "url", &at)?.to_string())),
        _ => Err(bad(format!("{at}.type: only base64 and url sources are supported."), &format!("{at}.type"))),
    }
}

fn tool_to_ir(t: &Value, i: usize) -> Result<Option<IrTool>> {
    let at = format!("tools.{i}");
    // Server tools (web_search_20250305, bash_…) run at Anthropic; no other upstream has them.
    if let Some(ty) = t.get("type").and_then(Value::as_str) {
        if ty != "custom" {
            return Ok(None);
        }
    }
    let name = match t.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => return Err(bad(format!("{at}.name: Field required"), &format!("{at}.name"))),
    };
    let parameters = match t.get("input_schema") {
        Some(s @ Value::Object(_)) => s.clone(),
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(_) => return Err(bad(format!("{at}.input_schema: must be an object."), &format!("{at}.input_schema"))),
    };
    Ok(Some(IrTool {
        name,
        description: t.get("description").and_then(Value::as_str).map(str::to_string),
        parameters,
        strict: t.get("strict").and_then(Value::as_bool),
    }))
}

// ---------------------------------------------------------------------------------------------
// IR → upstream body

/// One outgoing turn; tool results are kept apart so they can lead the user turn.
struct Turn {
    role: IrRole,
    results: Vec<Value>,
    blocks: Vec<Value>,
}

pub fn from_ir(req: &IrRequest, model: &str) -> Result<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));

    let system: Vec<&str> = req.system.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }

    let mut turns: Vec<Turn> = Vec::new();
    for m in &req.messages {
        for p in &m.parts {
            // A tool result always belongs to a user turn, whatever message it came in.
            let role = if matches!(p, IrPart::ToolResult { .. }) { IrRole::User } else { m.role };
            let Some(block) = part_to_block(p)? else { continue };
            if turns.last().map(|t| t.role) != Some(role) {
                turns.push(Turn { role, results: vec![], blocks: vec![] });
            }
            if let Some(t) = turns.last_mut() {
                if matches!(p, IrPart::ToolResult { .. }) {
                    t.results.push(block);
                } else {
                    t.blocks.push(block);
                }
            }
        }
    }
    if turns.is_empty() {
        return Err(bad("messages: at least one message with content is required.", "messages"));
    }
    repair_tool_pairs(&mut turns);
    let tool_names = tool_use_names(&turns);
    // Thinking needs the last assistant tool turn to start with its (signed) thinking block, which
    // a history from another format lacks: the API would reject the request, so think no more.
    let unsigned_tool_turn = turns.iter().rev().find(|t| t.role == IrRole::Assistant).is_some_and(|t| {
        let has_tool = t.blocks.iter().any(|b| b["type"] == "tool_use");
        let first = t.blocks.first().and_then(|b| b["type"].as_str()).unwrap_or_default();
        has_tool && first != "thinking" && first != "redacted_thinking"
    });
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|t| {
            let role = if t.role == IrRole::User { "user" } else { "assistant" };
            let content: Vec<Value> = t.results.into_iter().chain(t.blocks).collect();
            json!({"role": role, "content": content})
        })
        .collect();
    body.insert("messages".into(), Value::Array(messages));

    if !req.tools.is_empty() {
        let tools: Vec<Value> = req.tools.iter().map(tool_from_ir).collect();
        body.insert("tools".into(), Value::Array(tools));
        let mut choice = match &req.tool_choice {
            None | Some(IrToolChoice::Auto) => json!({"type": "auto"}),
            Some(IrToolChoice::Required) => json!({"type": "any"}),
            Some(IrToolChoice::Tool(n)) => json!({"type": "tool", "name": n}),
            Some(IrToolChoice::None) => json!({"type": "none"}),
        };
        let disable = req.parallel_tool_calls == Some(false) && req.tool_choice != Some(IrToolChoice::None);
        if disable {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        if req.tool_choice.is_some() || disable {
            body.insert("tool_choice".into(), choice);
        }
    } else if !tool_names.is_empty() {
        // The API rejects tool_use/tool_result blocks when no tools are defined (clients drop
        // `tools` for a final summary turn): declare the used names, and forbid calling them.
        let tools: Vec<Value> = tool_names
            .iter()
            .map(|n| json!({"name": n, "input_schema": {"type": "object", "properties": {}}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), json!({"type": "none"}));
    }

    // Anthropic rejects thinking together with a forced tool choice; the forced tool wins.
    let forced = matches!(req.tool_choice, Some(IrToolChoice::Required | IrToolChoice::Tool(_)));
    let budget = if forced || unsigned_tool_turn { None } else { req.reasoning.as_ref().and_then(thinking_budget) };
    let mut max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS).max(1);
    if let Some(b) = budget {
        // budget_tokens must stay below max_tokens: keep the answer's own allowance on top.
        if max_tokens <= b {
            max_tokens += b;
        }
        body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": b}));
    }
    body.insert("max_tokens".into(), json!(max_tokens));

    // With thinking on, Anthropic rejects a non-default temperature or top_k, and top_p below 0.95.
    // Newer Claude models reject temperature and top_p together; temperature is the common knob.
    let temperature = req.temperature.filter(|_| budget.is_none()).map(|t| t.clamp(0.0, 1.0));
    if let Some(t) = temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(k) = req.top_k.filter(|_| budget.is_none()) {
        body.insert("top_k".into(), json!(k));
    }
    if let Some(p) = req.top_p.filter(|p| temperature.is_none() && (budget.is_none() || *p >= 0.95)) {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if let Some(u) = &req.user {
        body.insert("metadata".into(), json!({"user_id": u}));
    }
    match &req.response_format {
        Some(IrResponseFormat::JsonObject) => {
            body.insert(
                "output_config".into(),
                json!({"format": {"type": "json_schema", "schema": {"type": "object"}}}),
            );
        }
        Some(IrResponseFormat::JsonSchema { schema, .. }) => {
            body.insert("output_config".into(), json!({"format": {"type": "json_schema", "schema": schema}}));
        }
        Some(IrResponseFormat::Text) | None => {}
    }
    body.insert("stream".into(), json!(req.stream));
    Ok(Value::Object(body))
}

/// Makes every assistant `tool_use` answered by a `tool_result` in the next user turn, as the API
/// requires: results for calls that turn did not make become text, calls left unanswered get an
/// error result (the conversation went on without it).
/// (A final assistant turn ending in calls is a prefill and is left as sent.)
fn repair_tool_pairs(turns: &mut [Turn]) {
    for i in 0..turns.len() {
        if turns[i].role == IrRole::User {
            let asked = match i.checked_sub(1) {
                Some(p) => tool_use_ids(&turns[p]),
                None => vec![],
            };
            let turn = &mut turns[i];
            let (kept, orphans): (Vec<Value>, Vec<Value>) = std::mem::take(&mut turn.results)
                .into_iter()
                .partition(|r| r["tool_use_id"].as_str().is_some_and(|id| asked.iter().any(|a| a == id)));
            let orphan_texts = orphans.iter().map(|r| json!({"type": "text", "text": orphan_text(r)}));
            turn.blocks.splice(0..0, orphan_texts);
            turn.results = kept;
            for id in asked {
                if !turn.results.iter().any(|r| r["tool_use_id"] == id.as_str()) {
                    turn.results.push(missing_result(&id));
                }
            }
        }
    }
}

fn tool_use_ids(t: &Turn) -> Vec<String> {
    if t.role != IrRole::Assistant {
        return vec![];
    }
    t.blocks.iter().filter(|b| b["type"] == "tool_use").filter_map(|b| b["id"].as_str().map(str::to_string)).collect()
}

fn tool_use_names(turns: &[Turn]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for b in turns.iter().flat_map(|t| &t.blocks) {
        if let (Some("tool_use"), Some(n)) = (b["type"].as_str(), b["name"].as_str()) {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
    }
    names
}

fn missing_result(id: &str) -> Value {
    json!({"type": "tool_result", "tool_use_id": id, "content": "No result was provided for this tool call.", "is_error": true})
}

fn orphan_text(r: &Value) -> String {
    let id = r["tool_use_id"].as_str().unwrap_or_default();
    let content = match &r["content"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().filter_map(|i| i["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    };
    format!("[Result of tool call {id}]\n{content}")
}

/// The thinking budget to request, if thinking is on (at least Anthropic's minimum).
fn thinking_budget(r: &IrReasoning) -> Option<u64> {
    if r.disabled {
        return None;
    }
    let b = match r.budget_tokens {
        Some(0) => return None,
        Some(b) => b,
        None => reasoning::budget_for_effort(r.effort.as_deref()?)?,
    };
    Some(b.max(MIN_BUDGET))
}

fn tool_from_ir(t: &IrTool) -> Value {
    let schema = match &t.parameters {
        Value::Object(o) if !o.is_empty() => {
            let mut o = o.clone();
            o.entry("type").or_insert_with(|| json!("object"));
            Value::Object(o)
        }
        _ => json!({"type": "object", "properties": {}}),
    };
    let mut tool = json!({"name": t.name, "input_schema": schema});
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        tool["description"] = json!(d);
    }
    if let Some(s) = t.strict {
        tool["strict"] = json!(s);
    }
    tool
}

/// One request block for a part; `None` when Anthropic would reject it (empty text, unsigned thinking).
fn part_to_block(p: &IrPart) -> Result<Option<Value>> {
    Ok(Some(match p {
        IrPart::Text(t) if t.is_empty() => return Ok(None),
        IrPart::Text(t) => json!({"type": "text", "text": t}),
        IrPart::Image(m) => image_block(m)?,
        IrPart::File { media, filename } => {
            let mut doc = document_block(media)?;
            if let Some(f) = filename {
                doc["title"] = json!(f);
            }
            doc
        }
        IrPart::ToolCall { id, name, arguments } => {
            // Arguments that are not a JSON object cannot be an `input`; an empty object is the
            // least wrong stand-in (the call and its result still pair up).
            let input = super::response::input_object(arguments);
            json!({"type": "tool_use", "id": ids::sanitize(id), "name": name, "input": input})
        }
        IrPart::ToolResult { call_id, content, is_error, .. } => {
            let mut block = json!({"type": "tool_result", "tool_use_id": ids::sanitize(call_id)});
            match content.as_slice() {
                [] => {}
                [IrPart::Text(t)] => block["content"] = json!(t),
                parts => {
                    let mut items = Vec::new();
                    for p in parts {
                        match p {
                            IrPart::Text(t) if !t.is_empty() => items.push(json!({"type": "text", "text": t})),
                            IrPart::Image(m) => items.push(image_block(m)?),
                            _ => {}
                        }
                    }
                    block["content"] = Value::Array(items);
                }
            }
            if *is_error {
                block["is_error"] = json!(true);
            }
            block
        }
        IrPart::Thinking { text, signature: Some(sig) } if !sig.is_empty() => {
            json!({"type": "thinking", "thinking": text, "signature": sig})
        }
        IrPart::Thinking { .. } => return Ok(None),
        IrPart::RedactedThinking(data) => json!({"type": "redacted_thinking", "data": data}),
    }))
}

/// `data:<mime>;base64,<data>` → (mime, data).
fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime.to_string(), data.to_string()))
}

fn image_block(m: &IrMedia) -> Result<Value> {
    let (mime, data) = match m {
        IrMedia::Url(u) => match parse_data_url(u) {
            Some(md) => md,
            None => return Ok(json!({"type": "image", "source": {"type": "url", "url": u}})),
        },
        IrMedia::Base64 { mime, data } => (mime.clone(), data.clone()),
    };
    if !IMAGE_TYPES.contains(&mime.as_str()) {
        return Err(bad(
            format!(
                "Image type {mime} is not supported by this model; use image/jpeg, image/png, image/gif or image/webp."
            ),
            "messages",
        ));
    }
    Ok(json!({"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}))
}

fn document_block(m: &IrMedia) -> Result<Value> {
    let (mime, data) = match m {
        IrMedia::Url(u) => match parse_data_url(u) {
            Some(md) => md,
            None => return Ok(json!({"type": "document", "source": {"type": "url", "url": u}})),
        },
        IrMedia::Base64 { mime, data } => (mime.clone(), data.clone()),
    };
    if IMAGE_TYPES.contains(&mime.as_str()) {
        return image_block(&IrMedia::Base64 { mime, data });
    }
    if mime.starts_with("text/") {
        // Anthropic takes plain text documents as text, not base64.
        let text = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad(format!("The {mime} file is not valid base64-encoded UTF-8."), "messages"))?;
        return Ok(json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}));
    }
    if mime != "application/pdf" {
        return Err(bad(
            format!("File type {mime} is not supported by this model; send a PDF or plain text."),
            "messages",
        ));
    }
    Ok(json!({"type": "document", "source": {"type": "base64", "media_type": mime, "data": data}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Claude Code–style request: cached system blocks, a mid-conversation system message, a
    /// tool round trip with signed thinking, an image, a PDF, server tools and beta fields.
    fn claude_code_request() -> Value {
        json!({
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 32000,
            "system": [
                {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be terse."}
            ],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is the weather in Paris?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "title": "report.pdf"},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}
                ]},
                {"role": "system", "content": "The user is in a hurry."},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Need the weather tool.", "signature": "EqQBCkYIBxgCKkA"},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "name": "get_weather", "input": {"location": "Paris"}},
                    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01NRLabsLyVHZPKxbKvkfSMn", "content": [{"type": "text", "text": "18C, sunny"}], "is_error": false},
                    {"type": "text", "text": "Thanks", "cache_control": {"type": "ephemeral"}}
                ]}
            ],
            "tools": [
                {"name": "get_weather", "description": "Weather by city", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
                {"type": "custom", "name": "noop", "input_schema": {"type": "object"}, "strict": true}
            ],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "temperature": 0.7, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["\n\nHuman:"],
            "stream": true,
            "metadata": {"user_id": "user_abc"},
            "thinking": {"type": "enabled", "budget_tokens": 10000},
            "context_management": {"edits": []}
        })
    }

    #[test]
    fn reads_a_full_claude_code_request() {
        let r = to_ir(&claude_code_request()).unwrap();
        assert_eq!(r.model, "claude-sonnet-4-5-20250929");
        assert_eq!(r.system, vec!["You are Claude Code.", "Be terse.", "The user is in a hurry."]);
        assert_eq!(r.max_tokens, Some(32000));
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.messages[0].role, IrRole::User);
        assert_eq!(
            r.messages[0].parts,
            vec![
                IrPart::Text("What is the weather in Paris?".into()),
                IrPart::Image(IrMedia::Base64 { mime: "image/png".into(), data: "iVBORw0KGgo=".into() }),
                IrPart::File {
                    media: IrMedia::Base64 { mime: "application/pdf".into(), data: "JVBERi0x".into() },
                    filename: Some("report.pdf".into())
                },
                IrPart::Image(IrMedia::Url("https://example.com/a.jpg".into())),
            ]
        );
        assert_eq!(
            r.messages[1].parts,
            vec![
                IrPart::Thinking { text: "Need the weather tool.".into(), signature: Some("EqQBCkYIBxgCKkA".into()) },
                IrPart::RedactedThinking("EmwKAhgBEgy3va3pzix".into()),
                IrPart::Text("Checking.".into()),
                IrPart::ToolCall {
                    id: "toolu_01NRLabsLyVHZPKxbKvkfSMn".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"location":"Paris"}"#.into()
                },
            ]
        );
        assert_eq!(
            r.messages[2].parts[0],
            IrPart::ToolResult {
                call_id: "toolu_01NRLabsLyVHZPKxbKvkfSMn".into(),
                name: Some("get_weather".into()),
                content: vec![IrPart::Text("18C, sunny".into())],
                is_error: false
            }
        );
        assert_eq!(r.tools.len(), 2, "the server tool is skipped");
        assert_eq!(r.tools[1].strict, Some(true));
        assert_eq!(r.tool_choice, Some(IrToolChoice::Auto));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!((r.temperature, r.top_p, r.top_k), (Some(0.7), Some(0.9), Some(40)));
        assert_eq!(r.stop, vec!["\n\nHuman:"]);
        assert!(r.stream);
        assert_eq!(r.user.as_deref(), Some("user_abc"));
        assert_eq!(r.reasoning, Some(IrReasoning { budget_tokens: Some(10000), ..Default::default() }));
    }

    #[test]
    fn reads_string_content_errors_tool_choices_thinking_modes_and_json_output() {
        let base = |extra: Value| {
            let mut b = json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            to_ir(&b).unwrap()
        };
        let r = base(json!({"system": "sys"}));
        assert_eq!(r.system, vec!["sys"]);
        assert_eq!(r.messages[0].parts, vec![IrPart::Text("hi".into())]);
        assert!(!r.stream);
        for (tc, want) in [
            (json!({"type": "any"}), IrToolChoice::Required),
            (json!({"type": "none"}), IrToolChoice::None),
            (json!({"type": "tool", "name": "f"}), IrToolChoice::Tool("f".into())),
        ] {
            assert_eq!(base(json!({"tool_choice": tc})).tool_choice, Some(want));
        }
        let adaptive = base(json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}));
        assert_eq!(adaptive.reasoning.unwrap().effort.as_deref(), Some("high"));
        let adaptive = base(json!({"thinking": {"type": "adaptive"}}));
        assert_eq!(adaptive.reasoning.unwrap().effort.as_deref(), Some("medium"));
        assert!(base(json!({"thinking": {"type": "disabled"}})).reasoning.unwrap().disabled);
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let r = base(json!({"output_config": {"format": {"type": "json_schema", "schema": schema}}}));
        assert!(matches!(r.response_format, Some(IrResponseFormat::JsonSchema { schema: s, .. }) if s == schema));

        let b = json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "run", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": true,
                "content": [{"type": "text", "text": "boom"}, {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]}
        ]});
        let r = to_ir(&b).unwrap();
        assert_eq!(
            r.messages[1].parts[0],
            IrPart::ToolResult {
                call_id: "toolu_1".into(),
                name: Some("run".into()),
                content: vec![IrPart::Text("boom".into()), IrPart::Image(IrMedia::Url("https://x/y.png".into()))],
                is_error: true
            }
        );
    }

    #[test]
    fn rejects_bad_requests_naming_the_field() {
        let msgs = json!([{"role": "user", "content": "hi"}]);
        let cases = [
            (json!([1]), None),
            (json!({"max_tokens": 1, "messages": msgs}), Some("model")),
            (json!({"model": "m", "messages": msgs}), Some("max_tokens")),
            (json!({"model": "m", "max_tokens": 0, "messages": msgs}), Some("max_tokens")),
            (json!({"model": "m", "max_tokens": "9", "messages": msgs}), Some("max_tokens")),
            (json!({"model": "m", "max_tokens": 9}), Some("messages")),
            (json!({"model": "m", "max_tokens": 9, "messages": []}), Some("messages")),
            (
                json!({"model": "m", "max_tokens": 9, "messages": [{"role": "bot", "content": "x"}]}),
                Some("messages.0.role"),
            ),
            (json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user"}]}), Some("messages.0.content")),
            (
                json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": 5}]}),
                Some("messages.0.content"),
            ),
            (
                json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}),
                Some("messages.0.content.0.source.type"),
            ),
            (json!({"model": "m", "max_tokens": 9, "messages": msgs, "system": 3}), Some("system")),
            (
                json!({"model": "m", "max_tokens": 9, "messages": msgs, "tools": [{"input_schema": {}}]}),
                Some("tools.0.name"),
            ),
            (
                json!({"model": "m", "max_tokens": 9, "messages": msgs, "tool_choice": {"type": "tool"}}),
                Some("tool_choice.name"),
            ),
            (json!({"model": "m", "max_tokens": 9, "messages": msgs, "temperature": "hot"}), Some("temperature")),
            (json!({"model": "m", "max_tokens": 9, "messages": msgs, "stream": "yes"}), Some("stream")),
            (
                json!({"model": "m", "max_tokens": 9, "messages": msgs, "thinking": {"type": "enabled"}}),
                Some("thinking.budget_tokens"),
            ),
        ];
        for (body, param) in cases {
            let e = to_ir(&body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
    }

    fn user(parts: Vec<IrPart>) -> IrMessage {
        IrMessage { role: IrRole::User, parts }
    }
    fn assistant(parts: Vec<IrPart>) -> IrMessage {
        IrMessage { role: IrRole::Assistant, parts }
    }

    #[test]
    fn writes_an_upstream_body_the_api_accepts() {
        let req = IrRequest {
            model: "client-name".into(),
            system: vec!["A".into(), "B".into()],
            messages: vec![
                user(vec![IrPart::Text("hi".into())]),
                user(vec![IrPart::Image(IrMedia::Url("data:image/jpeg;base64,/9j/".into()))]),
                assistant(vec![
                    IrPart::Thinking { text: "unsigned".into(), signature: None },
                    IrPart::Thinking { text: "signed".into(), signature: Some("sig".into()) },
                    IrPart::RedactedThinking("opaque".into()),
                    IrPart::ToolCall { id: "call.1:x".into(), name: "f".into(), arguments: r#"{"a":1}"#.into() },
                    IrPart::ToolCall { id: "call_2".into(), name: "g".into(), arguments: "".into() },
                ]),
                user(vec![IrPart::Text("also".into())]),
                user(vec![
                    IrPart::ToolResult {
                        call_id: "call.1:x".into(),
                        name: None,
                        content: vec![IrPart::Text("one".into())],
                        is_error: false,
                    },
                    IrPart::ToolResult { call_id: "call_2".into(), name: None, content: vec![], is_error: true },
                ]),
            ],
            tools: vec![IrTool { name: "f".into(), description: None, parameters: json!({}), strict: None }],
            tool_choice: Some(IrToolChoice::Required),
            parallel_tool_calls: Some(false),
            temperature: Some(1.7),
            stop: vec!["END".into()],
            stream: true,
            user: Some("u1".into()),
            response_format: Some(IrResponseFormat::JsonObject),
            ..Default::default()
        };
        let b = from_ir(&req, "claude-haiku-4-5").unwrap();
        assert_eq!(b["model"], "claude-haiku-4-5");
        assert_eq!(b["system"], "A\n\nB");
        assert_eq!(b["max_tokens"], 4096);
        assert_eq!(b["temperature"], 1.0);
        assert_eq!(b["stream"], true);
        assert_eq!(b["stop_sequences"], json!(["END"]));
        assert_eq!(b["metadata"], json!({"user_id": "u1"}));
        assert_eq!(b["tools"], json!([{"name": "f", "input_schema": {"type": "object", "properties": {}}}]));
        assert_eq!(b["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
        assert_eq!(b["output_config"], json!({"format": {"type": "json_schema", "schema": {"type": "object"}}}));
        let msgs = b["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3, "same-role turns are merged");
        assert_eq!(
            msgs[0]["content"],
            json!([{"type": "text", "text": "hi"}, {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}])
        );
        assert_eq!(
            msgs[1]["content"],
            json!([
                {"type": "thinking", "thinking": "signed", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "call_1_x", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "call_2", "name": "g", "input": {}}
            ])
        );
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(
            msgs[2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_1_x", "content": "one"},
                {"type": "tool_result", "tool_use_id": "call_2", "is_error": true},
                {"type": "text", "text": "also"}
            ]),
            "tool results lead the user turn"
        );
    }

    #[test]
    fn thinking_budget_max_tokens_and_media_rules() {
        let mut req = IrRequest {
            messages: vec![user(vec![IrPart::Text("x".into())])],
            max_tokens: Some(2000),
            temperature: Some(0.2),
            top_k: Some(5),
            reasoning: Some(IrReasoning { effort: Some("high".into()), ..Default::default() }),
            ..Default::default()
        };
        let b = from_ir(&req, "m").unwrap();
        assert_eq!(b["thinking"], json!({"type": "enabled", "budget_tokens": 24576}));
        assert!(b["max_tokens"].as_u64().unwrap() > 24576);
        assert!(b.get("temperature").is_none() && b.get("top_k").is_none(), "rejected with thinking on");
        req.top_p = Some(0.97);
        assert_eq!(from_ir(&req, "m").unwrap()["top_p"], 0.97);
        req.top_p = Some(0.5);
        assert!(from_ir(&req, "m").unwrap().get("top_p").is_none());
        req.top_p = None;
        req.reasoning = Some(IrReasoning { budget_tokens: Some(100), ..Default::default() });
        assert_eq!(from_ir(&req, "m").unwrap()["thinking"]["budget_tokens"], 1024);
        req.reasoning = Some(IrReasoning { effort: Some("none".into()), ..Default::default() });
        assert!(from_ir(&req, "m").unwrap().get("thinking").is_none());
        req.reasoning = Some(IrReasoning { disabled: true, budget_tokens: Some(5000), ..Default::default() });
        let b = from_ir(&req, "m").unwrap();
        assert!(b.get("thinking").is_none());
        assert_eq!((b["max_tokens"].as_u64(), b["temperature"].as_f64()), (Some(2000), Some(0.2)));

        req.reasoning = None;
        req.messages = vec![user(vec![IrPart::Text(String::new())])];
        assert_eq!(from_ir(&req, "m").unwrap_err().param.as_deref(), Some("messages"));
        req.messages =
            vec![user(vec![IrPart::Image(IrMedia::Base64 { mime: "image/bmp".into(), data: "Qk0=".into() })])];
        let e = from_ir(&req, "m").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("image/bmp"));
        req.messages = vec![user(vec![
            IrPart::File {
                media: IrMedia::Base64 { mime: "application/pdf".into(), data: "JVBE".into() },
                filename: Some("a.pdf".into()),
            },
            IrPart::File {
                media: IrMedia::Base64 { mime: "text/plain".into(), data: "aGVsbG8=".into() },
                filename: None,
            },
            IrPart::File { media: IrMedia::Url("https://x/doc.pdf".into()), filename: None },
        ])];
        let b = from_ir(&req, "m").unwrap();
        assert_eq!(
            b["messages"][0]["content"],
            json!([
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}, "title": "a.pdf"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}},
                {"type": "document", "source": {"type": "url", "url": "https://x/doc.pdf"}}
            ])
        );
    }

    #[test]
    fn repairs_tool_pairing_and_declares_tools_used_in_history() {
        let call = |id: &str| IrPart::ToolCall { id: id.into(), name: "lookup".into(), arguments: "{}".into() };
        let result = |id: &str| IrPart::ToolResult {
            call_id: id.into(),
            name: None,
            content: vec![IrPart::Text("ok".into())],
            is_error: false,
        };
        let req = IrRequest {
            messages: vec![
                user(vec![result("stale"), IrPart::Text("q".into())]),
                assistant(vec![call("a"), call("b")]),
                user(vec![result("a")]),
            ],
            ..Default::default()
        };
        let b = from_ir(&req, "m").unwrap();
        assert_eq!(
            b["messages"][0]["content"],
            json!([{"type": "text", "text": "[Result of tool call stale]\nok"}, {"type": "text", "text": "q"}]),
            "a result for no call becomes text"
        );
        assert_eq!(
            b["messages"][2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "a", "content": "ok"},
                {"type": "tool_result", "tool_use_id": "b", "content": "No result was provided for this tool call.", "is_error": true}
            ])
        );
        assert_eq!(b["tools"], json!([{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}]));
        assert_eq!(b["tool_choice"], json!({"type": "none"}));
    }

    #[test]
    fn thinking_is_dropped_when_the_last_tool_turn_has_no_signed_thinking() {
        let tool = IrTool { name: "f".into(), description: None, parameters: json!({"type": "object"}), strict: None };
        let call = IrPart::ToolCall { id: "t1".into(), name: "f".into(), arguments: "{}".into() };
        let result = IrPart::ToolResult { call_id: "t1".into(), name: None, content: vec![], is_error: false };
        let mut req = IrRequest {
            messages: vec![
                user(vec![IrPart::Text("go".into())]),
                assistant(vec![IrPart::Thinking { text: "plan".into(), signature: None }, call.clone()]),
                user(vec![result.clone()]),
            ],
            tools: vec![tool],
            reasoning: Some(IrReasoning { effort: Some("low".into()), ..Default::default() }),
            ..Default::default()
        };
        assert!(from_ir(&req, "m").unwrap().get("thinking").is_none());
        req.messages[1] = assistant(vec![IrPart::Thinking { text: "plan".into(), signature: Some("s".into()) }, call]);
        assert_eq!(from_ir(&req, "m").unwrap()["thinking"]["budget_tokens"], 1024);
        req.tool_choice = Some(IrToolChoice::Tool("f".into()));
        assert!(from_ir(&req, "m").unwrap().get("thinking").is_none(), "a forced tool wins over thinking");
    }

    #[test]
    fn round_trip_keeps_meaning() {
        let mut client = claude_code_request();
        // Sampling knobs are dropped with thinking on (API rule), so round-trip them without it.
        client.as_object_mut().unwrap().remove("thinking");
        let ir = to_ir(&client).unwrap();
        let body = from_ir(&ir, &ir.model).unwrap();
        let again = to_ir(&body).unwrap();
        assert_eq!(again.system, vec![ir.system.join("\n\n")]);
        assert_eq!(again.messages, ir.messages);
        assert_eq!(again.tools, ir.tools);
        assert_eq!(again.tool_choice, ir.tool_choice);
        assert_eq!(again.parallel_tool_calls, ir.parallel_tool_calls);
        assert_eq!((again.max_tokens, again.temperature, again.top_k), (ir.max_tokens, ir.temperature, ir.top_k));
        assert_eq!((ir.top_p, again.top_p), (Some(0.9), None), "top_p yields to temperature");
        assert_eq!((again.stop, again.stream, again.user), (ir.stop, ir.stream, ir.user));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            prop::sample::select(vec![
                "user",
                "assistant",
                "system",
                "text",
                "image",
                "document",
                "tool_use",
                "tool_result",
                "thinking",
                "redacted_thinking",
                "base64",
                "url",
                "text",
                "content",
                "enabled",
                "adaptive",
                "auto",
                "tool",
                "",
            ])
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "model",
                        "max_tokens",
                        "messages",
                        "role",
                        "content",
                        "type",
                        "text",
                        "source",
                        "data",
                        "media_type",
                        "url",
                        "id",
                        "name",
                        "input",
                        "tool_use_id",
                        "system",
                        "tools",
                        "tool_choice",
                        "thinking",
                        "budget_tokens",
                        "output_config",
                        "format",
                        "schema",
                        "input_schema",
                        "stream",
                    ])
                    .prop_map(str::to_string),
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn to_ir_never_panics_and_from_ir_of_its_result_neither(v in arb_json(), msgs in arb_json()) {
            let _ = to_ir(&v);
            let body = json!({"model": "m", "max_tokens": 5, "messages": msgs});
            if let Ok(ir) = to_ir(&body) {
                let _ = from_ir(&ir, "m");
            }
        }
    }
}
