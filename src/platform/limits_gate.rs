//! The pipeline's `Admission` port, over authoritative objects: a limited key's ledger (`KeyLedger`,
//! one per `{tenant}/{key_id}`) and a limited connection's slots (`ConnectionSlots`, one per
//! `{tenant}/{connection}`). Reservations and acquisitions are awaited; settlements and releases
//! are not, and settlements ride on the key's next reservation from this isolate (or go on their
//! own after a short delay), so a busy key costs one object call per request, not two. A request whose key and connections have no limits gets no gate and waits on nothing.
//!
//! When an object cannot be reached the request fails (500) rather than pass a cap.

use super::state_client::Objects;
use super::{env, v1::Caller};
use crate::config::TenantSnapshot;
use crate::engine::ports::{Admission, Slot};
use crate::error::Result;
use crate::limits::{ConnectionLimits, KeyLimits, Ledger, LedgerCommand, Settlement, SlotCommand, Slots};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;
use worker::{Context, Delay, Env};

pub const LEDGERS: Objects<Ledger> = Objects::new(env::LIMITS);
/// How long a settlement waits for the key's next reservation to carry it.
const SETTLE_DELAY_MS: u64 = 200;

thread_local! {
    /// Settlements not sent yet, by ledger object.
    static UNSENT: RefCell<HashMap<String, Vec<Settlement>>> = RefCell::new(HashMap::new());
}

fn unsent(name: &str) -> Vec<Settlement> {
    UNSENT.with(|u| u.borrow_mut().remove(name).unwrap_or_default())
}
pub const SLOTS: Objects<Slots> = Objects::new(env::SLOTS);

/// The object of a key's ledger, or of a connection's slots.
pub fn object_name(tenant: &str, id: &str) -> String {
    format!("{tenant}/{id}")
}

pub struct Gate {
    env: Env,
    ctx: Rc<Context>,
    tenant: String,
    key: String,
    limits: KeyLimits,
}

/// The request's gate, if its key or any of the tenant's connections has limits.
pub fn gate(env: &Env, ctx: &Rc<Context>, caller: &Caller, snapshot: &TenantSnapshot) -> Option<Rc<dyn Admission>> {
    if caller.limits.is_empty() && snapshot.connections.iter().all(|c| c.limits.is_empty()) {
        return None;
    }
    Some(Rc::new(Gate {
        env: env.clone(),
        ctx: ctx.clone(),
        tenant: caller.tenant.clone(),
        key: object_name(&caller.tenant, &caller.key_id),
        limits: caller.limits,
    }))
}

impl Admission for Gate {
    fn key_limited(&self) -> bool {
        !self.limits.is_empty()
    }

    fn reserve(&self, usd: f64, tokens: u64) -> Pin<Box<dyn Future<Output = Result<u64>> + '_>> {
        Box::pin(async move {
            let settle = unsent(&self.key);
            let command = LedgerCommand::Reserve { limits: self.limits, usd, tokens, settle };
            match LEDGERS.apply(&self.env, &self.key, &command).await {
                Ok(reply) => reply.admitted(),
                Err(e) => {
                    if let LedgerCommand::Reserve { settle, .. } = command {
                        UNSENT.with(|u| u.borrow_mut().entry(self.key.clone()).or_default().extend(settle));
                    }
                    Err(e)
                }
            }
        })
    }

    /// Queued for the key's next reservation from this isolate; sent on its own after
    /// `SETTLE_DELAY_MS` if none comes.
    fn settle(&self, ticket: u64, usd: f64, tokens: u64) {
        let first = UNSENT.with(|u| {
            let mut u = u.borrow_mut();
            let queue = u.entry(self.key.clone()).or_default();
            queue.push(Settlement { ticket, usd, tokens });
            queue.len() == 1
        });
        if !first {
            return; // a flush is already on its way
        }
        let (env, name) = (self.env.clone(), self.key.clone());
        self.ctx.wait_until(async move {
            Delay::from(Duration::from_millis(SETTLE_DELAY_MS)).await;
            let settlements = unsent(&name);
            if settlements.is_empty() {
                return;
            }
            if let Err(e) = LEDGERS.apply(&env, &name, &LedgerCommand::Settle { settlements }).await {
                worker::console_warn!("settling requests of {name} failed: {}", e.message);
            }
        });
    }

    fn acquire<'a>(
        &'a self,
        connection: &'a str,
        limits: ConnectionLimits,
    ) -> Pin<Box<dyn Future<Output = Result<Slot>> + 'a>> {
        Box::pin(async move {
            let name = object_name(&self.tenant, connection);
            SLOTS.apply(&self.env, &name, &SlotCommand::Acquire { limits }).await?.slot()
        })
    }

    fn pause(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }

    fn release(&self, connection: &str, slot: u64, tokens: u64) {
        let (env, name) = (self.env.clone(), object_name(&self.tenant, connection));
        self.ctx.wait_until(async move {
            if let Err(e) = SLOTS.apply(&env, &name, &SlotCommand::Release { slot, tokens }).await {
                worker::console_warn!("releasing a slot of {name} failed: {}", e.message);
            }
        });
    }
}
