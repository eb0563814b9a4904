//! `ResilienceState`: one object per tenant holding the shared copy of its resilience state —
//! cooldowns, circuit breakers and announced quota windows (`resilience::state::Resilience`, an
//! advisory machine: the request path never waits on this object, see `platform::resilience_view`).
//!
//! `POST /` takes a `state::Message` (docs/state.md). The routes isolates of the first version
//! used (`GET /state`, `POST /events`, `POST /reset`) are mapped onto it, so a gateway mid-deploy
//! (old isolates, new objects) keeps working; objects keep the state they stored then.

use super::host::Host;
use crate::platform::env::now_ms;
use crate::resilience::state::{Command, Resilience};
use crate::state::Message;
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
        let path = req.path();
        let body = match (req.method(), path.as_str()) {
            (Method::Post, "/") => return self.host.serve(&req.bytes().await?, now_ms()).await,
            (Method::Get, "/state") => return self.host.serve(br#"{"op":"read"}"#, now_ms()).await,
            (Method::Post, "/events" | "/reset") => req.bytes().await?,
            _ => return Response::error("not found", 404),
        };
        let Some(command) = Command::from_legacy(&path, &body) else {
            return Response::error("body must be an event batch or a reset", 400);
        };
        let message = serde_json::to_vec(&Message::Apply { command })?;
        self.host.serve(&message, now_ms()).await?;
        Ok(Response::empty()?.with_status(204))
    }
}
