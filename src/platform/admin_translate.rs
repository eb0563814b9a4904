//! `POST /api/translate {format, request, model?}`: a client request shown in every upstream format
//! (`formats::preview`), for the dashboard's translator playground. Reads nothing stored, sends
//! nothing upstream.

use super::http::{json_response, read_body};
use crate::config::input;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::preview;
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

const MAX_TRANSLATE_BODY: u64 = 256 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslateInput {
    format: String,
    request: Value,
    #[serde(default)]
    model: Option<String>,
}

pub async fn handle(req: &mut Request, _env: &Env, segments: &[&str]) -> Result<Response> {
    if req.method() != Method::Post || segments != ["translate"] {
        return Err(GatewayError::new(ErrorKind::InvalidRequest, "Method not allowed for this path.").with_status(405));
    }
    let body = read_body(req, MAX_TRANSLATE_BODY).await?;
    let input: TranslateInput = input::parse(&body)?;
    let client = preview::parse_name(&input.format)?;
    let formats = preview::every_upstream(client, &input.request, input.model.as_deref())?;
    Ok(json_response(200, &json!({"formats": formats}))?)
}
