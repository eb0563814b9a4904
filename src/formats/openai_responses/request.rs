//! Responses request bodies (`CreateResponse`, formats.md §3.1) to and from [`IrRequest`].
//!
//! Client side (`to_ir`): `instructions` and `system`/`developer` messages become IR system prompts;
//! `input` items become user/assistant messages, with consecutive assistant output (text, reasoning,
//! function calls) grouped into one assistant message and consecutive `function_call_output`s into
//! one user message of tool results. Built-in tools and their items are not translated (skipped);
//! `item_reference` is skipped. A `previous_response_id` is resolved into the input before
//! translation (`engine::stored`), so one still here (no store to resolve it) is rejected, as is
//! `conversation` (the Conversations API).
//!
//! Upstream side (`from_ir`): always `store: false`; thinking is replayed only when it carries an
//! encrypted signature (a `reasoning` item), since Responses cannot accept plain reasoning text.

use crate::error::{GatewayError, Result};
use crate::ir::{
    reasoning, IrMedia, IrMessage, IrPart, IrReasoning, IrRequest, IrResponseFormat, IrRole, IrTool, IrToolChoice,
};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

/// Parses a CLIENT `POST /v1/responses` body.
pub fn to_ir(body: &Value) -> Result<IrRequest> {
    let Value::Object(body) = body else {
        return Err(GatewayError::invalid_request("The request body must be a JSON object."));
    };
    for field in ["previous_response_id", "conversation"] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            return Err(bad(
                format!(
                    "`{field}` is not supported here. Send the full conversation in `input` (as with \
                     `store: false`)."
                ),
                field,
            ));
        }
    }
    let mut req = IrRequest {
        model: match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(bad("You must provide a model parameter.", "model"))
            }
            Some(_) => return Err(bad("`model` must be a string.", "model")),
        },
        ..IrRequest::default()
    };
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if !s.is_empty() {
                req.system.push(s.clone());
            }
        }
        Some(_) => return Err(bad("`instructions` must be a string.", "instructions")),
    }
    match body.get("input") {
        Some(Value::String(s)) => {
            req.messages.push(IrMessage { role: IrRole::User, parts: vec![IrPart::Text(s.clone())] })
        }
        Some(Value::Array(items)) if !items.is_empty() => parse_items(items, &mut req)?,
        Some(Value::Array(_)) => return Err(bad("`input` must contain at least one item.", "input")),
        None | Some(Value::Null) => return Err(bad("Missing required parameter: 'input'.", "input")),
        Some(_) => return Err(bad("`input` must be a string or an array of items.", "input")),
    }
    if let Some(tools) = non_null(body, "tools") {
        let Value::Array(tools) = tools else { return Err(bad("`tools` must be an array.", "tools")) };
        for (i, tool) in tools.iter().enumerate() {
            if let Some(t) = parse_tool(tool, i)? {
                req.tools.push(t);
            }
        }
    }
    req.tool_choice = match non_null(body, "tool_choice") {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => IrToolChoice::Auto,
            "none" => IrToolChoice::None,
            "required" => IrToolChoice::Required,
            _ => return Err(bad(format!("Invalid value for `tool_choice`: '{s}'."), "tool_choice")),
        }),
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("function") => match o.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => Some(IrToolChoice::Tool(name.to_string())),
                _ => return Err(bad("`tool_choice.name` is required for a function.", "tool_choice.name")),
            },
            // allowed_tools and built-in tool choices have no IR equivalent: leave the choice to the model.
            Some(_) => None,
            None => return Err(bad("`tool_choice.type` is required.", "tool_choice.type")),
        },
        Some(_) => return Err(bad("`tool_choice` must be a string or an object.", "tool_choice")),
    };
    req.parallel_tool_calls = opt(body, "parallel_tool_calls", Value::as_bool, "a boolean")?;
    req.max_tokens = opt(body, "max_output_tokens", Value::as_u64, "a non-negative integer")?;
    req.temperature = opt(body, "temperature", Value::as_f64, "a number")?;
    req.top_p = opt(body, "top_p", Value::as_f64, "a number")?;
    req.stream = opt(body, "stream", Value::as_bool, "a boolean")?.unwrap_or(false);
    // Responses streams always end with usage (in `response.completed`), so ask Chat upstreams for it.
    req.include_usage = req.stream;
    req.user = match opt(body, "safety_identifier", |v| v.as_str().map(str::to_string), "a string")? {
        Some(s) => Some(s),
        None => opt(body, "user", |v| v.as_str().map(str::to_string), "a string")?,
    };
    if let Some(text) = non_null(body, "text") {
        if let Some(format) = text.get("format").filter(|f| !f.is_null()) {
            req.response_format = Some(parse_text_format(format)?);
        }
    }
    if let Some(r) = non_null(body, "reasoning") {
        match r.get("effort") {
            None | Some(Value::Null) => {}
            Some(Value::String(e)) => {
                req.reasoning =
                    Some(IrReasoning { effort: Some(e.clone()), disabled: e == "none", budget_tokens: None })
            }
            Some(_) => return Err(bad("`reasoning.effort` must be a string.", "reasoning.effort")),
        }
    }
    Ok(req)
}

fn non_null<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

/// An optional typed field; a value of the wrong type is a 400 naming the field.
fn opt<T>(body: &Map<String, Value>, key: &str, get: impl Fn(&Value) -> Option<T>, what: &str) -> Result<Option<T>> {
    match non_null(body, key) {
        None => Ok(None),
        Some(v) => get(v).map(Some).ok_or_else(|| bad(format!("`{key}` must be {what}."), key)),
    }
}

fn parse_text_format(format: &Value) -> Result<IrResponseFormat> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(IrResponseFormat::Text),
        Some("json_object") => Ok(IrResponseFormat::JsonObject),
        Some("json_schema") => {
            let schema = match format.get("schema") {
                Some(s @ Value::Object(_)) => s.clone(),
                _ => return Err(bad("`text.format.schema` must be a JSON Schema object.", "text.format.schema")),
            };
            let name = format.get("name").and_then(Value::as_str).unwrap_or("response").to_string();
            Ok(IrResponseFormat::JsonSchema { name, schema, strict: format.get("strict").and_then(Value::as_bool) })
        }
        _ => Err(bad("`text.format.type` must be one of text, json_object, json_schema.", "text.format.type")),
    }
}

fn parse_tool(tool: &Value, i: usize) -> Result<Option<IrTool>> {
    let Some(kind) = tool.get("type").and_then(Value::as_str) else {
        return Err(bad("Each tool needs a `type`.", &format!("tools[{i}].type")));
    };
    if kind != "function" {
        return Ok(None); // built-in tools (web_search, namespace, custom, mcp, …) cannot be translated
    }
    // Some clients send Chat's nested shape by mistake; accept it.
    let f = tool.get("function").filter(|f| f.is_object()).unwrap_or(tool);
    let name = match f.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => return Err(bad("Each function tool needs a `name`.", &format!("tools[{i}].name"))),
    };
    let parameters = match f.get("parameters") {
        Some(p @ Value::Object(o)) if o.contains_key("type") => p.clone(),
        Some(Value::Object(o)) => {
            let mut o = o.clone();
            o.insert("type".into(), json!("object"));
            Value::Object(o)
        }
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(_) => return Err(bad("`parameters` must be a JSON Schema object.", &format!("tools[{i}].parameters"))),
    };
    Ok(Some(IrTool {
        name,
        description: f.get("description").and_then(Value::as_str).map(str::to_string),
        parameters,
        strict: f.get("strict").and_then(Value::as_bool),
    }))
}

/// Appends `part` to the last message when it has `role` (and `joinable` accepts it), else starts one.
fn push_part(req: &mut IrRequest, role: IrRole, part: IrPart, joinable: fn(&IrMessage) -> bool) {
    match req.messages.last_mut() {
        Some(m) if m.role == role && joinable(m) => m.parts.push(part),
        _ => req.messages.push(IrMessage { role, parts: vec![part] }),
    }
}

fn any_message(_: &IrMessage) -> bool {
    true
}

fn only_tool_results(m: &IrMessage) -> bool {
    m.parts.iter().all(|p| matches!(p, IrPart::ToolResult { .. }))
}

fn parse_items(items: &[Value], req: &mut IrRequest) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        let p = format!("input[{i}]");
        let Value::Object(o) = item else { return Err(bad("Each input item must be an object.", &p)) };
        let kind = match o.get("type").and_then(Value::as_str) {
            Some(t) => t,
            None if o.contains_key("role") => "message", // EasyInputMessage may omit `type`
            None => return Err(bad("Each input item needs a `type`.", &format!("{p}.type"))),
        };
        match kind {
            "message" => parse_message(o, &p, req)?,
            "function_call" => {
                let id = str_field(o, "call_id", &p)?;
                let name = str_field(o, "name", &p)?;
                let arguments = match o.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => "{}".to_string(),
                    Some(v) => v.to_string(),
                };
                push_part(req, IrRole::Assistant, IrPart::ToolCall { id, name, arguments }, any_message);
            }
            "function_call_output" => {
                let call_id = str_field(o, "call_id", &p)?;
                let content = match o.get("output") {
                    Some(Value::String(s)) => vec![IrPart::Text(s.clone())],
                    Some(Value::Array(parts)) => parse_output_parts(parts, &format!("{p}.output"))?,
                    None | Some(Value::Null) => vec![],
                    Some(_) => return Err(bad("`output` must be a string or an array.", &format!("{p}.output"))),
                };
                let name = find_call_name(req, &call_id);
                let part = IrPart::ToolResult { call_id, name, content, is_error: false };
                push_part(req, IrRole::User, part, only_tool_results);
            }
            "reasoning" => {
                let texts = |key: &str| -> Vec<String> {
                    o.get(key)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter().filter_map(|s| s.get("text").and_then(Value::as_str).map(str::to_string)).collect()
                        })
                        .unwrap_or_default()
                };
                let mut text = texts("summary");
                if text.is_empty() {
                    text = texts("content");
                }
                let signature = o.get("encrypted_content").and_then(Value::as_str).map(str::to_string);
                if !text.is_empty() || signature.is_some() {
                    let part = IrPart::Thinking { text: text.join("\n\n"), signature };
                    push_part(req, IrRole::Assistant, part, any_message);
                }
            }
            // References to stored items, and built-in tool calls/outputs (web_search_call, custom_tool_call,
            // local_shell_call, …): the gateway neither stores nor translates them.
            _ => {}
        }
    }
    if req.messages.is_empty() {
        return Err(bad("`input` contains no user or assistant message.", "input"));
    }
    Ok(())
}

fn str_field(o: &Map<String, Value>, key: &str, p: &str) -> Result<String> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(bad(format!("Missing required parameter: '{p}.{key}'."), &format!("{p}.{key}"))),
    }
}

/// The tool name of an earlier call, for formats (Gemini) that need it in the result.
fn find_call_name(req: &IrRequest, call_id: &str) -> Option<String> {
    req.messages.iter().rev().flat_map(|m| m.parts.iter()).find_map(|part| match part {
        IrPart::ToolCall { id, name, .. } if id == call_id => Some(name.clone()),
        _ => None,
    })
}

fn parse_message(o: &Map<String, Value>, p: &str, req: &mut IrRequest) -> Result<()> {
    let role = o.get("role").and_then(Value::as_str).unwrap_or("");
    let parts = match o.get("content") {
        Some(Value::String(s)) => vec![IrPart::Text(s.clone())],
        Some(Value::Array(parts)) => {
            let mut out = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                if let Some(part) = parse_content_part(part, &format!("{p}.content[{j}]"))? {
                    out.push(part);
                }
            }
            out
        }
        _ => return Err(bad("`content` must be a string or an array.", &format!("{p}.content"))),
    };
    match role {
        "system" | "developer" => {
            let text: Vec<&str> =
                parts.iter().filter_map(|x| if let IrPart::Text(t) = x { Some(t.as_str()) } else { None }).collect();
            let text = text.join("\n\n");
            if !text.is_empty() {
                req.system.push(text);
            }
        }
        "user" => req.messages.push(IrMessage { role: IrRole::User, parts }),
        "assistant" => {
            for part in parts {
                push_part(req, IrRole::Assistant, part, any_message);
            }
        }
        _ => return Err(bad("`role` must be one of user, assistant, system, developer.", &format!("{p}.role"))),
    }
    Ok(())
}

/// One content part of a message; `None` for parts that carry nothing to translate.
fn parse_content_part(part: &Value, p: &str) -> Result<Option<IrPart>> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
    let text = |key: &str| part.get(key).and_then(Value::as_str).map(|t| Some(IrPart::Text(t.to_string())));
    match kind {
        "input_text" | "output_text" | "text" => {
            text("text").ok_or_else(|| bad("`text` is required.", &format!("{p}.text")))
        }
        "refusal" => Ok(text("refusal").unwrap_or(None)),
        "input_image" => parse_image(part, p).map(Some),
        "input_file" => parse_file(part, p).map(Some),
        _ => Err(bad(format!("Unsupported content part type '{kind}'."), &format!("{p}.type"))),
    }
}

fn parse_output_parts(parts: &[Value], p: &str) -> Result<Vec<IrPart>> {
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let pj = format!("{p}[{j}]");
        match part.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text" | "text") => {
                out.push(IrPart::Text(part.get("text").and_then(Value::as_str).unwrap_or_default().to_string()))
            }
            Some("input_image") => out.push(parse_image(part, &pj)?),
            // IR tool results hold only text and images.
            _ => {
                return Err(bad(
                    "Tool outputs may contain only input_text and input_image parts.",
                    &format!("{pj}.type"),
                ))
            }
        }
    }
    Ok(out)
}

/// Splits `data:<mime>;base64,<data>`; `None` when it is not a base64 data URL.
pub(crate) fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    let mime = mime.split(';').next().unwrap_or_default();
    let mime = if mime.is_empty() { "application/octet-stream" } else { mime };
    Some((mime.to_string(), data.to_string()))
}

fn parse_url_media(url: &str, p: &str) -> Result<IrMedia> {
    if url.starts_with("data:") {
        let (mime, data) = parse_data_url(url).ok_or_else(|| bad("Expected a `data:<mime>;base64,<data>` URL.", p))?;
        return Ok(IrMedia::Base64 { mime, data });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(IrMedia::Url(url.to_string()));
    }
    Err(bad("Expected an http(s) URL or a base64 data URL.", p))
}

fn parse_image(part: &Value, p: &str) -> Result<IrPart> {
    // Chat's nested `{"url": …}` shape is a common client mistake; accept it too.
    let url = part.get("image_url").and_then(|u| u.as_str().or_else(|| u.get("url").and_then(Value::as_str)));
    match url {
        Some(url) => Ok(IrPart::Image(parse_url_media(url, &format!("{p}.image_url"))?)),
        None if part.get("file_id").is_some_and(|v| !v.is_null()) => {
            Err(bad("`file_id` is not supported by this gateway; send `image_url`.", &format!("{p}.file_id")))
        }
        None => Err(bad("`image_url` is required.", &format!("{p}.image_url"))),
    }
}

fn parse_file(part: &Value, p: &str) -> Result<IrPart> {
    let filename = part.get("filename").and_then(Value::as_str).map(str::to_string);
    if let Some(data) = part.get("file_data").and_then(Value::as_str) {
        let media = match parse_data_url(data) {
            Some((mime, data)) => IrMedia::Base64 { mime, data },
            // Bare base64 (no data: prefix): the type is only known from the file name.
            None if !data.starts_with("data:") => {
                let pdf = filename.as_deref().is_some_and(|f| f.to_ascii_lowercase().ends_with(".pdf"));
                let mime = if pdf { "application/pdf" } else { "application/octet-stream" };
                IrMedia::Base64 { mime: mime.to_string(), data: data.to_string() }
            }
            None => return Err(bad("Expected a `data:<mime>;base64,<data>` URL.", &format!("{p}.file_data"))),
        };
        return Ok(IrPart::File { media, filename });
    }
    if let Some(url) = part.get("file_url").and_then(Value::as_str) {
        return Ok(IrPart::File { media: parse_url_media(url, &format!("{p}.file_url"))?, filename });
    }
    if part.get("file_id").is_some_and(|v| !v.is_null()) {
        return Err(bad("`file_id` is not supported by this gateway; send `file_data`.", &format!("{p}.file_id")));
    }
    Err(bad("`file_data` or `file_url` is required.", &format!("{p}.file_data")))
}

// ---- IR → upstream Responses body ----

fn media_url(media: &IrMedia) -> String {
    match media {
        IrMedia::Base64 { mime, data } => format!("data:{mime};base64,{data}"),
        IrMedia::Url(u) => u.clone(),
    }
}

fn user_part(part: &IrPart) -> Option<Value> {
    match part {
        IrPart::Text(t) => Some(json!({"type": "input_text", "text": t})),
        IrPart::Image(m) => Some(json!({"type": "input_image", "image_url": media_url(m), "detail": "auto"})),
        IrPart::File { media: m @ IrMedia::Base64 { .. }, filename } => Some(json!({
            "type": "input_file",
            "file_data": media_url(m),
            "filename": filename.clone().unwrap_or_else(|| "file".to_string()),
        })),
        IrPart::File { media: IrMedia::Url(u), filename } => {
            let mut v = json!({"type": "input_file", "file_url": u});
            if let Some(f) = filename {
                v["filename"] = json!(f);
            }
            Some(v)
        }
        _ => None,
    }
}

/// Builds an UPSTREAM Responses body for `model`.
pub fn from_ir(req: &IrRequest, model: &str) -> Result<Value> {
    let mut input: Vec<Value> = Vec::new();
    for m in &req.messages {
        // Consecutive content parts share one message item; calls, results and reasoning are items of their own.
        let mut content: Vec<Value> = Vec::new();
        let role = match m.role {
            IrRole::User => "user",
            IrRole::Assistant => "assistant",
        };
        let flush = |content: &mut Vec<Value>, input: &mut Vec<Value>| {
            if !content.is_empty() {
                input.push(json!({"type": "message", "role": role, "content": std::mem::take(content)}));
            }
        };
        for part in &m.parts {
            match (m.role, part) {
                (IrRole::Assistant, IrPart::Text(t)) => {
                    content.push(json!({"type": "output_text", "text": t, "annotations": []}))
                }
                (IrRole::Assistant, IrPart::ToolCall { id, name, arguments }) => {
                    flush(&mut content, &mut input);
                    input.push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}));
                }
                (IrRole::Assistant, IrPart::Thinking { text, signature: Some(sig) }) => {
                    flush(&mut content, &mut input);
                    let summary: Vec<Value> =
                        if text.is_empty() { vec![] } else { vec![json!({"type": "summary_text", "text": text})] };
                    input.push(json!({"type": "reasoning", "summary": summary, "encrypted_content": sig}));
                }
                (IrRole::User, IrPart::ToolResult { call_id, content: parts, .. }) => {
                    flush(&mut content, &mut input);
                    input.push(
                        json!({"type": "function_call_output", "call_id": call_id, "output": tool_output(parts)}),
                    );
                }
                (IrRole::User, p) => content.extend(user_part(p)),
                // Unsigned thinking and redacted thinking cannot be replayed to a Responses upstream.
                _ => {}
            }
        }
        flush(&mut content, &mut input);
    }
    let mut body = json!({"model": model, "input": input, "store": false, "stream": req.stream});
    if !req.system.is_empty() {
        body["instructions"] = json!(req.system.join("\n\n"));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut v = json!({"type": "function", "name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                if let Some(s) = t.strict {
                    v["strict"] = json!(s);
                }
                v
            })
            .collect();
        body["tools"] = json!(tools);
    }
    if let Some(choice) = &req.tool_choice {
        body["tool_choice"] = match choice {
            IrToolChoice::Auto => json!("auto"),
            IrToolChoice::None => json!("none"),
            IrToolChoice::Required => json!("required"),
            IrToolChoice::Tool(name) => json!({"type": "function", "name": name}),
        };
    }
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            body[key] = v;
        }
    };
    set("parallel_tool_calls", req.parallel_tool_calls.map(Value::from));
    set("max_output_tokens", req.max_tokens.map(Value::from));
    set("temperature", req.temperature.map(Value::from));
    set("top_p", req.top_p.map(Value::from));
    set("user", req.user.clone().map(Value::from));
    if let Some(format) = &req.response_format {
        body["text"] = json!({"format": match format {
            IrResponseFormat::Text => json!({"type": "text"}),
            IrResponseFormat::JsonObject => json!({"type": "json_object"}),
            IrResponseFormat::JsonSchema { name, schema, strict } => {
                let mut f = json!({"type": "json_schema", "name": name, "schema": schema});
                if let Some(s) = strict {
                    f["strict"] = json!(s);
                }
                f
            }
        }});
    }
    if let Some(r) = &req.reasoning {
        // "Disabled" with no explicit effort is left to the model's default: `effort: "none"` is a 400
        // on models without reasoning and on older reasoning models.
        let effort = r.effort.clone().or_else(|| r.budget_tokens.map(|b| reasoning::effort_for_budget(b).to_string()));
        if let Some(effort) = effort {
            let on = effort != "none";
            // With store:false, reasoning can only be replayed next turn if it comes back encrypted.
            body["reasoning"] =
                if on { json!({"effort": effort, "summary": "auto"}) } else { json!({"effort": effort}) };
            if on {
                body["include"] = json!(["reasoning.encrypted_content"]);
            }
        }
    }
    Ok(body)
}

/// A tool result's `output`: a plain string when it is text only, else input parts.
fn tool_output(parts: &[IrPart]) -> Value {
    if parts.iter().all(|p| matches!(p, IrPart::Text(_))) {
        let text: String =
            parts.iter().filter_map(|p| if let IrPart::Text(t) = p { Some(t.as_str()) } else { None }).collect();
        return json!(text);
    }
    json!(parts.iter().filter_map(user_part).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Shaped like a Codex CLI request (clients.md): developer messages, no instructions, built-in tools.
    fn codex_like() -> Value {
        json!({
            "model": "gpt-5-codex",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only."}]},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "What is in this picture and file?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                    {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "high"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
                    {"type": "input_file", "file_url": "https://example.com/b.pdf"}
                ]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look at it."}], "encrypted_content": "gAAAAB"},
                {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
                 "content": [{"type": "output_text", "text": "Let me run ls.", "annotations": []}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_A", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call", "id": "fc_2", "call_id": "call_B", "name": "read", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_A", "output": "a.txt"},
                {"type": "function_call_output", "call_id": "call_B", "output": [{"type": "input_text", "text": "hi"}]},
                {"type": "item_reference", "id": "msg_0"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [
                {"type": "function", "name": "shell", "description": "Run", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}, "strict": false},
                {"type": "function", "name": "read", "parameters": null, "strict": null},
                {"type": "namespace", "name": "mcp", "tools": []},
                {"type": "web_search"}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "reasoning": {"effort": "high", "summary": "auto"},
            "store": false,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "abc",
            "client_metadata": {"x": 1},
            "stream": true
        })
    }

    #[test]
    fn parses_a_codex_style_request() {
        let r = to_ir(&codex_like()).unwrap();
        assert_eq!(r.model, "gpt-5-codex");
        assert_eq!(r.system, vec!["You are Codex.", "Sandbox: read-only."]);
        assert!(r.stream && r.include_usage);
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.tool_choice, Some(IrToolChoice::Auto));
        assert_eq!(r.reasoning.as_ref().unwrap().effort.as_deref(), Some("high"));
        assert_eq!(r.tools.len(), 2, "built-in tools are skipped");
        assert_eq!(r.tools[1].parameters, json!({"type": "object", "properties": {}}));
        assert_eq!(r.messages.len(), 4);
        let user = &r.messages[0];
        assert_eq!(user.role, IrRole::User);
        assert_eq!(
            user.parts[1],
            IrPart::Image(IrMedia::Base64 { mime: "image/png".into(), data: "iVBORw0KGgo=".into() })
        );
        assert_eq!(user.parts[2], IrPart::Image(IrMedia::Url("https://example.com/cat.jpg".into())));
        assert_eq!(
            user.parts[3],
            IrPart::File {
                media: IrMedia::Base64 { mime: "application/pdf".into(), data: "JVBERi0=".into() },
                filename: Some("a.pdf".into())
            }
        );
        assert_eq!(
            user.parts[4],
            IrPart::File { media: IrMedia::Url("https://example.com/b.pdf".into()), filename: None }
        );
        let asst = &r.messages[1];
        assert_eq!(asst.role, IrRole::Assistant);
        assert_eq!(
            asst.parts,
            vec![
                IrPart::Thinking { text: "Look at it.".into(), signature: Some("gAAAAB".into()) },
                IrPart::Text("Let me run ls.".into()),
                IrPart::ToolCall { id: "call_A".into(), name: "shell".into(), arguments: "{\"cmd\":\"ls\"}".into() },
                IrPart::ToolCall { id: "call_B".into(), name: "read".into(), arguments: "{}".into() },
            ]
        );
        let results = &r.messages[2];
        assert_eq!(
            results.parts,
            vec![
                IrPart::ToolResult {
                    call_id: "call_A".into(),
                    name: Some("shell".into()),
                    content: vec![IrPart::Text("a.txt".into())],
                    is_error: false
                },
                IrPart::ToolResult {
                    call_id: "call_B".into(),
                    name: Some("read".into()),
                    content: vec![IrPart::Text("hi".into())],
                    is_error: false
                },
            ]
        );
        assert_eq!(r.messages[3].parts, vec![IrPart::Text("thanks".into())]);
    }

    #[test]
    fn parses_instructions_string_input_and_output_options() {
        let r = to_ir(&json!({
            "model": "m", "instructions": "Be brief.", "input": "hi", "max_output_tokens": 50, "temperature": 0.2,
            "top_p": 0.9, "safety_identifier": "u1", "user": "u0",
            "tool_choice": {"type": "function", "name": "get"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}}
        }))
        .unwrap();
        assert_eq!(r.system, vec!["Be brief."]);
        assert_eq!(r.messages, vec![IrMessage { role: IrRole::User, parts: vec![IrPart::Text("hi".into())] }]);
        assert_eq!((r.max_tokens, r.temperature, r.top_p), (Some(50), Some(0.2), Some(0.9)));
        assert_eq!(r.user.as_deref(), Some("u1"));
        assert_eq!(r.tool_choice, Some(IrToolChoice::Tool("get".into())));
        assert_eq!(
            r.response_format,
            Some(IrResponseFormat::JsonSchema {
                name: "out".into(),
                schema: json!({"type": "object"}),
                strict: Some(true)
            })
        );
        assert!(!r.stream);
        let r = to_ir(&json!({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}})).unwrap();
        assert_eq!(r.response_format, Some(IrResponseFormat::JsonObject));
    }

    #[test]
    fn rejects_bad_input_with_the_field_at_fault() {
        let cases = [
            (json!([1]), None),
            (json!({"input": "x"}), Some("model")),
            (json!({"model": "m"}), Some("input")),
            (json!({"model": "m", "input": []}), Some("input")),
            (json!({"model": "m", "input": 3}), Some("input")),
            (json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}), Some("previous_response_id")),
            (json!({"model": "m", "input": "x", "conversation": "conv_1"}), Some("conversation")),
            (json!({"model": "m", "input": [7]}), Some("input[0]")),
            (json!({"model": "m", "input": [{"role": "tool", "content": "x"}]}), Some("input[0].role")),
            (json!({"model": "m", "input": [{"role": "user", "content": 1}]}), Some("input[0].content")),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]}),
                Some("input[0].content[0].image_url"),
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png,xx"}]}]}),
                Some("input[0].content[0].image_url"),
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
                Some("input[0].content[0].type"),
            ),
            (json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}), Some("input[0].call_id")),
            (json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}), Some("input")),
            (json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}), Some("tools[0].name")),
            (json!({"model": "m", "input": "x", "tool_choice": "sometimes"}), Some("tool_choice")),
            (json!({"model": "m", "input": "x", "max_output_tokens": -1}), Some("max_output_tokens")),
            (json!({"model": "m", "input": "x", "stream": "yes"}), Some("stream")),
            (
                json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}),
                Some("text.format.schema"),
            ),
            (json!({"model": "m", "input": "x", "reasoning": {"effort": 3}}), Some("reasoning.effort")),
        ];
        for (body, param) in cases {
            let e = to_ir(&body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
    }

    #[test]
    fn from_ir_builds_a_stateless_upstream_body() {
        let ir = to_ir(&codex_like()).unwrap();
        let body = from_ir(&ir, "gpt-5").unwrap();
        assert_eq!(body["model"], "gpt-5");
        assert_eq!(body["store"], false);
        assert_eq!(body["stream"], true);
        assert_eq!(body["instructions"], "You are Codex.\n\nSandbox: read-only.");
        assert_eq!(body["reasoning"], json!({"effort": "high", "summary": "auto"}));
        assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
        assert_eq!(body["parallel_tool_calls"], false);
        assert_eq!(body["tools"].as_array().unwrap().len(), 2);
        assert_eq!(body["tools"][0]["name"], "shell");
        let input = body["input"].as_array().unwrap();
        let types: Vec<&str> = input.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message",
                "reasoning",
                "message",
                "function_call",
                "function_call",
                "function_call_output",
                "function_call_output",
                "message"
            ]
        );
        assert_eq!(input[0]["content"][1]["image_url"], "data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(input[0]["content"][3]["file_data"], "data:application/pdf;base64,JVBERi0=");
        assert_eq!(
            input[1],
            json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "Look at it."}], "encrypted_content": "gAAAAB"})
        );
        assert_eq!(input[2]["content"][0], json!({"type": "output_text", "text": "Let me run ls.", "annotations": []}));
        assert_eq!(
            input[3],
            json!({"type": "function_call", "call_id": "call_A", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"})
        );
        assert_eq!(input[5], json!({"type": "function_call_output", "call_id": "call_A", "output": "a.txt"}));
    }

    #[test]
    fn from_ir_maps_budgets_formats_and_drops_unsigned_thinking() {
        let ir = IrRequest {
            model: "x".into(),
            messages: vec![
                IrMessage { role: IrRole::User, parts: vec![IrPart::Text("q".into())] },
                IrMessage {
                    role: IrRole::Assistant,
                    parts: vec![IrPart::Thinking { text: "hmm".into(), signature: None }, IrPart::Text("a".into())],
                },
            ],
            reasoning: Some(IrReasoning { effort: None, budget_tokens: Some(2000), disabled: false }),
            response_format: Some(IrResponseFormat::JsonSchema {
                name: "o".into(),
                schema: json!({"type": "object"}),
                strict: None,
            }),
            tool_choice: Some(IrToolChoice::Tool("f".into())),
            max_tokens: Some(10),
            ..IrRequest::default()
        };
        let body = from_ir(&ir, "gpt-5").unwrap();
        assert_eq!(body["reasoning"]["effort"], "medium");
        assert_eq!(body["text"]["format"], json!({"type": "json_schema", "name": "o", "schema": {"type": "object"}}));
        assert_eq!(body["tool_choice"], json!({"type": "function", "name": "f"}));
        assert_eq!(body["max_output_tokens"], 10);
        assert_eq!(body["stream"], false);
        assert!(body.get("instructions").is_none());
        assert_eq!(body["input"].as_array().unwrap().len(), 2, "unsigned thinking is omitted");
    }

    #[test]
    fn from_ir_leaves_disabled_reasoning_to_the_model_default() {
        let mut ir = to_ir(&json!({"model": "m", "input": "x"})).unwrap();
        ir.reasoning = Some(IrReasoning { effort: None, budget_tokens: None, disabled: true });
        let body = from_ir(&ir, "gpt-4.1").unwrap();
        assert!(body.get("reasoning").is_none() && body.get("include").is_none());
        ir.reasoning = Some(IrReasoning { effort: Some("none".into()), budget_tokens: None, disabled: true });
        assert_eq!(from_ir(&ir, "gpt-5.1").unwrap()["reasoning"], json!({"effort": "none"}));
    }

    #[test]
    fn tool_results_with_images_and_lenient_image_urls() {
        let r = to_ir(&json!({"model": "m", "input": [
            {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": {"q": 1}},
            {"type": "function_call_output", "call_id": "c1", "output": [
                {"type": "input_text", "text": "here"},
                {"type": "input_image", "image_url": {"url": "https://x/y.png"}}
            ]}
        ]}))
        .unwrap();
        assert_eq!(
            r.messages[0].parts[0],
            IrPart::ToolCall { id: "c1".into(), name: "shot".into(), arguments: "{\"q\":1}".into() }
        );
        let body = from_ir(&r, "gpt-5").unwrap();
        assert_eq!(
            body["input"][1]["output"],
            json!([{"type": "input_text", "text": "here"}, {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}])
        );
        assert_eq!(to_ir(&body).unwrap().messages, r.messages);
    }

    #[test]
    fn round_trip_keeps_meaning() {
        let ir = to_ir(&codex_like()).unwrap();
        let again = to_ir(&from_ir(&ir, "gpt-5-codex").unwrap()).unwrap();
        assert_eq!(again.system, vec![ir.system.join("\n\n")]);
        assert_eq!(again.messages, ir.messages);
        assert_eq!(again.tools, ir.tools);
        assert_eq!((again.tool_choice, again.parallel_tool_calls), (ir.tool_choice, ir.parallel_tool_calls));
        assert_eq!(again.reasoning.unwrap().effort, ir.reasoning.unwrap().effort);
    }

    #[test]
    fn data_urls() {
        assert_eq!(parse_data_url("data:image/jpeg;base64,AAA"), Some(("image/jpeg".into(), "AAA".into())));
        assert_eq!(parse_data_url("data:;base64,AAA"), Some(("application/octet-stream".into(), "AAA".into())));
        assert_eq!(parse_data_url("data:text/plain,hello"), None);
        assert_eq!(parse_data_url("https://x"), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "(data:|https://|input_text|user|developer|assistant|message|function_call|reasoning)?[a-z_;,]{0,8}"
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("type".to_string()),
                        Just("role".to_string()),
                        Just("content".to_string()),
                        Just("text".to_string()),
                        Just("input".to_string()),
                        Just("call_id".to_string()),
                        Just("name".to_string()),
                        Just("output".to_string()),
                        Just("image_url".to_string()),
                        Just("file_data".to_string()),
                        Just("summary".to_string()),
                        "[a-z_]{1,6}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn to_ir_never_panics(input in arb_json(), tools in arb_json(), extra in arb_json()) {
            let body = json!({"model": "m", "input": input, "tools": tools, "text": extra.clone(), "reasoning": extra.clone(), "tool_choice": extra});
            if let Ok(ir) = to_ir(&body) {
                let _ = from_ir(&ir, "m");
            }
            let _ = to_ir(&input);
        }
    }
}
