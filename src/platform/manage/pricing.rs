//! `/api/pricing`: the tenant's prices per model (defaults from the catalog, overrides in D1); the
//! core checks them (`pricing`).

use super::{list, value, Call};
use crate::config::input;
use crate::error::{GatewayError, Result};
use crate::manage::routes::Collection as Op;
use crate::platform::{config_store, env, repo};
use crate::pricing::{self, PricesInput};
use serde_json::json;
use worker::Response;

/// A `PUT /api/pricing` body: up to `MAX_PRICES_PER_PUT` rows of ~150 bytes.
const MAX_PRICING_BODY: u64 = 512 * 1024;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => list(&pricing::merged(&repo::prices(&call.db()?, call.tenant).await?)),
        Op::Put => {
            let catalog = config_store::snapshot(call.env, call.tenant).await?.catalog().clone();
            let prices = input::parse::<PricesInput>(&call.body_up_to(MAX_PRICING_BODY).await?)?.validate(&catalog)?;
            repo::put_prices(&call.db()?, call.tenant, &prices, env::now_ms()).await?;
            call.republish().await?;
            list(&prices.iter().map(|o| o.row()).collect::<Vec<_>>())
        }
        Op::Delete => delete(call).await,
    }
}

async fn delete(call: &Call<'_>) -> Result<Response> {
    let param = |name: &str| {
        call.query(name)
            .ok_or_else(|| GatewayError::invalid_request("Give the override as ?provider=…&model=…").with_param(name))
    };
    let catalog = config_store::snapshot(call.env, call.tenant).await?.catalog().clone();
    let provider = pricing::provider_id(&param("provider")?, &catalog).map_err(|e| e.with_param("provider"))?;
    let model = pricing::check_model(&param("model")?).map_err(|e| e.with_param("model"))?;
    if !repo::delete_price(&call.db()?, call.tenant, &provider, &model).await? {
        return Err(GatewayError::not_found(format!("No custom price for `{provider}/{model}`.")));
    }
    call.republish().await?;
    value(200, &json!({"deleted": {"provider": provider, "model": model}}))
}
