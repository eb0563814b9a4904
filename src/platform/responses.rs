//! `GET /v1/responses/{id}` and `DELETE /v1/responses/{id}`: a stored response of the calling key
//! (`stored`), read or deleted. Another key's id is not found, as a missing one is.

use super::http::json_response;
use super::responses_store::KeyResponses;
use super::v1::caller_snapshot;
use crate::error::Result;
use crate::stored::conversation::response_not_found;
use std::rc::Rc;
use worker::{Context, Env, Method, Response};

/// `GET` (else `DELETE`): the stored Response object, as its client received it (with `previous_response_id` and
/// `store`). `DELETE`: later requests naming it (or a response that continued it) get a 404.
pub async fn by_id(
    req: &web_sys::Request,
    method: &Method,
    env: &Env,
    ctx: &Rc<Context>,
    tenant: Option<&str>,
    id: &str,
) -> Result<Response> {
    let (caller, _) = caller_snapshot(req, env, tenant).await?;
    let store = KeyResponses::of(env, ctx, &caller);
    if *method == Method::Get {
        let response = store.get(id).await?.ok_or_else(|| response_not_found(id))?;
        return Ok(json_response(200, &response)?);
    }
    if !store.delete(id).await? {
        return Err(response_not_found(id));
    }
    Ok(json_response(200, &serde_json::json!({"id": id, "object": "response", "deleted": true}))?)
}
