//! What a stored response holds, and how a request that names one (`previous_response_id`)
//! continues it: its input becomes the stored conversation (each turn's input, then that turn's
//! output items) followed by the request's own input. Everything stays in the Responses input shape,
//! whichever upstream format served a turn, because what is stored is what the client received.
//!
//! As with the real API, a turn's `instructions` and `tools` are not carried over: the client sends
//! them with each request.

use crate::error::{GatewayError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One finished response, as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// The Response object's `id`, as its client got it.
    pub id: String,
    /// The response it continued, if any.
    #[serde(default)]
    pub previous: Option<String>,
    /// This turn's own input items (not the conversation before it).
    #[serde(default)]
    pub input: Vec<Value>,
    /// The Response object as its client received it; its `output` continues the conversation.
    pub response: Value,
}

impl StoredResponse {
    /// The turn as conversation items: its input, then its output.
    fn items(&self) -> impl Iterator<Item = &Value> {
        let output = self.response.get("output").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        self.input.iter().chain(output)
    }
}

/// The id a request continues, if it names one. Not a string (nor null) is a 400 naming the field.
pub fn previous_id(body: &Value) -> Result<Option<String>> {
    match body.get("previous_response_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(Some(id.trim().to_string())),
        Some(_) => Err(GatewayError::invalid_request("`previous_response_id` must be a non-empty string.")
            .with_param("previous_response_id")),
    }
}

/// Whether the request may be stored: the API's `store` defaults to true.
pub fn wants_store(body: &Value) -> bool {
    body.get("store").and_then(Value::as_bool) != Some(false)
}

/// A request's `input` as items: a string is one user message; nothing is no item.
pub fn input_items(input: Option<&Value>) -> Vec<Value> {
    match input {
        Some(Value::String(text)) => vec![json!({"type": "message", "role": "user", "content": text})],
        Some(Value::Array(items)) => items.clone(),
        Some(other) if !other.is_null() => vec![other.clone()],
        _ => Vec::new(),
    }
}

/// Continues `history` (oldest turn first) with the request `body`: its input becomes the stored
/// conversation then its own input, and it no longer names a previous response (the upstream gets
/// the whole conversation, whatever it stores itself).
pub fn continue_from(body: &mut Map<String, Value>, history: &[StoredResponse]) {
    let mut items: Vec<Value> = history.iter().flat_map(StoredResponse::items).cloned().collect();
    items.extend(input_items(body.get("input")));
    body.insert("input".into(), Value::Array(items));
    body.remove("previous_response_id");
}

/// The response as it is kept and shown again (`GET /v1/responses/{id}`): it says what it
/// continued and that it was stored, which the answer the client streamed could not know.
pub fn as_stored(mut response: Value, previous: Option<&str>, store: bool) -> Value {
    if let Some(o) = response.as_object_mut() {
        o.insert("previous_response_id".into(), previous.map_or(Value::Null, |p| json!(p)));
        o.insert("store".into(), json!(store));
    }
    response
}

/// The 404 the API gives for an id that is not the caller's (missing, expired, deleted, or another
/// key's).
pub fn previous_not_found(id: &str) -> GatewayError {
    GatewayError::not_found(format!("Previous response with id '{id}' not found."))
        .with_param("previous_response_id")
        .with_code("previous_response_not_found")
}

/// The 404 of `GET`/`DELETE /v1/responses/{id}` for an id that is not the caller's.
pub fn response_not_found(id: &str) -> GatewayError {
    GatewayError::not_found(format!("Response with id '{id}' not found."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn turn(id: &str, previous: Option<&str>, input: Vec<Value>, output: Vec<Value>) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            previous: previous.map(str::to_string),
            input,
            response: json!({"id": id, "object": "response", "output": output}),
        }
    }

    fn said(text: &str) -> Value {
        json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]})
    }

    #[test]
    fn a_continued_request_carries_the_conversation_then_its_own_input() {
        let call = json!({"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"});
        let history = vec![
            turn("r1", None, input_items(Some(&json!("hi"))), vec![said("hello")]),
            turn("r2", Some("r1"), vec![json!({"role": "user", "content": "weather?"})], vec![call.clone()]),
        ];
        let mut body = json!({"model": "m", "previous_response_id": "r2", "instructions": "be brief",
            "input": [{"type": "function_call_output", "call_id": "c1", "output": "sunny"}]});
        continue_from(body.as_object_mut().unwrap(), &history);
        assert!(body.get("previous_response_id").is_none(), "the upstream is not asked for state it lacks");
        assert_eq!(body["instructions"], "be brief", "the request's own fields stay");
        let input = body["input"].as_array().unwrap();
        assert_eq!(input.len(), 5);
        assert_eq!(input[0], json!({"type": "message", "role": "user", "content": "hi"}));
        assert_eq!(input[1], said("hello"));
        assert_eq!(input[3], call);
        assert_eq!(input[4]["type"], "function_call_output");
        // The merged body is one a translating upstream accepts.
        let ir = crate::formats::openai_responses::request::to_ir(&body).unwrap();
        assert_eq!(ir.messages.len(), 5, "user, assistant, user, assistant call, user tool result");
    }

    #[test]
    fn a_string_input_is_a_user_message_and_no_input_adds_nothing() {
        let history = vec![turn("r1", None, vec![json!({"role": "user", "content": "a"})], vec![])];
        let mut body = json!({"previous_response_id": "r1", "input": "b"});
        continue_from(body.as_object_mut().unwrap(), &history);
        assert_eq!(body["input"][1], json!({"type": "message", "role": "user", "content": "b"}));
        let mut body = json!({"previous_response_id": "r1"});
        continue_from(body.as_object_mut().unwrap(), &history);
        assert_eq!(body["input"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn reads_the_previous_id_and_the_store_flag() {
        assert_eq!(previous_id(&json!({"previous_response_id": " r1 "})).unwrap().as_deref(), Some("r1"));
        assert_eq!(previous_id(&json!({"previous_response_id": null})).unwrap(), None);
        assert_eq!(previous_id(&json!({})).unwrap(), None);
        let e = previous_id(&json!({"previous_response_id": 7})).unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("previous_response_id")));
        assert!(previous_id(&json!({"previous_response_id": ""})).is_err());
        assert!(wants_store(&json!({})));
        assert!(wants_store(&json!({"store": true})));
        assert!(!wants_store(&json!({"store": false})));
    }

    #[test]
    fn not_found_has_the_api_shape() {
        let rendered = crate::formats::Format::OpenAiResponses.render_error(&previous_not_found("resp_x"));
        let v: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "Previous response with id 'resp_x' not found.", "type": "invalid_request_error",
                "param": "previous_response_id", "code": "previous_response_not_found"}})
        );
        assert_eq!(previous_not_found("x").status, 404);
    }

    #[test]
    fn a_kept_response_says_what_it_continued() {
        let r = as_stored(json!({"id": "r2", "previous_response_id": null, "store": false}), Some("r1"), true);
        assert_eq!((r["previous_response_id"].as_str(), r["store"].as_bool()), (Some("r1"), Some(true)));
    }

    proptest! {
        /// Whatever the turns, the merged input is every turn's input and output in order, then
        /// the new input: nothing lost, duplicated or reordered.
        #[test]
        fn merge_keeps_every_item_in_order(
            turns in proptest::collection::vec((0usize..4, 0usize..4), 0..6),
            new in 0usize..3,
        ) {
            let mut n = 0;
            let mut next = || { n += 1; json!({"role": "user", "content": n.to_string()}) };
            let mut expected = Vec::new();
            let mut history = Vec::new();
            for (i, (ins, outs)) in turns.iter().enumerate() {
                let input: Vec<Value> = (0..*ins).map(|_| next()).collect();
                let output: Vec<Value> = (0..*outs).map(|_| next()).collect();
                expected.extend(input.clone());
                expected.extend(output.clone());
                history.push(turn(&format!("r{i}"), None, input, output));
            }
            let own: Vec<Value> = (0..new).map(|_| next()).collect();
            expected.extend(own.clone());
            let mut body = json!({"previous_response_id": "r", "input": own});
            continue_from(body.as_object_mut().unwrap(), &history);
            prop_assert_eq!(body["input"].as_array().unwrap(), &expected);
        }
    }
}
