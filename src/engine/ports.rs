//! The request pipeline's I/O, as small traits. The platform implements them over Workers (fetch, the
//! resilience view, decrypted credentials, the usage store, `Date.now`); native tests script them. No
//! `Send` bounds: wasm is single-threaded, and so is a test's executor.

use crate::config::ConnectionRecord;
use crate::engine::plan::UpstreamCall;
use crate::error::Result;
use crate::limits::ConnectionLimits;
use crate::metering::UsageRecord;
use crate::replay::{idempotency, Recorded};
use crate::resilience::state::Event;
use crate::routing::strategy::RoundRobinStates;
use crate::security::Secret;
use crate::stored::conversation::StoredResponse;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// An upstream's answer: status and headers have arrived, the body has not been read.
pub struct Reply<B> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: B,
}

impl<B> Reply<B> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Makes the upstream call an attempt planned.
#[allow(async_fn_in_trait)]
pub trait Upstream {
    type Body: UpstreamBody;
    /// `Err` when the upstream cannot be reached or sends no response headers within `timeout_ms`.
    async fn send(&self, call: &UpstreamCall, timeout_ms: u64) -> Result<Reply<Self::Body>>;
}

/// An upstream body, read whole or chunk by chunk (or, by the platform, not at all: piped natively).
#[allow(async_fn_in_trait)]
pub trait UpstreamBody {
    async fn bytes(self) -> Result<Vec<u8>>;
    /// The next chunk; `None` at the end.
    async fn next_chunk(&mut self) -> Option<Result<Vec<u8>>>;
}

/// Plaintext provider credentials. Async so that a later source can refresh an expired OAuth token.
#[allow(async_fn_in_trait)]
pub trait Credentials {
    async fn credential(&self, connection: &ConnectionRecord) -> Result<Secret>;
}

/// What the request path knows of upstream health (the isolate's local view, never awaited) and
/// where it reports what it learns.
pub trait ResilienceView {
    /// Milliseconds until `connection` may serve `model` again.
    fn cooling(&self, connection: &str, model: &str, now: i64) -> Option<i64>;
    /// Milliseconds until `provider`'s open breaker admits a probe; `None` lets the request through
    /// (and may admit it as the probe).
    fn breaker_wait(&self, provider: &str, now: i64) -> Option<i64>;
    /// A connection's health for a model, in (0, 1] (`p2c`).
    fn health(&self, connection: &str, model: &str) -> f64;
    /// The fraction of its allowance `connection` has left for `model` now, in [0, 1], from the
    /// quota windows its upstream announced; `None` when unknown.
    fn quota_left(&self, connection: &str, model: &str, now: i64) -> Option<f64>;
    /// Requests this isolate sent to a connection (`least_used`), and counting one more.
    fn uses(&self, connection: &str) -> u64;
    fn count_use(&self, connection: &str);
    /// Round-robin positions (isolate-local, as in the original gateway).
    fn round_robin(&self) -> Rc<RefCell<RoundRobinStates>>;
    /// An upstream call's outcome. Never awaited by the request.
    fn report(&self, event: Event);
}

/// Limits held by authoritative objects that the request awaits: the calling key's (budgets,
/// rates) and those of limited connections. A request with neither has no `Admission`, so it waits
/// on nothing. Boxed futures keep it object-safe: settlements and releases outlive the pipeline (a
/// stream settles when it ends).
pub trait Admission {
    /// Whether the calling key has limits (else `reserve` is never called).
    fn key_limited(&self) -> bool;
    /// Reserves an estimate before the first upstream call: `Ok(ticket)` to go on, `Err` (429 in
    /// the client's format) to stop.
    fn reserve(&self, usd: f64, tokens: u64) -> Pin<Box<dyn Future<Output = Result<u64>> + '_>>;
    /// The request's real cost, from its usage record (0 for a failed request). Never awaited.
    fn settle(&self, ticket: u64, usd: f64, tokens: u64);
    /// Asks a limited connection for a slot before calling it.
    fn acquire<'a>(
        &'a self,
        connection: &'a str,
        limits: ConnectionLimits,
    ) -> Pin<Box<dyn Future<Output = Result<Slot>> + 'a>>;
    /// Waits `ms` before asking a busy connection again (only with `connection_wait_ms`).
    fn pause(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + '_>>;
    /// Gives a slot back (the attempt failed, or the request ended, having used `tokens`). Never
    /// awaited.
    fn release(&self, connection: &str, slot: u64, tokens: u64);
}

/// A limited connection's answer to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Granted(u64),
    /// At its limits; asking again after this many ms may succeed.
    Busy(i64),
}

/// Answers served again (`replay`): the tenant's response cache and `Idempotency-Key` objects.
/// Lookups and claims are awaited (a claim is authoritative: exactly one duplicate calls upstream);
/// storing and settling are not.
pub trait Replays {
    /// The cached answer under `key`, if any (a store that cannot be read is a miss).
    fn cached(&self, key: &str) -> Pin<Box<dyn Future<Output = Option<Recorded>> + '_>>;
    /// Keeps `answer` under `key` for `ttl_secs`. Never awaited.
    fn cache(&self, key: &str, answer: &Recorded, ttl_secs: u64);
    /// Sends an idempotency key's object (`name`) a command.
    fn idempotency<'a>(
        &'a self,
        name: &'a str,
        command: &'a idempotency::Command,
    ) -> Pin<Box<dyn Future<Output = Result<idempotency::Reply>> + 'a>>;
    /// Settles an idempotency claim (a command whose reply nobody waits for). Never awaited.
    fn settle(&self, name: &str, command: idempotency::Command);
    /// Waits `ms` before asking a held key again.
    fn pause(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + '_>>;
}

/// An awaited port call.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// Stored responses (`stored`): the calling key's recent Responses answers, which a request may
/// continue (`previous_response_id`). The lookup is awaited; keeping is not.
pub trait ResponseStore {
    /// `id` and every response it continues, oldest first; `None` when it is not the caller's (never
    /// kept, expired, deleted, or another key's).
    fn chain<'a>(&'a self, id: &'a str) -> Pending<'a, Option<Vec<StoredResponse>>>;
    /// Whether answers are kept at all: those the client lets be stored (`store`), and, where the
    /// connection itself keeps its turns (WebSocket), the others too.
    fn keeps(&self, store: bool) -> bool;
    /// Keeps a finished response: durably when `store`, else only for the connection. Never awaited.
    fn keep(&self, response: StoredResponse, store: bool);
}

/// Where usage records go. Called once per request, possibly after the pipeline returned (when a
/// stream ends), so it is held by `Rc`.
pub trait UsageSink {
    fn record(&self, record: UsageRecord);
}

/// Wall-clock milliseconds since the epoch. (In a Worker it advances only across I/O.)
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// Random bytes, for ids of translated answers and the random routing strategies.
pub trait Random {
    fn fill(&self, buf: &mut [u8]);
}
