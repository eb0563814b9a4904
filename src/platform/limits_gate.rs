//! The pipeline's `Admission` port, over authoritative objects: a limited key's ledger (`KeyLedger`,
//! one per `{tenant}/{key_id}`) and a limited connection's slots (`ConnectionSlots`, one per
//! `{tenant}/{connection}`). Reservations and acquisitions are awaited; settlements and releases
//! are not, and settlements ride on the key's next reservation from this isolate (or go on their
//! own after a short delay), so a busy key costs one object call per request, not two. A request whose key and connections have no limits gets no gate and waits on nothing.
//!
//! When an object cannot be reached the request fails (500) rather than pass a cap.
//!
//! The queue of unsent settlements is bounded (`MAX_QUEUED_KEYS` keys): a settlement for a new key
//! when it is full is sent on its own at once, so memory stays bounded and no settlement is dropped.

use super::state_client::Objects;
use super::{env, v1::Caller};
use crate::bounded::BoundedMap;
use crate::config::TenantSnapshot;
use crate::engine::ports::{Admission, Slot};
use crate::error::Result;
use crate::limits::{ConnectionLimits, KeyLimits, Ledger, LedgerCommand, Settlement, SlotCommand, Slots};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;
use worker::{Context, Delay, Env};

pub const LEDGERS: Objects<Ledger> = Objects::new(env::LIMITS);
/// How long a settlement waits for the key's next reservation to carry it.
const SETTLE_DELAY_MS: u64 = 200;
/// Keys with settlements waiting in this isolate.
const MAX_QUEUED_KEYS: usize = 10_000;

thread_local! {
    /// Settlements not sent yet, by ledger object.
    static UNSENT: RefCell<BoundedMap<String, Vec<Settlement>>> = RefCell::new(BoundedMap::new(MAX_QUEUED_KEYS));
}

fn unsent(name: &str) -> Vec<Settlement> {
    UNSENT.with(|u| u.borrow_mut().remove(name).unwrap_or_default())
}

/// Queues settlements for the ledger `name`; returns whether the queue was empty before, or `None`
/// when the queue is full (the caller sends them itself: nothing is dropped).
fn enqueue(name: &str, settlements: Vec<Settlement>) -> Option<bool> {
    UNSENT.with(|u| {
        let mut u = u.borrow_mut();
        if !u.has_room_for(name) {
            return None;
        }
        let queue = u.entry_or_default(name.to_string());
        let was_empty = queue.is_empty();
        queue.extend(settlements);
        Some(was_empty)
    })
}

/// Sends settlements to the ledger `name` in the background.
fn send(env: &Env, ctx: &Context, name: &str, settlements: Vec<Settlement>) {
    let (env, name) = (env.clone(), name.to_string());
    ctx.wait_until(async move { settle_now(&env, &name, settlements).await });
}

async fn settle_now(env: &Env, name: &str, settlements: Vec<Settlement>) {
    if let Err(e) = LEDGERS.apply(env, name, &LedgerCommand::Settle { settlements }).await {
        worker::console_warn!("settling requests of {name} failed: {}", e.message);
    }
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
                    // They ride on the next reservation, or go on their own when the queue is full.
                    if let LedgerCommand::Reserve { settle, .. } = command {
                        if !settle.is_empty() && enqueue(&self.key, settle.clone()).is_none() {
                            send(&self.env, &self.ctx, &self.key, settle);
                        }
                    }
                    Err(e)
                }
            }
        })
    }

    /// Queued for the key's next reservation from this isolate; sent on its own after
    /// `SETTLE_DELAY_MS` if none comes.
    fn settle(&self, ticket: u64, usd: f64, tokens: u64) {
        let settlement = Settlement { ticket, usd, tokens };
        match enqueue(&self.key, vec![settlement]) {
            None => return send(&self.env, &self.ctx, &self.key, vec![settlement]),
            Some(false) => return, // a flush is already on its way
            Some(true) => {}
        }
        let (env, name) = (self.env.clone(), self.key.clone());
        self.ctx.wait_until(async move {
            Delay::from(Duration::from_millis(SETTLE_DELAY_MS)).await;
            let settlements = unsent(&name);
            if !settlements.is_empty() {
                settle_now(&env, &name, settlements).await;
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
