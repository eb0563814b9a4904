//! `POST /api/translate {format, request, model?}`: a client request shown in every upstream format
//! (`formats::preview`), for the dashboard's translator playground. Reads nothing stored, sends
//! nothing upstream.

use super::{value, Call};
use crate::config::input;
use crate::error::Result;
use crate::formats::preview;
use serde_json::{json, Value};
use worker::Response;

/// A request body as large as the playground lets a user paste.
const MAX_TRANSLATE_BODY: u64 = 256 * 1024;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslateInput {
    format: String,
    request: Value,
    #[serde(default)]
    model: Option<String>,
}

pub async fn handle(call: &mut Call<'_>) -> Result<Response> {
    let input: TranslateInput = input::parse(&call.body_up_to(MAX_TRANSLATE_BODY).await?)?;
    let client = preview::parse_name(&input.format)?;
    let formats = preview::every_upstream(client, &input.request, input.model.as_deref())?;
    value(200, &json!({"formats": formats}))
}
