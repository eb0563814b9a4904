//! Responses over a WebSocket (`GET /v1/responses`, upgraded), as Codex CLI's built-in OpenAI
//! provider and the openai SDKs use it. Each text message a client sends is a `response.create`
//! event: the body of `POST /v1/responses` plus `type` and the WebSocket-only `generate` and
//! `stream_id`. Each event of the answer's stream goes back as one text message (with the request's
//! `stream_id`, if it gave one). A rejected message is answered with an `error` event, and the
//! socket stays open for the next.
//!
//! A socket outlives its upgrade, so each `response.create` is authorized again with the key's
//! current state, as an HTTP request would be ([`reauthorize`]): a key revoked, rotated, disabled,
//! expired or changed in any way since the upgrade gets an `error` event and the socket is closed.
//!
//! `generate: false` prepares a turn without calling a model (Codex sends one to warm up): it is
//! answered at once with `response.created` and `response.completed` with no output, and its id can
//! be continued like any other.

use super::conversation::{self, StoredResponse};
use crate::config::key_access::KeyAccess;
use crate::config::KeyEntry;
use crate::error::{GatewayError, Result};
use crate::formats::openai_responses::response::{response_object, usage_json};
use crate::ir::{EncodeCtx, FinishReason, IrUsage};
use crate::sse::{SseEvent, SseParser};
use serde_json::{json, Map, Value};

/// A `response.create` message, ready for the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Create {
    /// The `POST /v1/responses` body it amounts to (always streamed).
    pub body: Value,
    /// `false`: prepare the turn, generate nothing.
    pub generate: bool,
}

/// A client message: the lane it named (echoed on every event of its answer), and what it asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub stream_id: Option<String>,
    pub create: Result<Create>,
}

/// Reads one text message.
pub fn read(text: &str) -> Message {
    let mut event = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return rejected(None, GatewayError::invalid_request("A message must be a JSON object.")),
        Err(e) => return rejected(None, GatewayError::invalid_request(format!("The message is not valid JSON: {e}"))),
    };
    let stream_id = event.get("stream_id").and_then(Value::as_str).map(str::to_string);
    let create = match event.remove("type") {
        Some(Value::String(t)) if t == "response.create" => create(event),
        Some(Value::String(t)) => Err(GatewayError::invalid_request(format!(
            "Unsupported event type '{t}': this gateway accepts `response.create`."
        ))
        .with_param("type")),
        _ => Err(GatewayError::invalid_request("Missing required parameter: 'type'.").with_param("type")),
    };
    Message { stream_id, create }
}

fn rejected(stream_id: Option<String>, error: GatewayError) -> Message {
    Message { stream_id, create: Err(error) }
}

fn create(mut body: Map<String, Value>) -> Result<Create> {
    body.remove("stream_id");
    if body.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(
            GatewayError::invalid_request("`background` is not supported over a WebSocket.").with_param("background")
        );
    }
    let generate = match body.remove("generate") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(g)) => g,
        Some(_) => return Err(GatewayError::invalid_request("`generate` must be a boolean.").with_param("generate")),
    };
    // Streaming is what a socket does; `stream` and `stream_options` of a POST do not apply.
    body.remove("stream_options");
    body.insert("stream".into(), json!(true));
    Ok(Create { body: Value::Object(body), generate })
}

fn with_lane(mut event: Value, stream_id: Option<&str>) -> String {
    if let (Some(id), Some(o)) = (stream_id, event.as_object_mut()) {
        o.insert("stream_id".into(), json!(id));
    }
    event.to_string()
}

/// The `error` event for a rejected message.
pub fn error_event(error: &GatewayError, stream_id: Option<&str>) -> String {
    let rendered = crate::formats::Format::OpenAiResponses.render_error(error);
    error_from_answer(error.status, rendered.as_bytes(), stream_id)
}

/// The `error` event for an error answer of the pipeline (the OpenAI envelope, as `POST` gets it).
pub fn error_from_answer(status: u16, body: &[u8], stream_id: Option<&str>) -> String {
    let error = serde_json::from_slice::<Value>(body).ok().and_then(|mut v| v.get_mut("error").map(Value::take));
    let error = error.filter(Value::is_object).unwrap_or_else(|| {
        json!({"type": "server_error", "code": null, "param": null,
            "message": format!("The request failed with status {status}.")})
    });
    with_lane(json!({"type": "error", "status": status, "error": error}), stream_id)
}

/// An answer's SSE stream as socket messages: each event's data, one message each.
pub struct Events {
    parser: SseParser,
    stream_id: Option<String>,
}

impl Events {
    pub fn new(stream_id: Option<String>) -> Events {
        Events { parser: SseParser::new(), stream_id }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let events = self.parser.feed(bytes);
        self.messages(events)
    }

    pub fn finish(&mut self) -> Vec<String> {
        let events = self.parser.finish();
        self.messages(events)
    }

    fn messages(&self, events: Vec<SseEvent>) -> Vec<String> {
        events
            .into_iter()
            .filter(|e| e.data != "[DONE]")
            .map(|e| match &self.stream_id {
                // Only a lane to add makes the event worth parsing.
                Some(lane) => match serde_json::from_str::<Value>(&e.data) {
                    Ok(v) => with_lane(v, Some(lane)),
                    Err(_) => e.data,
                },
                None => e.data,
            })
            .collect()
    }
}

/// A `generate: false` turn: the events that answer it and the turn to keep. `id_seed` is random
/// hex. The response it continues, if any, must have been checked to exist.
pub fn prewarm(body: &Value, id_seed: &str, created: i64, stream_id: Option<&str>) -> (Vec<String>, StoredResponse) {
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let ctx = EncodeCtx { model, id_seed: id_seed.to_string(), created, include_usage: false };
    let previous = body.get("previous_response_id").and_then(Value::as_str).map(str::to_string);
    let store = conversation::wants_store(body);
    let stored = |r: Value| conversation::as_stored(r, previous.as_deref(), store);
    let started = stored(response_object(&ctx, None, vec![], Value::Null));
    let done = stored(response_object(&ctx, Some(FinishReason::Stop), vec![], usage_json(&IrUsage::default())));
    let events = vec![
        with_lane(json!({"type": "response.created", "sequence_number": 0, "response": started}), stream_id),
        with_lane(json!({"type": "response.completed", "sequence_number": 1, "response": done}), stream_id),
    ];
    let turn = StoredResponse {
        id: format!("resp_{id_seed}"),
        previous,
        input: conversation::input_items(body.get("input")),
        response: done,
    };
    (events, turn)
}

/// Whether a socket opened with the key as `granted` may serve another response, given the key as
/// the config cache has it now (`None`: revoked, rotated away or deleted) and `usable` (the expiry
/// and schedule check at this moment). A 401 closes the socket: the client reconnects, and the
/// upgrade is authorized with the key's new state (so a re-scoped key never keeps its old scopes).
pub fn reauthorize(
    granted: &KeyEntry,
    current: Option<&KeyEntry>,
    usable: impl FnOnce(&KeyAccess) -> Result<()>,
) -> Result<()> {
    let Some(current) = current else {
        return Err(GatewayError::authentication("This API key is no longer valid (revoked or rotated).")
            .with_code("key_revoked"));
    };
    usable(&current.access)?;
    if current != granted {
        return Err(GatewayError::authentication(
            "This API key's settings changed since the connection was opened; reconnect to use them.",
        )
        .with_code("key_changed"));
    }
    Ok(())
}

/// Whether an error ends the socket (the key may no longer be used on it).
pub fn closes(error: &GatewayError) -> bool {
    error.status == 401
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_socket_serves_only_while_its_key_is_as_it_was_at_the_upgrade() {
        use crate::config::key_access::Scopes;
        let granted = KeyEntry {
            tenant: "t".into(),
            key_id: "k".into(),
            limits: Default::default(),
            access: KeyAccess::default(),
        };
        let usable = |a: &KeyAccess| a.usable(0, |_| None);
        assert!(reauthorize(&granted, Some(&granted), usable).is_ok());
        let code = |r: Result<()>| {
            let e = r.unwrap_err();
            assert!(closes(&e), "{e:?}");
            e.code
        };
        assert_eq!(code(reauthorize(&granted, None, usable)).as_deref(), Some("key_revoked"));
        let disabled = KeyEntry { access: KeyAccess { enabled: false, ..KeyAccess::default() }, ..granted.clone() };
        assert_eq!(code(reauthorize(&granted, Some(&disabled), usable)).as_deref(), Some("key_disabled"));
        let narrower = KeyEntry {
            access: KeyAccess {
                scopes: Scopes { providers: vec!["openai".into()], ..Scopes::default() },
                ..KeyAccess::default()
            },
            ..granted.clone()
        };
        assert_eq!(code(reauthorize(&granted, Some(&narrower), usable)).as_deref(), Some("key_changed"));
        let limited = KeyEntry {
            limits: crate::limits::KeyLimits { requests_per_day: Some(1), ..Default::default() },
            ..granted.clone()
        };
        assert_eq!(code(reauthorize(&granted, Some(&limited), usable)).as_deref(), Some("key_changed"));
        let unreadable = KeyEntry { access: KeyAccess::unreadable(), ..granted.clone() };
        assert_eq!(code(reauthorize(&granted, Some(&unreadable), usable)).as_deref(), Some("key_unreadable"));
        assert!(!closes(&GatewayError::invalid_request("x")), "a bad message leaves the socket open");
    }

    #[test]
    fn a_create_message_is_a_streamed_post_body() {
        let m = read(r#"{"type":"response.create","model":"m","input":"hi","stream":false,"stream_id":"lane-1"}"#);
        assert_eq!(m.stream_id.as_deref(), Some("lane-1"));
        let c = m.create.unwrap();
        assert!(c.generate);
        assert_eq!(c.body, json!({"model": "m", "input": "hi", "stream": true}));
        let c = read(r#"{"type":"response.create","model":"m","generate":false}"#).create.unwrap();
        assert!(!c.generate);
        assert!(c.body.get("generate").is_none());
    }

    #[test]
    fn other_messages_are_rejected_with_a_reason() {
        for (text, param) in [
            ("not json", None),
            ("[1]", None),
            (r#"{"model":"m"}"#, Some("type")),
            (r#"{"type":"response.cancel"}"#, Some("type")),
            (r#"{"type":"response.create","generate":"no"}"#, Some("generate")),
            (r#"{"type":"response.create","background":true}"#, Some("background")),
        ] {
            let e = read(text).create.unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, param), "{text}");
        }
    }

    #[test]
    fn an_error_event_carries_the_api_error_and_the_lane() {
        let e = conversation::previous_not_found("resp_x");
        let v: Value = serde_json::from_str(&error_event(&e, Some("l"))).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["status"], 404);
        assert_eq!(v["stream_id"], "l");
        assert_eq!(v["error"]["code"], "previous_response_not_found");
        assert_eq!(v["error"]["param"], "previous_response_id");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let v: Value = serde_json::from_str(&error_from_answer(502, b"<html>", None)).unwrap();
        assert_eq!((v["status"].as_u64(), v["error"]["type"].as_str()), (Some(502), Some("server_error")));
        assert!(v.get("stream_id").is_none());
    }

    #[test]
    fn each_stream_event_is_one_message() {
        let sse = "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n";
        let mut plain = Events::new(None);
        assert_eq!(plain.push(sse.as_bytes()), [r#"{"type":"response.created"}"#, r#"{"type":"response.completed"}"#]);
        let mut laned = Events::new(Some("l".into()));
        let out = laned.push(&sse.as_bytes()[..30]);
        assert!(out.is_empty());
        let out = laned.push(&sse.as_bytes()[30..]);
        let last: Value = serde_json::from_str(&out[1]).unwrap();
        assert_eq!(last, json!({"type": "response.completed", "stream_id": "l"}));
        assert!(laned.finish().is_empty());
    }

    #[test]
    fn a_prewarm_is_answered_at_once_and_kept_as_a_turn() {
        let body = json!({"model": "openai/m", "input": "ctx", "previous_response_id": "resp_0", "store": false});
        let (events, turn) = prewarm(&body, "abc", 7, None);
        let events: Vec<Value> = events.iter().map(|e| serde_json::from_str(e).unwrap()).collect();
        assert_eq!(events[0]["type"], "response.created");
        assert_eq!(events[1]["type"], "response.completed");
        let done = &events[1]["response"];
        assert_eq!(done["id"], "resp_abc");
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"], json!([]));
        assert_eq!(done["model"], "openai/m");
        assert_eq!(done["previous_response_id"], "resp_0");
        assert_eq!(done["store"], false);
        assert_eq!(done["usage"]["total_tokens"], 0);
        assert_eq!(events[0]["response"]["status"], "in_progress");
        assert_eq!(turn.id, "resp_abc");
        assert_eq!(turn.previous.as_deref(), Some("resp_0"));
        assert_eq!(turn.input, vec![json!({"type": "message", "role": "user", "content": "ctx"})]);
        assert_eq!(&turn.response, done);
    }

    proptest! {
        /// No message, however malformed, panics: it is either a create or a 400.
        #[test]
        fn any_text_is_read_or_rejected(text in ".{0,200}") {
            let m = read(&text);
            if let Err(e) = m.create {
                prop_assert_eq!(e.status, 400);
            }
        }
    }
}
