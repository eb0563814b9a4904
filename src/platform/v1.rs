//! `/v1/*` (and `/v1beta/*`): the client-facing API. Authenticates the gateway key, finds the
//! tenant's snapshot, hands the request to the core pipeline (`engine::pipeline`) with this
//! platform's ports, and turns the answer it plans into a `Response`. No routing or fallback rule
//! lives here.

use super::credentials::Decrypted;
use super::http::{self, header, json_response, read_body, Incoming, CORS};
use super::replays::WorkerReplays;
use super::resilience_view::{self, IsolateView};
use super::responses_store::KeyResponses;
use super::upstream_fetch::{FetchBody, FetchUpstream};
use super::usage_sink::{StoreSink, WorkerClock, WorkerRandom};
use super::{config_store, env};
use crate::config::TenantSnapshot;
use crate::engine::models_list::{self, Listed, Named};
use crate::engine::pipeline::{self, Answer, Inbound, Ports};
use crate::engine::ports::{ResponseStore, UpstreamBody};
use crate::engine::relay::{Relay, StreamWriter};
use crate::error::{GatewayError, Result};
use crate::formats::{openai_chat, Format};
use crate::providers::ModelKind;
use crate::replay::key::CacheAsk;
use crate::security::api_keys;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::{Context, Env, Response, ResponseBody};

/// Who is calling: the tenant their key belongs to, and which key.
pub struct Caller {
    /// The key's hash (`config_store::key_entry`), to look its state up again.
    pub key_hash: String,
    pub tenant: String,
    pub key_id: String,
    pub limits: crate::limits::KeyLimits,
    pub access: crate::config::key_access::KeyAccess,
}

/// Checks the gateway key (`Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or Gemini's
/// `?key=`). With a `/{tenant}/v1` path the key must belong to that tenant.
pub async fn authenticate(req: &impl Incoming, env: &Env, path_tenant: Option<&str>) -> Result<Caller> {
    let query_key = || {
        let url = worker::Url::parse(&req.raw().url()).ok()?;
        url.query_pairs().find(|(k, _)| k == "key").map(|(_, v)| v.into_owned())
    };
    let key = api_keys::from_headers(header(req, "authorization").as_deref(), || {
        header(req, "x-api-key").or_else(|| header(req, "x-goog-api-key")).or_else(query_key)
    })
    .ok_or_else(|| {
        GatewayError::authentication(
            "Missing API key. Send `Authorization: Bearer <key>` or `x-api-key: <key>`; create keys in the dashboard.",
        )
    })?;
    let keys = env::keys(env)?;
    let hash = api_keys::hash(&keys.api_key_hash, &key);
    let mut entry = config_store::key_entry(env, &hash).await?;
    if let (None, Some(previous)) = (&entry, &keys.previous) {
        // During a MASTER_KEY rotation only: a key still stored under the previous key's hash.
        let old = api_keys::hash(&previous.api_key_hash, &key);
        entry = config_store::rehash_key(env, &old, &hash).await?;
    }
    match entry {
        Some(e) if path_tenant.is_none_or(|t| t == e.tenant) => {
            let now = env::now_ms();
            e.access.usable(now, |zone| env::local_time(zone, now))?;
            Ok(Caller { key_hash: hash, tenant: e.tenant, key_id: e.key_id, limits: e.limits, access: e.access })
        }
        _ => Err(GatewayError::authentication("Invalid API key.")),
    }
}

/// The client's address, as Cloudflare gives it.
pub fn client_ip(req: &impl Incoming) -> Option<std::net::IpAddr> {
    header(req, "cf-connecting-ip").and_then(|v| v.trim().parse().ok())
}

/// The authenticated caller of a `/v1` route and its tenant's snapshot, once the tenant's settings
/// admit the request (`Settings::admit_v1`: its address lists, and no unreadable `/v1` guard).
/// Every `/v1` route that takes a key comes through here.
pub async fn caller_snapshot(
    req: &impl Incoming,
    env: &Env,
    path_tenant: Option<&str>,
) -> Result<(Caller, Rc<TenantSnapshot>)> {
    let caller = authenticate(req, env, path_tenant).await?;
    let snapshot = config_store::snapshot(env, &caller.tenant).await?;
    snapshot.settings.admit_v1(client_ip(req))?;
    Ok((caller, snapshot))
}

/// What the route says of the request: the model and stream flag, for formats that carry them in
/// the URL, and what the endpoint does (chat, or a service such as embeddings).
#[derive(Default)]
pub struct UrlParams {
    pub model: Option<String>,
    pub stream: Option<bool>,
    /// A provider route's provider (`/v1/providers/{provider}/…`).
    pub provider: Option<String>,
    pub kind: ModelKind,
}

/// Any generation endpoint: chat completions, messages, responses, generateContent. Reads the
/// request, runs the core pipeline over this platform's ports, and sends what it planned.
pub async fn generate(
    req: &web_sys::Request,
    env: &Env,
    ctx: &Rc<Context>,
    path_tenant: Option<&str>,
    endpoint: &str,
    format: Format,
    url: UrlParams,
) -> Result<web_sys::Response> {
    let arrived_at = env::now_ms();
    let (caller, snapshot) = caller_snapshot(req, env, path_tenant).await?;
    #[cfg(feature = "bench-phases")]
    if let Some(resp) = super::bench_stop::before_body(req)? {
        return Ok(resp);
    }
    let body = read_body(req, snapshot.settings.max_request_bytes).await;
    #[cfg(feature = "bench-phases")]
    if let Some(resp) = super::bench_stop::after_body(req, &body).await? {
        return Ok(resp);
    }
    let forward_headers = forward_headers(req, format);
    let inbound = Inbound {
        format,
        kind: url.kind,
        content_type: header(req, "content-type"),
        endpoint: endpoint.to_string(),
        client_request_id: header(req, "x-request-id"),
        key_id: caller.key_id.clone(),
        arrived_at,
        url_model: url.model,
        url_stream: url.stream,
        url_provider: url.provider,
        forward_headers,
        idempotency_key: header(req, "idempotency-key"),
        cache_ask: CacheAsk::from_headers(
            header(req, "x-omniroute-no-cache").as_deref(),
            header(req, "x-omniroute-cache").as_deref(),
        ),
        access: caller.access.clone(),
    };
    let responses = (format == Format::OpenAiResponses)
        .then(|| Rc::new(KeyResponses::of(env, ctx, &caller)) as Rc<dyn ResponseStore>);
    let answer = run(env, ctx, &caller, &snapshot, inbound, body, responses).await?;
    respond(answer, ctx)
}

/// Client headers a same-format upstream needs along with the untouched body.
pub fn forward_headers(req: &web_sys::Request, format: Format) -> Vec<(String, String)> {
    format
        .passthrough_client_headers()
        .iter()
        .filter_map(|name| header(req, name).map(|v| (name.to_string(), v)))
        .collect()
}

/// Runs the core pipeline for an authenticated caller over this platform's ports.
pub async fn run(
    env: &Env,
    ctx: &Rc<Context>,
    caller: &Caller,
    snapshot: &TenantSnapshot,
    inbound: Inbound,
    body: Result<Vec<u8>>,
    responses: Option<Rc<dyn ResponseStore>>,
) -> Result<Answer<FetchBody>> {
    let keys = env::keys(env)?;
    let (tenant, settings) = (snapshot.tenant.as_str(), &snapshot.settings);
    resilience_view::refresh_if_stale(env, ctx, tenant, inbound.arrived_at, settings);
    let view = IsolateView { env, ctx, tenant, settings };
    let ports = Ports {
        upstream: &FetchUpstream,
        credentials: &Decrypted { keys: &keys, tenant },
        resilience: &view,
        usage: usage_sink(env, ctx),
        clock: Rc::new(WorkerClock),
        random: &WorkerRandom,
        admission: super::limits_gate::gate(env, ctx, caller, snapshot),
        replays: Some(Rc::new(WorkerReplays { env: env.clone(), ctx: ctx.clone() })),
        responses,
    };
    Ok(pipeline::run(&ports, snapshot, inbound, body).await)
}

fn usage_sink(env: &Env, ctx: &Rc<Context>) -> Rc<dyn crate::engine::ports::UsageSink> {
    #[cfg(feature = "bench-phases")]
    if super::bench_stop::NOMETER.get() {
        return Rc::new(super::bench_stop::Dropped);
    }
    Rc::new(StoreSink { env: env.clone(), ctx: ctx.clone() })
}

/// The pipeline's answer as the runtime's `Response` (CORS headers included).
pub fn respond(answer: Answer<FetchBody>, ctx: &Context) -> Result<web_sys::Response> {
    let body: JsValue = match answer.relay {
        Relay::Whole(bytes) => js_sys::Uint8Array::from(bytes.as_slice()).into(),
        Relay::Pipe { body, watch } => match body.into_js() {
            Some(source) => super::pipe::piped(source, watch, ctx).into(),
            None => {
                watch.end(None);
                JsValue::NULL
            }
        },
        Relay::Stream { first, body, writer } => {
            match Response::from_stream(written(first, body, writer))?.into_parts().1 {
                ResponseBody::Stream(stream) => stream.into(),
                ResponseBody::Body(_) | ResponseBody::Empty => JsValue::NULL,
            }
        }
    };
    http::response(answer.status, &answer.headers, &CORS, &body)
}

/// A stream the gateway writes: the first chunk (already read), then the rest as it arrives, each
/// through the writer (translated, or checked for its proper ending). When the upstream's body is
/// over, the writer either closes the stream or hands back a continuation's body to read on from.
fn written(
    first: Vec<u8>,
    body: FetchBody,
    writer: StreamWriter,
) -> impl futures::Stream<Item = std::result::Result<Vec<u8>, worker::Error>> {
    futures::stream::unfold(Some((body, writer, Some(first))), |state| async move {
        let (mut body, mut writer, first) = state?;
        if let Some(first) = first {
            let out = writer.push(first);
            if !out.is_empty() {
                return Some((Ok(out), Some((body, writer, None))));
            }
        }
        loop {
            let failure = match body.next_chunk().await {
                Some(Ok(chunk)) => {
                    let out = writer.push(chunk);
                    if !out.is_empty() {
                        return Some((Ok(out), Some((body, writer, None))));
                    }
                    continue;
                }
                Some(Err(e)) => Some(e.message),
                None => None,
            };
            match writer.ended(&FetchUpstream, failure.as_deref()).await {
                (out, Some(next)) => {
                    body = next;
                    if !out.is_empty() {
                        return Some((Ok(out), Some((body, writer, None))));
                    }
                }
                // Plain bytes (audio) cannot end with an error event: the client's stream errors.
                (_, None) if writer.severed() => {
                    return Some((Err(worker::Error::RustError("the upstream broke off mid-stream".into())), None))
                }
                (out, None) => return Some((Ok(out), None)),
            }
        }
    })
}

/// `POST /v1/messages/count_tokens`: an estimate from the request (see `ir::estimate`).
pub async fn count_tokens(req: &web_sys::Request, env: &Env, path_tenant: Option<&str>) -> Result<Response> {
    let (_, snapshot) = caller_snapshot(req, env, path_tenant).await?;
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

/// `GET /v1/models` (of one provider under `/v1/providers/{provider}/`).
pub async fn models(
    req: &web_sys::Request,
    env: &Env,
    path_tenant: Option<&str>,
    provider: Option<&str>,
) -> Result<Response> {
    let (caller, snapshot) = caller_snapshot(req, env, path_tenant).await?;
    let list = provider_models(&caller, &snapshot, provider)?;
    Ok(json_response(200, &openai_chat::models::render(&list))?)
}

/// `GET /v1/models/health`: per id `GET /v1/models` lists, whether a request could be served now
/// (`engine::models_health`, over this isolate's resilience view).
pub async fn models_health(
    req: &web_sys::Request,
    env: &Env,
    ctx: &Context,
    path_tenant: Option<&str>,
    provider: Option<&str>,
) -> Result<Response> {
    let (caller, snapshot) = caller_snapshot(req, env, path_tenant).await?;
    let (tenant, settings) = (snapshot.tenant.as_str(), &snapshot.settings);
    let now = env::now_ms();
    resilience_view::refresh_if_stale(env, ctx, tenant, now, settings);
    let view = IsolateView { env, ctx, tenant, settings };
    let listed = provider_models(&caller, &snapshot, provider)?;
    let health = crate::engine::models_health::check(&snapshot, &listed, &caller.access, &view, now);
    Ok(json_response(200, &serde_json::json!({"object": "list", "data": health}))?)
}

/// The ids the calling key may call (`engine::models_list`); under a provider route, only that
/// provider's models, named as the route serves them unchanged.
fn provider_models(caller: &Caller, snapshot: &TenantSnapshot, provider: Option<&str>) -> Result<Vec<Listed>> {
    let mut list = models_list::callable(snapshot, &caller.access);
    if let Some(p) = provider {
        let spec = snapshot.catalog().find(p).ok_or_else(|| {
            GatewayError::not_found(format!("Unknown provider `{p}` in the route.")).with_code("provider_not_found")
        })?;
        let prefix = format!("{}/", spec.id);
        list.retain(|m| m.named == Named::Model && m.owned_by == spec.id && m.id.starts_with(&prefix));
    }
    Ok(list)
}
