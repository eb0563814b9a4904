//! `/api/aliases`: model name patterns rewritten to other models (`routing::alias`).

use super::{delete_document, list, value, Call};
use crate::error::Result;
use crate::manage::input;
use crate::manage::routes::Collection as Op;
use crate::platform::env;
use crate::platform::repo::{self, RoutingTable};
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => list(repo::aliases(&call.db()?, call.tenant).await?.entries()),
        Op::Put => {
            let db = call.db()?;
            let a = input::alias(&call.body().await?, &repo::aliases(&db, call.tenant).await?)?;
            repo::put_alias(&db, call.tenant, &a.pattern, &a.target, env::now_ms()).await?;
            call.republish().await?;
            value(201, &a)
        }
        Op::Delete => {
            let pattern = call.query("pattern");
            let pattern = input::required(pattern.as_deref(), "pattern")?;
            delete_document(call, RoutingTable::Aliases, pattern).await
        }
    }
}
