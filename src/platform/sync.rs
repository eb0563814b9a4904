//! Cloud sync's HTTP side: `/sync/{machineId}` (POST, GET, DELETE) under an enrollment, the
//! enrollment check of `/cloud/{token}/{machineId}/v1/*`, and `/v1/verify`. Every `/sync` answer an
//! enrollment is known for is signed (`X-Cloud-Sig`). Pushes and deletions run in the machine's
//! `SyncMachine` object, so that one machine's pushes apply one at a time.

use super::http::{header, json_response, read_body};
use super::sync_store::{self, Enrollment};
use super::{env, v1};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::security::api_keys;
use crate::sync::{answer, enroll, wire, MAX_BODY_BYTES};
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

/// `/sync/{machine}`; the token comes from the path (`/cloud/{token}/sync/…`) or a header.
pub async fn handle(req: &mut Request, env: &Env, path_token: Option<&str>, machine: &str) -> worker::Result<Response> {
    // Read first: a response that leaves the body unread breaks the client's keep-alive connection
    // (an oversized one too, up to a bound, so that its sender sees the 413).
    let body = if req.method() == Method::Post {
        let body = read_body(req, MAX_BODY_BYTES).await;
        if body.is_err() {
            let _ = read_body(req, 4 * MAX_BODY_BYTES).await;
        }
        Some(body)
    } else {
        None
    };
    let token = path_token
        .map(str::to_string)
        .or_else(|| header(req, "x-sync-token"))
        .or_else(|| api_keys::from_headers(header(req, "authorization").as_deref(), || None));
    let found = match &token {
        Some(t) => sync_store::by_token(env, t).await,
        None => Ok(None),
    };
    let e = match found {
        Ok(Some(e)) => e,
        Ok(None) => return revoked(req.method(), env, token.as_deref(), machine).await,
        Err(err) => return unsigned(&err),
    };
    let key = match sync_store::signing_secret(env, &e) {
        Ok(k) => k,
        Err(err) => return unsigned(&err),
    };
    let (status, body) = match serve(req.method(), body, env, &e, machine).await {
        Ok(r) => r,
        Err(err) => {
            if err.kind == ErrorKind::Internal {
                worker::console_error!("sync of {machine}: {}", err.message);
            }
            (err.status, answer::error(&err).to_string().into_bytes())
        }
    };
    signed(&key, status, body)
}

/// A token the gateway does not know as live. A revoked one still has its signing secret, so the
/// client is told plainly, in a signed answer it can verify: its data is gone already, so a `DELETE`
/// (the client disabling sync) succeeds and the client's own view ends disabled; anything else is a
/// 401 that says the enrollment was revoked. An unknown token gets an unsigned 401.
async fn revoked(method: Method, env: &Env, token: Option<&str>, machine: &str) -> worker::Result<Response> {
    let found = match token {
        Some(t) => sync_store::revoked_by_token(env, t).await,
        None => Ok(None),
    };
    let e = match found {
        Ok(Some(e)) if e.machine_id.as_deref().is_none_or(|m| m == machine) => e,
        Ok(_) => return unsigned(&no_enrollment()),
        Err(err) => return unsigned(&err),
    };
    let Ok(key) = sync_store::signing_secret(env, &e) else { return unsigned(&no_enrollment()) };
    let (status, body) = if method == Method::Delete {
        let body = serde_json::json!({"success": true, "message": "Nothing to delete: the gateway's operator revoked this enrollment and its data was deleted then."});
        (200, body)
    } else {
        let err = GatewayError::authentication(
            "The gateway's operator revoked this enrollment: cloud sync stopped and its data was deleted. Ask for a new CLOUD_URL.",
        )
        .with_code("enrollment_revoked");
        (err.status, answer::error(&err))
    };
    signed(&key, status, body.to_string().into_bytes())
}

fn no_enrollment() -> GatewayError {
    GatewayError::authentication(
        "Unknown or revoked enrollment: use the CLOUD_URL the gateway's operator issued (…/cloud/<token>), \
         or send the token as `X-Sync-Token`.",
    )
    .with_code("invalid_enrollment")
}

async fn serve(
    method: Method,
    body: Option<Result<Vec<u8>>>,
    env: &Env,
    e: &Enrollment,
    machine: &str,
) -> Result<(u16, Vec<u8>)> {
    if !enroll::valid_machine_id(machine) {
        return Err(GatewayError::invalid_request(format!("`{machine}` is not a valid machine id."))
            .with_code("invalid_machine_id"));
    }
    match method {
        Method::Post => {
            let body = body.unwrap_or_else(|| Ok(Vec::new()))?;
            // Checked before binding, so that a bad body changes nothing at all.
            wire::parse(&body)?;
            sync_store::bind(env, e, machine).await?;
            in_object(env, machine, Method::Post, "/push", body, &e.id).await
        }
        Method::Get => {
            bound_to(e, machine)?;
            Ok((200, sync_store::pull(env, e, machine).await?.to_string().into_bytes()))
        }
        Method::Delete => {
            bound_to(e, machine)?;
            in_object(env, machine, Method::Delete, "/machine", Vec::new(), &e.id).await
        }
        _ => Err(GatewayError::new(ErrorKind::InvalidRequest, "Use GET, POST or DELETE.").with_status(405)),
    }
}

fn bound_to(e: &Enrollment, machine: &str) -> Result<()> {
    match e.machine_id.as_deref() {
        Some(m) if m == machine => Ok(()),
        None => Err(GatewayError::not_found(format!("Nothing synced for machine `{machine}`."))),
        Some(_) => Err(GatewayError::new(ErrorKind::PermissionDenied, "This enrollment belongs to another machine.")
            .with_code("wrong_machine")),
    }
}

/// Runs a push (`/push`) or deletion (`/machine`) in the machine's object; its status and body.
pub async fn in_object(
    env: &Env,
    machine: &str,
    method: Method,
    path: &str,
    body: Vec<u8>,
    enrollment_id: &str,
) -> Result<(u16, Vec<u8>)> {
    let stub = env.durable_object(env::SYNC)?.id_from_name(machine)?.get_stub()?;
    let headers = Headers::new();
    headers.set("x-machine", machine)?;
    headers.set("x-enrollment", enrollment_id)?;
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if !body.is_empty() {
        init.with_body(Some(JsValue::from(js_sys::Uint8Array::from(&body[..]))));
    }
    let mut resp =
        stub.fetch_with_request(Request::new_with_init(&format!("https://sync-machine{path}"), &init)?).await?;
    Ok((resp.status_code(), resp.bytes().await?))
}

/// Deletes a machine's data through its object (revocation, expiry).
pub async fn delete_in_object(env: &Env, machine: &str) -> Result<()> {
    match in_object(env, machine, Method::Delete, "/machine", Vec::new(), "").await? {
        (200, _) => Ok(()),
        (status, body) => Err(GatewayError::internal(format!(
            "deleting machine {machine} failed ({status}): {}",
            String::from_utf8_lossy(&body)
        ))),
    }
}

fn signed(key: &[u8], status: u16, body: Vec<u8>) -> worker::Result<Response> {
    let sig = answer::signature(key, &body);
    let resp = Response::from_bytes(body)?.with_status(status);
    resp.headers().set("content-type", "application/json")?;
    resp.headers().set("x-cloud-sig", &sig)?;
    Ok(resp)
}

fn unsigned(err: &GatewayError) -> worker::Result<Response> {
    json_response(err.status, &answer::error(err))
}

/// The machine a `/cloud/{token}` prefix stands for.
pub async fn enrolled_machine(env: &Env, token: &str) -> Result<String> {
    sync_store::bound_machine(env, token).await?.ok_or_else(|| {
        GatewayError::authentication(
            "Unknown or revoked enrollment, or one that has not synced a machine yet (push first: POST …/sync/<machineId>).",
        )
        .with_code("invalid_enrollment")
    })
}

/// `GET /v1/verify` and `/{machineId}/v1/verify`: whether the key is valid here (for that machine).
pub async fn verify(req: &web_sys::Request, env: &Env, tenant: Option<&str>) -> Result<Response> {
    let (caller, snapshot) = v1::caller_snapshot(req, env, tenant).await?;
    let body =
        serde_json::json!({"valid": true, "machineId": caller.tenant, "providersCount": snapshot.connections.len()});
    Ok(json_response(200, &body)?)
}

/// The cron's part: refreshes the synced subscription accounts the edge owns that are due, one
/// machine at a time through its object (so no push interleaves). Returns how many were refreshed.
pub async fn refresh_accounts(env: &Env) -> Result<usize> {
    let mut refreshed = 0;
    for m in sync_store::machine_ids(env).await? {
        match in_object(env, &m, Method::Post, "/refresh", Vec::new(), "").await {
            Ok((200, body)) => {
                refreshed += serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["refreshed"].as_u64())
                    .unwrap_or(0) as usize
            }
            Ok((status, body)) => worker::console_error!(
                "refreshing accounts of machine {m} failed ({status}): {}",
                String::from_utf8_lossy(&body)
            ),
            Err(e) => worker::console_error!("refreshing accounts of machine {m}: {}", e.message),
        }
    }
    Ok(refreshed)
}

/// The cron's part: deletes machines that have not pushed for `SYNC_MACHINE_TTL_DAYS` (default 30).
/// Their enrollments stay, so a machine that comes back simply pushes again.
pub async fn expire_idle(env: &Env, now: i64) -> Result<usize> {
    let cutoff = now - env::sync_machine_ttl_days(env) * 86_400_000;
    let idle = sync_store::idle_machines(env, cutoff).await?;
    let mut expired = 0;
    for m in &idle {
        // One machine that cannot be deleted now does not keep the others; the next hour retries it.
        match delete_in_object(env, m).await {
            Ok(()) => expired += 1,
            Err(e) => worker::console_error!("expiring machine {m}: {}", e.message),
        }
    }
    Ok(expired)
}
