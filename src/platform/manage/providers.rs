//! `/api/providers`: the built-in catalog, and the tenant's provider connections (accounts). A
//! connection's API key is sealed before it is stored and never shown again, only its hint.

use super::{list, value, Call};
use crate::config::input::{self, ConnectionPatch, NewConnection};
use crate::config::{ConnectionRecord, ConnectionView};
use crate::engine::probe;
use crate::error::{GatewayError, Result};
use crate::manage::routes::Providers as Op;
use crate::platform::credentials::Decrypted;
use crate::platform::upstream_fetch::FetchUpstream;
use crate::platform::usage_sink::WorkerClock;
use crate::platform::{config_store, env, repo, resilience_view};
use crate::providers::catalog;
use crate::security::Secret;
use serde_json::{json, Value};
use worker::{Env, Response};

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::Catalog => catalog_list(),
        Op::List => {
            let conns = repo::connections(&call.db()?, call.tenant).await?;
            list(&conns.iter().map(ConnectionView::from).collect::<Vec<_>>())
        }
        Op::Create => create(call).await,
        Op::Test => {
            let input = crate::manage::input::connection_test(&call.body().await?)?;
            let snapshot = config_store::snapshot(call.env, call.tenant).await?;
            let keys = env::keys(call.env)?;
            let credentials = Decrypted { keys: &keys, tenant: call.tenant };
            let id = call.param("id");
            let probe = probe::run(&snapshot, id, input.model.as_deref(), &FetchUpstream, &credentials, &WorkerClock);
            value(200, &probe.await?)
        }
        Op::Update => update(call).await,
        Op::Delete => {
            let id = call.param("id");
            if !repo::delete_connection(&call.db()?, call.tenant, id).await? {
                return Err(GatewayError::not_found(format!("No connection `{id}`.")));
            }
            call.republish().await?;
            value(200, &json!({"deleted": id}))
        }
    }
}

fn catalog_list() -> Result<Response> {
    let data: Vec<Value> = catalog::ALL
        .iter()
        .map(|p| {
            let services: Vec<Value> = p
                .services
                .iter()
                .map(|s| json!({"kind": s.kind, "wire": s.wire, "base_url": s.base_url, "models": s.models}))
                .collect();
            json!({"id": p.id, "name": p.name, "aliases": p.aliases, "base_url": p.base_url, "format": p.format,
                   "models": p.models, "services": services})
        })
        .collect();
    list(&data)
}

fn seal_key(env: &Env, tenant: &str, conn_id: &str, api_key: &Secret) -> Result<String> {
    env::seal(env, &format!("{tenant}/{conn_id}"), api_key.expose().as_bytes())
}

async fn create(call: &mut Call<'_>) -> Result<Response> {
    let (env, tenant) = (call.env, call.tenant);
    let catalog = config_store::snapshot(env, tenant).await?.catalog().clone();
    let valid =
        input::parse::<NewConnection>(&call.body().await?)?.validate(env::allow_private_upstreams(env), &catalog)?;
    let id = env::new_id("conn")?;
    let now = env::now_ms();
    let record = ConnectionRecord {
        api_key_enc: seal_key(env, tenant, &id, &valid.api_key)?,
        api_key_hint: valid.api_key.hint(),
        id,
        provider: valid.provider.to_string(),
        name: valid.name,
        priority: valid.priority,
        is_active: valid.is_active,
        limits: valid.limits,
        base_url: valid.base_url,
        created_at: now,
        updated_at: now,
    };
    repo::insert_connection(&call.db()?, tenant, &record).await?;
    call.republish().await?;
    value(201, &ConnectionView::from(&record))
}

async fn update(call: &mut Call<'_>) -> Result<Response> {
    let (env, tenant, id) = (call.env, call.tenant, call.param("id"));
    let patch = input::parse::<ConnectionPatch>(&call.body().await?)?.validate(env::allow_private_upstreams(env))?;
    let db = call.db()?;
    let mut c = repo::connection(&db, tenant, id)
        .await?
        .ok_or_else(|| GatewayError::not_found(format!("No connection `{id}`.")))?;
    if let Some(name) = patch.name {
        c.name = name;
    }
    if let Some(key) = patch.api_key {
        c.api_key_enc = seal_key(env, tenant, &c.id, &key)?;
        c.api_key_hint = key.hint();
    }
    if let Some(base_url) = patch.base_url {
        c.base_url = base_url;
    }
    if let Some(p) = patch.priority {
        c.priority = p;
    }
    if let Some(a) = patch.is_active {
        c.is_active = a;
    }
    if let Some(limits) = patch.limits {
        c.limits = limits;
    }
    c.updated_at = env::now_ms();
    repo::update_connection(&db, tenant, &c).await?;
    call.republish().await?;
    // An edited connection (new key, re-enabled, new base URL) deserves a fresh start.
    resilience_view::reset(env, tenant, Some(&c.id), None).await?;
    value(200, &ConnectionView::from(&c))
}
