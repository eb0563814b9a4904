//! The pipeline's side of stored responses (`stored`). Before any upstream call, a Responses
//! request that names a `previous_response_id` gets that conversation before its own input (the
//! upstream, of whatever format, gets the whole conversation). Its answer is read through the
//! meter as it reaches the client, and kept when the request ends well.

use super::plan::ClientRequest;
use super::ports::ResponseStore;
use crate::error::Result;
use crate::formats::Format;
use crate::metering::{AnswerKeeper, Meter, UsageRecord};
use crate::stored::capture::FinalResponse;
use crate::stored::conversation::{self, StoredResponse};
use serde_json::Value;
use std::rc::Rc;

/// Continues the conversation the request names, and has its answer kept if the store keeps it.
pub async fn begin(store: &Rc<dyn ResponseStore>, client: &mut ClientRequest, meter: &mut Meter) -> Result<()> {
    if client.format != Format::OpenAiResponses {
        return Ok(());
    }
    let previous = conversation::previous_id(&client.body)?;
    let durable = conversation::wants_store(&client.body);
    let keeps = store.keeps(durable);
    let input = if keeps { conversation::input_items(client.body.get("input")) } else { Vec::new() };
    if let Some(id) = &previous {
        let history = store.chain(id).await?.ok_or_else(|| conversation::previous_not_found(id))?;
        if let Some(body) = client.body.as_object_mut() {
            conversation::continue_from(body, &history);
        }
        // The bytes the client sent are no longer the request: a same-format call sends `body`.
        client.raw = None;
        let size = serde_json::to_vec(&client.body).map_or(0, |b| b.len()) as u64;
        meter.input_estimate = meter.input_estimate.max(size.div_ceil(4));
    }
    if keeps {
        let answer = FinalResponse::new(client.stream);
        meter.keep_answer(Box::new(Capture { answer, previous, input, durable, store: store.clone() }));
    }
    Ok(())
}

/// Reads the answer for its final Response object; keeps the turn if the request ended well.
struct Capture {
    answer: FinalResponse,
    previous: Option<String>,
    input: Vec<Value>,
    durable: bool,
    store: Rc<dyn ResponseStore>,
}

impl AnswerKeeper for Capture {
    fn push(&mut self, bytes: &[u8]) {
        self.answer.push(bytes);
    }

    fn finish(self: Box<Self>, record: &UsageRecord) {
        let Capture { answer, previous, input, durable, store } = *self;
        if !(200..300).contains(&record.status) || record.error_code.is_some() {
            return;
        }
        let Some(response) = answer.finish() else { return };
        let id = response.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let response = conversation::as_stored(response, previous.as_deref(), durable);
        store.keep(StoredResponse { id, previous, input, response }, durable);
    }
}
