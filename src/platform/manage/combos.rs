//! `/api/combos`: named lists of targets tried in order or by strategy (`routing::combo`).

use super::{delete_document, list, value, Call};
use crate::error::Result;
use crate::manage::input;
use crate::manage::routes::Collection as Op;
use crate::platform::env;
use crate::platform::repo::{self, RoutingTable};
use crate::routing::combo::Combo;
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => list(&repo::documents::<Combo>(&call.db()?, call.tenant, RoutingTable::Combos).await?),
        Op::Put => {
            let db = call.db()?;
            let stored = repo::documents::<Combo>(&db, call.tenant, RoutingTable::Combos).await?;
            let combo = input::combo(&call.body().await?, &stored)?;
            repo::put_document(&db, call.tenant, RoutingTable::Combos, &combo.name, &combo, env::now_ms()).await?;
            call.republish().await?;
            value(201, &combo)
        }
        Op::Delete => delete_document(call, RoutingTable::Combos, call.param("name")).await,
    }
}
