//! `/api/sync/*`: enrollments (issue, list, revoke) and the machines synced under them.

use super::http::{json_response, read_body};
use super::sync_store;
use crate::config::input;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::sync::enroll::{NewEnrollment, CLOUD_SEGMENT};
use serde_json::json;
use worker::{Env, Method, Request, Response};

pub async fn handle(req: &mut Request, env: &Env, segments: &[&str]) -> Result<Response> {
    match (req.method(), segments) {
        (Method::Get, ["sync", "enrollments"]) => {
            Ok(json_response(200, &json!({"data": sync_store::enrollments(env).await?}))?)
        }
        (Method::Post, ["sync", "enrollments"]) => {
            let body = read_body(req, 16 * 1024).await?;
            let new = input::parse::<NewEnrollment>(&body)?.validate()?;
            let (e, token, secret) = sync_store::issue(env, &new.name, new.return_secrets).await?;
            let url = req.url()?;
            let origin = url.origin().ascii_serialization();
            Ok(json_response(
                201,
                &json!({
                    "id": e.id, "name": e.name, "return_secrets": new.return_secrets, "created_at": e.created_at,
                    "token": token, "cloud_url": format!("{origin}/{CLOUD_SEGMENT}/{token}"), "signing_secret": secret,
                    "note": "Set CLOUD_URL to cloud_url and OMNIROUTE_CLOUD_SYNC_SECRET to signing_secret on the machine. Both are shown only once.",
                }),
            )?)
        }
        (Method::Delete, ["sync", "enrollments", id]) => revoke(env, id).await,
        (Method::Get, ["sync", "machines"]) => {
            Ok(json_response(200, &json!({"data": sync_store::machines(env).await?}))?)
        }
        (Method::Delete, ["sync", "machines", machine]) => {
            let live = sync_store::enrollments(env).await?;
            let e = live
                .iter()
                .find(|e| e.revoked_at.is_none() && e.machine_id.as_deref() == Some(*machine))
                .ok_or_else(|| GatewayError::not_found(format!("No enrolled machine `{machine}`.")))?;
            revoke(env, &e.id).await
        }
        (_, ["sync", "enrollments" | "machines", ..]) => {
            Err(GatewayError::new(ErrorKind::InvalidRequest, "Method not allowed for this path.").with_status(405))
        }
        _ => Err(GatewayError::not_found("No such sync admin route.")),
    }
}

async fn revoke(env: &Env, id: &str) -> Result<Response> {
    let e = sync_store::revoke(env, id)
        .await?
        .ok_or_else(|| GatewayError::not_found(format!("No live enrollment `{id}`.")))?;
    Ok(json_response(200, &json!({"revoked": e.id, "machine_id": e.machine_id}))?)
}
