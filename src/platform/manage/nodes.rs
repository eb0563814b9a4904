//! `/api/provider-nodes` and `/api/provider-models`: what the tenant adds to the provider catalog,
//! custom providers (nodes) and extra model ids for any provider.

use super::{delete_document, list, value, Call};
use crate::error::Result;
use crate::manage::input::{self, CustomModels};
use crate::manage::routes::Collection as Op;
use crate::platform::repo::{self, RoutingTable};
use crate::platform::{config_store, env};
use crate::providers::ProviderNode;
use worker::Response;

pub async fn handle_nodes(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => list(&repo::documents::<ProviderNode>(&call.db()?, call.tenant, RoutingTable::Nodes).await?),
        Op::Put => {
            let node = input::node(&call.body().await?, env::allow_private_upstreams(call.env))?;
            repo::put_document(&call.db()?, call.tenant, RoutingTable::Nodes, &node.id, &node, env::now_ms()).await?;
            call.republish().await?;
            value(201, &node)
        }
        Op::Delete => delete_document(call, RoutingTable::Nodes, call.param("id")).await,
    }
}

pub async fn handle_models(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => {
            let data: Vec<CustomModels> = repo::custom_models(&call.db()?, call.tenant)
                .await?
                .into_iter()
                .map(|(provider, models)| CustomModels { provider, models })
                .collect();
            list(&data)
        }
        Op::Put => {
            let catalog = config_store::snapshot(call.env, call.tenant).await?.catalog().clone();
            let m = input::custom_models(&call.body().await?, &catalog)?;
            let db = call.db()?;
            repo::put_document(&db, call.tenant, RoutingTable::CustomModels, &m.provider, &m.models, env::now_ms())
                .await?;
            call.republish().await?;
            value(201, &m)
        }
        Op::Delete => delete_document(call, RoutingTable::CustomModels, call.param("provider")).await,
    }
}
