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

pub mod gemini;
pub mod openai_chat;

use crate::error::GatewayError;
use crate::ir::IrEvent;
use crate::sse::SseEvent;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`).
    OpenAiChat,
}

impl Format {
    /// The error body a client of this format expects (serialized JSON).
    pub fn render_error(self, err: &GatewayError) -> String {
        match self {
            Format::OpenAiChat => openai_chat::error::render(err),
        }
    }
}
