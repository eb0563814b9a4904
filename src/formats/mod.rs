//! Wire formats — the spokes of translation. One folder per format, each with the same files:
//!
//! | file | provides |
//! |---|---|
//! | `request.rs`  | `to_ir(&Value) -> Result<IrRequest>` (a client's request) and `from_ir(&IrRequest, model) -> Result<Value>` (an upstream request body for `model`) |
//! | `response.rs` | `to_ir(&Value, id_seed) -> Result<IrResponse>` (an upstream's whole answer) and `from_ir(&IrResponse, &EncodeCtx) -> Value` (the client's whole answer) |
//! | `stream_in.rs`  | `Decoder::new(id_seed)`: upstream SSE events → [`IrEvent`]s ([`StreamDecoder`]) |
//! | `stream_out.rs` | `Encoder::new(&EncodeCtx)`: [`IrEvent`]s → client SSE frames ([`StreamEncoder`]) |
//! | `error.rs`    | `render(&GatewayError) -> String` (the error body) and `upstream_message(&[u8])` |
//!
//! `id_seed` is random hex from the platform, for ids a format must synthesise (`ir::ids`).
//!
//! When client and upstream speak the same format the request body passes through with only the
//! model rewritten, and the answer passes through untouched.

pub mod anthropic;
pub mod gemini;
pub mod json_out;
pub mod openai_chat;
pub mod openai_responses;

pub mod passthrough;
pub mod preview;

use crate::error::{GatewayError, Result};
use crate::ir::{EncodeCtx, IrEvent, IrRequest, IrResponse};
use crate::sse::SseEvent;
use serde_json::Value;

/// Upstream SSE → IR events. See `ir::stream` for the order decoders must produce.
pub trait StreamDecoder {
    fn feed(&mut self, event: &SseEvent) -> Vec<IrEvent>;
    /// The upstream stream ended; emits `Error` if it ended without a finish.
    fn finish(&mut self) -> Vec<IrEvent>;
}

/// IR events → client SSE frames (each a complete `event:`/`data:` frame ending in a blank line).
pub trait StreamEncoder {
    fn encode(&mut self, event: &IrEvent) -> Vec<String>;
    /// The stream ends: emits whatever closes it properly (`[DONE]`, `message_stop`, …).
    fn finish(&mut self) -> Vec<String>;
}

/// A wire format spoken by a client endpoint or by an upstream provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    #[default]
    OpenAiChat,
    /// OpenAI Responses (`POST /v1/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
    /// Google Gemini (`POST /v1beta/models/{model}:generateContent` / `:streamGenerateContent`).
    Gemini,
}

/// Runs `$body` with `$m` bound to the format's module: every format folder has the same files, so
/// each operation below is written once.
macro_rules! with_module {
    ($format:expr, $m:ident => $body:expr) => {
        match $format {
            Format::OpenAiChat => {
                use openai_chat as $m;
                $body
            }
            Format::OpenAiResponses => {
                use openai_responses as $m;
                $body
            }
            Format::Anthropic => {
                use anthropic as $m;
                $body
            }
            Format::Gemini => {
                use gemini as $m;
                $body
            }
        }
    };
}

impl Format {
    /// The error body a client of this format expects (serialized JSON).
    pub fn render_error(self, err: &GatewayError) -> String {
        with_module!(self, m => m::error::render(err))
    }

    /// The SSE frame that ends a stream of this format with an error (for streams relayed unchanged,
    /// whose upstream failed after the first byte).
    pub fn stream_error_frame(self, err: &GatewayError) -> String {
        match self {
            Format::OpenAiChat | Format::Gemini => crate::sse::frame(None, &self.render_error(err)),
            Format::Anthropic => crate::sse::frame(Some("error"), &self.render_error(err)),
            Format::OpenAiResponses => {
                let mut v: Value = serde_json::from_str(&self.render_error(err)).unwrap_or_default();
                v["type"] = Value::from("error");
                crate::sse::frame(Some("error"), &v.to_string())
            }
        }
    }

    /// The message inside an upstream error body of this format.
    pub fn upstream_message(self, body: &[u8]) -> Option<String> {
        with_module!(self, m => m::error::upstream_message(body))
    }

    pub fn request_to_ir(self, body: &Value) -> Result<IrRequest> {
        with_module!(self, m => m::request::to_ir(body))
    }

    pub fn request_from_ir(self, req: &IrRequest, model: &str) -> Result<Value> {
        with_module!(self, m => m::request::from_ir(req, model))
    }

    pub fn response_to_ir(self, body: &Value, id_seed: &str) -> Result<IrResponse> {
        with_module!(self, m => m::response::to_ir(body, id_seed))
    }

    pub fn response_from_ir(self, resp: &IrResponse, ctx: &EncodeCtx) -> Value {
        with_module!(self, m => m::response::from_ir(resp, ctx))
    }

    pub fn decoder(self, id_seed: &str) -> Box<dyn StreamDecoder> {
        with_module!(self, m => Box::new(m::stream_in::Decoder::new(id_seed)))
    }

    pub fn encoder(self, ctx: &EncodeCtx) -> Box<dyn StreamEncoder> {
        with_module!(self, m => Box::new(m::stream_out::Encoder::new(ctx)))
    }

    /// A retry hint carried in an error body rather than a header.
    pub fn retry_after_from_body(self, body: &[u8]) -> Option<u64> {
        match self {
            Format::Gemini => gemini::error::retry_delay_secs(body),
            Format::OpenAiChat | Format::OpenAiResponses | Format::Anthropic => None,
        }
    }

    /// The request path below a provider's base URL.
    pub fn upstream_path(self, model: &str, stream: bool) -> String {
        match self {
            Format::Gemini if stream => format!("/models/{model}:streamGenerateContent?alt=sse"),
            Format::Gemini => format!("/models/{model}:generateContent"),
            Format::OpenAiChat => "/chat/completions".into(),
            Format::OpenAiResponses => "/responses".into(),
            Format::Anthropic => "/messages".into(),
        }
    }

    /// Headers this format's upstreams require besides authentication.
    pub fn upstream_headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::Anthropic => &[("anthropic-version", "2023-06-01")],
            Format::OpenAiChat | Format::OpenAiResponses | Format::Gemini => &[],
        }
    }

    /// Client headers that must reach a same-format upstream along with the untouched body: Claude
    /// Code's body uses beta features (`context_management`, …) that Anthropic accepts only with
    /// their `anthropic-beta` flags.
    pub fn passthrough_client_headers(self) -> &'static [&'static str] {
        match self {
            Format::Anthropic => &["anthropic-beta"],
            Format::OpenAiChat | Format::OpenAiResponses | Format::Gemini => &[],
        }
    }

    /// The body field holding the conversation, which every request must have.
    pub fn conversation_field(self) -> &'static str {
        match self {
            Format::OpenAiChat | Format::Anthropic => "messages",
            Format::OpenAiResponses => "input",
            Format::Gemini => "contents",
        }
    }
}
