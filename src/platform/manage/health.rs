//! `/api/health`, `/api/cooldowns`, `/api/quotas`: what the resilience state says about the
//! tenant's providers and connections (from its shared object), and resetting it.

use super::{list, value, Call};
use crate::error::Result;
use crate::manage::routes::Health as Op;
use crate::platform::{config_store, env, limits_gate, resilience_view};
use crate::resilience::quota::Window;
use serde_json::{json, Value};
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::Get => health(call).await,
        Op::Cooldowns => {
            let now = env::now_ms();
            let state = resilience_view::fetch_state(call.env, call.tenant).await?;
            let active: Vec<_> = state.cooldowns.into_iter().filter(|c| c.until_ms > now).collect();
            list(&active)
        }
        Op::Quotas => quotas(call).await,
        Op::Reset | Op::ResetCooldowns => {
            let (scope, provider) = (call.query("scope"), call.query("provider"));
            resilience_view::reset(call.env, call.tenant, scope.as_deref(), provider.as_deref()).await?;
            let what = scope.or(provider).unwrap_or_else(|| "all".into());
            value(200, &json!({"reset": what}))
        }
    }
}

/// Breaker state per provider and cooldowns per connection, from the shared Durable Object.
async fn health(call: &Call<'_>) -> Result<Response> {
    let now = env::now_ms();
    let state = resilience_view::fetch_state(call.env, call.tenant).await?;
    let breakers: serde_json::Map<String, Value> = state
        .breakers
        .iter()
        .map(|(provider, b)| (provider.clone(), json!({"state": b.state_name(), "retry_in_ms": b.retry_in_ms(now)})))
        .collect();
    let cooldowns: Vec<Value> = state
        .cooldowns
        .iter()
        .filter(|c| c.until_ms > now)
        .map(|c| json!({"scope": c.scope, "reason": c.reason, "until_ms": c.until_ms, "level": c.level}))
        .collect();
    value(200, &json!({"breakers": breakers, "cooldowns": cooldowns}))
}

/// Per connection and model, what its upstream said is left of its quota windows and when they
/// reset (from the shared object; windows past their reset are dropped there); then the windows
/// configured by hand on connections, from their slots objects.
async fn quotas(call: &Call<'_>) -> Result<Response> {
    let (env, tenant) = (call.env, call.tenant);
    let now = env::now_ms();
    let state = resilience_view::fetch_state(env, tenant).await?;
    let window = |w: Option<Window>| {
        w.filter(|w| w.reset_at > now).map(|w| {
            json!({"limit": w.limit, "remaining": w.remaining, "reset_at": w.reset_at, "resets_in_ms": w.reset_at - now})
        })
    };
    let mut data: Vec<Value> = state
        .quotas
        .iter()
        .map(|(scope, q)| {
            let (connection, model) = scope.split_once(':').unwrap_or((scope, ""));
            json!({
                "source": "upstream", "connection": connection, "model": model, "observed_at": q.at,
                "requests": window(q.requests), "tokens": window(q.tokens),
                "exhausted_until": q.exhausted_until(now),
            })
        })
        .collect();
    for c in config_store::snapshot(env, tenant).await?.connections.iter() {
        let Some(w) = c.limits.window else { continue };
        let slots = limits_gate::SLOTS.read(env, &limits_gate::object_name(tenant, &c.id)).await?;
        let used = slots.window_use(&w, now);
        let resets_at = used.map(|u| u.started_at + i64::from(w.hours) * 3_600_000);
        let part = |allowance: Option<u64>, used: u64| {
            allowance.map(|a| {
                json!({"limit": a, "remaining": a.saturating_sub(used), "reset_at": resets_at,
                                     "resets_in_ms": resets_at.map(|r| r - now)})
            })
        };
        data.push(json!({
            "source": "configured", "connection": c.id, "model": null, "hours": w.hours,
            "started_at": used.map(|u| u.started_at),
            "requests": part(w.requests, used.map_or(0, |u| u.requests)),
            "tokens": part(w.tokens, used.map_or(0, |u| u.tokens)),
        }));
    }
    list(&data)
}
