//! The request path's view of resilience state. Each isolate keeps a local copy of its tenants'
//! cooldowns and consults only that; the shared copy lives in the `ResilienceState` Durable Object.
//!
//! - A stale local view (older than `REFRESH_MS`) is refreshed in the background (`wait_until`):
//!   the request that notices goes on with what it has.
//! - A rate limit seen here is applied locally at once and sent to the object in the background.
//! - A refresh replaces the local view with the object's, keeping local reports younger than the
//!   refresh (they may not have reached the object yet), so resets made elsewhere propagate.
//!
//! So a healthy request never waits on the Durable Object; other isolates learn of a cooldown within
//! `REFRESH_MS`. Admin reads and resets talk to the object directly.

use super::env;
use crate::error::{GatewayError, Result};
use crate::resilience::cooldown::{Cooldown, CooldownTable};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::JsValue;
use worker::{Context, Env, Method, Request, RequestInit, Stub};

const REFRESH_MS: i64 = 5_000;

#[derive(Default)]
struct View {
    table: CooldownTable,
    refreshed_at: i64,
    /// Reports made by this isolate, with when they were made.
    recent: Vec<(Cooldown, i64)>,
}

thread_local! {
    static VIEWS: RefCell<HashMap<String, View>> = RefCell::new(HashMap::new());
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

const URL: &str = "https://resilience-state/cooldowns";

/// Milliseconds left on `scope`'s cooldown in this isolate's view.
pub fn remaining(tenant: &str, scope: &str, now: i64) -> Option<i64> {
    with_view(tenant, |v| v.table.remaining(scope, now))
}

/// Starts a background refresh if this isolate's view of `tenant` is stale.
pub fn refresh_if_stale(env: &Env, ctx: &Context, tenant: &str, now: i64) {
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
    let (env, tenant) = (env.clone(), tenant.to_string());
    ctx.wait_until(async move {
        match active(&env, &tenant).await {
            Ok(list) => with_view(&tenant, |v| {
                v.recent.retain(|(_, at)| *at >= now - 1_000);
                let mut table = CooldownTable::default();
                table.merge(list);
                table.merge(v.recent.iter().map(|(c, _)| c.clone()));
                v.table = table;
            }),
            Err(e) => worker::console_warn!("resilience refresh for {tenant} failed: {e}"),
        }
    });
}

/// Applies a cooldown locally now and records it in the Durable Object in the background.
pub fn report(env: &Env, ctx: &Context, tenant: &str, cooldown: Cooldown, now: i64) {
    with_view(tenant, |v| {
        v.table.record(cooldown.clone());
        v.recent.push((cooldown.clone(), now));
    });
    let (env, tenant) = (env.clone(), tenant.to_string());
    ctx.wait_until(async move {
        if let Err(e) = post(&env, &tenant, &cooldown).await {
            worker::console_warn!("recording cooldown for {tenant} failed: {e}");
        }
    });
}

async fn post(env: &Env, tenant: &str, cooldown: &Cooldown) -> Result<()> {
    let body = serde_json::to_string(cooldown).map_err(|e| GatewayError::internal(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    stub(env, tenant)?.fetch_with_request(Request::new_with_init(URL, &init)?).await?;
    Ok(())
}

/// The object's active cooldowns (a direct, awaited read: for admin views and refreshes).
pub async fn active(env: &Env, tenant: &str) -> Result<Vec<Cooldown>> {
    let mut resp = stub(env, tenant)?.fetch_with_str(URL).await?;
    Ok(resp.json::<Vec<Cooldown>>().await?)
}

/// Clears one scope's cooldown, or all of a tenant's, in the object and in this isolate.
pub async fn reset(env: &Env, tenant: &str, scope: Option<&str>) -> Result<()> {
    let url = match scope {
        Some(s) => format!("{URL}?scope={}", js_sys::encode_uri_component(s)),
        None => URL.to_string(),
    };
    let mut init = RequestInit::new();
    init.with_method(Method::Delete);
    stub(env, tenant)?.fetch_with_request(Request::new_with_init(&url, &init)?).await?;
    with_view(tenant, |v| {
        v.table.clear(scope);
        v.recent.retain(|(c, _)| scope.is_some_and(|s| s != c.scope));
    });
    Ok(())
}
