//! `ConnectionSlots`: one object per limited provider connection (`{tenant}/{connection}`) holding
//! its slots (`limits::Slots`, an authoritative machine: an attempt on the connection awaits it), so
//! its concurrency cap, minimum gap and rate hold across isolates. `POST /` takes a `state::Message`.

use super::host::Host;
use crate::limits::Slots;
use crate::platform::env::now_ms;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State as DoState};

#[durable_object]
pub struct ConnectionSlots {
    host: Host<Slots>,
}

impl DurableObject for ConnectionSlots {
    fn new(state: DoState, _env: Env) -> Self {
        ConnectionSlots { host: Host::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        self.host.serve(&body, now_ms()).await
    }
}
