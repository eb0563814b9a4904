//! The hub of format translation: one internal representation that every wire format converts to
//! and from. A client format decodes its request into [`IrRequest`]; the upstream's format encodes it.
//! Answers come back the same way: [`IrResponse`] for whole bodies, [`IrEvent`]s for streams.
//!
//! Invariants every format relies on:
//! - Roles are only `User` and `Assistant`. System prompts live in [`IrRequest::system`]; tool results
//!   are [`IrPart::ToolResult`] parts of a `User` message, in the order the client sent them.
//! - Tool-call ids are never empty once a request is in IR form (formats without ids synthesise them,
//!   see [`ids`]); a `ToolResult` names the call it answers by `call_id`, and carries the tool `name`
//!   when it is known (Gemini needs it).
//! - Token counts use one meaning everywhere (see [`IrUsage`]); formats convert at their edge.

pub mod estimate;
pub mod ids;
pub mod media;
pub mod reasoning;
pub mod repair;
pub mod stream;
pub mod think_tags;

pub use stream::{IrEvent, StreamError};

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IrRequest {
    /// The model as the client named it (routing resolves it; formats write the upstream id).
    pub model: String,
    /// System/developer instructions, in order.
    pub system: Vec<String>,
    pub messages: Vec<IrMessage>,
    pub tools: Vec<IrTool>,
    pub tool_choice: Option<IrToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub stream: bool,
    /// Chat's `stream_options.include_usage`: whether a streamed answer ends with a usage chunk.
    pub include_usage: bool,
    pub reasoning: Option<IrReasoning>,
    pub response_format: Option<IrResponseFormat>,
    /// An end-user id for abuse tracking (`user`, `metadata.user_id`, `safety_identifier`).
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IrMessage {
    pub role: IrRole,
    pub parts: Vec<IrPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IrMedia {
    /// Inline bytes, base64-encoded (standard alphabet), with their MIME type.
    Base64 { mime: String, data: String },
    /// A URL the upstream fetches itself.
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum IrPart {
    Text(String),
    Image(IrMedia),
    /// A document (PDF or other file).
    File {
        media: IrMedia,
        filename: Option<String>,
    },
    /// A call the assistant made. `arguments` is a JSON object serialized as a string.
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// The answer to a tool call. `content` holds `Text` and `Image` parts only.
    ToolResult {
        call_id: String,
        name: Option<String>,
        content: Vec<IrPart>,
        is_error: bool,
    },
    /// Reasoning text. `signature` is the provider's opaque proof (Anthropic `signature`, Gemini
    /// `thoughtSignature`); it only means something to the provider that issued it.
    Thinking {
        text: String,
        signature: Option<String>,
    },
    /// Anthropic `redacted_thinking`: opaque data to pass back unchanged.
    RedactedThinking(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IrTool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments; always an object schema (`{"type":"object",...}`).
    pub parameters: Value,
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IrToolChoice {
    Auto,
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IrReasoning {
    /// `none|minimal|low|medium|high|xhigh|max` (OpenAI's scale).
    pub effort: Option<String>,
    /// An explicit thinking budget in tokens (Anthropic `budget_tokens`, Gemini `thinkingBudget`).
    pub budget_tokens: Option<u64>,
    /// Thinking explicitly switched off.
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IrResponseFormat {
    Text,
    JsonObject,
    JsonSchema { name: String, schema: Value, strict: Option<bool> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

/// Token counts with one meaning for every format:
/// `input_tokens` counts the whole prompt *including* cached and cache-written tokens;
/// `output_tokens` counts everything generated *including* reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IrUsage {
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct IrResponse {
    pub id: String,
    pub model: String,
    /// `Text`, `Thinking`, `RedactedThinking` and `ToolCall` parts, in the order produced.
    pub parts: Vec<IrPart>,
    pub finish: FinishReason,
    pub usage: Option<IrUsage>,
}

/// What an encoder needs besides the events: how to present the answer to this client.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeCtx {
    /// The model name to echo (what the client asked for).
    pub model: String,
    /// Random hex from the platform, used to synthesise ids (`chatcmpl-…`, `msg_…`, `resp_…`).
    pub id_seed: String,
    /// Unix seconds.
    pub created: i64,
    /// Chat only: end streams with a usage chunk.
    pub include_usage: bool,
}

impl IrResponse {
    /// Text parts joined (for formats with a single text field).
    pub fn text(&self) -> String {
        self.parts.iter().filter_map(|p| if let IrPart::Text(t) = p { Some(t.as_str()) } else { None }).collect()
    }
}
