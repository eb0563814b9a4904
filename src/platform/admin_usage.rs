//! `/api/usage`, `/api/logs` and `/api/pricing`: what requests cost and how they went, and the
//! tenant's prices. Routed from `admin` (same admin secret, same `?tenant=`). Parameters are checked
//! by the core (`metering::query`, `pricing`); this module runs the SQL and renders.

use super::http::{json_response, read_body};
use super::{config_store, env, repo};
use crate::config::input;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::metering::log::LogRow;
use crate::metering::query::{self, LogQuery, UsageQuery};
use crate::metering::UsageRecord;
use crate::pricing::{self, PricesInput};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use worker::{Env, Method, Request, Response};

/// A `PUT /api/pricing` body: up to `MAX_PRICES_PER_PUT` rows of ~150 bytes.
const MAX_PRICING_BODY: u64 = 512 * 1024;

pub async fn handle(req: &mut Request, env: &Env, tenant: &str, segments: &[&str]) -> Result<Response> {
    let pairs: Vec<(String, String)> =
        req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    match (req.method(), segments) {
        (Method::Get, ["usage"]) => usage(env, tenant, &pairs).await,
        (Method::Get, ["logs"]) => logs(env, tenant, &pairs).await,
        (Method::Get, ["logs", id]) => log_record(env, tenant, id).await,
        (Method::Get, ["pricing"]) => price_list(env, tenant).await,
        (Method::Put, ["pricing"]) => {
            let body = read_body(req, MAX_PRICING_BODY).await?;
            put_prices(env, tenant, &body).await
        }
        (Method::Delete, ["pricing"]) => delete_price(env, tenant, &pairs).await,
        (_, ["usage"] | ["logs"] | ["logs", _] | ["pricing"]) => {
            Err(GatewayError::new(ErrorKind::InvalidRequest, "Method not allowed for this path.").with_status(405))
        }
        _ => Err(GatewayError::not_found(format!("No admin route `/api/{}`.", segments.join("/")))),
    }
}

async fn usage(env: &Env, tenant: &str, pairs: &[(String, String)]) -> Result<Response> {
    let q = UsageQuery::parse(pairs, env::now_ms())?;
    let db = repo::db(env)?;
    let (sql, args) = q.sql(tenant);
    let rows: Vec<Map<String, Value>> = repo::rows(&db, &sql, &args).await?;
    let names = if q.group_by == query::GroupBy::Key { repo::key_names(&db, tenant).await? } else { HashMap::new() };
    Ok(json_response(200, &q.render(&rows, &names))?)
}

async fn logs(env: &Env, tenant: &str, pairs: &[(String, String)]) -> Result<Response> {
    let q = LogQuery::parse(pairs)?;
    let (sql, args) = q.sql(tenant);
    let rows: Vec<LogRow> = repo::rows(&repo::db(env)?, &sql, &args).await?;
    let (page, next) = q.page(rows.into_iter().map(UsageRecord::from).collect());
    Ok(json_response(200, &json!({"data": page, "next": next}))?)
}

async fn log_record(env: &Env, tenant: &str, request_id: &str) -> Result<Response> {
    if request_id.is_empty() || request_id.len() > 256 {
        return Err(GatewayError::invalid_request("A request id has 1 to 256 characters.").with_param("request_id"));
    }
    let (sql, args) = query::record_sql(tenant, request_id);
    let row = repo::rows::<LogRow>(&repo::db(env)?, &sql, &args).await?.into_iter().next();
    let rec =
        UsageRecord::from(row.ok_or_else(|| GatewayError::not_found(format!("No logged request `{request_id}`.")))?);
    Ok(json_response(200, &serde_json::to_value(rec).unwrap_or_default())?)
}

async fn price_list(env: &Env, tenant: &str) -> Result<Response> {
    let overrides = repo::prices(&repo::db(env)?, tenant).await?;
    Ok(json_response(200, &json!({"data": pricing::merged(&overrides)}))?)
}

async fn put_prices(env: &Env, tenant: &str, body: &[u8]) -> Result<Response> {
    let catalog = config_store::snapshot(env, tenant).await?.catalog().clone();
    let prices = input::parse::<PricesInput>(body)?.validate(&catalog)?;
    repo::put_prices(&repo::db(env)?, tenant, &prices, env::now_ms()).await?;
    config_store::rebuild_snapshot(env, tenant).await?;
    let rows: Vec<_> = prices.iter().map(|o| o.row()).collect();
    Ok(json_response(200, &json!({"data": rows}))?)
}

async fn delete_price(env: &Env, tenant: &str, pairs: &[(String, String)]) -> Result<Response> {
    let param =
        |name: &str| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or_else(|| {
                GatewayError::invalid_request("Give the override as ?provider=…&model=…").with_param(name)
            })
        };
    let catalog = config_store::snapshot(env, tenant).await?.catalog().clone();
    let provider = pricing::provider_id(param("provider")?, &catalog).map_err(|e| e.with_param("provider"))?;
    let model = pricing::check_model(param("model")?).map_err(|e| e.with_param("model"))?;
    if !repo::delete_price(&repo::db(env)?, tenant, &provider, &model).await? {
        return Err(GatewayError::not_found(format!("No custom price for `{provider}/{model}`.")));
    }
    config_store::rebuild_snapshot(env, tenant).await?;
    Ok(json_response(200, &json!({"deleted": {"provider": provider, "model": model}}))?)
}
