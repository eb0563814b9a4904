//! `ResilienceState`: one object per tenant holding its upstream cooldowns (see
//! `resilience::cooldown`). Isolates report rate limits here and refresh their local copy from here;
//! the request path itself never waits on this object (see `platform::resilience`).
//!
//! Routes (internal, called through the namespace stub only):
//! `GET /cooldowns` → active cooldowns · `POST /cooldowns` (a `Cooldown`) → 204 ·
//! `DELETE /cooldowns[?scope=…]` → 204.

use crate::resilience::cooldown::{Cooldown, CooldownTable};
use std::cell::RefCell;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

const STORAGE_KEY: &str = "cooldowns";

#[durable_object]
pub struct ResilienceState {
    state: State,
    /// Loaded from storage on first use; storage stays the source of truth across restarts.
    table: RefCell<Option<CooldownTable>>,
}

impl ResilienceState {
    async fn load(&self) -> Result<CooldownTable> {
        if let Some(t) = self.table.borrow().as_ref() {
            return Ok(t.clone());
        }
        let stored: Vec<Cooldown> = self.state.storage().get(STORAGE_KEY).await?.unwrap_or_default();
        let mut t = CooldownTable::default();
        t.merge(stored);
        *self.table.borrow_mut() = Some(t.clone());
        Ok(t)
    }

    async fn save(&self, mut t: CooldownTable) -> Result<()> {
        let now = worker::Date::now().as_millis() as i64;
        t.prune(now);
        self.state.storage().put(STORAGE_KEY, t.active(now)).await?;
        *self.table.borrow_mut() = Some(t);
        Ok(())
    }
}

impl DurableObject for ResilienceState {
    fn new(state: State, _env: Env) -> Self {
        ResilienceState { state, table: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let now = worker::Date::now().as_millis() as i64;
        if req.path() != "/cooldowns" {
            return Response::error("not found", 404);
        }
        match req.method() {
            Method::Get => Response::from_json(&self.load().await?.active(now)),
            Method::Post => {
                let Ok(c) = req.json::<Cooldown>().await else {
                    return Response::error("body must be a cooldown", 400);
                };
                let mut t = self.load().await?;
                t.record(c);
                self.save(t).await?;
                Ok(Response::empty()?.with_status(204))
            }
            Method::Delete => {
                let scope = req.url()?.query_pairs().find(|(k, _)| k == "scope").map(|(_, v)| v.into_owned());
                let mut t = self.load().await?;
                t.clear(scope.as_deref());
                self.save(t).await?;
                Ok(Response::empty()?.with_status(204))
            }
            _ => Response::error("method not allowed", 405),
        }
    }
}
