//! The endpoints besides chat — embeddings, images, transcription, speech, moderations, rerank —
//! in their clients' own shapes (OpenAI's; Cohere's for rerank), and the upstream wires that serve
//! them ([`Wire`], named per provider in the catalog). Pure: bytes in, bytes out.
//!
//! Every kind is one module with the same three functions, so the engine handles them all alike
//! (`engine::operation`):
//!
//! | function | does |
//! |---|---|
//! | `check(&Value) -> Result<u64>` | validates the client's request; the prompt tokens to count if the upstream reports none |
//! | `request(&ServiceRequest, Wire, model) -> Result<Outgoing>` | the upstream request for one wire |
//! | `answer(&ServiceRequest, Wire, &[u8], &EncodeCtx) -> Result<Answered>` | the upstream's whole answer as the client's, and its usage |
//!
//! A wire that speaks the client's shape gets the client's bytes with only `model` rewritten and
//! its answer goes back untouched; other wires are translated both ways. Transcription reads a
//! multipart form instead of JSON ([`multipart`]); speech answers are audio, streamed as they come.

pub mod embeddings;
pub mod images;
pub mod moderation;
pub mod multipart;
pub mod rerank;
pub mod speech;
pub mod transcription;

use crate::error::{GatewayError, Result};
use crate::formats::passthrough::{self, RawBody};
use crate::ir::{EncodeCtx, IrUsage};
use crate::providers::{ModelKind, Wire};
use serde_json::Value;

/// A client's request to a service endpoint, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest {
    pub kind: ModelKind,
    /// The model as the client named it.
    pub model: String,
    /// The request as JSON: the client's body, or a form's fields with each file as its size and
    /// digest. What validation reads and what the response cache fingerprints.
    pub body: Value,
    pub raw: Raw,
    /// Prompt tokens to count when the upstream reports none (text inputs; 0 for images and audio).
    pub input_estimate: u64,
}

/// The request as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// A JSON body and where its `model` values are (passed through with only the model rewritten).
    Json(RawBody),
    /// A multipart form.
    Form(multipart::Form),
}

/// An upstream request for one wire: the path below the base URL, the body and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub path: String,
    pub body: Vec<u8>,
    pub content_type: String,
    /// The answer must be translated back (the wire is not the client's shape).
    pub translated: bool,
}

/// An upstream's whole answer as the client gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub body: Vec<u8>,
    /// What the upstream reported it used, if it did.
    pub usage: Option<IrUsage>,
    /// It reads as an answer of its kind (an unreadable one is another attempt's turn).
    pub complete: bool,
}

impl Outgoing {
    /// A JSON request to `path`.
    pub fn json(path: impl Into<String>, body: Vec<u8>, translated: bool) -> Outgoing {
        Outgoing { path: path.into(), body, content_type: "application/json".into(), translated }
    }
}

impl ServiceRequest {
    /// Reads a request to the endpoint of `kind`. `content_type` is the request's header (a form
    /// needs its boundary).
    pub fn parse(kind: ModelKind, raw: Vec<u8>, content_type: Option<&str>) -> Result<ServiceRequest> {
        if kind == ModelKind::Transcription {
            return transcription::parse(raw, content_type);
        }
        let parsed = passthrough::parse(&raw)
            .map_err(|e| GatewayError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
        let body = parsed.body;
        if !body.is_object() {
            return Err(GatewayError::invalid_request("The request body must be a JSON object."));
        }
        let model = match body.get("model") {
            // Moderation's model is optional, as in OpenAI's API: its default is OpenAI's model.
            None | Some(Value::Null) if kind == ModelKind::Moderation => moderation::DEFAULT_MODEL.to_string(),
            other => model_of(other)?,
        };
        let input_estimate = match kind {
            ModelKind::Embedding => embeddings::check(&body)?,
            ModelKind::Image => images::check(&body)?,
            ModelKind::Speech => speech::check(&body)?,
            ModelKind::Moderation => moderation::check(&body)?,
            ModelKind::Rerank => rerank::check(&body)?,
            ModelKind::Chat | ModelKind::Transcription => {
                return Err(GatewayError::internal("not a JSON service endpoint"))
            }
        };
        let raw = Raw::Json(RawBody { bytes: raw, model_spans: parsed.model_spans });
        Ok(ServiceRequest { kind, model, body, raw, input_estimate })
    }

    /// The upstream request for `wire`, naming the upstream's `model`.
    pub fn request(&self, wire: Wire, model: &str) -> Result<Outgoing> {
        match self.kind {
            ModelKind::Embedding => embeddings::request(self, wire, model),
            ModelKind::Image => images::request(self, wire, model),
            ModelKind::Transcription => transcription::request(self, wire, model),
            ModelKind::Speech => speech::request(self, wire, model),
            ModelKind::Moderation => moderation::request(self, wire, model),
            ModelKind::Rerank => rerank::request(self, wire, model),
            ModelKind::Chat => Err(GatewayError::internal("chat is not a service")),
        }
    }

    /// The upstream's whole answer (of `wire`) as the client's.
    pub fn answer(&self, wire: Wire, body: &[u8], ctx: &EncodeCtx) -> Result<Answered> {
        match self.kind {
            ModelKind::Embedding => embeddings::answer(self, wire, body, ctx),
            ModelKind::Image => images::answer(self, wire, body, ctx),
            ModelKind::Transcription => transcription::answer(self, wire, body, ctx),
            ModelKind::Moderation => moderation::answer(self, wire, body, ctx),
            ModelKind::Rerank => rerank::answer(self, wire, body, ctx),
            // Audio is relayed as it streams, never read whole.
            ModelKind::Speech | ModelKind::Chat => Err(GatewayError::internal("not a whole-answer service")),
        }
    }

    /// Whether its answer is a stream of bytes relayed as they come (speech) rather than read whole.
    pub fn streams(&self) -> bool {
        self.kind == ModelKind::Speech
    }

    /// The client's JSON with `model` set to the upstream's: the client's own bytes when the model
    /// was found in them, else the body written again.
    pub fn passthrough(&self, model: &str) -> Result<Vec<u8>> {
        if let Raw::Json(raw) = &self.raw {
            if !raw.model_spans.is_empty() {
                return Ok(passthrough::with_model_bytes(raw, model));
            }
        }
        let mut body = self.body.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("model".into(), Value::String(model.to_string()));
        }
        to_vec(&body)
    }
}

/// The wires each kind can be served through (the catalog names only these; tested there).
pub fn supports(kind: ModelKind, wire: Wire) -> bool {
    match kind {
        ModelKind::Embedding => matches!(wire, Wire::OpenAi | Wire::Gemini | Wire::Voyage),
        ModelKind::Image => matches!(wire, Wire::OpenAi | Wire::Gemini),
        ModelKind::Transcription | ModelKind::Speech | ModelKind::Moderation => wire == Wire::OpenAi,
        ModelKind::Rerank => matches!(wire, Wire::Cohere | Wire::Voyage),
        ModelKind::Chat => false,
    }
}

/// A request's `model`: a non-empty string of bounded length.
pub(crate) fn model_of(value: Option<&Value>) -> Result<String> {
    match value {
        Some(Value::String(m)) if !m.trim().is_empty() => {
            let model = m.trim().to_string();
            passthrough::check_model(&model)?;
            Ok(model)
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(GatewayError::invalid_request("You must provide a model parameter.").with_param("model"))
        }
        Some(_) => Err(GatewayError::invalid_request("`model` must be a string.").with_param("model")),
    }
}

/// The 400 for a field of the wrong shape.
pub(crate) fn invalid(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

/// A wire the engine cannot send for a kind (the catalog test keeps this from happening).
pub(crate) fn unsupported(kind: ModelKind, wire: Wire) -> GatewayError {
    GatewayError::internal(format!("no {wire:?} wire for {} requests", kind.as_str()))
}

pub(crate) fn to_vec(body: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| GatewayError::internal(e.to_string()))
}

/// An upstream's answer that is not JSON where JSON was due.
pub(crate) fn unreadable(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::upstream(format!("The upstream answer is not valid JSON: {e}"))
}

/// About four characters of text per token (as `ir::estimate` assumes).
pub(crate) fn tokens_of_chars(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// A same-shape answer: sent as it came, read only for its usage and whether it is whole.
pub(crate) fn as_it_came(
    body: &[u8],
    complete: impl Fn(&Value) -> bool,
    usage: impl Fn(&Value) -> Option<IrUsage>,
) -> Answered {
    let value: Option<Value> = serde_json::from_slice(body).ok();
    Answered {
        body: body.to_vec(),
        usage: value.as_ref().and_then(usage),
        complete: value.as_ref().is_some_and(complete),
    }
}

/// `usage.prompt_tokens` (else `usage.total_tokens`) as input tokens: what OpenAI-shaped
/// embeddings, moderation and rerank answers report.
pub(crate) fn prompt_usage(v: &Value) -> Option<IrUsage> {
    let usage = v.get("usage")?;
    let input = usage.get("prompt_tokens").or_else(|| usage.get("total_tokens")).and_then(Value::as_u64)?;
    Some(IrUsage { input_tokens: input, ..IrUsage::default() })
}

/// Shorthands for the kinds' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A JSON request to the endpoint of `kind`, which must be valid.
    pub fn request(kind: ModelKind, body: Value) -> ServiceRequest {
        ServiceRequest::parse(kind, body.to_string().into_bytes(), None).unwrap()
    }

    /// How a translated answer names the client's `model`.
    pub fn ctx(model: &str) -> EncodeCtx {
        EncodeCtx { model: model.into(), id_seed: "abc".into(), created: 1_700_000_000, include_usage: false }
    }
}
