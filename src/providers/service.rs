//! What a model does ([`ModelKind`]) and where a provider serves the kinds besides chat
//! ([`Service`]): data, like the rest of the catalog. Chat goes through the provider's own wire
//! format (`ProviderSpec::format`); every other kind through a `Service` entry naming its wire, the
//! models known to be of that kind and, rarely, another base URL.

use serde::{Deserialize, Serialize};

/// What a model does, and so which client endpoint it serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Conversations: Chat Completions, Responses, Messages, generateContent.
    #[default]
    Chat,
    Embedding,
    /// Image generation.
    Image,
    /// Speech to text.
    Transcription,
    /// Text to speech.
    Speech,
    Rerank,
    Moderation,
}

impl ModelKind {
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Chat,
        ModelKind::Embedding,
        ModelKind::Image,
        ModelKind::Transcription,
        ModelKind::Speech,
        ModelKind::Rerank,
        ModelKind::Moderation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
            ModelKind::Image => "image",
            ModelKind::Transcription => "transcription",
            ModelKind::Speech => "speech",
            ModelKind::Rerank => "rerank",
            ModelKind::Moderation => "moderation",
        }
    }

    /// The client endpoint that takes models of this kind (chat: the OpenAI one of several).
    pub fn endpoint(self) -> &'static str {
        match self {
            ModelKind::Chat => "/v1/chat/completions",
            ModelKind::Embedding => "/v1/embeddings",
            ModelKind::Image => "/v1/images/generations",
            ModelKind::Transcription => "/v1/audio/transcriptions",
            ModelKind::Speech => "/v1/audio/speech",
            ModelKind::Rerank => "/v1/rerank",
            ModelKind::Moderation => "/v1/moderations",
        }
    }

    /// "a chat model", "an embedding model", … (for error messages).
    pub fn a_model(self) -> String {
        let article = if self == ModelKind::Embedding { "an" } else { "a" };
        format!("{article} {} model", self.as_str())
    }
}

/// The dialect an upstream speaks for one kind of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// OpenAI's own request, answer and path (`/embeddings`, `/images/generations`,
    /// `/audio/transcriptions`, `/audio/speech`, `/moderations`): what OpenAI-compatible APIs copy.
    OpenAi,
    /// Gemini's native API: `batchEmbedContents` for embeddings, Imagen's `predict` for images.
    Gemini,
    /// Cohere's rerank (`/rerank` with `query`, `documents`, `top_n` → `results`), which Jina,
    /// Together and SiliconFlow copy.
    Cohere,
    /// Voyage's: embeddings with `output_dimension`, rerank with `top_k` → `data`.
    Voyage,
}

/// A provider's API for models of one kind besides chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub kind: ModelKind,
    pub wire: Wire,
    /// Where the API lives when not below the provider's base URL (Cohere's rerank is part of its v2
    /// API, its chat of the compatibility API). A connection's own base URL overrides both.
    pub base_url: Option<&'static str>,
    /// Models known to be of this kind (other ids may still be sent).
    pub models: &'static [&'static str],
}

impl Service {
    pub const fn new(kind: ModelKind, wire: Wire, models: &'static [&'static str]) -> Service {
        Service { kind, wire, base_url: None, models }
    }

    /// An OpenAI-shaped API below the provider's base URL.
    pub const fn openai(kind: ModelKind, models: &'static [&'static str]) -> Service {
        Service::new(kind, Wire::OpenAi, models)
    }

    /// The same API at another base URL.
    pub const fn at(mut self, base_url: &'static str) -> Service {
        self.base_url = Some(base_url);
        self
    }
}

/// What an OpenAI-compatible provider node may serve besides chat: every OpenAI-shaped API (local
/// servers such as vLLM or Ollama have several of them), with no model known in advance.
pub const OPENAI_NODE: &[Service] = &[
    Service::openai(ModelKind::Embedding, &[]),
    Service::openai(ModelKind::Image, &[]),
    Service::openai(ModelKind::Transcription, &[]),
    Service::openai(ModelKind::Speech, &[]),
    Service::openai(ModelKind::Moderation, &[]),
    Service::new(ModelKind::Rerank, Wire::Cohere, &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for k in ModelKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert!(k.endpoint().starts_with("/v1/"));
        }
        assert_eq!(ModelKind::Embedding.a_model(), "an embedding model");
        assert_eq!(ModelKind::Speech.a_model(), "a speech model");
    }
}
