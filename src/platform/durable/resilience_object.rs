//! `ResilienceState`: one object per tenant holding the shared copy of its resilience state —
//! cooldowns and circuit breakers (`resilience::state`). Isolates send it the events they observe and
//! refresh their local view from it; the request path itself never waits on this object (see
//! `platform::resilience_view`).
//!
//! Routes (internal, reached through the namespace stub only):
//! `GET /state` → the state (`resilience::state::Wire`) · `POST /events` (a JSON array of events
//! plus the tenant's tunables) → 204 · `POST /reset` (`{"scope"?, "provider"?}`) → 204.

use crate::platform::env::now_ms;
use crate::resilience::state::{Event, Profiles, State, Wire};
use serde::Deserialize;
use std::cell::RefCell;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State as DoState};

const STORAGE_KEY: &str = "state";

#[durable_object]
pub struct ResilienceState {
    state: DoState,
    /// Loaded from storage on first use; storage stays the source of truth across restarts.
    current: RefCell<Option<State>>,
}

/// `POST /events`: what happened, and the breaker tunables the tenant had when it happened.
#[derive(Deserialize)]
pub struct EventBatch {
    pub events: Vec<Event>,
    pub breaker_failure_threshold: u32,
    pub breaker_reset_ms: i64,
}

#[derive(Deserialize)]
struct ResetRequest {
    scope: Option<String>,
    provider: Option<String>,
}

impl ResilienceState {
    async fn load(&self) -> Result<State> {
        if let Some(s) = self.current.borrow().as_ref() {
            return Ok(s.clone());
        }
        let stored: Wire = self.state.storage().get(STORAGE_KEY).await?.unwrap_or_default();
        let s = State::from_wire(stored);
        *self.current.borrow_mut() = Some(s.clone());
        Ok(s)
    }

    async fn save(&self, mut s: State) -> Result<Wire> {
        let wire = s.to_wire(now_ms());
        self.state.storage().put(STORAGE_KEY, &wire).await?;
        *self.current.borrow_mut() = Some(s);
        Ok(wire)
    }
}

impl DurableObject for ResilienceState {
    fn new(state: DoState, _env: Env) -> Self {
        ResilienceState { state, current: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match (req.method(), req.path().as_str()) {
            (Method::Get, "/state") => {
                let mut s = self.load().await?;
                Response::from_json(&s.to_wire(now_ms()))
            }
            (Method::Post, "/events") => {
                let Ok(batch) = req.json::<EventBatch>().await else {
                    return Response::error("body must be an event batch", 400);
                };
                let profiles = Profiles::with_breaker(batch.breaker_failure_threshold, batch.breaker_reset_ms);
                let mut s = self.load().await?;
                for e in &batch.events {
                    s.apply(e, &profiles);
                }
                self.save(s).await?;
                Ok(Response::empty()?.with_status(204))
            }
            (Method::Post, "/reset") => {
                let Ok(r) = req.json::<ResetRequest>().await else {
                    return Response::error("body must be a reset request", 400);
                };
                let mut s = self.load().await?;
                s.reset(r.scope.as_deref(), r.provider.as_deref());
                self.save(s).await?;
                Ok(Response::empty()?.with_status(204))
            }
            _ => Response::error("not found", 404),
        }
    }
}
