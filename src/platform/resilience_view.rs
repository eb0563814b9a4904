//! The request path's view of resilience state: the advisory machine `resilience::state::Resilience`
//! through `platform::advisory` (docs/state.md). Each isolate keeps a local copy of its tenants'
//! state and consults only that; the shared copy lives in the `ResilienceState` Durable Object.
//!
//! - What an isolate observes (a failure, a success that undoes one) is applied to its view at once
//!   and sent to the object in the background; healthy successes are not sent at all.
//! - A view older than `REFRESH_MS` is refreshed in the background, keeping the isolate's own events
//!   of the last second, so resets made elsewhere propagate and nothing recent is lost.
//!
//! So a healthy request never waits on the Durable Object; other isolates learn of a cooldown or an
//! open breaker within `REFRESH_MS`. Admin reads and resets talk to the object directly.

use super::advisory::Advisory;
use super::env;
use crate::bounded::BoundedMap;
use crate::config::Settings;
use crate::engine::ports::ResilienceView;
use crate::error::Result;
use crate::resilience::state::{Command, Event, Resilience, Wire};
use crate::routing::strategy::RoundRobinStates;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Context, Env};

const REFRESH_MS: i64 = 5_000;
const QUOTA_SHARE_MS: i64 = 10_000;
/// Connections (and connection/model pairs) an isolate keeps counts for; past it they start afresh.
const MAX_TRACKED: usize = 10_000;

thread_local! {
    /// The tenants' resilience state, one `ResilienceState` object each.
    static VIEWS: Advisory<Resilience> = Advisory::new(env::RESILIENCE, REFRESH_MS);
    /// Round-robin positions per combo and per provider (isolate-local, like the original gateway's).
    static ROUND_ROBIN: Rc<RefCell<RoundRobinStates>> = Rc::new(RefCell::new(RoundRobinStates::default()));
    /// Requests sent per connection by this isolate (the `least_used` strategy's input).
    static USES: RefCell<BoundedMap<String, u64>> = RefCell::new(BoundedMap::new(MAX_TRACKED));
    /// When this isolate last sent each connection's quota to the object (`tenant/connection:model`).
    static QUOTA_SHARED: RefCell<BoundedMap<String, i64>> = RefCell::new(BoundedMap::new(MAX_TRACKED));
}

fn quota_share_due(tenant: &str, connection: &str, model: &str, now: i64) -> bool {
    QUOTA_SHARED.with(|m| {
        let mut m = m.borrow_mut();
        let key = format!("{tenant}/{connection}:{model}");
        let due = m.get(&key).is_none_or(|last| now.saturating_sub(*last) >= QUOTA_SHARE_MS);
        if due {
            m.insert(key, now);
        }
        due
    })
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
    fn quota_left(&self, connection: &str, model: &str, now: i64) -> Option<f64> {
        with_view(self.tenant, |s| s.quota_left(connection, model, now))
    }
    fn uses(&self, connection: &str) -> u64 {
        USES.with(|u| u.borrow().get(connection).copied().unwrap_or(0))
    }
    fn count_use(&self, connection: &str) {
        USES.with(|u| *u.borrow_mut().entry_or_default(connection.to_string()) += 1);
    }
    fn round_robin(&self) -> Rc<RefCell<RoundRobinStates>> {
        ROUND_ROBIN.with(Rc::clone)
    }
    fn report(&self, event: Event) {
        report(self.env, self.ctx, self.tenant, vec![event], env::now_ms(), self.settings);
    }
}

fn with_view<T>(tenant: &str, f: impl FnOnce(&mut crate::resilience::state::State) -> T) -> T {
    VIEWS.with(|v| v.with(tenant, f))
}

/// Milliseconds until `connection` may serve `model` again, in this isolate's view.
fn cooling(tenant: &str, connection: &str, model: &str, now: i64) -> Option<i64> {
    with_view(tenant, |s| s.cooling(connection, model, now))
}

/// A connection's health for `model` in this isolate's view (see `State::health`).
fn health(tenant: &str, connection: &str, model: &str) -> f64 {
    with_view(tenant, |s| s.health(connection, model))
}

/// Whether `provider`'s breaker lets a request through now; `Err(wait_ms)` when it is open.
fn breaker(tenant: &str, provider: &str, now: i64, settings: &Settings) -> std::result::Result<(), i64> {
    let p = settings.profiles();
    with_view(tenant, |s| {
        if s.breaker_allows(provider, now, &p) {
            Ok(())
        } else {
            Err(s.breaker_wait(provider, now).unwrap_or(p.breaker.reset_ms))
        }
    })
}

/// Starts a background refresh if this isolate's view of `tenant` is stale.
pub fn refresh_if_stale(env: &Env, ctx: &Context, tenant: &str, now: i64, _settings: &Settings) {
    VIEWS.with(|v| v.refresh_if_stale(env, ctx, tenant, now));
}

/// Applies events locally now and sends them to the Durable Object in the background. Successes
/// that would change nothing (the usual case) are dropped here, so healthy traffic costs no call.
fn report(env: &Env, ctx: &Context, tenant: &str, mut events: Vec<Event>, now: i64, settings: &Settings) {
    let profiles = settings.profiles();
    with_view(tenant, |s| {
        events.retain(|e| match e {
            Event::Success { provider, connection, model, .. } => s.success_matters(provider, connection, model),
            Event::Failure { .. } => true,
            // Most answers announce a quota: an exhausted one is shared at once, the others at most
            // every `QUOTA_SHARE_MS` per connection (for `GET /api/quotas`); each is applied here.
            Event::Quota { connection, model, quota } => {
                let share = quota.exhausted_until(now).is_some() || quota_share_due(tenant, connection, model, now);
                if !share {
                    s.apply(e, &profiles);
                }
                share
            }
        })
    });
    if events.is_empty() {
        return;
    }
    let command = Command::events(events, &profiles);
    VIEWS.with(|v| v.report(env, ctx, tenant, command, now));
}

/// The object's state (a direct, awaited read: for admin views).
pub async fn fetch_state(env: &Env, tenant: &str) -> Result<Wire> {
    let views = VIEWS.with(Advisory::clone);
    views.read(env, tenant).await
}

/// Clears cooldowns (one scope or all) and breakers (one provider or all), in the object and here.
pub async fn reset(env: &Env, tenant: &str, scope: Option<&str>, provider: Option<&str>) -> Result<()> {
    let command = Command::Reset { scope: scope.map(str::to_string), provider: provider.map(str::to_string) };
    let views = VIEWS.with(Advisory::clone);
    views.apply_now(env, tenant, command, env::now_ms()).await
}
