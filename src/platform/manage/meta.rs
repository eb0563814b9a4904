//! What describes the gateway rather than configures it: the OpenAPI document, the merged model
//! catalog, cache statistics and the audit log.

use super::{list, value, Call};
use crate::auth::audit::{self, AuditEntry};
use crate::error::{GatewayError, Result};
use crate::manage::input;
use crate::manage::routes::Meta as Op;
use crate::platform::{config_store, repo};
use serde_json::{json, Map, Value};
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::OpenApi => openapi(),
        Op::Stats => stats(call).await,
        Op::ModelsCatalog => models_catalog(call).await,
    }
}

/// `GET /api/openapi.json` (public: it describes the open-source API, no instance data).
pub fn openapi() -> Result<Response> {
    let resp = Response::ok(crate::manage::openapi::DOCUMENT)?;
    resp.headers().set("content-type", "application/json")?;
    resp.headers().set("cache-control", "public, max-age=300")?;
    Ok(resp)
}

/// Every provider's models (built-ins with custom ids, and provider nodes), grouped by provider.
async fn models_catalog(call: &Call<'_>) -> Result<Response> {
    let snapshot = config_store::snapshot(call.env, call.tenant).await?;
    let data: Vec<Value> = snapshot
        .catalog()
        .iter()
        .map(|p| {
            let models: Vec<Value> =
                p.models_with_kinds().map(|(m, kind)| json!({"id": format!("{}/{m}", p.id), "kind": kind})).collect();
            json!({"provider": p.id, "name": p.name, "format": p.format, "models": models})
        })
        .collect();
    list(&data)
}

/// `GET /api/stats[?since=<ms>]`: this isolate's config-cache counters, and how the response cache
/// and idempotency keys served the tenant (from the request log: what it keeps, or since `since`).
async fn stats(call: &Call<'_>) -> Result<Response> {
    let since = input::since(call.query("since").as_deref())?;
    let (sql, args) = crate::metering::query::cache_counts_sql(call.tenant, since);
    let rows: Vec<Map<String, Value>> = repo::rows(&call.db()?, &sql, &args).await?;
    value(
        200,
        &json!({
            "config_cache": config_store::stats(),
            "response_cache": crate::metering::query::render_cache_counts(&rows),
        }),
    )
}

/// `GET /api/audit[?limit=<n>&after=<cursor>]`: the tenant's audit log, newest first; `next` is
/// the cursor of the following page.
pub async fn audit_page(call: &Call<'_>) -> Result<Response> {
    let limit = input::limit(call.query("limit").as_deref(), 100, audit::MAX_PAGE)?;
    let after = call.query("after");
    let (sql, args) = audit::page_sql(call.tenant, after.as_deref(), limit).ok_or_else(|| {
        GatewayError::invalid_request("`after` is a cursor from a previous page.").with_param("after")
    })?;
    let rows: Vec<AuditEntry> = repo::rows(&call.db()?, &sql, &args).await?;
    let next = if rows.len() as u32 == limit { rows.last().and_then(audit::cursor) } else { None };
    value(200, &json!({"data": rows, "next": next}))
}
