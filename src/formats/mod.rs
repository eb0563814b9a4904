//! Wire formats, one folder each. A format folder knows its request shape (what the gateway must read
//! or change), its error envelope and, later, its translation to and from the shared representation.
//! When the client and the upstream speak the same format the body passes through with only `model`
//! rewritten.

pub mod openai_chat;

use crate::error::GatewayError;

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
