//! `/api/settings`: the tenant's settings, one JSON object; a patch changes only the keys it gives
//! and is checked by the core (`config::settings`).

use super::{value, Call};
use crate::config::input;
use crate::error::Result;
use crate::manage::input::settings_update;
use crate::manage::routes::Settings as Op;
use crate::platform::{env, repo};
use serde_json::Value;
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    let db = call.db()?;
    let current = repo::settings(&db, call.tenant).await?;
    match op {
        Op::Get => value(200, &current),
        Op::Update => {
            let patch: Value = input::parse(&call.body().await?)?;
            let next = settings_update(&current, &patch, &call.settings_caller())?;
            repo::save_settings(&db, call.tenant, &next, env::now_ms()).await?;
            call.republish().await?;
            value(200, &next)
        }
    }
}
