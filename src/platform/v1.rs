//! `/v1/*`: the client-facing API. Authenticates the gateway key, finds the tenant's snapshot, lets
//! the core plan the upstream call, and relays the answer — streams chunk by chunk as they arrive.

use super::http::{header, read_body};
use super::{config_store, env, resilience, upstream_fetch};
use crate::config::ConnectionRecord;
use crate::config::TenantSnapshot;
use crate::engine::{plan, upstream};
use crate::error::{GatewayError, Result};
use crate::formats::openai_chat;
use crate::formats::openai_chat::request::ChatRequest;
use crate::resilience::cooldown::{self, Cooldown};
use crate::routing::model::available;
use crate::security::{api_keys, crypto};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Context, Env, Headers, Request, Response, ResponseBuilder};

/// Who is calling: the tenant their key belongs to.
pub struct Caller {
    pub tenant: String,
}

/// Checks the gateway key (`Authorization: Bearer` or `x-api-key`). With a `/{tenant}/v1` path the
/// key must belong to that tenant.
pub async fn authenticate(req: &Request, env: &Env, path_tenant: Option<&str>) -> Result<Caller> {
    let key = api_keys::from_headers(header(req, "authorization").as_deref(), header(req, "x-api-key").as_deref())
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

pub async fn chat_completions(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    path_tenant: Option<&str>,
) -> Result<Response> {
    let snapshot = caller_snapshot(req, env, path_tenant).await?;
    let body = read_body(req, snapshot.settings.max_request_bytes).await?;
    let chat = ChatRequest::parse(&body)?;
    let keys = env::keys(env)?;
    let tenant = snapshot.tenant.as_str();
    let now = env::now_ms();
    resilience::refresh_if_stale(env, ctx, tenant, now);
    let cooling = |scope: &str| resilience::remaining(tenant, scope, now);
    let call = plan::plan_chat(&snapshot, &chat, cooling, |conn| credential(&keys.credentials, tenant, conn))?;

    let mut resp = upstream_fetch::send(&call, snapshot.settings.upstream_timeout_ms).await?;
    let status = resp.status_code();
    if !(200..300).contains(&status) {
        let retry_after = upstream::retry_after_secs(
            resp.headers().get("retry-after").ok().flatten().as_deref(),
            resp.headers().get("retry-after-ms").ok().flatten().as_deref(),
        );
        if status == 429 {
            let cd = Cooldown {
                scope: cooldown::scope(&call.connection_id, &call.model),
                until_ms: cooldown::until(now, retry_after),
                reason: format!("429 from {}", call.provider),
            };
            resilience::report(env, ctx, tenant, cd, now);
        }
        let body = resp.bytes().await.unwrap_or_default();
        return Err(upstream::map_error(call.provider, status, &body, retry_after));
    }

    let out = Headers::new();
    for (name, value) in resp.headers().entries() {
        if upstream::forwarded_header(&name) {
            out.append(&name, &value)?;
        }
    }
    out.set("x-omniroute-provider", call.provider)?;
    out.set("x-omniroute-model", &call.model)?;
    if call.stream {
        out.set("cache-control", "no-cache")?;
    }
    // The upstream's body is handed to the runtime as the JS stream it is: bytes flow to the client as
    // they arrive, without being copied into wasm or buffered.
    let (_, body) = resp.into_parts();
    Ok(ResponseBuilder::new().with_status(status).with_headers(out).body(body))
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

pub async fn models(req: &Request, env: &Env, path_tenant: Option<&str>) -> Result<Response> {
    let snapshot = caller_snapshot(req, env, path_tenant).await?;
    let list = available(&snapshot.connected_providers());
    Ok(super::http::json_response(200, &openai_chat::models::render(&list))?)
}
