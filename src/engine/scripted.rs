//! Scripted ports for native tests of the pipeline: an upstream that answers from a script per
//! connection and logs every call, a resilience view with set cooldowns and open breakers that
//! records reports (and answers what quota is left from the reported ones), a usage sink that keeps
//! records, a fixed clock. Test-only.

use super::plan::UpstreamCall;
use super::ports::{
    Admission, Clock, Credentials, Pending, Random, Replays, Reply, ResilienceView, ResponseStore, Slot, Upstream,
    UpstreamBody, UsageSink,
};
use crate::config::{ConnectionRecord, Settings, TenantSnapshot};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::limits::{ConnectionLimits, KeyLimits, Ledger, Slots};
use crate::metering::UsageRecord;
use crate::replay::idempotency::{self, Idempotency, KeyState};
use crate::replay::Recorded;
use crate::resilience::state::Event;
use crate::routing::strategy::RoundRobinStates;
use crate::security::Secret;
use crate::state::Machine;
use crate::stored::conversation::StoredResponse;
use crate::stored::log::{self, Log, ResponseLog};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// One scripted upstream answer.
#[derive(Clone)]
pub enum Script {
    /// A status with a body, and headers.
    Answer(u16, &'static str, Vec<(&'static str, &'static str)>),
    /// 200 with a body delivered in chunks; `Err` is a transport failure at that point.
    Chunks(Vec<std::result::Result<&'static str, &'static str>>),
    Timeout,
}

pub struct Body(VecDeque<std::result::Result<Vec<u8>, String>>);

impl UpstreamBody for Body {
    async fn bytes(self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for c in self.0 {
            out.extend(c.map_err(GatewayError::upstream)?);
        }
        Ok(out)
    }
    async fn next_chunk(&mut self) -> Option<Result<Vec<u8>>> {
        self.0.pop_front().map(|c| c.map_err(GatewayError::upstream))
    }
}

#[derive(Default)]
pub struct ScriptedUpstream {
    /// Answers per connection id, in order; the last one repeats.
    pub scripts: RefCell<HashMap<String, VecDeque<Script>>>,
    /// Every call, as `connection:model`.
    pub calls: RefCell<Vec<String>>,
    pub sent: RefCell<Vec<UpstreamCall>>,
}

impl ScriptedUpstream {
    pub fn script(&self, connection: &str, answers: Vec<Script>) {
        self.scripts.borrow_mut().insert(connection.to_string(), answers.into());
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

impl Upstream for ScriptedUpstream {
    type Body = Body;
    async fn send(&self, call: &UpstreamCall, _timeout_ms: u64) -> Result<Reply<Body>> {
        self.calls.borrow_mut().push(format!("{}:{}", call.connection_id, call.model));
        self.sent.borrow_mut().push(call.clone());
        let script = {
            let mut scripts = self.scripts.borrow_mut();
            let q = scripts.get_mut(&call.connection_id).expect("no script for this connection");
            if q.len() > 1 {
                q.pop_front().unwrap()
            } else {
                q.front().unwrap().clone()
            }
        };
        match script {
            Script::Answer(status, body, headers) => Ok(Reply {
                status,
                headers: headers.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                body: Body(VecDeque::from([Ok(body.as_bytes().to_vec())])),
            }),
            Script::Chunks(chunks) => Ok(Reply {
                status: 200,
                headers: vec![("content-type".into(), "text/event-stream".into())],
                body: Body(
                    chunks.into_iter().map(|c| c.map(|s| s.as_bytes().to_vec()).map_err(str::to_string)).collect(),
                ),
            }),
            Script::Timeout => Err(GatewayError::new(ErrorKind::UpstreamTimeout, "no response in time")),
        }
    }
}

#[derive(Default)]
pub struct ScriptedView {
    pub cooling: RefCell<HashMap<String, i64>>,
    pub open: RefCell<HashMap<String, i64>>,
    pub events: RefCell<Vec<Event>>,
    pub rr: Rc<RefCell<RoundRobinStates>>,
    pub uses: RefCell<HashMap<String, u64>>,
}

impl ResilienceView for ScriptedView {
    fn cooling(&self, connection: &str, model: &str, _now: i64) -> Option<i64> {
        let c = self.cooling.borrow();
        c.get(connection).or_else(|| c.get(&format!("{connection}:{model}"))).copied()
    }
    fn breaker_wait(&self, provider: &str, _now: i64) -> Option<i64> {
        self.open.borrow().get(provider).copied()
    }
    fn health(&self, _: &str, _: &str) -> f64 {
        1.0
    }
    /// From the latest quota reported for the connection and model, as the isolate's view keeps it.
    fn quota_left(&self, connection: &str, model: &str, now: i64) -> Option<f64> {
        self.events.borrow().iter().rev().find_map(|e| match e {
            Event::Quota { connection: c, model: m, quota } if c == connection && m == model => Some(quota.left(now)),
            _ => None,
        })?
    }
    fn uses(&self, connection: &str) -> u64 {
        self.uses.borrow().get(connection).copied().unwrap_or(0)
    }
    fn count_use(&self, connection: &str) {
        *self.uses.borrow_mut().entry(connection.to_string()).or_insert(0) += 1;
    }
    fn round_robin(&self) -> Rc<RefCell<RoundRobinStates>> {
        self.rr.clone()
    }
    fn report(&self, event: Event) {
        self.events.borrow_mut().push(event);
    }
}

/// Limits over the real reducers, as the objects would hold them: the key's ledger and each
/// connection's slots. Logs every call; waiting for a busy connection advances the fixed clock.
pub struct ScriptedGate {
    pub limits: KeyLimits,
    pub ledger: RefCell<Ledger>,
    pub slots: RefCell<HashMap<String, Slots>>,
    pub clock: Rc<FixedClock>,
    /// `reserve`, `settle:<ticket>:<usd>`, `acquire:<conn>`, `release:<conn>:<slot>`, in order.
    pub calls: RefCell<Vec<String>>,
}

impl ScriptedGate {
    pub fn new(limits: KeyLimits, clock: Rc<FixedClock>) -> Rc<ScriptedGate> {
        let (ledger, slots, calls) = Default::default();
        Rc::new(ScriptedGate { limits, ledger, slots, clock, calls })
    }
}

impl Admission for ScriptedGate {
    fn key_limited(&self) -> bool {
        !self.limits.is_empty()
    }
    fn acquire<'a>(
        &'a self,
        connection: &'a str,
        limits: ConnectionLimits,
    ) -> Pin<Box<dyn Future<Output = Result<Slot>> + 'a>> {
        self.calls.borrow_mut().push(format!("acquire:{connection}"));
        let mut slots = self.slots.borrow_mut();
        let reply = slots.entry(connection.to_string()).or_default().acquire(&limits, self.clock.now_ms());
        Box::pin(async move { reply.slot() })
    }
    fn pause(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        self.clock.0.set(self.clock.0.get() + ms as i64);
        Box::pin(async {})
    }
    fn release(&self, connection: &str, slot: u64, tokens: u64) {
        self.calls.borrow_mut().push(format!("release:{connection}:{slot}"));
        if let Some(s) = self.slots.borrow_mut().get_mut(connection) {
            s.release(slot, tokens, self.clock.now_ms());
        }
    }
    fn reserve(&self, usd: f64, tokens: u64) -> Pin<Box<dyn Future<Output = Result<u64>> + '_>> {
        self.calls.borrow_mut().push("reserve".into());
        let reply = self.ledger.borrow_mut().reserve(&self.limits, usd, tokens, self.clock.now_ms());
        Box::pin(async move { reply.admitted() })
    }
    fn settle(&self, ticket: u64, usd: f64, tokens: u64) {
        self.calls.borrow_mut().push(format!("settle:{ticket}:{usd}"));
        self.ledger.borrow_mut().settle(ticket, usd, tokens, self.clock.now_ms());
    }
}

/// The response cache as a map and idempotency keys over the real reducer, as the objects would
/// hold them; settling applies at once. Waiting for a held key advances the fixed clock.
pub struct ScriptedReplays {
    pub cache: RefCell<HashMap<String, (Recorded, u64)>>,
    pub keys: RefCell<HashMap<String, KeyState>>,
    pub clock: Rc<FixedClock>,
}

impl ScriptedReplays {
    pub fn new(clock: Rc<FixedClock>) -> Rc<ScriptedReplays> {
        Rc::new(ScriptedReplays { cache: Default::default(), keys: Default::default(), clock })
    }
    fn apply(&self, name: &str, command: &idempotency::Command) -> idempotency::Reply {
        let mut keys = self.keys.borrow_mut();
        Idempotency::apply(keys.entry(name.to_string()).or_default(), command, self.clock.now_ms())
    }
}

impl Replays for ScriptedReplays {
    fn cached(&self, key: &str) -> Pin<Box<dyn Future<Output = Option<Recorded>> + '_>> {
        let hit = self.cache.borrow().get(key).map(|(a, _)| a.clone());
        Box::pin(async move { hit })
    }
    fn cache(&self, key: &str, answer: &Recorded, ttl_secs: u64) {
        self.cache.borrow_mut().insert(key.to_string(), (answer.clone(), ttl_secs));
    }
    fn idempotency<'a>(
        &'a self,
        name: &'a str,
        command: &'a idempotency::Command,
    ) -> Pin<Box<dyn Future<Output = Result<idempotency::Reply>> + 'a>> {
        let reply = self.apply(name, command);
        Box::pin(async move { Ok(reply) })
    }
    fn settle(&self, name: &str, command: idempotency::Command) {
        self.apply(name, &command);
    }
    fn pause(&self, ms: u64) -> Pin<Box<dyn Future<Output = ()> + '_>> {
        self.clock.0.set(self.clock.0.get() + ms as i64);
        Box::pin(async {})
    }
}

/// A key's stored responses over the real log reducer, as its object would hold them (entries as
/// plain JSON: sealing is the platform's). `transient` also keeps answers not to be stored, as a
/// WebSocket connection does; `kept` lists every response kept, with its `store` flag.
pub struct ScriptedResponses {
    pub log: RefCell<Log>,
    pub transient: bool,
    pub kept: RefCell<Vec<(String, bool)>>,
    pub clock: Rc<FixedClock>,
}

impl ScriptedResponses {
    pub fn new(clock: Rc<FixedClock>, transient: bool) -> Rc<ScriptedResponses> {
        Rc::new(ScriptedResponses { log: Default::default(), transient, kept: Default::default(), clock })
    }
    pub fn apply(&self, command: &log::Command) -> log::Reply {
        ResponseLog::apply(&mut self.log.borrow_mut(), command, self.clock.now_ms())
    }
}

impl ResponseStore for ScriptedResponses {
    fn chain<'a>(&'a self, id: &'a str) -> Pending<'a, Option<Vec<StoredResponse>>> {
        let turns = match self.apply(&log::Command::Chain { id: id.to_string() }) {
            log::Reply::Chain { turns } => {
                Some(turns.iter().map(|t| serde_json::from_str(&t.sealed).expect("a kept turn")).collect())
            }
            _ => None,
        };
        Box::pin(async move { Ok(turns) })
    }
    fn keeps(&self, store: bool) -> bool {
        store || self.transient
    }
    fn keep(&self, response: StoredResponse, store: bool) {
        self.kept.borrow_mut().push((response.id.clone(), store));
        let sealed = serde_json::to_string(&response).unwrap();
        self.apply(&log::Command::Put { id: response.id, previous: response.previous, sealed });
    }
}

pub struct FakeCredentials;
impl Credentials for FakeCredentials {
    async fn credential(&self, c: &ConnectionRecord) -> Result<Secret> {
        Ok(Secret::new(format!("key-of-{}", c.id)))
    }
}

#[derive(Default)]
pub struct Records(pub RefCell<Vec<UsageRecord>>);
impl UsageSink for Records {
    fn record(&self, r: UsageRecord) {
        self.0.borrow_mut().push(r);
    }
}

pub struct FixedClock(pub Cell<i64>);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
}

pub struct Zeros;
impl Random for Zeros {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

/// Runs a future that never waits on anything outside the test (every scripted port is ready).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

pub fn conn(id: &str, provider: &str, priority: i64) -> ConnectionRecord {
    ConnectionRecord {
        id: id.into(),
        provider: provider.into(),
        name: id.into(),
        priority,
        is_active: true,
        base_url: None,
        api_key_enc: format!("enc-{id}"),
        api_key_hint: String::new(),
        created_at: 0,
        updated_at: 0,
        limits: Default::default(),
    }
}

pub fn snapshot(conns: Vec<ConnectionRecord>) -> TenantSnapshot {
    TenantSnapshot {
        tenant: "t".into(),
        version: 1,
        connections: conns,
        settings: Settings::default(),
        ..Default::default()
    }
}

/// What a Chat Completions client reads from an SSE body.
#[derive(Debug, Default, PartialEq)]
pub struct ChatView {
    /// Chunks announcing the assistant's role (a second one would restart the message).
    pub roles: usize,
    pub text: String,
    /// Non-null finish reasons, in order.
    pub finishes: Vec<String>,
    /// `data: [DONE]` frames.
    pub done: usize,
    /// An error frame arrived.
    pub error: bool,
}

pub fn chat_view(out: &[u8]) -> ChatView {
    let mut p = crate::sse::SseParser::new();
    let mut events = p.feed(out);
    events.extend(p.finish());
    let mut view = ChatView::default();
    for e in events {
        if e.data == "[DONE]" {
            view.done += 1;
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&e.data).unwrap();
        view.error |= v.get("error").is_some();
        view.roles += v.pointer("/choices/0/delta/role").is_some() as usize;
        view.text.push_str(v.pointer("/choices/0/delta/content").and_then(|c| c.as_str()).unwrap_or_default());
        if let Some(f) = v.pointer("/choices/0/finish_reason").and_then(|f| f.as_str()) {
            view.finishes.push(f.to_string());
        }
    }
    view
}
