//! The whole life of a generation request after authentication, as one function over ports:
//! parse → targets → attempts → call → classify → report → next attempt or answer → relay plan,
//! metered once whatever happens. The platform reads the request, calls [`run`], and turns the
//! [`Answer`] into a response; every routing and fallback rule lives here, testable natively.

use super::admission::{self, Settling};
use super::continuation;
use super::operation::Operation;
use super::plan::{Targets, UpstreamCall};
use super::ports::{
    Admission, Clock, Credentials, Random, Replays, Reply, ResilienceView, ResponseStore, Slot, Upstream, UpstreamBody,
    UsageSink,
};
use super::relay::{Relay, StreamWriter, Watch};
use super::reuse::{self, Begun, Served};
use super::translate::{self, StreamTranslator};
use super::upstream;
use crate::config::key_access::KeyAccess;
use crate::config::{ConnectionRecord, TenantSnapshot};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::Format;
use crate::metering::observe::{Observed, Tap};
use crate::metering::{Ending, Meter, TokenUsage, UsageRecord};
use crate::providers::ModelKind;
use crate::replay::key::CacheAsk;
use crate::replay::Recorded;
use crate::resilience::classify::{classify, Action, Failure};
use crate::resilience::quota;
use crate::resilience::state::Event;
use crate::routing::model::pin_provider;
use crate::security::to_hex;
use std::rc::Rc;

/// How many upstream calls one request may make before giving up.
pub const MAX_ATTEMPTS: usize = 10;

/// The pipeline's I/O.
pub struct Ports<'a, U, C> {
    pub upstream: &'a U,
    pub credentials: &'a C,
    pub resilience: &'a dyn ResilienceView,
    pub usage: Rc<dyn UsageSink>,
    pub clock: Rc<dyn Clock>,
    pub random: &'a dyn Random,
    /// The key's and connections' limits; `None` when neither has any (nothing is awaited).
    pub admission: Option<Rc<dyn Admission>>,
    /// The response cache and idempotency keys; `None` serves nothing again.
    pub replays: Option<Rc<dyn Replays>>,
    /// Stored responses (`previous_response_id`); `None` keeps none and continues none.
    pub responses: Option<Rc<dyn ResponseStore>>,
}

/// What the platform read of the request besides its body.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// The client's format: of a conversation, and of every error (service endpoints: OpenAI's).
    pub format: Format,
    /// What the endpoint does: a conversation (chat), or a service (embeddings, images, …).
    pub kind: ModelKind,
    /// The body's `Content-Type` (a multipart upload's boundary is in it).
    pub content_type: Option<String>,
    /// e.g. `/v1/chat/completions`.
    pub endpoint: String,
    /// The client's `X-Request-Id`, if any (used when sane).
    pub client_request_id: Option<String>,
    pub key_id: String,
    /// When the request arrived (ms).
    pub arrived_at: i64,
    /// For formats that carry them in the URL (Gemini).
    pub url_model: Option<String>,
    pub url_stream: Option<bool>,
    /// A provider route's provider (`/v1/providers/{provider}/…`): the request may reach only it.
    pub url_provider: Option<String>,
    /// Client headers a same-format upstream needs along with the untouched body.
    pub forward_headers: Vec<(String, String)>,
    /// The client's `Idempotency-Key`, as sent.
    pub idempotency_key: Option<String>,
    /// What the client's headers ask of the response cache.
    pub cache_ask: CacheAsk,
    /// The calling key's scopes (`config::key_access`; open by default).
    pub access: KeyAccess,
}

/// What to send back: status, headers, and how the body gets there.
pub struct Answer<B> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub relay: Relay<B>,
}

/// Runs one request. `body` is what the platform read (or why it could not, e.g. too large).
pub async fn run<U: Upstream, C: Credentials>(
    ports: &Ports<'_, U, C>,
    snapshot: &TenantSnapshot,
    inbound: Inbound,
    body: Result<Vec<u8>>,
) -> Answer<U::Body> {
    let mut random = [0u8; 36];
    ports.random.fill(&mut random);
    let request_id = request_id(inbound.client_request_id.as_deref(), &random[20..28]);
    let draft = UsageRecord {
        request_id: request_id.clone(),
        tenant: snapshot.tenant.clone(),
        key_id: inbound.key_id.clone(),
        endpoint: inbound.endpoint.clone(),
        client_format: format_name(inbound.format).to_string(),
        at: inbound.arrived_at,
        ..UsageRecord::default()
    };
    let settling = ports.admission.clone().map(|gate| Settling::new(ports.usage.clone(), gate));
    let sink: Rc<dyn UsageSink> = match &settling {
        Some(s) => s.clone(),
        None => ports.usage.clone(),
    };
    let mut meter = Meter::new(draft, sink, ports.clock.clone());
    let mut headers = vec![("x-request-id".to_string(), request_id)];
    let format = inbound.format;
    match attempt_all(ports, snapshot, &inbound, body, &random, &mut meter, settling.as_deref()).await {
        Ok(success) => {
            let upstream_ms = success.ttfb_ms.saturating_sub(success.sent_at_ms);
            headers.push(("server-timing".into(), server_timing(success.ttfb_ms, upstream_ms)));
            headers.extend(success.headers);
            meter.answer_headers(&headers);
            // The request's meter goes with the answer: whoever ends it records the request.
            Answer { status: success.status, headers, relay: success.planned.attach(meter, success.status) }
        }
        Err(e) => {
            let rendered = format.render_error(&e).into_bytes();
            // A refused or failed request consumed nothing that an upstream reported: no tokens.
            let tokens = TokenUsage::default();
            meter.capture(&rendered);
            meter.finish(Ending { status: e.status, error_code: Some(error_code(&e)), tokens });
            headers.push(("server-timing".into(), server_timing(elapsed(ports, inbound.arrived_at), 0)));
            headers.push(("content-type".into(), "application/json".into()));
            if let Some(secs) = e.retry_after_secs {
                headers.push(("retry-after".into(), secs.to_string()));
            }
            Answer { status: e.status, headers, relay: Relay::Whole(rendered) }
        }
    }
}

/// A successful attempt, ready to relay.
struct Success<B> {
    status: u16,
    headers: Vec<(String, String)>,
    planned: Planned<B>,
    /// Arrival → upstream headers, and arrival → the successful call's start (ms).
    ttfb_ms: u64,
    sent_at_ms: u64,
}

async fn attempt_all<U: Upstream, C: Credentials>(
    ports: &Ports<'_, U, C>,
    snapshot: &TenantSnapshot,
    inbound: &Inbound,
    body: Result<Vec<u8>>,
    random: &[u8; 36],
    meter: &mut Meter,
    settling: Option<&Settling>,
) -> Result<Success<U::Body>> {
    let body = body?;
    meter.input_estimate = (body.len() as u64).div_ceil(4);
    if snapshot.settings.log_bodies && !inbound.access.no_log {
        meter.log_bodies(&body, snapshot.settings.log_body_max_bytes as usize);
    }
    // The bytes are kept: a same-format call sends them on with only the model rewritten.
    let mut op = Operation::parse(inbound, body)?;
    if let Some(provider) = &inbound.url_provider {
        op.set_model(pin_provider(op.model(), provider, snapshot.catalog())?);
    }
    meter.update(|r| {
        r.requested_model = op.model().to_string();
        r.streamed = op.stream();
    });
    // The key's scopes hold for answers served again too: its model scope comes before the cache,
    // and a cached answer made by a provider or connection outside them is a miss (`reuse::begin`).
    let access = &inbound.access;
    if !access.allows_model(op.model()) {
        return Err(KeyAccess::model_refused(op.model()));
    }
    if let Some(tokens) = op.input_estimate() {
        meter.input_estimate = tokens;
    }
    if let Operation::Generate(client) = &mut op {
        if let Some(store) = &ports.responses {
            // Before the cache and idempotency keys: they see the whole conversation.
            super::stored::begin(store, client, meter).await?;
        }
        let policies = snapshot.settings.policies();
        if !policies.is_noop() && crate::policy::apply(client.format, &mut client.body, &policies) {
            client.raw = None; // the body changed: a same-format call sends it re-serialized
        }
    }
    let mut cache_verdict = None;
    if let Some(replays) = &ports.replays {
        // 53 bits: the object stores it as a JavaScript number.
        let token = u64::from_le_bytes(random[28..36].try_into().unwrap_or_default()) & ((1 << 53) - 1);
        match reuse::begin(replays, &snapshot.settings, inbound, &op, &snapshot.tenant, token, meter).await? {
            // The key's own earlier answer (an `Idempotency-Key`), made before its scopes narrowed.
            Begun::Replay { answer, .. } if !access.allows_answer_of(&answer.provider, &answer.connection) => {
                return Err(KeyAccess::providers_refused(op.model()))
            }
            Begun::Replay { answer, how } => return Ok(replayed(answer, how, meter)),
            Begun::Fresh { cache } => {
                meter.update(|r| r.cache = cache.map(str::to_string));
                cache_verdict = cache;
            }
        }
    }

    let now = ports.clock.now_ms();
    let seed = to_hex(&random[..12]);
    let rng = u64::from_le_bytes(random[12..20].try_into().unwrap_or_default());
    let view = ports.resilience;
    let rr = view.round_robin();
    let mut targets = Targets::for_model(snapshot, op.model(), &mut rr.borrow_mut(), rng)?;
    targets.keep_kind(op.kind())?;
    if !(access.scopes.providers.is_empty() && access.scopes.connections.is_empty()) {
        // Targets the key may not reach (their provider, or each of their connections, outside its
        // scopes) are skipped: a combo serves from the rest.
        let some_provider = targets.list.iter().any(|t| access.allows_provider(&t.provider.id));
        targets.list.retain(|t| access.reaches(snapshot, &t.provider.id));
        match (targets.list.is_empty(), some_provider) {
            (false, _) => {}
            (true, false) => return Err(KeyAccess::providers_refused(op.model())),
            (true, true) => return Err(KeyAccess::connections_refused(op.model())),
        }
    }
    meter.update(|r| r.combo = targets.combo.clone());
    let in_scope = |c: &ConnectionRecord| access.allows_connection(&c.id);
    let attempts = targets.attempts(snapshot, view, now, &in_scope, &mut rr.borrow_mut(), rng)?;
    if let Some(s) = settling {
        // The key's limits are checked once a target is known (its price makes the estimate) and
        // before any upstream call: a refused request costs nothing upstream.
        let price = attempts.first().and_then(|a| snapshot.price(&a.provider.id, a.model));
        s.admit(meter.input_estimate, price).await?;
    }
    let timeout_ms = targets.timeout_ms.unwrap_or(snapshot.settings.upstream_timeout_ms);
    let continue_streams = op.stream() && (targets.continue_streams || snapshot.settings.stream_continuation);

    // Until an upstream has answered successfully nothing has reached the client, so every failure
    // can still fall back. A combo's `max_retries` adds rounds over the attempts whose failure was
    // transient, once every attempt has failed (failover before retry, as in the original gateway).
    let rounds = 1 + targets.retries as usize;
    let budget = MAX_ATTEMPTS.min(attempts.len()) * rounds;
    let mut skipped_targets: Vec<(&str, &str)> = Vec::new();
    let mut retryable = vec![true; attempts.len()];
    let mut tried = 0usize;
    let mut last_error = None;
    let mut busy_ms: Option<i64> = None;
    for round in 0..rounds {
        for (index, attempt) in attempts.iter().enumerate().take(MAX_ATTEMPTS) {
            if skipped_targets.contains(&(&*attempt.provider.id, attempt.model)) || (round > 0 && !retryable[index]) {
                continue;
            }
            let limits = attempt.connection.limits;
            let slot = match settling {
                Some(s) if !limits.is_empty() => {
                    let wait_ms = snapshot.settings.connection_wait_ms;
                    match s.take_slot(&attempt.connection.id, limits, wait_ms).await? {
                        Slot::Granted(slot) => Some(slot),
                        // At its limits: the next account or target, not a failure of this one.
                        Slot::Busy(ms) => {
                            busy_ms = Some(busy_ms.map_or(ms, |b| b.min(ms)));
                            continue;
                        }
                    }
                }
                _ => None,
            };
            tried += 1;
            let credential = ports.credentials.credential(attempt.connection).await?;
            let call = op.build(attempt, &credential, &inbound.forward_headers, &seed, now / 1000)?;
            view.count_use(&call.connection_id);
            meter.update(|r| served_by(r, &call, tried as u32));
            meter.set_price(snapshot.price(&call.provider, &call.model));
            let sent_at = elapsed(ports, inbound.arrived_at);
            let outcome = ports.upstream.send(&call, timeout_ms).await;
            let at = ports.clock.now_ms();
            if let Some(quota) = outcome.as_ref().ok().and_then(|r| quota::read(&r.headers, at)) {
                view.report(Event::Quota { connection: call.connection_id.clone(), model: call.model.clone(), quota });
            }
            let ttfb = elapsed(ports, inbound.arrived_at);
            meter.update(|r| r.ttfb_ms = Some(ttfb));
            let can_fall_back = tried < budget && (index + 1 < attempts.len() || round + 1 < rounds);
            let (error, status) = match outcome {
                Ok(reply) if (200..300).contains(&reply.status) => {
                    match op.relay(reply, &call, tried, can_fall_back, meter.keeps_answer()).await {
                        Ok((status, headers, mut planned)) => {
                            if let (true, Planned::Stream { continuation, .. }, Operation::Generate(client)) =
                                (continue_streams, &mut planned, &op)
                            {
                                let rest = attempts[index + 1..]
                                    .iter()
                                    .filter(|a| !skipped_targets.contains(&(&*a.provider.id, a.model)))
                                    .take(budget - tried);
                                let now_secs = ports.clock.now_ms() / 1000;
                                let (creds, seed) = (ports.credentials, &seed);
                                *continuation =
                                    continuation::prepare(creds, snapshot, rest, client, seed, now_secs, timeout_ms)
                                        .await
                                        .map(Box::new);
                            }
                            view.report(Event::Success {
                                provider: call.provider.to_string(),
                                connection: call.connection_id.clone(),
                                model: call.model.clone(),
                                at,
                            });
                            let mut headers = headers;
                            if let Some(verdict) = cache_verdict {
                                headers.push(("x-omniroute-cache".into(), verdict.to_ascii_uppercase()));
                            }
                            return Ok(Success { status, headers, planned, ttfb_ms: ttfb, sent_at_ms: sent_at });
                        }
                        Err(e) => (e, None),
                    }
                }
                Ok(reply) => {
                    let status = reply.status;
                    let retry_after =
                        upstream::retry_after_secs(reply.header("retry-after"), reply.header("retry-after-ms"));
                    let body = reply.body.bytes().await.unwrap_or_default();
                    (
                        upstream::map_error(
                            call.upstream_format,
                            &call.provider,
                            status,
                            &body,
                            retry_after,
                            &credential,
                        ),
                        Some(status),
                    )
                }
                Err(e) => (e, None),
            };
            let verdict = classify(&Failure {
                status,
                timed_out: error.kind == ErrorKind::UpstreamTimeout,
                message: &error.message,
                retry_after_ms: error.retry_after_secs.map(|s| s.saturating_mul(1000) as i64),
            });
            view.report(Event::Failure {
                provider: call.provider.to_string(),
                connection: call.connection_id.clone(),
                model: call.model.clone(),
                reason: verdict.reason.as_str().to_string(),
                cooldown: verdict.cooldown,
                breaker: verdict.counts_for_breaker,
                at,
            });
            if let (Some(s), Some(slot)) = (settling, slot) {
                s.give_back(&call.connection_id, slot);
            }
            match verdict.action {
                Action::Stop => return Err(error),
                Action::NextAccount => {}
                Action::NextTarget => skipped_targets.push((&*attempt.provider.id, attempt.model)),
            }
            retryable[index] = verdict.counts_for_breaker; // server errors, timeouts, dropped connections
            last_error = Some(error);
            if tried >= budget {
                break;
            }
        }
    }
    let nothing_tried = || busy_ms.map(admission::accounts_busy);
    Err(last_error.or_else(nothing_tried).unwrap_or_else(|| GatewayError::internal("no upstream attempt was made")))
}

/// An answer served again: its headers as first sent, marked as a replay, and metered as served by
/// whoever made it but costing nothing (`cost_saved` says what it spared).
fn replayed<B>(answer: Recorded, how: Served, meter: &mut Meter) -> Success<B> {
    meter.update(|r| {
        r.provider = answer.provider.clone();
        r.connection = answer.connection.clone();
        r.upstream_model = answer.upstream_model.clone();
        r.cache = Some(how.as_str().to_string());
    });
    let mut headers = answer.headers;
    match how {
        Served::Cache => headers.push(("x-omniroute-cache".into(), "HIT".into())),
        Served::Idempotent => headers.push(("x-omniroute-idempotent".into(), "true".into())),
    }
    headers.push(("x-omniroute-cost-saved".into(), format!("{:.6}", answer.cost_usd)));
    let planned = Planned::Replayed { bytes: answer.body.into_bytes(), tokens: answer.tokens };
    Success { status: answer.status, headers, planned, ttfb_ms: 0, sent_at_ms: 0 }
}

pub(super) type Relayed<B> = (u16, Vec<(String, String)>, Planned<B>);

/// A successful answer's relay plan before the request's meter joins it ([`Planned::attach`]): the
/// attempt loop may still drop it for the next attempt, and the meter stays with the request until
/// an answer is chosen.
pub(super) enum Planned<B> {
    /// A whole answer (translated, or same-format as it came), with what it said of itself.
    Whole { bytes: Vec<u8>, observed: Observed },
    /// An answer served again (`reuse`): its bytes as first sent, and the tokens it used then.
    Replayed { bytes: Vec<u8>, tokens: TokenUsage },
    /// A same-format stream for the runtime to pipe, a copy read by `tap`.
    Pipe { body: B, tap: Tap, client: Format, provider: String },
    /// A stream the gateway writes (translated, or same-format held for fallback).
    Stream { first: Vec<u8>, body: B, mode: StreamMode, continuation: Option<Box<continuation::Plan>> },
}

pub(super) enum StreamMode {
    Translate(StreamTranslator),
    Same { tap: Tap, client: Format, provider: String },
}

impl<B> Planned<B> {
    fn attach(self, mut meter: Meter, status: u16) -> Relay<B> {
        match self {
            Planned::Whole { bytes, observed } => {
                meter.capture(&bytes);
                let tokens = observed.tokens(meter.input_estimate);
                meter.finish(Ending { status, error_code: None, tokens });
                Relay::Whole(bytes)
            }
            Planned::Replayed { bytes, tokens } => {
                meter.capture(&bytes);
                meter.finish(Ending { status, error_code: None, tokens });
                Relay::Whole(bytes)
            }
            Planned::Pipe { body, tap, client, provider } => {
                Relay::Pipe { body, watch: Watch::new(tap, meter, status, client, &provider) }
            }
            Planned::Stream { first, body, mode, continuation } => {
                let writer = match mode {
                    StreamMode::Translate(t) => StreamWriter::translate(t, meter, status),
                    StreamMode::Same { tap, client, provider } => {
                        StreamWriter::same(tap, client, &provider, meter, status)
                    }
                };
                let writer = match continuation {
                    Some(plan) => writer.continue_with(*plan),
                    None => writer,
                };
                Relay::Stream { first, body, writer }
            }
        }
    }
}

/// Turns a successful upstream reply into the relay plan. An answer that cannot be read or
/// translated, or a stream that fails before its first byte, is one more failed attempt (`Err`)
/// while another attempt remains; a stream is committed to once its first chunk has arrived. An
/// answer kept for reuse (`keep`) is written by the gateway, never piped: the pipe's copy skips
/// text deltas.
pub(super) async fn relay<B: UpstreamBody>(
    reply: Reply<B>,
    call: &UpstreamCall,
    attempts: usize,
    can_fall_back: bool,
    keep: bool,
) -> Result<Relayed<B>> {
    let Reply { status, headers: upstream_headers, mut body } = reply;
    let mut headers = answer_headers(&upstream_headers, call, attempts);
    let provider = call.provider.clone();
    if !call.stream {
        // A whole answer is read into wasm, translated or not: it is small, and one copy costs less
        // than a tee and a transform stream in the runtime.
        let bytes = body.bytes().await.map_err(|e| {
            GatewayError::upstream(format!("Could not read the answer of `{}`: {}", call.provider, e.message))
        })?;
        if call.translated {
            let (out, observed) = translate::whole(call.upstream_format, call.client_format, &bytes, &call.encode)?;
            headers.push(("content-type".into(), "application/json".into()));
            return Ok((status, headers, Planned::Whole { bytes: out, observed }));
        }
        // Same format: it goes out byte for byte as it came, read only for its usage.
        let mut tap = Tap::new(call.upstream_format, false, &call.encode.id_seed);
        tap.push(&bytes);
        let observed = tap.end(None).clone();
        if !observed.complete() && can_fall_back {
            return Err(GatewayError::upstream(format!("The answer of `{}` could not be read.", call.provider)));
        }
        return Ok((status, headers, Planned::Whole { bytes, observed }));
    }
    headers.push(("cache-control".into(), "no-cache".into()));
    if call.translated {
        headers.push(("content-type".into(), "text/event-stream; charset=utf-8".into()));
    }
    if !call.translated && !can_fall_back && !keep {
        let tap = Tap::new(call.upstream_format, true, &call.encode.id_seed);
        return Ok((status, headers, Planned::Pipe { body, tap, client: call.client_format, provider }));
    }
    let first = if can_fall_back { first_chunk(&mut body, call).await? } else { Vec::new() };
    let mode = if call.translated {
        StreamMode::Translate(StreamTranslator::new(call.upstream_format, call.client_format, &call.encode))
    } else {
        StreamMode::Same {
            tap: Tap::new(call.upstream_format, true, &call.encode.id_seed),
            client: call.client_format,
            provider,
        }
    };
    Ok((status, headers, Planned::Stream { first, body, mode, continuation: None }))
}

/// A stream's first bytes, read while another attempt could still take over: a stream that fails
/// or ends before them is one more failed attempt.
pub(super) async fn first_chunk<B: UpstreamBody>(body: &mut B, call: &UpstreamCall) -> Result<Vec<u8>> {
    loop {
        match body.next_chunk().await {
            Some(Ok(bytes)) if bytes.is_empty() => {}
            Some(Ok(bytes)) => return Ok(bytes),
            Some(Err(e)) => {
                return Err(GatewayError::upstream(format!(
                    "Upstream `{}` failed before the first byte of its stream: {}",
                    call.provider, e.message
                )))
            }
            None => {
                return Err(GatewayError::upstream(format!(
                    "Upstream `{}` ended its stream before sending anything.",
                    call.provider
                )))
            }
        }
    }
}

/// The answer's headers: the upstream's safe ones (its own request id renamed), and who answered.
pub(super) fn answer_headers(
    upstream_headers: &[(String, String)],
    call: &UpstreamCall,
    attempts: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in upstream_headers {
        let lower = name.to_ascii_lowercase();
        if lower == "x-request-id" || lower == "request-id" {
            out.push(("x-upstream-request-id".to_string(), upstream::header_value(value)));
        } else if upstream::forwarded_header(&lower) && !(call.translated && lower == "content-type") {
            out.push((lower, upstream::header_value(value)));
        }
    }
    out.push(("x-omniroute-provider".into(), upstream::header_value(&call.provider)));
    out.push(("x-omniroute-model".into(), upstream::header_value(&call.model)));
    out.push(("x-omniroute-connection".into(), upstream::header_value(&call.connection_id)));
    out.push(("x-omniroute-attempts".into(), attempts.to_string()));
    out
}

/// The client's request id when it is a sane token, else a new one.
fn request_id(client: Option<&str>, random: &[u8]) -> String {
    match client.map(str::trim) {
        Some(id)
            if (1..=128).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            id.to_string()
        }
        _ => format!("req_{}", to_hex(random)),
    }
}

fn server_timing(total_ms: u64, upstream_ms: u64) -> String {
    format!("gateway;dur={}, upstream;dur={upstream_ms}", total_ms.saturating_sub(upstream_ms))
}

fn elapsed<U, C>(ports: &Ports<'_, U, C>, since: i64) -> u64 {
    (ports.clock.now_ms() - since).max(0) as u64
}

fn served_by(r: &mut UsageRecord, call: &UpstreamCall, attempts: u32) {
    r.provider = call.provider.clone();
    r.connection = call.connection_id.clone();
    r.upstream_model = call.model.clone();
    r.attempts = attempts;
}

/// The error's code for the log: its own, else its kind.
fn error_code(e: &GatewayError) -> &str {
    e.code.as_deref().unwrap_or(e.kind.as_str())
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::OpenAiChat => "openai_chat",
        Format::OpenAiResponses => "openai_responses",
        Format::Anthropic => "anthropic",
        Format::Gemini => "gemini",
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
