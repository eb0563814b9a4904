//! `/v1/*` (and `/v1beta/*`): the client-facing API. Authenticates the gateway key, finds the
//! tenant's snapshot, lets the core plan the upstream call, and relays the answer: untouched when
//! client and upstream speak the same format (streams go through as the JS stream they are),
//! translated otherwise (streams re-framed chunk by chunk as they arrive).

use super::http::{header, json_response, read_body};
use super::{config_store, env, resilience, upstream_fetch};
use crate::config::{ConnectionRecord, TenantSnapshot};
use crate::engine::plan::{self, Attempt, ClientRequest, Signals, Targets, UpstreamCall};
use crate::engine::translate::{self, StreamTranslator};
use crate::engine::upstream;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::{openai_chat, Format};
use crate::resilience::classify::{classify, Action, Failure};
use crate::resilience::state::Event;
use crate::routing::model::available;
use crate::routing::strategy::RoundRobinStates;
use crate::security::{api_keys, crypto, to_hex};
use futures::StreamExt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{ByteStream, Context, Env, Headers, Request, Response, ResponseBuilder};

/// Who is calling: the tenant their key belongs to.
pub struct Caller {
    pub tenant: String,
}

/// Checks the gateway key (`Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or Gemini's
/// `?key=`). With a `/{tenant}/v1` path the key must belong to that tenant.
pub async fn authenticate(req: &Request, env: &Env, path_tenant: Option<&str>) -> Result<Caller> {
    let query_key =
        || req.url().ok().and_then(|u| u.query_pairs().find(|(k, _)| k == "key").map(|(_, v)| v.into_owned()));
    let key = api_keys::from_headers(
        header(req, "authorization").as_deref(),
        header(req, "x-api-key").or_else(|| header(req, "x-goog-api-key")).or_else(query_key).as_deref(),
    )
    .ok_or_else(|| {
        GatewayError::authentication(
            "Missing API key. Send `Authorization: Bearer <key>` or `x-api-key: <key>`; create keys in the dashboard.",
        )
    })?;
    let keys = env::keys(env)?;
    let hash = api_keys::hash(&keys.api_key_hash, &key);
    let entry = config_store::key_entry(env, &hash).await?;
    match entry {
        Some(e) if path_tenant.is_none_or(|t| t == e.tenant) => Ok(Caller { tenant: e.tenant }),
        _ => Err(GatewayError::authentication("Invalid API key.")),
    }
}

async fn caller_snapshot(req: &Request, env: &Env, path_tenant: Option<&str>) -> Result<Rc<TenantSnapshot>> {
    let caller = authenticate(req, env, path_tenant).await?;
    config_store::snapshot(env, &caller.tenant).await
}

/// Where the endpoint found the model and stream flag, for formats that carry them in the URL.
#[derive(Default)]
pub struct UrlParams {
    pub model: Option<String>,
    pub stream: Option<bool>,
}

/// TEMP (metering, until the request pipeline emits full records): one minimal usage record per
/// generation request by a known caller: who, which model answered, status and latency; no tokens.
pub async fn generate(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    path_tenant: Option<&str>,
    format: Format,
    url: UrlParams,
) -> Result<Response> {
    let started = env::now_ms();
    let result = generate_attempts(req, env, ctx, path_tenant, format, url).await;
    if let Ok(caller) = authenticate(req, env, path_tenant).await {
        let answered = |name: &str| result.as_ref().ok().and_then(|r| r.headers().get(name).ok().flatten());
        let sane = |id: &String| {
            (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let rec = crate::metering::UsageRecord {
            request_id: header(req, "x-request-id")
                .filter(sane)
                .or_else(|| env::new_id("req").ok())
                .unwrap_or_default(),
            tenant: caller.tenant,
            endpoint: req.path(),
            client_format: match format {
                Format::OpenAiChat => "openai_chat",
                Format::OpenAiResponses => "openai_responses",
                Format::Anthropic => "anthropic",
                Format::Gemini => "gemini",
            }
            .to_string(),
            provider: answered("x-omniroute-provider").unwrap_or_default(),
            upstream_model: answered("x-omniroute-model").unwrap_or_default(),
            connection: answered("x-omniroute-connection").unwrap_or_default(),
            status: result.as_ref().map_or_else(|e| e.status, |r| r.status_code()),
            error_code: result.as_ref().err().and_then(|e| e.code.clone()),
            latency_ms: (env::now_ms() - started).max(0) as u64,
            at: started,
            ..Default::default()
        };
        super::usage_store::record(env, ctx, rec);
    }
    result
}

/// Any generation endpoint: chat completions, messages, responses, generateContent.
async fn generate_attempts(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    path_tenant: Option<&str>,
    format: Format,
    url: UrlParams,
) -> Result<Response> {
    let snapshot = caller_snapshot(req, env, path_tenant).await?;
    let body = read_body(req, snapshot.settings.max_request_bytes).await?;
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| GatewayError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
    let client = ClientRequest::new(format, body, url.model.as_deref(), url.stream)?;

    let keys = env::keys(env)?;
    let tenant = snapshot.tenant.as_str();
    let settings = &snapshot.settings;
    let now = env::now_ms();
    resilience::refresh_if_stale(env, ctx, tenant, now, settings);
    // One draw of randomness per request: ids of translated answers, and the random strategies.
    let random = env::random_bytes::<20>()?;
    let seed = to_hex(&random[..12]);
    let mut rng_bytes = [0u8; 8];
    rng_bytes.copy_from_slice(&random[12..]);
    let rng = u64::from_le_bytes(rng_bytes);
    let (targets, attempts) = ROUND_ROBIN.with(|rr| {
        let rr = &mut rr.borrow_mut();
        let targets = Targets::for_model(&snapshot, &client.model, rr, rng)?;
        let cooling = |conn: &str, model: &str| resilience::cooling(tenant, conn, model, now);
        let health = |conn: &str, model: &str| resilience::health(tenant, conn, model);
        let uses = |conn: &str| USES.with(|u| u.borrow().get(conn).copied().unwrap_or(0));
        let mut open = |provider: &str| resilience::breaker(tenant, provider, now, settings).err();
        let mut signals = Signals { cooling: &cooling, open: &mut open, health: &health, uses: &uses };
        let attempts: Vec<(usize, usize)> = targets
            .attempts(&snapshot, &mut signals, rr, rng)?
            .iter()
            .map(|a| locate(&targets, &snapshot, a))
            .collect();
        Ok::<_, GatewayError>((targets, attempts))
    })?;
    let attempts: Vec<Attempt> = attempts
        .iter()
        .map(|&(t, c)| Attempt {
            provider: targets.list[t].provider,
            model: &targets.list[t].model,
            connection: &snapshot.connections[c],
        })
        .collect();
    let timeout_ms = targets.timeout_ms.unwrap_or(settings.upstream_timeout_ms);

    // Try the attempts in order until one answers. Until an upstream has answered successfully
    // nothing has been sent to the client, so every failure can still fall back.
    // A combo's `max_retries` adds rounds over the attempts whose failure was transient, once every
    // attempt has failed (failover before retry, as in the original gateway).
    let mut last_error: Option<GatewayError> = None;
    let mut skipped_targets: Vec<(&str, &str)> = Vec::new();
    let mut retryable = vec![true; attempts.len()];
    let mut tried = 0u32;
    let rounds = 1 + targets.retries as usize;
    for round in 0..rounds {
        for (index, attempt) in attempts.iter().enumerate().take(MAX_ATTEMPTS) {
            if skipped_targets.contains(&(attempt.provider.id, attempt.model)) || (round > 0 && !retryable[index]) {
                continue;
            }
            tried += 1;
            let mut call =
                plan::build(attempt, &client, |conn| credential(&keys.credentials, tenant, conn), &seed, now / 1000)?;
            if !call.translated {
                for name in format.passthrough_client_headers() {
                    if let Some(v) = header(req, name) {
                        call.headers.push((name.to_string(), v));
                    }
                }
            }
            USES.with(|u| *u.borrow_mut().entry(call.connection_id.clone()).or_insert(0) += 1);
            let outcome = upstream_fetch::send(&call, timeout_ms).await;
            let at = env::now_ms();
            let can_fall_back =
                (index + 1 < attempts.len() || round + 1 < rounds) && (tried as usize) < MAX_ATTEMPTS * rounds;
            let (error, status) = match outcome {
                Ok(resp) if (200..300).contains(&resp.status_code()) => {
                    match relay(resp, &call, tried, can_fall_back).await? {
                        Relayed::Sent(response) => {
                            let ok = Event::Success {
                                provider: call.provider.to_string(),
                                connection: call.connection_id.clone(),
                                model: call.model.clone(),
                                at,
                            };
                            resilience::report(env, ctx, tenant, vec![ok], at, settings);
                            return Ok(response);
                        }
                        Relayed::FailedBeforeFirstByte(e) => (e, None),
                    }
                }
                Ok(mut resp) => {
                    let status = resp.status_code();
                    let retry_after = upstream::retry_after_secs(
                        resp.headers().get("retry-after").ok().flatten().as_deref(),
                        resp.headers().get("retry-after-ms").ok().flatten().as_deref(),
                    );
                    let body = resp.bytes().await.unwrap_or_default();
                    (upstream::map_error(call.upstream_format, call.provider, status, &body, retry_after), Some(status))
                }
                Err(e) => (e, None),
            };
            let verdict = classify(&Failure {
                status,
                timed_out: error.kind == ErrorKind::UpstreamTimeout,
                message: &error.message,
                retry_after_ms: error.retry_after_secs.map(|s| s.saturating_mul(1000) as i64),
            });
            let failed = Event::Failure {
                provider: call.provider.to_string(),
                connection: call.connection_id.clone(),
                model: call.model.clone(),
                reason: verdict.reason.as_str().to_string(),
                cooldown: verdict.cooldown,
                breaker: verdict.counts_for_breaker,
                at,
            };
            resilience::report(env, ctx, tenant, vec![failed], at, settings);
            match verdict.action {
                Action::Stop => return Err(error),
                Action::NextAccount => {}
                Action::NextTarget => skipped_targets.push((attempt.provider.id, attempt.model)),
            }
            retryable[index] = verdict.counts_for_breaker; // server errors, timeouts, dropped connections
            last_error = Some(error);
        }
    }
    Err(last_error.unwrap_or_else(|| GatewayError::internal("no upstream attempt was made")))
}

thread_local! {
    /// Round-robin positions per combo and per provider (isolate-local, like the original gateway's).
    static ROUND_ROBIN: RefCell<RoundRobinStates> = RefCell::new(RoundRobinStates::default());
    /// Requests sent per connection by this isolate (the `least_used` strategy's input).
    static USES: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

/// An attempt as indexes (target, connection), so it can outlive the round-robin borrow.
fn locate(targets: &Targets, snapshot: &TenantSnapshot, a: &Attempt) -> (usize, usize) {
    let t = targets.list.iter().position(|r| r.provider.id == a.provider.id && r.model == a.model).unwrap_or(0);
    let c = snapshot.connections.iter().position(|c| c.id == a.connection.id).unwrap_or(0);
    (t, c)
}

/// How many upstream calls one request may make before giving up.
const MAX_ATTEMPTS: usize = 10;

/// What became of an upstream's successful answer.
enum Relayed {
    Sent(Response),
    /// The stream failed before its first byte: nothing reached the client, so the request may
    /// still fall back.
    FailedBeforeFirstByte(GatewayError),
}

/// Sends a successful upstream answer to the client: as is when the formats match, translated
/// otherwise, with headers that say who answered and after how many attempts.
///
/// A stream is committed to once its first chunk has arrived, when another attempt could still take
/// over (`can_fall_back`); the last attempt's same-format stream is handed to the runtime unread.
async fn relay(mut resp: Response, call: &UpstreamCall, attempts: u32, can_fall_back: bool) -> Result<Relayed> {
    let status = resp.status_code();
    let out = Headers::new();
    for (name, value) in resp.headers().entries() {
        // A translated body is re-framed, so its type is ours to set.
        if upstream::forwarded_header(&name) && !(call.translated && name.eq_ignore_ascii_case("content-type")) {
            out.append(&name, &value)?;
        }
    }
    out.set("x-omniroute-provider", call.provider)?;
    out.set("x-omniroute-model", &call.model)?;
    out.set("x-omniroute-connection", &call.connection_id)?;
    out.set("x-omniroute-attempts", &attempts.to_string())?;
    if call.stream {
        out.set("cache-control", "no-cache")?;
    }
    if !call.stream {
        if !call.translated {
            let (_, body) = resp.into_parts();
            return Ok(Relayed::Sent(ResponseBuilder::new().with_status(status).with_headers(out).body(body)));
        }
        // An answer that cannot be read or translated is one more failed attempt while another remains.
        let translated = match resp.bytes().await {
            Ok(body) => translate::whole(call.upstream_format, call.client_format, &body, &call.encode),
            Err(e) => Err(GatewayError::upstream(format!("Could not read the answer of `{}`: {e}", call.provider))),
        };
        let translated = match translated {
            Ok(t) => t,
            Err(e) if can_fall_back => return Ok(Relayed::FailedBeforeFirstByte(e)),
            Err(e) => return Err(e),
        };
        out.set("content-type", "application/json")?;
        return Ok(Relayed::Sent(Response::from_bytes(translated)?.with_status(status).with_headers(out)));
    }
    if !call.translated && !can_fall_back {
        // Same format, nowhere to fall back to: the upstream's body is handed to the runtime as the
        // JS stream it is, so bytes flow to the client as they arrive, not copied into wasm.
        let (_, body) = resp.into_parts();
        return Ok(Relayed::Sent(ResponseBuilder::new().with_status(status).with_headers(out).body(body)));
    }
    let mut upstream = resp.stream()?;
    let mut first = Vec::new();
    if can_fall_back {
        while first.is_empty() {
            match upstream.next().await {
                Some(Ok(bytes)) => first = bytes,
                Some(Err(e)) => {
                    let msg = format!("Upstream `{}` failed before the first byte of its stream: {e}", call.provider);
                    return Ok(Relayed::FailedBeforeFirstByte(GatewayError::upstream(msg)));
                }
                None => {
                    let msg = format!("Upstream `{}` ended its stream before sending anything.", call.provider);
                    return Ok(Relayed::FailedBeforeFirstByte(GatewayError::upstream(msg)));
                }
            }
        }
    }
    if call.translated {
        out.set("content-type", "text/event-stream; charset=utf-8")?;
        let stream = translated_stream(upstream, first, call);
        return Ok(Relayed::Sent(Response::from_stream(stream)?.with_status(status).with_headers(out)));
    }
    let stream = relayed_stream(upstream, first, call);
    Ok(Relayed::Sent(Response::from_stream(stream)?.with_status(status).with_headers(out)))
}

/// A same-format stream whose first chunk was already read: the chunk, then the rest as it comes;
/// if the upstream fails midway the client's stream ends with its format's error event.
fn relayed_stream(
    upstream: ByteStream,
    first: Vec<u8>,
    call: &UpstreamCall,
) -> impl futures::Stream<Item = std::result::Result<Vec<u8>, worker::Error>> {
    let (format, provider) = (call.client_format, call.provider);
    futures::stream::unfold(Some((upstream, Some(first))), move |state| async move {
        let (mut upstream, first) = state?;
        if let Some(first) = first.filter(|f| !f.is_empty()) {
            return Some((Ok(first), Some((upstream, None))));
        }
        match upstream.next().await {
            Some(Ok(bytes)) => Some((Ok(bytes), Some((upstream, None)))),
            Some(Err(e)) => {
                let err = GatewayError::upstream(format!("Upstream `{provider}` failed mid-stream: {e}"));
                Some((Ok(format.stream_error_frame(&err).into_bytes()), None))
            }
            None => None,
        }
    })
}

/// The upstream's SSE bytes through the translator, yielding client frames as upstream bytes arrive.
fn translated_stream(
    upstream: ByteStream,
    first: Vec<u8>,
    call: &UpstreamCall,
) -> impl futures::Stream<Item = std::result::Result<Vec<u8>, worker::Error>> {
    let mut translator = StreamTranslator::new(call.upstream_format, call.client_format, &call.encode);
    let head = translator.push(&first);
    futures::stream::unfold(Some((upstream, translator, head)), |state| async move {
        let (mut upstream, mut t, head) = state?;
        if !head.is_empty() {
            return Some((Ok(head), Some((upstream, t, Vec::new()))));
        }
        loop {
            match upstream.next().await {
                Some(Ok(bytes)) => {
                    let out = t.push(&bytes);
                    if !out.is_empty() {
                        return Some((Ok(out), Some((upstream, t, Vec::new()))));
                    }
                }
                Some(Err(e)) => return Some((Ok(t.fail(&e.to_string())), None)),
                None => return Some((Ok(t.end()), None)),
            }
        }
    })
}

thread_local! {
    /// Decrypted provider keys, by tenant, connection and version. Held in isolate memory only (never
    /// stored or logged), so the request path does not run AES for every request.
    static CREDENTIALS: RefCell<HashMap<(String, String, i64), Rc<str>>> = RefCell::new(HashMap::new());
}

fn credential(key: &[u8; 32], tenant: &str, conn: &ConnectionRecord) -> Result<String> {
    let id = (tenant.to_string(), conn.id.clone(), conn.updated_at);
    if let Some(k) = CREDENTIALS.with(|c| c.borrow().get(&id).cloned()) {
        return Ok(k.to_string());
    }
    let aad = format!("{tenant}/{}", conn.id);
    let plain = crypto::decrypt(key, aad.as_bytes(), &conn.api_key_enc)
        .map_err(|e| GatewayError::internal(format!("credential of connection {} unreadable: {}", conn.id, e.0)))?;
    let plain = String::from_utf8(plain).map_err(|_| GatewayError::internal("credential is not UTF-8"))?;
    CREDENTIALS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 1_000 {
            c.clear();
        }
        c.insert(id, Rc::from(plain.as_str()));
    });
    Ok(plain)
}

/// `POST /v1/messages/count_tokens`: an estimate from the request (see `ir::estimate`).
pub async fn count_tokens(req: &mut Request, env: &Env, path_tenant: Option<&str>) -> Result<Response> {
    let snapshot = caller_snapshot(req, env, path_tenant).await?;
    let body = read_body(req, snapshot.settings.max_request_bytes).await?;
    let mut body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| GatewayError::invalid_request(format!("The request body is not valid JSON: {e}")))?;
    // count_tokens requests carry no `max_tokens`, which a Messages request otherwise requires.
    if let Some(o) = body.as_object_mut() {
        o.entry("max_tokens").or_insert(serde_json::json!(1));
    }
    let ir = Format::Anthropic.request_to_ir(&body)?;
    Ok(json_response(200, &serde_json::json!({"input_tokens": crate::ir::estimate::input_tokens(&ir)}))?)
}

pub async fn models(req: &Request, env: &Env, path_tenant: Option<&str>) -> Result<Response> {
    let snapshot = caller_snapshot(req, env, path_tenant).await?;
    let list = available(&snapshot.connected_providers(), snapshot.catalog());
    Ok(json_response(200, &openai_chat::models::render(&list))?)
}
