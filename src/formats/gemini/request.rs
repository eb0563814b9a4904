//! `GenerateContentRequest` ↔ [`IrRequest`] (formats.md §5.1, §7.1–7.8).
//!
//! Input accepts camelCase and snake_case for every field and enum values in any case; output is
//! camelCase. The model and `stream` come from the URL, so `to_ir` leaves them empty/false and
//! `from_ir` writes neither. Gemini has no tool-call ids: `to_ir` synthesises them (seed
//! [`ID_SEED`], one counter per request) and pairs each `functionResponse` with the earliest
//! unanswered call of the same name; `from_ir` sends no ids and names every `functionResponse`.

use super::schema;
use super::wire::{self, enum_upper, field, str_field, SKIP_SIGNATURE};
use crate::error::{GatewayError, Result};
use crate::ir::{
    ids, reasoning, IrMedia, IrMessage, IrPart, IrReasoning, IrRequest, IrResponseFormat, IrRole, IrTool, IrToolChoice,
};
use serde_json::{json, Map, Value};

/// Seed for tool-call ids synthesised while reading a client request (stable across turns).
pub const ID_SEED: &str = "gemini";

fn bad(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

/// A calls ledger: which synthesised or given ids are still waiting for a `functionResponse`.
#[derive(Default)]
struct Calls {
    next: usize,
    open: Vec<(String, String, bool)>, // (id, name, answered)
}

impl Calls {
    fn synth(&mut self) -> String {
        let id = ids::tool_call_id(ID_SEED, self.next);
        self.next += 1;
        id
    }
    fn answer(&mut self, id: Option<&str>, name: &str) -> String {
        let found = match id {
            Some(id) => self.open.iter_mut().find(|c| c.0 == id),
            None => self.open.iter_mut().find(|c| !c.2 && c.1 == name),
        };
        match (found, id) {
            (Some(c), _) => {
                c.2 = true;
                c.0.clone()
            }
            (None, Some(id)) => id.to_string(),
            (None, None) => self.synth(),
        }
    }
}

pub fn to_ir(body: &Value) -> Result<IrRequest> {
    if !body.is_object() {
        return Err(GatewayError::invalid_request("The request body must be a JSON object."));
    }
    let mut req = IrRequest::default();

    if let Some(sys) = field(body, "systemInstruction") {
        match sys {
            Value::String(s) => req.system.push(s.clone()),
            _ => {
                let parts = field(sys, "parts")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("`systemInstruction` must be a Content with `parts`.", "systemInstruction"))?;
                let text: Vec<&str> = parts.iter().filter_map(|p| str_field(p, "text")).collect();
                let text = text.concat();
                if !text.is_empty() {
                    req.system.push(text);
                }
            }
        }
    }

    let contents = match field(body, "contents") {
        Some(Value::Array(c)) if !c.is_empty() => c,
        Some(Value::Array(_)) | None => return Err(bad("`contents` must contain at least one Content.", "contents")),
        Some(_) => return Err(bad("`contents` must be an array.", "contents")),
    };
    let mut calls = Calls::default();
    for (i, content) in contents.iter().enumerate() {
        if let Some(m) = content_to_ir(content, i, &mut calls)? {
            req.messages.push(m);
        }
    }

    if let Some(tools) = field(body, "tools") {
        let tools = tools.as_array().ok_or_else(|| bad("`tools` must be an array.", "tools"))?;
        for (i, tool) in tools.iter().enumerate() {
            let Some(decls) = field(tool, "functionDeclarations") else { continue };
            let decls = decls.as_array().ok_or_else(|| {
                bad("`functionDeclarations` must be an array.", &format!("tools[{i}].functionDeclarations"))
            })?;
            for (j, d) in decls.iter().enumerate() {
                req.tools.push(tool_to_ir(d, &format!("tools[{i}].functionDeclarations[{j}]"))?);
            }
        }
    }
    if let Some(cfg) = field(body, "toolConfig").and_then(|t| field(t, "functionCallingConfig")) {
        let allowed: Vec<&str> = field(cfg, "allowedFunctionNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        req.tool_choice = match enum_upper(field(cfg, "mode")).as_deref() {
            None | Some("MODE_UNSPECIFIED") => None,
            Some("AUTO") | Some("VALIDATED") => Some(IrToolChoice::Auto),
            Some("NONE") => Some(IrToolChoice::None),
            Some("ANY") => match allowed.as_slice() {
                [one] => Some(IrToolChoice::Tool(one.to_string())),
                _ => Some(IrToolChoice::Required),
            },
            Some(m) => {
                return Err(bad(
                    format!("Unknown function calling mode `{m}`."),
                    "toolConfig.functionCallingConfig.mode",
                ))
            }
        };
    }
    if let Some(gen) = field(body, "generationConfig") {
        generation_to_ir(gen, &mut req)?;
    }
    Ok(req)
}

fn content_to_ir(content: &Value, i: usize, calls: &mut Calls) -> Result<Option<IrMessage>> {
    let at = format!("contents[{i}]");
    if !content.is_object() {
        return Err(bad("Each content must be an object.", &at));
    }
    let role = match str_field(content, "role").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("user") | Some("function") | Some("tool") => IrRole::User,
        Some("model") | Some("assistant") => IrRole::Assistant,
        Some(r) => return Err(bad(format!("Unknown role `{r}`: use `user` or `model`."), &format!("{at}.role"))),
    };
    let parts = match field(content, "parts") {
        Some(Value::Array(p)) => p,
        _ => return Err(bad("Each content needs a `parts` array.", &format!("{at}.parts"))),
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        part_to_ir(part, role, &format!("{at}.parts[{j}]"), calls, &mut out)?;
    }
    Ok((!out.is_empty()).then_some(IrMessage { role, parts: out }))
}

fn part_to_ir(part: &Value, role: IrRole, at: &str, calls: &mut Calls, out: &mut Vec<IrPart>) -> Result<()> {
    if !part.is_object() {
        return Err(bad("Each part must be an object.", at));
    }
    let signature = str_field(part, "thoughtSignature").map(str::to_string);
    let thought = matches!(field(part, "thought"), Some(Value::Bool(true)));
    if let Some(text) = field(part, "text") {
        let text = text.as_str().ok_or_else(|| bad("`text` must be a string.", &format!("{at}.text")))?;
        if thought {
            out.push(IrPart::Thinking { text: text.to_string(), signature });
            return Ok(());
        }
        carry(signature, out);
        if !text.is_empty() {
            out.push(IrPart::Text(text.to_string()));
        }
        return Ok(());
    }
    if let Some(blob) = field(part, "inlineData") {
        let mime = str_field(blob, "mimeType").unwrap_or("application/octet-stream").to_string();
        let data = str_field(blob, "data")
            .ok_or_else(|| bad("`inlineData.data` must be a base64 string.", &format!("{at}.inlineData.data")))?
            .to_string();
        carry(signature, out);
        out.push(media_part(IrMedia::Base64 { mime: mime.clone(), data }, &mime));
        return Ok(());
    }
    if let Some(file) = field(part, "fileData") {
        let uri = str_field(file, "fileUri")
            .ok_or_else(|| bad("`fileData.fileUri` must be a string.", &format!("{at}.fileData.fileUri")))?;
        let mime = str_field(file, "mimeType").map(str::to_string).unwrap_or_else(|| guess_mime(uri).to_string());
        carry(signature, out);
        out.push(media_part(IrMedia::Url(uri.to_string()), &mime));
        return Ok(());
    }
    if let Some(call) = field(part, "functionCall") {
        let name = str_field(call, "name")
            .ok_or_else(|| bad("`functionCall.name` must be a string.", &format!("{at}.functionCall.name")))?;
        let id = match str_field(call, "id") {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => calls.synth(),
        };
        calls.open.push((id.clone(), name.to_string(), false));
        let arguments = match field(call, "args") {
            Some(a @ Value::Object(_)) => a.to_string(),
            None => "{}".to_string(),
            Some(_) => return Err(bad("`functionCall.args` must be an object.", &format!("{at}.functionCall.args"))),
        };
        carry(signature, out);
        out.push(IrPart::ToolCall { id, name: name.to_string(), arguments });
        return Ok(());
    }
    if let Some(resp) = field(part, "functionResponse") {
        if role == IrRole::Assistant {
            return Err(bad("`functionResponse` parts belong in a `user` content.", at));
        }
        let name = str_field(resp, "name")
            .ok_or_else(|| bad("`functionResponse.name` must be a string.", &format!("{at}.functionResponse.name")))?;
        let call_id = calls.answer(str_field(resp, "id").filter(|s| !s.is_empty()), name);
        let (text, is_error) = response_text(field(resp, "response"));
        let mut content = vec![IrPart::Text(text)];
        if let Some(Value::Array(extra)) = field(resp, "parts") {
            for p in extra {
                if let Some(blob) = field(p, "inlineData") {
                    if let Some(data) = str_field(blob, "data") {
                        let mime = str_field(blob, "mimeType").unwrap_or("image/png").to_string();
                        content.push(IrPart::Image(IrMedia::Base64 { mime, data: data.to_string() }));
                    }
                }
            }
        }
        out.push(IrPart::ToolResult { call_id, name: Some(name.to_string()), content, is_error });
        return Ok(());
    }
    // executableCode, codeExecutionResult, videoMetadata…: nothing other formats could express.
    Ok(())
}

/// A signature on a non-thought part travels as an empty Thinking placed just before the part.
fn carry(signature: Option<String>, out: &mut Vec<IrPart>) {
    if let Some(sig) = signature.filter(|s| !s.is_empty()) {
        out.push(IrPart::Thinking { text: String::new(), signature: Some(sig) });
    }
}

fn media_part(media: IrMedia, mime: &str) -> IrPart {
    if mime.starts_with("image/") {
        IrPart::Image(media)
    } else {
        IrPart::File { media, filename: None }
    }
}

/// The text of a `functionResponse.response`: our own `{"content": text}` / `{"error": …}` wrappers
/// are unwrapped (so a round trip keeps the text), anything else is sent on as JSON.
fn response_text(resp: Option<&Value>) -> (String, bool) {
    let Some(resp) = resp else { return (String::new(), false) };
    if let Some(obj) = resp.as_object() {
        if obj.len() == 1 {
            match (obj.get("content"), obj.get("error")) {
                (Some(Value::String(s)), _) => return (s.clone(), false),
                (_, Some(Value::String(s))) => return (s.clone(), true),
                (_, Some(e)) => return (e.to_string(), true),
                _ => {}
            }
        }
    }
    match resp {
        Value::String(s) => (s.clone(), false),
        other => (other.to_string(), false),
    }
}

fn tool_to_ir(d: &Value, at: &str) -> Result<IrTool> {
    let name = match str_field(d, "name") {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => return Err(bad("Each function declaration needs a `name`.", &format!("{at}.name"))),
    };
    let parameters = match (field(d, "parametersJsonSchema"), field(d, "parameters")) {
        (Some(p @ Value::Object(_)), _) => object_schema(p.clone()),
        (_, Some(p @ Value::Object(_))) => object_schema(schema::to_json_schema(p)),
        _ => json!({"type": "object", "properties": {}}),
    };
    Ok(IrTool { name, description: str_field(d, "description").map(str::to_string), parameters, strict: None })
}

fn object_schema(mut s: Value) -> Value {
    if let Some(obj) = s.as_object_mut() {
        obj.entry("type").or_insert_with(|| json!("object"));
        obj.entry("properties").or_insert_with(|| json!({}));
    }
    s
}

fn num_u64(v: Option<&Value>, param: &str) -> Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(Some(f as u64)),
            _ => Err(bad(format!("`{param}` must be a non-negative integer."), param)),
        },
        // Protobuf JSON also accepts integers as strings.
        Some(Value::String(s)) => {
            s.parse().map(Some).map_err(|_| bad(format!("`{param}` must be a non-negative integer."), param))
        }
        Some(_) => Err(bad(format!("`{param}` must be a non-negative integer."), param)),
    }
}

fn num_f64(v: Option<&Value>, param: &str) -> Result<Option<f64>> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(bad(format!("`{param}` must be a number."), param)),
    }
}

fn generation_to_ir(gen: &Value, req: &mut IrRequest) -> Result<()> {
    if !gen.is_object() {
        return Err(bad("`generationConfig` must be an object.", "generationConfig"));
    }
    req.max_tokens = num_u64(field(gen, "maxOutputTokens"), "generationConfig.maxOutputTokens")?;
    req.temperature = num_f64(field(gen, "temperature"), "generationConfig.temperature")?;
    req.top_p = num_f64(field(gen, "topP"), "generationConfig.topP")?;
    req.top_k = num_u64(field(gen, "topK"), "generationConfig.topK")?;
    match field(gen, "stopSequences") {
        None => {}
        Some(Value::Array(list)) => {
            for s in list {
                let s = s.as_str().ok_or_else(|| {
                    bad("`stopSequences` must be an array of strings.", "generationConfig.stopSequences")
                })?;
                req.stop.push(s.to_string());
            }
        }
        Some(Value::String(s)) => req.stop.push(s.clone()),
        Some(_) => return Err(bad("`stopSequences` must be an array of strings.", "generationConfig.stopSequences")),
    }
    let mime = str_field(gen, "responseMimeType").map(str::to_ascii_lowercase);
    req.response_format = match mime.as_deref() {
        Some("application/json") => {
            let schema = match (field(gen, "responseJsonSchema"), field(gen, "responseSchema")) {
                (Some(s @ Value::Object(_)), _) => Some(s.clone()),
                (_, Some(s @ Value::Object(_))) => Some(schema::to_json_schema(s)),
                _ => None,
            };
            Some(match schema {
                Some(schema) => IrResponseFormat::JsonSchema { name: "response".into(), schema, strict: None },
                None => IrResponseFormat::JsonObject,
            })
        }
        Some("text/plain") => Some(IrResponseFormat::Text),
        _ => None,
    };
    if let Some(tc) = field(gen, "thinkingConfig") {
        let mut r = IrReasoning::default();
        let budget = match field(tc, "thinkingBudget") {
            None => None,
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            Some(_) => None,
        };
        match budget {
            Some(0) => r.disabled = true,
            Some(b) if b < 0 => r.effort = Some("medium".into()),
            Some(b) => r.budget_tokens = u64::try_from(b).ok(),
            None => {}
        }
        if let Some(level) = str_field(tc, "thinkingLevel") {
            let level = level.to_ascii_lowercase();
            if level != "thinking_level_unspecified" {
                r.effort = Some(level);
            }
        }
        if r != IrReasoning::default() {
            req.reasoning = Some(r);
        }
    }
    Ok(())
}

/// The MIME type Gemini needs for a URL it fetches itself (it has no sniffing).
fn guess_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    match path.rsplit('.').next().unwrap_or_default() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => "image/jpeg",
    }
}

// ---------------------------------------------------------------------------------------------
// IR → upstream body

pub fn from_ir(req: &IrRequest, model: &str) -> Result<Value> {
    let mut body = Map::new();
    let system: Vec<&str> = req.system.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system.join("\n\n")}]}));
    }

    let mut names: Vec<(&str, &str)> = Vec::new(); // call id → tool name, for functionResponse.name
    let mut contents: Vec<Value> = Vec::new();
    for m in &req.messages {
        let parts = match m.role {
            IrRole::User => user_parts(&m.parts, &names),
            IrRole::Assistant => {
                for p in &m.parts {
                    if let IrPart::ToolCall { id, name, .. } = p {
                        names.push((id, name));
                    }
                }
                model_parts(&m.parts)
            }
        };
        if parts.is_empty() {
            continue;
        }
        let role = if m.role == IrRole::User { "user" } else { "model" };
        // Consecutive turns of one role become one Content (keeps functionResponses together).
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(list) = last["parts"].as_array_mut() {
                    list.extend(parts);
                }
            }
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    if contents.is_empty() {
        return Err(bad("The request has no message content to send.", "messages"));
    }
    body.insert("contents".into(), Value::Array(contents));

    let decls: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut d = json!({"name": t.name});
            if let Some(desc) = &t.description {
                d["description"] = json!(desc);
            }
            if let Some(p) = schema::clean_parameters(&t.parameters) {
                d["parameters"] = p;
            }
            d
        })
        .collect();
    if !decls.is_empty() {
        body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
        if let Some(choice) = &req.tool_choice {
            let cfg = match choice {
                IrToolChoice::Auto => json!({"mode": "AUTO"}),
                IrToolChoice::Required => json!({"mode": "ANY"}),
                IrToolChoice::None => json!({"mode": "NONE"}),
                IrToolChoice::Tool(n) => json!({"mode": "ANY", "allowedFunctionNames": [n]}),
            };
            body.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
        }
    }

    let gen = generation_from_ir(req, model);
    if !gen.is_empty() {
        body.insert("generationConfig".into(), Value::Object(gen));
    }
    Ok(Value::Object(body))
}

fn generation_from_ir(req: &IrRequest, model: &str) -> Map<String, Value> {
    let mut gen = Map::new();
    if let Some(n) = req.max_tokens {
        gen.insert("maxOutputTokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        gen.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        gen.insert("topP".into(), json!(p));
    }
    if let Some(k) = req.top_k {
        gen.insert("topK".into(), json!(k));
    }
    if !req.stop.is_empty() {
        gen.insert("stopSequences".into(), json!(req.stop.iter().take(5).collect::<Vec<_>>()));
    }
    match &req.response_format {
        Some(IrResponseFormat::JsonObject) => {
            gen.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(IrResponseFormat::JsonSchema { schema: s, .. }) => {
            gen.insert("responseMimeType".into(), json!("application/json"));
            gen.insert("responseSchema".into(), schema::clean(s));
        }
        Some(IrResponseFormat::Text) | None => {}
    }
    if let Some(r) = &req.reasoning {
        let effort = r.effort.as_deref();
        let budget: i64 = if r.disabled || effort == Some("none") {
            0
        } else if let Some(b) = r.budget_tokens {
            i64::try_from(b).unwrap_or(i64::MAX)
        } else if let Some(b) = effort.and_then(reasoning::budget_for_effort) {
            i64::try_from(b).unwrap_or(i64::MAX)
        } else {
            -1 // thinking asked for without a size: let Gemini decide
        };
        // 2.5 Pro cannot switch thinking off: the clamp gives it the minimum, shown to no one.
        let mut tc = json!({"thinkingBudget": clamp_budget(budget, model)});
        if budget != 0 {
            tc["includeThoughts"] = json!(true);
        }
        gen.insert("thinkingConfig".into(), tc);
    }
    gen
}

/// Gemini's published thinking-budget ranges: 2.5 Pro thinks always (128–32768); Flash and Flash-Lite
/// go up to 24576 (Flash-Lite from 512 when on). Out-of-range budgets are rejected, so clamp.
fn clamp_budget(budget: i64, model: &str) -> i64 {
    let model = model.to_ascii_lowercase();
    if budget < 0 {
        return -1;
    }
    if model.contains("pro") {
        budget.clamp(128, 32768)
    } else if model.contains("flash-lite") && budget > 0 {
        budget.clamp(512, 24576)
    } else {
        budget.min(24576)
    }
}

fn media_json(media: &IrMedia, default_mime: &str) -> Value {
    match media {
        IrMedia::Base64 { mime, data } => json!({"inlineData": {"mimeType": mime, "data": data}}),
        IrMedia::Url(url) => match parse_data_url(url) {
            Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
            None => {
                let mime = if default_mime == "image" { guess_mime(url) } else { guess_file_mime(url) };
                json!({"fileData": {"mimeType": mime, "fileUri": url}})
            }
        },
    }
}

fn guess_file_mime(url: &str) -> &'static str {
    match guess_mime(url) {
        "image/jpeg" => "application/pdf",
        other => other,
    }
}

/// `data:<mime>;base64,<data>` → (mime, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((if mime.is_empty() { "application/octet-stream" } else { mime }, data))
}

fn user_parts(parts: &[IrPart], names: &[(&str, &str)]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut trailing_media = Vec::new();
    for p in parts {
        match p {
            IrPart::Text(t) if !t.is_empty() => out.push(json!({"text": t})),
            IrPart::Image(m) => out.push(media_json(m, "image")),
            IrPart::File { media, .. } => out.push(media_json(media, "file")),
            IrPart::ToolResult { call_id, name, content, is_error } => {
                let name = name
                    .as_deref()
                    .or_else(|| names.iter().rev().find(|(id, _)| id == call_id).map(|(_, n)| *n))
                    .unwrap_or("tool");
                let text: String = content
                    .iter()
                    .filter_map(|c| if let IrPart::Text(t) = c { Some(t.as_str()) } else { None })
                    .collect();
                let value = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) if !is_error => v,
                    Ok(v @ Value::Object(_)) => json!({"error": v}),
                    _ if *is_error => json!({"error": text}),
                    _ => json!({"content": text}),
                };
                out.push(json!({"functionResponse": {"name": name, "response": value}}));
                // Images returned by a tool go right after the responses, as ordinary parts
                // (`functionResponse.parts` is Gemini 3 only).
                trailing_media.extend(content.iter().filter_map(|c| match c {
                    IrPart::Image(m) => Some(media_json(m, "image")),
                    _ => None,
                }));
            }
            _ => {}
        }
    }
    out.extend(trailing_media);
    out
}

/// A model turn being replayed: thought text is not sent back; a signature carrier attaches to the
/// part it precedes; every `functionCall` carries some signature (Gemini 3 rejects one without).
fn model_parts(parts: &[IrPart]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut pending: Option<String> = None;
    for p in parts {
        match p {
            IrPart::Thinking { text, signature: Some(sig) } if text.is_empty() && wire::is_base64(sig) => {
                pending = Some(sig.clone());
            }
            IrPart::Text(t) if !t.is_empty() => {
                let mut part = json!({"text": t});
                wire::sign(&mut part, pending.take());
                out.push(part);
            }
            IrPart::ToolCall { name, arguments, .. } => {
                let args = match serde_json::from_str::<Value>(arguments) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({}),
                };
                let mut part = json!({"functionCall": {"name": name, "args": args}});
                wire::sign(&mut part, Some(pending.take().unwrap_or_else(|| SKIP_SIGNATURE.to_string())));
                out.push(part);
            }
            _ => {}
        }
    }
    // A signature that closed the turn (Gemini puts it on an empty final text part, which the API
    // would reject as empty text) goes on the last part instead.
    if let (Some(sig), Some(last)) = (pending, out.last_mut()) {
        if !wire::is_signed(last) {
            wire::sign(last, Some(sig));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the google-genai SDK sends: camelCase at the top, snake_case inside nested objects.
    fn sdk_request() -> Value {
        json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "What is in this picture, and the weather in Paris?"},
                    {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}}
                ]},
                {"role": "model", "parts": [
                    {"text": "Let me check.", "thought": true, "thoughtSignature": "VGhvdWdodA=="},
                    {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "RXFVQ0NxSUM="},
                    {"functionCall": {"name": "time", "args": {}}}
                ]},
                {"parts": [
                    {"functionResponse": {"name": "time", "response": {"content": "12:00"}}},
                    {"function_response": {"name": "weather", "response": {"temp": 21}}}
                ]}
            ],
            "tools": [{"function_declarations": [
                {"name": "weather", "description": "Weather", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING", "nullable": true}}, "required": ["city"]}},
                {"name": "time", "parametersJsonSchema": {"type": "object", "properties": {}}},
                {"name": "noargs"}
            ]}, {"googleSearch": {}}],
            "toolConfig": {"function_calling_config": {"mode": "any", "allowed_function_names": ["weather"]}},
            "generationConfig": {
                "maxOutputTokens": 256, "temperature": 0.2, "top_p": 0.9, "topK": 40, "stopSequences": ["END"],
                "responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}},
                "thinkingConfig": {"thinking_budget": 1024, "include_thoughts": true}
            }
        })
    }

    #[test]
    fn reads_a_full_sdk_request() {
        let r = to_ir(&sdk_request()).unwrap();
        assert_eq!(r.model, "");
        assert!(!r.stream);
        assert_eq!(r.system, vec!["Be brief."]);
        assert_eq!(r.messages.len(), 3);
        let u = &r.messages[0];
        assert_eq!(u.role, IrRole::User);
        assert_eq!(
            u.parts[1],
            IrPart::Image(IrMedia::Base64 { mime: "image/png".into(), data: "iVBORw0KGgo=".into() })
        );
        assert_eq!(
            u.parts[2],
            IrPart::File { media: IrMedia::Url("https://example.com/a.pdf".into()), filename: None }
        );
        let m = &r.messages[1];
        assert_eq!(m.role, IrRole::Assistant);
        assert_eq!(
            m.parts,
            vec![
                IrPart::Thinking { text: "Let me check.".into(), signature: Some("VGhvdWdodA==".into()) },
                IrPart::Thinking { text: String::new(), signature: Some("RXFVQ0NxSUM=".into()) },
                IrPart::ToolCall {
                    id: "call_gemini0".into(),
                    name: "weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into()
                },
                IrPart::ToolCall { id: "call_gemini1".into(), name: "time".into(), arguments: "{}".into() },
            ]
        );
        // Responses pair with the earliest unanswered call of the same name, whatever their order.
        assert_eq!(
            r.messages[2].parts,
            vec![
                IrPart::ToolResult {
                    call_id: "call_gemini1".into(),
                    name: Some("time".into()),
                    content: vec![IrPart::Text("12:00".into())],
                    is_error: false
                },
                IrPart::ToolResult {
                    call_id: "call_gemini0".into(),
                    name: Some("weather".into()),
                    content: vec![IrPart::Text(r#"{"temp":21}"#.into())],
                    is_error: false
                },
            ]
        );
        assert_eq!(r.tools.len(), 3);
        assert_eq!(r.tools[0].parameters["properties"]["city"]["type"], json!(["string", "null"]));
        assert_eq!(r.tools[0].parameters["type"], "object");
        assert_eq!(r.tools[2].parameters, json!({"type": "object", "properties": {}}));
        assert_eq!(r.tool_choice, Some(IrToolChoice::Tool("weather".into())));
        assert_eq!((r.max_tokens, r.temperature, r.top_p, r.top_k), (Some(256), Some(0.2), Some(0.9), Some(40)));
        assert_eq!(r.stop, vec!["END"]);
        match &r.response_format {
            Some(IrResponseFormat::JsonSchema { name, schema, .. }) => {
                assert_eq!(name, "response");
                assert_eq!(schema["properties"]["a"]["type"], "integer");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.reasoning, Some(IrReasoning { budget_tokens: Some(1024), ..Default::default() }));
    }

    #[test]
    fn pairs_results_by_id_or_synthesises_one() {
        let body = json!({"contents": [
            {"role": "model", "parts": [{"functionCall": {"id": "abc", "name": "f", "args": {"x": 1}}}]},
            {"role": "function", "parts": [
                {"functionResponse": {"id": "abc", "name": "f", "response": {"error": {"code": 1}}}},
                {"functionResponse": {"name": "orphan", "response": {"result": "ok"}}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                {"executableCode": {"code": "print(1)"}}
            ]}
        ]});
        let r = to_ir(&body).unwrap();
        assert_eq!(
            r.messages[0].parts[0],
            IrPart::ToolCall { id: "abc".into(), name: "f".into(), arguments: r#"{"x":1}"#.into() }
        );
        let u = &r.messages[1];
        assert_eq!(u.role, IrRole::User);
        assert_eq!(u.parts.len(), 3, "executableCode is dropped");
        assert!(matches!(&u.parts[0], IrPart::ToolResult { call_id, is_error: true, content, .. }
            if call_id == "abc" && content == &vec![IrPart::Text(r#"{"code":1}"#.into())]));
        assert!(
            matches!(&u.parts[1], IrPart::ToolResult { call_id, is_error: false, .. } if call_id == "call_gemini0")
        );
        assert!(
            matches!(&u.parts[2], IrPart::File { media: IrMedia::Base64 { mime, .. }, .. } if mime == "application/pdf")
        );
        let back = from_ir(&r, "m").unwrap();
        assert_eq!(
            back["contents"][1]["parts"][0]["functionResponse"],
            json!({"name": "f", "response": {"error": {"code": 1}}})
        );
        assert_eq!(back["contents"][1]["parts"][1]["functionResponse"]["response"], json!({"result": "ok"}));
        assert_eq!(
            back["contents"][1]["parts"][2],
            json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}})
        );
    }

    #[test]
    fn reads_thinking_and_tool_choice_variants() {
        let base = |gen: Value, tc: Value| json!({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": gen, "toolConfig": tc});
        let r = to_ir(&base(
            json!({"thinkingConfig": {"thinkingBudget": 0}}),
            json!({"functionCallingConfig": {"mode": "NONE"}}),
        ))
        .unwrap();
        assert!(r.reasoning.unwrap().disabled);
        assert_eq!(r.tool_choice, Some(IrToolChoice::None));
        let r = to_ir(&base(
            json!({"thinkingConfig": {"thinkingBudget": -1}}),
            json!({"functionCallingConfig": {"mode": "ANY"}}),
        ))
        .unwrap();
        assert_eq!(r.reasoning.unwrap().effort.as_deref(), Some("medium"));
        assert_eq!(r.tool_choice, Some(IrToolChoice::Required));
        let r = to_ir(&base(
            json!({"thinking_config": {"thinking_level": "HIGH"}, "response_mime_type": "application/json"}),
            json!({"functionCallingConfig": {"mode": "auto"}}),
        ))
        .unwrap();
        assert_eq!(r.reasoning.unwrap().effort.as_deref(), Some("high"));
        assert_eq!(r.response_format, Some(IrResponseFormat::JsonObject));
        assert_eq!(r.tool_choice, Some(IrToolChoice::Auto));
    }

    #[test]
    fn rejects_bad_input_with_the_field_at_fault() {
        let cases = [
            (json!([1]), None),
            (json!({}), Some("contents")),
            (json!({"contents": []}), Some("contents")),
            (json!({"contents": {}}), Some("contents")),
            (json!({"contents": [5]}), Some("contents[0]")),
            (json!({"contents": [{"role": "system", "parts": []}]}), Some("contents[0].role")),
            (json!({"contents": [{"role": "user"}]}), Some("contents[0].parts")),
            (json!({"contents": [{"parts": [{"text": 3}]}]}), Some("contents[0].parts[0].text")),
            (
                json!({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png"}}]}]}),
                Some("contents[0].parts[0].inlineData.data"),
            ),
            (
                json!({"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]}),
                Some("contents[0].parts[0].functionCall.name"),
            ),
            (
                json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": [1]}}]}]}),
                Some("contents[0].parts[0].functionCall.args"),
            ),
            (
                json!({"contents": [{"parts": [{"functionResponse": {"response": {}}}]}]}),
                Some("contents[0].parts[0].functionResponse.name"),
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"description": "d"}]}]}),
                Some("tools[0].functionDeclarations[0].name"),
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
                Some("toolConfig.functionCallingConfig.mode"),
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": -3}}),
                Some("generationConfig.maxOutputTokens"),
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}}),
                Some("generationConfig.temperature"),
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"stopSequences": [1]}}),
                Some("generationConfig.stopSequences"),
            ),
        ];
        for (body, param) in cases {
            let e = to_ir(&body).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
    }

    fn ir_conversation() -> IrRequest {
        IrRequest {
            model: "gemini-2.5-flash".into(),
            system: vec!["You are terse.".into(), "Answer in French.".into()],
            messages: vec![
                IrMessage {
                    role: IrRole::User,
                    parts: vec![
                        IrPart::Text("Weather?".into()),
                        IrPart::Image(IrMedia::Url("https://x.test/cat.PNG?size=2".into())),
                        IrPart::Image(IrMedia::Url("data:image/gif;base64,R0lGOD==".into())),
                        IrPart::Image(IrMedia::Url("https://x.test/dog".into())),
                    ],
                },
                IrMessage {
                    role: IrRole::Assistant,
                    parts: vec![
                        IrPart::Thinking { text: "The user wants weather.".into(), signature: Some("c2ln".into()) },
                        IrPart::Text("Checking.".into()),
                        IrPart::ToolCall {
                            id: "toolu_1".into(),
                            name: "weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into(),
                        },
                        IrPart::Thinking { text: String::new(), signature: Some("RXFVQ0NxSUM=".into()) },
                        IrPart::ToolCall { id: "toolu_2".into(), name: "time".into(), arguments: "not json".into() },
                    ],
                },
                IrMessage {
                    role: IrRole::User,
                    parts: vec![IrPart::ToolResult {
                        call_id: "toolu_1".into(),
                        name: None,
                        content: vec![IrPart::Text(r#"{"temp":21}"#.into())],
                        is_error: false,
                    }],
                },
                IrMessage {
                    role: IrRole::User,
                    parts: vec![IrPart::ToolResult {
                        call_id: "toolu_2".into(),
                        name: None,
                        content: vec![IrPart::Text("clock broken".into())],
                        is_error: true,
                    }],
                },
            ],
            tools: vec![
                IrTool {
                    name: "weather".into(),
                    description: Some("Get weather".into()),
                    parameters: json!({"type": "object", "additionalProperties": false, "properties": {"city": {"type": "string"}}, "required": ["city"]}),
                    strict: Some(true),
                },
                IrTool {
                    name: "time".into(),
                    description: None,
                    parameters: json!({"type": "object", "properties": {}}),
                    strict: None,
                },
            ],
            tool_choice: Some(IrToolChoice::Tool("weather".into())),
            max_tokens: Some(100),
            temperature: Some(0.5),
            top_p: Some(0.8),
            top_k: Some(20),
            stop: (0..7).map(|i| format!("s{i}")).collect(),
            stream: true,
            reasoning: Some(IrReasoning { effort: Some("high".into()), ..Default::default() }),
            response_format: Some(IrResponseFormat::JsonSchema {
                name: "out".into(),
                schema: json!({"type": "object", "$schema": "x", "properties": {"a": {"const": 1}}}),
                strict: Some(true),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn builds_an_upstream_body() {
        let b = from_ir(&ir_conversation(), "gemini-2.5-flash").unwrap();
        assert!(b.get("model").is_none() && b.get("stream").is_none());
        assert_eq!(b["systemInstruction"], json!({"parts": [{"text": "You are terse.\n\nAnswer in French."}]}));
        let c = b["contents"].as_array().unwrap();
        assert_eq!(c.len(), 3, "the two tool-result turns merge: {c:?}");
        assert_eq!(
            c[0]["parts"],
            json!([
                {"text": "Weather?"},
                {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/cat.PNG?size=2"}},
                {"inlineData": {"mimeType": "image/gif", "data": "R0lGOD=="}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/dog"}}
            ])
        );
        assert_eq!(c[1]["role"], "model");
        assert_eq!(
            c[1]["parts"],
            json!([
                {"text": "Checking."},
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": SKIP_SIGNATURE},
                {"functionCall": {"name": "time", "args": {}}, "thoughtSignature": "RXFVQ0NxSUM="}
            ])
        );
        assert_eq!(
            c[2],
            json!({"role": "user", "parts": [
                {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "time", "response": {"error": "clock broken"}}}
            ]})
        );
        assert_eq!(
            b["tools"],
            json!([{"functionDeclarations": [
                {"name": "weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                {"name": "time"}
            ]}])
        );
        assert_eq!(
            b["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}})
        );
        let g = &b["generationConfig"];
        assert_eq!(g["maxOutputTokens"], 100);
        assert_eq!(g["topK"], 20);
        assert_eq!(g["stopSequences"].as_array().unwrap().len(), 5);
        assert_eq!(g["responseMimeType"], "application/json");
        assert_eq!(
            g["responseSchema"],
            json!({"type": "object", "properties": {"a": {"type": "string", "enum": ["1"]}}})
        );
        assert_eq!(g["thinkingConfig"], json!({"thinkingBudget": 24576, "includeThoughts": true}));
    }

    #[test]
    fn reasoning_off_and_plain_text_results() {
        let mut r = ir_conversation();
        r.reasoning = Some(IrReasoning { disabled: true, ..Default::default() });
        r.response_format = Some(IrResponseFormat::JsonObject);
        r.messages[2].parts = vec![IrPart::ToolResult {
            call_id: "toolu_1".into(),
            name: Some("weather".into()),
            content: vec![IrPart::Text("sunny".into())],
            is_error: false,
        }];
        let b = from_ir(&r, "m").unwrap();
        assert_eq!(b["generationConfig"]["thinkingConfig"], json!({"thinkingBudget": 0}));
        assert!(b["generationConfig"].get("responseSchema").is_none());
        assert_eq!(b["contents"][2]["parts"][0]["functionResponse"]["response"], json!({"content": "sunny"}));
        assert!(from_ir(&IrRequest::default(), "m").is_err());
    }

    #[test]
    fn thinking_budgets_fit_the_model() {
        let with = |r: IrReasoning, model: &str| {
            let req = IrRequest { reasoning: Some(r), ..ir_conversation() };
            from_ir(&req, model).unwrap()["generationConfig"]["thinkingConfig"].clone()
        };
        let off = IrReasoning { disabled: true, ..Default::default() };
        assert_eq!(with(off.clone(), "gemini-2.5-flash"), json!({"thinkingBudget": 0}));
        assert_eq!(with(off, "gemini-2.5-pro"), json!({"thinkingBudget": 128}));
        let max = IrReasoning { effort: Some("max".into()), ..Default::default() };
        assert_eq!(with(max.clone(), "gemini-2.5-flash")["thinkingBudget"], 24576);
        assert_eq!(with(max, "gemini-2.5-pro")["thinkingBudget"], 32768);
        let auto = IrReasoning { effort: Some("auto".into()), ..Default::default() };
        assert_eq!(with(auto, "gemini-2.5-flash"), json!({"thinkingBudget": -1, "includeThoughts": true}));
        let low = IrReasoning { budget_tokens: Some(100), ..Default::default() };
        assert_eq!(with(low, "gemini-2.5-flash-lite")["thinkingBudget"], 512);
    }

    #[test]
    fn round_trip_keeps_meaning() {
        let first = to_ir(&sdk_request()).unwrap();
        let again = to_ir(&from_ir(&first, "m").unwrap()).unwrap();
        assert_eq!(again.system, first.system);
        assert_eq!(
            again.messages,
            first
                .messages
                .iter()
                .map(|m| IrMessage {
                    role: m.role,
                    // thought text is not replayed upstream; its signature carrier is
                    parts: m
                        .parts
                        .iter()
                        .filter(|p| !matches!(p, IrPart::Thinking { text, .. } if !text.is_empty()))
                        .cloned()
                        .collect(),
                })
                .map(|mut m| {
                    // the unsigned call gains the escape-hatch signature, carried the same way
                    if let Some(pos) =
                        m.parts.iter().position(|p| matches!(p, IrPart::ToolCall { name, .. } if name == "time"))
                    {
                        m.parts.insert(
                            pos,
                            IrPart::Thinking { text: String::new(), signature: Some(SKIP_SIGNATURE.into()) },
                        );
                    }
                    m
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(again.tools[0].name, "weather");
        assert_eq!(again.tools[0].parameters["properties"]["city"]["type"], json!(["string", "null"]));
        assert_eq!(again.tool_choice, first.tool_choice);
        assert_eq!(
            (again.max_tokens, again.top_k, again.stop.clone()),
            (first.max_tokens, first.top_k, first.stop.clone())
        );
        assert_eq!(again.reasoning, first.reasoning);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("contents".to_string()),
            Just("parts".to_string()),
            Just("role".to_string()),
            Just("text".to_string()),
            Just("functionCall".to_string()),
            Just("function_response".to_string()),
            Just("name".to_string()),
            Just("args".to_string()),
            Just("inlineData".to_string()),
            Just("data".to_string()),
            Just("tools".to_string()),
            Just("functionDeclarations".to_string()),
            Just("generationConfig".to_string()),
            Just("thinkingConfig".to_string()),
            Just("thinkingBudget".to_string()),
            Just("maxOutputTokens".to_string()),
            Just("toolConfig".to_string()),
            Just("functionCallingConfig".to_string()),
            Just("mode".to_string()),
            Just("systemInstruction".to_string()),
            Just("thought".to_string()),
            Just("thoughtSignature".to_string()),
            Just("response".to_string()),
            "[a-z]{1,5}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            prop_oneof![Just("model".to_string()), Just("user".to_string()), Just("ANY".to_string()), ".{0,8}"]
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 96, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn to_ir_never_panics(v in arb_json()) {
            if let Ok(r) = to_ir(&v) {
                let _ = from_ir(&r, "m");
            }
        }

        #[test]
        fn errors_are_always_400(v in arb_json()) {
            if let Err(e) = to_ir(&json!({"contents": [v]})) {
                prop_assert_eq!(e.status, 400);
            }
        }
    }
}
