//! The pipeline's `Admission` port: a limited key's ledger, one `KeyLedger` object per key
//! (`{tenant}/{key_id}`), authoritative: the reservation is awaited, the settlement is not. A key
//! without limits gets no gate, so its requests wait on nothing.
//!
//! When the object cannot be reached the request fails (500) rather than spend past a cap.

use super::state_client::Objects;
use super::{env, v1::Caller};
use crate::engine::ports::Admission;
use crate::error::Result;
use crate::limits::{KeyLimits, Ledger, LedgerCommand};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use worker::{Context, Env};

pub const LEDGERS: Objects<Ledger> = Objects::new(env::LIMITS);

/// The object of a key's ledger.
pub fn ledger_name(tenant: &str, key_id: &str) -> String {
    format!("{tenant}/{key_id}")
}

pub struct KeyGate {
    env: Env,
    ctx: Rc<Context>,
    name: String,
    limits: KeyLimits,
}

/// The gate of the caller's key, if it has limits.
pub fn gate(env: &Env, ctx: &Rc<Context>, caller: &Caller) -> Option<Rc<dyn Admission>> {
    if caller.limits.is_empty() {
        return None;
    }
    let name = ledger_name(&caller.tenant, &caller.key_id);
    Some(Rc::new(KeyGate { env: env.clone(), ctx: ctx.clone(), name, limits: caller.limits }))
}

impl Admission for KeyGate {
    fn reserve(&self, usd: f64, tokens: u64) -> Pin<Box<dyn Future<Output = Result<u64>> + '_>> {
        Box::pin(async move {
            let command = LedgerCommand::Reserve { limits: self.limits, usd, tokens };
            LEDGERS.apply(&self.env, &self.name, &command).await?.admitted()
        })
    }

    fn settle(&self, ticket: u64, usd: f64, tokens: u64) {
        let (env, name) = (self.env.clone(), self.name.clone());
        self.ctx.wait_until(async move {
            if let Err(e) = LEDGERS.apply(&env, &name, &LedgerCommand::Settle { ticket, usd, tokens }).await {
                worker::console_warn!("settling a request of {name} failed: {}", e.message);
            }
        });
    }
}
