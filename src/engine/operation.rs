//! What a request asks of its upstreams, whatever its endpoint. The pipeline runs every endpoint
//! the same way (reuse, routing, the attempt loop with fallback, cooldowns, breakers and limits,
//! metering, errors in the client's format) and asks the [`Operation`] only what differs:
//!
//! - [`Operation::parse`]: the client's request → the model to route, what kind of model it needs;
//! - [`Operation::build`]: the upstream call for one attempt;
//! - [`Operation::relay`]: the upstream's successful answer → the relay plan, with what it says
//!   of its usage.
//!
//! `Generate` is the conversation endpoints (Chat, Responses, Messages, Gemini), translated between
//! formats through the IR (`plan`, `pipeline::relay`). `Service` is every other endpoint
//! (embeddings, images, audio, moderations, rerank), each a module of `services` over the wires the
//! catalog names; adding one is a module there and a route.

use super::pipeline::{self, Inbound, Planned, Relayed, StreamMode};
use super::plan::{self, Attempt, ClientRequest, UpstreamCall};
use super::ports::{Reply, UpstreamBody};
use crate::error::{GatewayError, Result};
use crate::formats::Format;
use crate::ir::EncodeCtx;
use crate::metering::observe::{Observed, Tap};
use crate::providers::ModelKind;
use crate::replay::key::{self, CacheAsk, CacheUse};
use crate::security::Secret;
use crate::services::ServiceRequest;
use serde_json::Value;

pub enum Operation {
    /// A conversation, in any of the four client formats.
    Generate(ClientRequest),
    /// A service endpoint, in its client's (OpenAI's) shape.
    Service(ServiceRequest),
}

impl Operation {
    /// Reads the request the endpoint received (`inbound.kind` says which).
    pub fn parse(inbound: &Inbound, body: Vec<u8>) -> Result<Operation> {
        match inbound.kind {
            ModelKind::Chat => {
                let (model, stream) = (inbound.url_model.as_deref(), inbound.url_stream);
                ClientRequest::parse(inbound.format, body, model, stream).map(Operation::Generate)
            }
            kind => ServiceRequest::parse(kind, body, inbound.content_type.as_deref()).map(Operation::Service),
        }
    }

    /// The model as the client named it.
    pub fn model(&self) -> &str {
        match self {
            Operation::Generate(c) => &c.model,
            Operation::Service(s) => &s.model,
        }
    }

    /// Names another model (a provider route pins the client's model to its provider).
    pub fn set_model(&mut self, model: String) {
        match self {
            Operation::Generate(c) => c.model = model,
            Operation::Service(s) => s.model = model,
        }
    }

    /// The kind of model the endpoint needs.
    pub fn kind(&self) -> ModelKind {
        match self {
            Operation::Generate(_) => ModelKind::Chat,
            Operation::Service(s) => s.kind,
        }
    }

    /// Whether the answer is relayed as a stream.
    pub fn stream(&self) -> bool {
        match self {
            Operation::Generate(c) => c.stream,
            Operation::Service(s) => s.streams(),
        }
    }

    /// Prompt tokens to count when the upstream reports none; `None`: the body's size says it.
    pub fn input_estimate(&self) -> Option<u64> {
        match self {
            Operation::Generate(_) => None,
            Operation::Service(s) => Some(s.input_estimate),
        }
    }

    /// The request as JSON, for the fingerprint that tells two requests are the same.
    pub fn body(&self) -> &Value {
        match self {
            Operation::Generate(c) => &c.body,
            Operation::Service(s) => &s.body,
        }
    }

    /// How the request uses the response cache: conversations when deterministic (temperature
    /// 0); embeddings, rerank and moderations always (the same input gives the same answer);
    /// images and audio only when forced.
    pub fn cache_use(&self, enabled: bool, ask: CacheAsk) -> CacheUse {
        match self {
            Operation::Generate(c) => key::cache_use(enabled, ask, c.format, &c.body),
            Operation::Service(s) => {
                let same_answer = matches!(s.kind, ModelKind::Embedding | ModelKind::Rerank | ModelKind::Moderation);
                key::cache_use_if(enabled, ask, same_answer)
            }
        }
    }

    /// The upstream call for one attempt, with the connection's plaintext `credential`; `id_seed`
    /// and `now_secs` are for ids and timestamps the gateway writes into translated answers.
    pub fn build(
        &self,
        attempt: &Attempt,
        credential: &Secret,
        forward: &[(String, String)],
        id_seed: &str,
        now_secs: i64,
    ) -> Result<UpstreamCall> {
        match self {
            Operation::Generate(client) => plan::build(attempt, client, credential, forward, id_seed, now_secs),
            Operation::Service(req) => build_service(req, attempt, credential, id_seed, now_secs),
        }
    }

    /// Turns a successful upstream reply into the relay plan (see `pipeline::relay`): an answer
    /// that cannot be read is one more failed attempt (`Err`) while another attempt remains.
    pub(super) async fn relay<B: UpstreamBody>(
        &self,
        reply: Reply<B>,
        call: &UpstreamCall,
        attempts: usize,
        can_fall_back: bool,
        keep: bool,
    ) -> Result<Relayed<B>> {
        match self {
            Operation::Generate(_) => pipeline::relay(reply, call, attempts, can_fall_back, keep).await,
            Operation::Service(req) => relay_service(req, reply, call, attempts, can_fall_back, keep).await,
        }
    }
}

fn build_service(
    req: &ServiceRequest,
    attempt: &Attempt,
    credential: &Secret,
    id_seed: &str,
    now_secs: i64,
) -> Result<UpstreamCall> {
    let (spec, model, conn) = (attempt.provider, attempt.model, attempt.connection);
    // Targets without the service were dropped when routing (`Targets::keep_kind`).
    let service = spec
        .service(req.kind)
        .ok_or_else(|| GatewayError::internal(format!("`{}` has no {} API", spec.id, req.kind.as_str())))?;
    let out = req.request(service.wire, model)?;
    let base = conn.base_url.as_deref().or(service.base_url).unwrap_or(&spec.base_url);
    let accept = if req.streams() { "*/*" } else { "application/json" };
    Ok(UpstreamCall {
        url: format!("{}{}", base.trim_end_matches('/'), out.path),
        headers: plan::headers_for(spec, &out.content_type, accept),
        auth: plan::auth_header(spec, credential),
        body: out.body,
        provider: spec.id.to_string(),
        model: model.to_string(),
        connection_id: conn.id.clone(),
        stream: req.streams(),
        // The provider's chat format is also the dialect of its errors.
        upstream_format: spec.format,
        client_format: Format::OpenAiChat,
        translated: out.translated,
        encode: EncodeCtx {
            model: req.model.clone(),
            id_seed: id_seed.to_string(),
            created: now_secs,
            include_usage: false,
        },
        wire: Some(service.wire),
    })
}

/// A service's answer: read whole and made the client's, or (speech) audio relayed as it comes.
async fn relay_service<B: UpstreamBody>(
    req: &ServiceRequest,
    reply: Reply<B>,
    call: &UpstreamCall,
    attempts: usize,
    can_fall_back: bool,
    keep: bool,
) -> Result<Relayed<B>> {
    let Reply { status, headers: upstream_headers, mut body } = reply;
    let mut headers = pipeline::answer_headers(&upstream_headers, call, attempts);
    let (client, provider) = (call.client_format, call.provider.clone());
    if req.streams() {
        let tap = Tap::opaque();
        if !can_fall_back && !keep {
            return Ok((status, headers, Planned::Pipe { body, tap, client, provider }));
        }
        // The first bytes are held while another attempt could still take over.
        let first = if can_fall_back { pipeline::first_chunk(&mut body, call).await? } else { Vec::new() };
        let mode = StreamMode::Same { tap, client, provider };
        return Ok((status, headers, Planned::Stream { first, body, mode, continuation: None }));
    }
    let bytes = body.bytes().await.map_err(|e| {
        GatewayError::upstream(format!("Could not read the answer of `{}`: {}", call.provider, e.message))
    })?;
    let wire = call.wire.ok_or_else(|| GatewayError::internal("a service call without its wire"))?;
    let answered = req.answer(wire, &bytes, &call.encode)?;
    if !answered.complete && can_fall_back {
        return Err(GatewayError::upstream(format!("The answer of `{}` could not be read.", call.provider)));
    }
    if call.translated {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let observed = Observed { usage: answered.usage, output_chars: 0, finished: answered.complete, error: None };
    Ok((status, headers, Planned::Whole { bytes: answered.body, observed }))
}
