//! `IdempotencyKey`: one object per `Idempotency-Key` of a tenant's gateway key, holding its claim
//! and then its answer (`replay::idempotency`, an authoritative machine: the request awaits it).
//! Applying one message at a time is what makes exactly one of concurrent duplicates call upstream.
//! An alarm deletes the state when its window ends, so one-off keys keep no storage.
//! `POST /` takes a `state::Message`.

use super::host::Host;
use crate::platform::env::now_ms;
use crate::replay::idempotency::Idempotency;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State as DoState};

#[durable_object]
pub struct IdempotencyKey {
    host: Host<Idempotency>,
}

impl DurableObject for IdempotencyKey {
    fn new(state: DoState, _env: Env) -> Self {
        IdempotencyKey { host: Host::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        self.host.serve(&body, now_ms()).await
    }

    async fn alarm(&self) -> Result<Response> {
        self.host.expire(now_ms()).await?;
        Response::ok("")
    }
}
