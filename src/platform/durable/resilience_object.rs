//! `ResilienceState`: one object per tenant holding the shared copy of its resilience state —
//! cooldowns and circuit breakers (`resilience::state::Resilience`, an advisory machine: the request
//! path never waits on this object, see `platform::resilience_view`).
//!
//! `POST /` takes a `state::Message` (docs/state.md). The routes isolates of the first version
//! used (`GET /state`, `POST /events`, `POST /reset`) are mapped onto it, so a gateway mid-deploy
//! (old isolates, new objects) keeps working; objects keep the state they stored then.

use super::host::Host;
use crate::platform::env::now_ms;
use crate::resilience::state::Resilience;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State as DoState};

#[durable_object]
pub struct ResilienceState {
    host: Host<Resilience>,
}

impl DurableObject for ResilienceState {
    fn new(state: DoState, _env: Env) -> Self {
        ResilienceState { host: Host::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = match (req.method(), req.path().as_str()) {
            (Method::Post, "/") => req.bytes().await?,
            (Method::Get, "/state") => br#"{"op":"read"}"#.to_vec(),
            (Method::Post, "/events") => legacy(&req.text().await?, "events"),
            (Method::Post, "/reset") => legacy(&req.text().await?, "reset"),
            _ => return Response::error("not found", 404),
        };
        let resp = self.host.serve(&body, now_ms()).await?;
        match req.path().as_str() {
            "/events" | "/reset" => Ok(Response::empty()?.with_status(204)),
            _ => Ok(resp),
        }
    }
}

/// A first-version body (the command's fields, untagged) as a message.
fn legacy(body: &str, kind: &str) -> Vec<u8> {
    let mut command: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if let Some(o) = command.as_object_mut() {
        o.insert("kind".into(), kind.into());
    }
    serde_json::json!({"op": "apply", "command": command}).to_string().into_bytes()
}
