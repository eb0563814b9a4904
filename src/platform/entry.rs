//! The Worker's entry point and its route table.
//!
//! Paths: `/health` (public), `/v1/*` (gateway key), `/{tenant}/v1/*` (gateway key of that tenant),
//! `/api/*` (admin secret), `/sync/{machineId}` and `/cloud/{token}/…` (cloud sync under an
//! enrollment; see `sync`); anything else is the dashboard (static assets). `/v1/v1/*` is treated as
//! `/v1/*`, a common misconfiguration of base URLs.

use super::http::{error_response, header, preflight, url_path, with_cors};
use super::v1::UrlParams;
use super::{env, instance, manage, responses, responses_ws, sync, usage_store, v1};
use crate::config::valid_tenant_id;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::gemini::endpoint::gemini_target;
use crate::formats::Format;
use crate::providers::ModelKind;
use crate::security::cors::Decision;
use crate::sync::enroll::{self, SyncPath};
use worker::{event, Context, Env, Method, Request, Response, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// The hourly cron trigger (`wrangler.toml`): log retention, the refresh of synced subscription
/// accounts the edge owns, and the expiry of idle synced machines.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match usage_store::purge(&env, env::now_ms()).await {
        Ok(p) => worker::console_log!(
            "retention: {} log rows, {} hourly rows, {} audit rows deleted",
            p.log_rows,
            p.hourly_rows,
            p.audit_rows
        ),
        Err(e) => worker::console_error!("retention purge failed: {}", e.message),
    }
    match sync::refresh_accounts(&env).await {
        Ok(n) => worker::console_log!("cloud sync: {n} subscription accounts refreshed"),
        Err(e) => worker::console_error!("cloud sync refresh failed: {}", e.message),
    }
    match sync::expire_idle(&env, env::now_ms()).await {
        Ok(n) => worker::console_log!("cloud sync: {n} idle machines expired"),
        Err(e) => worker::console_error!("cloud sync expiry failed: {}", e.message),
    }
}

/// The Worker's fetch handler: the export worker-build's entry class calls. Written out instead of
/// `#[event(fetch)]` so that the handler runs as a `crate::task` (polled at once, resumed directly by
/// the promises it awaits; see `promise`) rather than through wasm-bindgen's microtask queue.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> js_sys::Promise {
    super::promise::spawn_handler(async move {
        let resp = match handle(req, env, Context::new(ctx)).await {
            Ok(resp) => resp,
            Err(e) => {
                worker::console_error!("{e}");
                worker::Response::error("INTERNAL SERVER ERROR", 500)?.into()
            }
        };
        Ok(resp.into())
    })
}

/// Takes the runtime's `Request` as it is: `/v1` reads it directly, the other routes wrap it in a
/// `worker::Request` (see `http::Incoming`).
async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    // Shared with what outlives the handler: a stream's usage record is written when it ends.
    let ctx = std::rc::Rc::new(ctx);
    #[cfg(feature = "bench-phases")]
    if super::bench_stop::stop(&req).as_deref() == Some("entry") {
        return super::bench_stop::done();
    }
    let method = Method::from(req.method());
    let url = req.url();
    let raw = url_path(&url).to_string();
    if method == Method::Options {
        return options(&req, &env, &raw).await.map(Into::into);
    }
    // Cloud sync: `/sync/{machine}`, and the client API under an enrollment's `/cloud/{token}`.
    let under = match enroll::route(&raw) {
        Some(SyncPath::Sync { token, machine }) => {
            let mut req = Request::from(req);
            return Ok(with_cors(sync::handle(&mut req, &env, token, machine).await?).into());
        }
        Some(SyncPath::Under { token, rest }) => Some((rest.to_string(), sync::enrolled_machine(&env, token).await)),
        None => None,
    };
    let (path, enrolled) = match under {
        Some((rest, machine)) => (rest, Some(machine)),
        None => (raw, None),
    };
    let (tenant, path) = split_tenant(&path);
    let path = normalize(&path);
    let (provider, path) = split_provider(&path);
    let path = normalize(&path); // a base URL of `…/providers/{p}/v1` gives `/v1/v1/…`
    let is_v1 = path == "/v1" || path.starts_with("/v1/") || path.starts_with("/v1beta/");
    // Under an enrollment the tenant is its machine: another machine's path is not found there.
    let (tenant, refused) = match enrolled {
        None => (tenant, None),
        Some(Ok(machine)) if tenant.as_ref().is_none_or(|t| *t == machine) && is_v1 => (Some(machine), None),
        Some(Ok(_)) => {
            (tenant, Some(GatewayError::not_found("Only this enrollment's machine's /v1 routes exist here.")))
        }
        Some(Err(e)) => (tenant, Some(e)),
    };
    if is_v1 {
        let format = client_format(&path);
        let origin = header(&req, "origin");
        let cors = match instance::cors(&env, origin.as_deref()).await {
            Ok(Some(Decision::Refuse)) => return Ok(error_response(format, &cors_refused())?.into()),
            Ok(c) => c,
            Err(e) => return Ok(with_cors(error_response(format, &e)?).into()),
        };
        let routed = match refused {
            Some(e) => Err(e),
            None => v1_route(&req, &method, &env, &ctx, tenant.as_deref(), provider.as_deref(), &path).await,
        };
        let resp = match routed {
            Ok(r) => r,
            Err(e) => {
                drain_small_body(&req).await;
                with_cors(error_response(format, &e)?).into()
            }
        };
        if let (Some(Decision::Echo), Some(origin)) = (cors, origin) {
            echo_origin(&resp, &origin);
        }
        return Ok(resp);
    }
    other_route(req, &method, &env, &path, tenant.is_some(), refused).await.map(Into::into)
}

/// `OPTIONS`: a browser's preflight. `/v1` and cloud sync answer the origins the instance allows
/// (`cors_origins`); the management API and the dashboard never answer cross-origin.
async fn options(req: &web_sys::Request, env: &Env, path: &str) -> worker::Result<Response> {
    if path == "/api" || path.starts_with("/api/") || !(path.contains("/v1") || path.starts_with("/sync/")) {
        let e = GatewayError::new(ErrorKind::PermissionDenied, "This path does not answer cross-origin requests.")
            .with_code("cross_origin_refused");
        return error_response(Format::OpenAiChat, &e);
    }
    let origin = header(req, "origin");
    match instance::cors(env, origin.as_deref()).await {
        Ok(Some(Decision::Refuse)) => error_response(Format::OpenAiChat, &cors_refused()),
        Ok(Some(Decision::Echo)) => {
            let resp = preflight()?;
            resp.headers().set("access-control-allow-origin", origin.as_deref().unwrap_or_default())?;
            resp.headers().set("vary", "Origin")?;
            Ok(resp)
        }
        Ok(_) => preflight(),
        Err(e) => error_response(Format::OpenAiChat, &e),
    }
}

fn cors_refused() -> GatewayError {
    GatewayError::new(ErrorKind::PermissionDenied, "This gateway does not accept browser requests from this origin.")
        .with_code("cors_origin_refused")
}

/// Names the request's own origin instead of `*` (the instance lists its origins). A response whose
/// headers the runtime keeps immutable (a WebSocket upgrade) is left as it is.
fn echo_origin(resp: &web_sys::Response, origin: &str) {
    let h = resp.headers();
    let _ = h.set("access-control-allow-origin", origin);
    let _ = h.append("vary", "Origin");
}

/// Everything but `/v1`: health, the admin API, the dashboard's assets.
async fn other_route(
    req: web_sys::Request,
    method: &Method,
    env: &Env,
    path: &str,
    under_tenant: bool,
    refused: Option<GatewayError>,
) -> worker::Result<Response> {
    if let Some(e) = refused {
        return error_response(Format::OpenAiChat, &e);
    }
    if under_tenant {
        return error_response(
            Format::OpenAiChat,
            &GatewayError::not_found("Only /v1 routes exist below a tenant prefix."),
        );
    }
    if path == "/health" {
        return super::http::json_response(
            200,
            &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
        );
    }
    if path.starts_with("/api/") {
        return match manage::handle(Request::from(req), env, path).await {
            Ok(r) => Ok(r),
            Err(e) => error_response(Format::OpenAiChat, &e),
        };
    }
    match *method {
        Method::Get | Method::Head => env.assets(env::ASSETS)?.fetch_request(Request::from(req)).await,
        _ => error_response(Format::OpenAiChat, &GatewayError::not_found(format!("No route for `{path}`."))),
    }
}

/// Reads an unread request body of modest size before an early error answer. A local runtime closes
/// the connection when a response leaves the body unread, and a client that reuses that keep-alive
/// connection then fails its next request. Oversized bodies are not read (that is what 413 refuses).
async fn drain_small_body(req: &web_sys::Request) {
    const DRAIN_LIMIT: u64 = 1024 * 1024;
    if req.body_used() || req.body().is_none() {
        return;
    }
    let len = super::http::header(req, "content-length").and_then(|v| v.parse::<u64>().ok());
    if len.is_some_and(|l| l <= DRAIN_LIMIT) {
        let _ = super::http::read_body(req, DRAIN_LIMIT).await;
    }
}

/// The API format a path belongs to, so that even its errors come in the client's own shape.
fn client_format(path: &str) -> Format {
    match path {
        "/v1/messages" | "/v1/messages/count_tokens" => Format::Anthropic,
        "/v1/responses" => Format::OpenAiResponses,
        _ if stored_response_id(path).is_some() => Format::OpenAiResponses,
        _ if gemini_rest(path).is_some() => Format::Gemini,
        _ => Format::OpenAiChat,
    }
}

async fn v1_route(
    req: &web_sys::Request,
    method: &Method,
    env: &Env,
    ctx: &std::rc::Rc<Context>,
    tenant: Option<&str>,
    provider: Option<&str>,
    path: &str,
) -> Result<web_sys::Response> {
    // Embeddings, images, audio, moderations, rerank: OpenAI-shaped, through the same pipeline.
    let service = ModelKind::ALL.into_iter().find(|k| *k != ModelKind::Chat && k.endpoint() == path);
    // Edits take the image models of generations (a form instead of JSON: `services::images`).
    let service = service.or((path == "/v1/images/edits").then_some(ModelKind::Image));
    let pinned = || provider.map(str::to_string);
    let generate_as =
        |format| (format, UrlParams { provider: pinned(), kind: service.unwrap_or_default(), ..UrlParams::default() });
    let target = match (method.clone(), path) {
        (Method::Post, "/v1/chat/completions") => Some(generate_as(Format::OpenAiChat)),
        (Method::Post, "/v1/messages") => Some(generate_as(Format::Anthropic)),
        (Method::Post, "/v1/responses") => Some(generate_as(Format::OpenAiResponses)),
        (Method::Post, _) if service.is_some() => Some(generate_as(Format::OpenAiChat)),
        (Method::Post, _) => gemini_rest(path).map(|rest| {
            let t = gemini_target(rest);
            let (model, stream) = (t.as_ref().map(|t| t.model.clone()), t.map(|t| t.stream));
            (Format::Gemini, UrlParams { model, stream, provider: pinned(), ..UrlParams::default() })
        }),
        _ => None,
    };
    if matches!(&target, Some((Format::Gemini, UrlParams { model: None, .. }))) {
        return Err(GatewayError::not_found(format!(
            "Unknown Gemini method in `{path}`; use :generateContent or :streamGenerateContent."
        )));
    }
    if let Some((format, url)) = target {
        return v1::generate(req, env, ctx, tenant, path, format, url).await;
    }
    if *method == Method::Get && path == "/v1/responses" && responses_ws::is_upgrade(req) {
        return responses_ws::open(req, env, ctx, tenant).await;
    }
    if let Some(id) = stored_response_id(path) {
        if !matches!(method, Method::Get | Method::Delete) {
            return Err(method_not_allowed());
        }
        return Ok(with_cors(responses::by_id(req, method, env, ctx, tenant, id).await?).into());
    }
    let resp = match (method.clone(), path) {
        (Method::Post, "/v1/messages/count_tokens") => v1::count_tokens(req, env, tenant).await,
        (Method::Get, "/v1/models") => v1::models(req, env, tenant, provider).await,
        (Method::Get, "/v1/models/health") => v1::models_health(req, env, ctx, tenant, provider).await,
        (Method::Get, "/v1/verify") => sync::verify(req, env, tenant).await,
        (
            _,
            "/v1/chat/completions"
            | "/v1/messages"
            | "/v1/responses"
            | "/v1/messages/count_tokens"
            | "/v1/models"
            | "/v1/models/health",
        ) => Err(method_not_allowed()),
        _ if service.is_some() => Err(method_not_allowed()),
        _ => Err(GatewayError::not_found(format!("Unknown endpoint `{path}`.")).with_code("unknown_url")),
    }?;
    Ok(with_cors(resp).into())
}

fn method_not_allowed() -> GatewayError {
    GatewayError::new(ErrorKind::InvalidRequest, "Method not allowed for this endpoint.").with_status(405)
}

/// What follows `/models/` in a Gemini call (`/v1beta/models/...` or `/v1/models/...:method`).
fn gemini_rest(path: &str) -> Option<&str> {
    path.strip_prefix("/v1beta/models/").or_else(|| path.strip_prefix("/v1/models/").filter(|r| r.contains(':')))
}

/// The id in `/v1/responses/{id}`.
fn stored_response_id(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/responses/").filter(|id| !id.is_empty() && !id.contains('/'))
}

/// `/{tenant}/v1/...` → (`Some(tenant)`, `/v1/...`).
fn split_tenant(path: &str) -> (Option<String>, String) {
    let rest = path.trim_start_matches('/');
    if let Some((first, tail)) = rest.split_once('/') {
        let reserved = matches!(first, "v1" | "v1beta" | "api" | "health");
        let api = tail == "v1" || tail.starts_with("v1/") || tail.starts_with("v1beta/");
        if !reserved && valid_tenant_id(first) && api {
            return (Some(first.to_string()), format!("/{tail}"));
        }
    }
    (None, path.to_string())
}

/// `/v1/providers/{provider}/…` → (`Some(provider)`, `/v1/…`): the same endpoints, pinned to one
/// provider (`routing::model::pin_provider`).
fn split_provider(path: &str) -> (Option<String>, String) {
    if let Some((provider, rest)) = path.strip_prefix("/v1/providers/").and_then(|r| r.split_once('/')) {
        if !provider.is_empty() && provider.len() <= 64 && !rest.is_empty() {
            return (Some(provider.to_string()), format!("/v1/{rest}"));
        }
    }
    (None, path.to_string())
}

/// Collapses `/v1/v1/...` into `/v1/...` and drops a trailing slash.
fn normalize(path: &str) -> String {
    let mut p = path.to_string();
    while p.starts_with("/v1/v1/") || p == "/v1/v1" {
        p.replace_range(0..3, "");
    }
    if p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    p
}
