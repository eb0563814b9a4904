//! `KeyLedger`: one object per limited gateway key (`{tenant}/{key_id}`) holding its ledger
//! (`limits::Ledger`, an authoritative machine: a request of the key awaits it). The object applies
//! one message at a time, so parallel requests cannot together pass a limit (docs/state.md).
//! `POST /` takes a `state::Message`.

use super::host::Host;
use crate::limits::Ledger;
use crate::platform::env::now_ms;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State as DoState};

#[durable_object]
pub struct KeyLedger {
    host: Host<Ledger>,
}

impl DurableObject for KeyLedger {
    fn new(state: DoState, _env: Env) -> Self {
        KeyLedger { host: Host::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        self.host.serve(&body, now_ms()).await
    }
}
