//! `/api/sync/*` (owner only: they span tenants): enrollments (issue, list, revoke) and the machines
//! synced under them.

use super::{list, value, Call};
use crate::config::input;
use crate::error::{GatewayError, Result};
use crate::manage::routes::Sync as Op;
use crate::platform::sync_store;
use crate::sync::enroll::{NewEnrollment, CLOUD_SEGMENT};
use serde_json::json;
use worker::{Env, Response};

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    let env = call.env;
    match op {
        Op::Enrollments => list(&sync_store::enrollments(env).await?),
        Op::Enroll => {
            let body = call.body_up_to(16 * 1024).await?;
            let new = input::parse::<NewEnrollment>(&body)?.validate()?;
            let (e, token, secret) = sync_store::issue(env, &new.name, new.return_secrets).await?;
            let url = call.req.url()?;
            let origin = url.origin().ascii_serialization();
            value(
                201,
                &json!({
                    "id": e.id, "name": e.name, "return_secrets": new.return_secrets, "created_at": e.created_at,
                    "token": token, "cloud_url": format!("{origin}/{CLOUD_SEGMENT}/{token}"), "signing_secret": secret,
                    "note": "Set CLOUD_URL to cloud_url and OMNIROUTE_CLOUD_SYNC_SECRET to signing_secret on the machine. Both are shown only once.",
                }),
            )
        }
        Op::Revoke => revoke(env, call.param("id")).await,
        Op::Machines => list(&sync_store::machines(env).await?),
        Op::DeleteMachine => {
            let machine = call.param("machine");
            let live = sync_store::enrollments(env).await?;
            let e = live
                .iter()
                .find(|e| e.revoked_at.is_none() && e.machine_id.as_deref() == Some(machine))
                .ok_or_else(|| GatewayError::not_found(format!("No enrolled machine `{machine}`.")))?;
            revoke(env, &e.id).await
        }
    }
}

async fn revoke(env: &Env, id: &str) -> Result<Response> {
    let e = sync_store::revoke(env, id)
        .await?
        .ok_or_else(|| GatewayError::not_found(format!("No live enrollment `{id}`.")))?;
    value(200, &json!({"revoked": e.id, "machine_id": e.machine_id}))
}
