//! `/api/fallback-chains`: after a model fails, the models to try next (`routing::alias`).

use super::{delete_document, list, value, Call};
use crate::error::Result;
use crate::manage::input::{self, Chain};
use crate::manage::routes::Collection as Op;
use crate::platform::env;
use crate::platform::repo::{self, RoutingTable};
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => {
            let chains = repo::fallback_chains(&call.db()?, call.tenant).await?;
            let data: Vec<Chain> =
                chains.iter().map(|(m, c)| Chain { model: m.to_string(), chain: c.to_vec() }).collect();
            list(&data)
        }
        Op::Put => {
            let c = input::chain(&call.body().await?)?;
            let db = call.db()?;
            repo::put_document(&db, call.tenant, RoutingTable::FallbackChains, &c.model, &c.chain, env::now_ms())
                .await?;
            call.republish().await?;
            value(201, &c)
        }
        Op::Delete => {
            let model = call.query("model");
            let model = input::required(model.as_deref(), "model")?;
            delete_document(call, RoutingTable::FallbackChains, model).await
        }
    }
}
