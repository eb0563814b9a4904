//! The request path's view of resilience state. Each isolate keeps a local copy of its tenants'
//! state (`resilience::state`) and consults only that; the shared copy lives in the
//! `ResilienceState` Durable Object.
//!
//! - What an isolate observes (a failure, a success) is applied to its view at once, with the same
//!   reducer the object uses, and sent to the object in the background (`wait_until`).
//! - A view older than `REFRESH_MS` is refreshed in the background: the request that notices goes
//!   on with what it has. A refresh takes the object's state and re-applies the isolate's own events
//!   of the last second (they may not have reached the object yet), so resets made elsewhere
//!   propagate and nothing recent is lost.
//!
//! So a healthy request never waits on the Durable Object; other isolates learn of a cooldown or an
//! open breaker within `REFRESH_MS`. Admin reads and resets talk to the object directly.

use super::env;
use crate::config::Settings;
use crate::engine::ports::ResilienceView;
use crate::error::{GatewayError, Result};
use crate::resilience::state::{Event, State, Wire};
use crate::routing::strategy::RoundRobinStates;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::{Context, Env, Method, Request, RequestInit, Stub};

const REFRESH_MS: i64 = 5_000;
const URL: &str = "https://resilience-state";

#[derive(Default)]
struct View {
    state: State,
    refreshed_at: i64,
    /// This isolate's own events, with when they happened.
    recent: Vec<(Event, i64)>,
}

thread_local! {
    static VIEWS: RefCell<HashMap<String, View>> = RefCell::new(HashMap::new());
    /// Round-robin positions per combo and per provider (isolate-local, like the original gateway's).
    static ROUND_ROBIN: Rc<RefCell<RoundRobinStates>> = Rc::new(RefCell::new(RoundRobinStates::default()));
    /// Requests sent per connection by this isolate (the `least_used` strategy's input).
    static USES: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

/// The pipeline's `ResilienceView` port for one request: this isolate's view of the tenant.
pub struct IsolateView<'a> {
    pub env: &'a Env,
    pub ctx: &'a Context,
    pub tenant: &'a str,
    pub settings: &'a Settings,
}

impl ResilienceView for IsolateView<'_> {
    fn cooling(&self, connection: &str, model: &str, now: i64) -> Option<i64> {
        cooling(self.tenant, connection, model, now)
    }
    fn breaker_wait(&self, provider: &str, now: i64) -> Option<i64> {
        breaker(self.tenant, provider, now, self.settings).err()
    }
    fn health(&self, connection: &str, model: &str) -> f64 {
        health(self.tenant, connection, model)
    }
    fn uses(&self, connection: &str) -> u64 {
        USES.with(|u| u.borrow().get(connection).copied().unwrap_or(0))
    }
    fn count_use(&self, connection: &str) {
        USES.with(|u| *u.borrow_mut().entry(connection.to_string()).or_insert(0) += 1);
    }
    fn round_robin(&self) -> Rc<RefCell<RoundRobinStates>> {
        ROUND_ROBIN.with(Rc::clone)
    }
    fn report(&self, event: Event) {
        report(self.env, self.ctx, self.tenant, vec![event], env::now_ms(), self.settings);
    }
}

fn with_view<T>(tenant: &str, f: impl FnOnce(&mut View) -> T) -> T {
    VIEWS.with(|v| f(v.borrow_mut().entry(tenant.to_string()).or_default()))
}

fn stub(env: &Env, tenant: &str) -> Result<Stub> {
    let ns = env
        .durable_object(env::RESILIENCE)
        .map_err(|e| GatewayError::internal(format!("DO binding `RESILIENCE` missing: {e}")))?;
    Ok(ns.get_by_name(tenant)?)
}

/// Milliseconds until `connection` may serve `model` again, in this isolate's view.
fn cooling(tenant: &str, connection: &str, model: &str, now: i64) -> Option<i64> {
    with_view(tenant, |v| v.state.cooling(connection, model, now))
}

/// A connection's health for `model` in this isolate's view (see `State::health`).
fn health(tenant: &str, connection: &str, model: &str) -> f64 {
    with_view(tenant, |v| v.state.health(connection, model))
}

/// Whether `provider`'s breaker lets a request through now; `Err(wait_ms)` when it is open.
fn breaker(tenant: &str, provider: &str, now: i64, settings: &Settings) -> std::result::Result<(), i64> {
    let p = settings.profiles();
    with_view(tenant, |v| {
        if v.state.breaker_allows(provider, now, &p) {
            Ok(())
        } else {
            Err(v.state.breaker_wait(provider, now).unwrap_or(p.breaker.reset_ms))
        }
    })
}

/// Starts a background refresh if this isolate's view of `tenant` is stale.
pub fn refresh_if_stale(env: &Env, ctx: &Context, tenant: &str, now: i64, settings: &Settings) {
    let stale = with_view(tenant, |v| {
        let stale = now - v.refreshed_at >= REFRESH_MS;
        if stale {
            v.refreshed_at = now; // one refresh at a time
        }
        stale
    });
    if !stale {
        return;
    }
    let (env, tenant, profiles) = (env.clone(), tenant.to_string(), settings.profiles());
    ctx.wait_until(async move {
        match fetch_state(&env, &tenant).await {
            Ok(wire) => with_view(&tenant, |v| {
                v.recent.retain(|(_, at)| *at >= now - 1_000);
                let mut state = State::from_wire(wire);
                for (e, _) in &v.recent {
                    state.apply(e, &profiles);
                }
                v.state = state;
            }),
            Err(e) => worker::console_warn!("resilience refresh for {tenant} failed: {e}"),
        }
    });
}

/// Applies events locally now and sends them to the Durable Object in the background. Successes
/// that would change nothing (the usual case) are dropped here, so healthy traffic costs no call.
fn report(env: &Env, ctx: &Context, tenant: &str, mut events: Vec<Event>, now: i64, settings: &Settings) {
    with_view(tenant, |v| {
        events.retain(|e| match e {
            Event::Success { provider, connection, model, .. } => v.state.success_matters(provider, connection, model),
            Event::Failure { .. } => true,
        })
    });
    if events.is_empty() {
        return;
    }
    let profiles = settings.profiles();
    with_view(tenant, |v| {
        for e in &events {
            v.state.apply(e, &profiles);
            v.recent.push((e.clone(), now));
        }
    });
    let body = serde_json::json!({
        "events": events,
        "breaker_failure_threshold": profiles.breaker.failure_threshold,
        "breaker_reset_ms": profiles.breaker.reset_ms,
    });
    let (env, tenant) = (env.clone(), tenant.to_string());
    ctx.wait_until(async move {
        if let Err(e) = post(&env, &tenant, "/events", &body).await {
            worker::console_warn!("recording resilience events for {tenant} failed: {e}");
        }
    });
}

async fn post(env: &Env, tenant: &str, path: &str, body: &serde_json::Value) -> Result<()> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body.to_string())));
    stub(env, tenant)?.fetch_with_request(Request::new_with_init(&format!("{URL}{path}"), &init)?).await?;
    Ok(())
}

/// The object's state (a direct, awaited read: for admin views and refreshes).
pub async fn fetch_state(env: &Env, tenant: &str) -> Result<Wire> {
    let mut resp = stub(env, tenant)?.fetch_with_str(&format!("{URL}/state")).await?;
    Ok(resp.json::<Wire>().await?)
}

/// Clears cooldowns (one scope or all) and breakers (one provider or all), in the object and here.
pub async fn reset(env: &Env, tenant: &str, scope: Option<&str>, provider: Option<&str>) -> Result<()> {
    post(env, tenant, "/reset", &serde_json::json!({"scope": scope, "provider": provider})).await?;
    with_view(tenant, |v| {
        v.state.reset(scope, provider);
        v.recent.clear();
    });
    Ok(())
}
