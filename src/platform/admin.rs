//! `/api/*`: the management API. Every route but `POST /api/auth/login` first turns the request's
//! credentials into a principal (`admin_auth::authenticate`: the `ADMIN_SECRET` as a bearer token, or a
//! session cookie) and works on the tenant that principal may reach (`?tenant=<id>` for the owner,
//! default this instance's own; an operator's own tenant only). Every write goes to D1 first and then
//! rebuilds the tenant's snapshot, so the request path sees it at once in this isolate.

use super::http::header;
use super::http::{json_response, read_body};
use super::repo::RoutingTable;
use super::repo::{self, ApiKeyRow};
use super::{admin_auth, admin_sync, admin_usage, config_store, env, limits_gate, resilience_view};
use crate::auth::audit::{self, AuditEntry};
use crate::auth::principal::Principal;
use crate::config::input::{self, ApiKeyPatch, ConnectionPatch, NewApiKey, NewConnection};
use crate::config::DEFAULT_TENANT;
use crate::config::{ConnectionRecord, KeyEntry};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::providers::{self, catalog, node, Catalog, ProviderNode};
use crate::routing::alias::{self, Alias};
use crate::routing::combo::Combo;
use crate::security::{api_keys, Secret};
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

const MAX_ADMIN_BODY: u64 = 64 * 1024;

pub async fn handle(mut req: Request, env: &Env, path: &str) -> Result<Response> {
    let segments: Vec<&str> = path.trim_start_matches("/api/").trim_end_matches('/').split('/').collect();
    let method = req.method();
    if method == Method::Post && segments == ["auth", "login"] {
        let answer = admin_auth::login(&req, env).await;
        let entry = AuditEntry::login(DEFAULT_TENANT, status_of(&answer), env::now_ms());
        record(env, &req, entry).await;
        return answer;
    }
    let principal = admin_auth::authenticate(&req, env).await?;
    let tenant = principal.tenant_for(query(&req, "tenant").as_deref())?;
    let answer = route(&mut req, env, path, &segments, &principal, &tenant).await;
    if audit::is_action(method.as_ref()) {
        let entry = AuditEntry::action(&principal, &tenant, method.as_ref(), path, status_of(&answer), env::now_ms());
        record(env, &req, entry).await;
    }
    answer
}

fn status_of(answer: &Result<Response>) -> u16 {
    match answer {
        Ok(r) => r.status_code(),
        Err(e) => e.status,
    }
}

/// Writes an audit row. A failed write is logged, not the request's failure: the action happened.
async fn record(env: &Env, req: &Request, entry: AuditEntry) {
    let entry = entry.from_ip(header(req, "cf-connecting-ip"));
    let (sql, args) = entry.insert();
    let written = async { repo::statement(&repo::db(env)?, &sql, &args)?.run().await.map_err(GatewayError::from) };
    if let Err(e) = written.await {
        worker::console_error!("audit log write failed: {}", e.message);
    }
}

/// `GET /api/audit[?limit=<n>&after=<cursor>]`: the tenant's audit log, newest first; `next` is
/// the cursor of the following page.
async fn audit_page(req: &Request, env: &Env, tenant: &str) -> Result<Response> {
    let limit = match query(req, "limit") {
        Some(v) => {
            v.parse::<u32>().map_err(|_| GatewayError::invalid_request("`limit` is a number.").with_param("limit"))?
        }
        None => 100,
    }
    .clamp(1, audit::MAX_PAGE);
    let after = query(req, "after");
    let (sql, args) = audit::page_sql(tenant, after.as_deref(), limit).ok_or_else(|| {
        GatewayError::invalid_request("`after` is a cursor from a previous page.").with_param("after")
    })?;
    let rows: Vec<AuditEntry> = repo::rows(&repo::db(env)?, &sql, &args).await?;
    let next = if rows.len() as u32 == limit { rows.last().and_then(audit::cursor) } else { None };
    Ok(json_response(200, &json!({"data": rows, "next": next}))?)
}

async fn route(
    req: &mut Request,
    env: &Env,
    path: &str,
    segments: &[&str],
    principal: &Principal,
    tenant: &str,
) -> Result<Response> {
    let tenant = tenant.to_string();
    let method = req.method();
    let db = repo::db(env)?;
    if !repo::tenant_exists(&db, &tenant).await? {
        return Err(GatewayError::not_found(format!("Unknown tenant `{tenant}`.")).with_param("tenant"));
    }
    match (method, segments) {
        (Method::Get, ["providers", "catalog"]) => catalog_list(),
        (Method::Get, ["providers"]) => list_connections(env, &tenant).await,
        (Method::Post, ["providers"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            create_connection(env, &tenant, &body).await
        }
        (Method::Patch, ["providers", id]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            update_connection(env, &tenant, id, &body).await
        }
        (Method::Delete, ["providers", id]) => delete_connection(env, &tenant, id).await,
        (Method::Get, ["keys"]) => Ok(json_response(200, &json!({"data": repo::api_keys(&db, &tenant).await?}))?),
        (Method::Post, ["keys"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            create_key(env, &tenant, &body).await
        }
        (Method::Patch, ["keys", id]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            update_key(env, &tenant, id, &body).await
        }
        (Method::Get, ["keys", id, "usage"]) => key_usage(env, &tenant, id).await,
        (Method::Post, ["keys", id, "rotate"]) => rotate_key(env, &tenant, id).await,
        (Method::Delete, ["keys", id]) => revoke_key(env, &tenant, id).await,
        (Method::Get, ["settings"]) => {
            Ok(json_response(200, &serde_json::to_value(repo::settings(&db, &tenant).await?).unwrap_or_default())?)
        }
        (Method::Patch, ["settings"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            update_settings(env, &tenant, &body).await
        }
        (Method::Get, ["cooldowns"]) => {
            let now = env::now_ms();
            let state = resilience_view::fetch_state(env, &tenant).await?;
            let active: Vec<_> = state.cooldowns.into_iter().filter(|c| c.until_ms > now).collect();
            Ok(json_response(200, &json!({"data": active}))?)
        }
        (Method::Get, ["health"]) => health(env, &tenant).await,
        (Method::Get, ["quotas"]) => quotas(env, &tenant).await,
        (Method::Get, ["audit"]) => audit_page(req, env, &tenant).await,
        (Method::Delete, ["cooldowns"] | ["health"]) => {
            let (scope, provider) = (query(req, "scope"), query(req, "provider"));
            resilience_view::reset(env, &tenant, scope.as_deref(), provider.as_deref()).await?;
            let what = scope.or(provider).unwrap_or_else(|| "all".into());
            Ok(json_response(200, &json!({"reset": what}))?)
        }
        (Method::Get, ["combos"]) => {
            let combos: Vec<Combo> = repo::documents(&db, &tenant, RoutingTable::Combos).await?;
            Ok(json_response(200, &json!({"data": combos}))?)
        }
        (Method::Post, ["combos"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            let combo: Combo = input::parse_strict(&body)?;
            combo.validate()?;
            if providers::find(&combo.name).is_some() {
                return Err(GatewayError::invalid_request(format!(
                    "`{}` is a provider name; pick another combo name.",
                    combo.name
                ))
                .with_param("name"));
            }
            repo::put_document(&db, &tenant, RoutingTable::Combos, &combo.name, &combo, env::now_ms()).await?;
            config_store::rebuild_snapshot(env, &tenant).await?;
            Ok(json_response(201, &serde_json::to_value(&combo).unwrap_or_default())?)
        }
        (Method::Delete, ["combos", name]) => delete_routing(env, &tenant, RoutingTable::Combos, name).await,
        (Method::Get, ["aliases"]) => {
            let aliases = repo::aliases(&db, &tenant).await?;
            Ok(json_response(200, &json!({"data": aliases.entries()}))?)
        }
        (Method::Post, ["aliases"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            let a: Alias = input::parse_strict(&body)?;
            alias::validate_alias(&a.pattern, &a.target)?;
            repo::put_alias(&db, &tenant, &a.pattern, &a.target, env::now_ms()).await?;
            config_store::rebuild_snapshot(env, &tenant).await?;
            Ok(json_response(201, &serde_json::to_value(&a).unwrap_or_default())?)
        }
        (Method::Delete, ["aliases"]) => {
            let pattern = query(req, "pattern")
                .ok_or_else(|| GatewayError::invalid_request("Give the alias as ?pattern=…").with_param("pattern"))?;
            delete_routing(env, &tenant, RoutingTable::Aliases, &pattern).await
        }
        (Method::Get, ["fallback-chains"]) => {
            let chains = repo::fallback_chains(&db, &tenant).await?;
            let data: Vec<Value> = chains.iter().map(|(m, c)| json!({"model": m, "chain": c})).collect();
            Ok(json_response(200, &json!({"data": data}))?)
        }
        (Method::Post, ["fallback-chains"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            let c: ChainInput = input::parse(&body)?;
            alias::validate_chain(&c.model, &c.chain)?;
            repo::put_document(&db, &tenant, RoutingTable::FallbackChains, &c.model, &c.chain, env::now_ms()).await?;
            config_store::rebuild_snapshot(env, &tenant).await?;
            Ok(json_response(201, &json!({"model": c.model, "chain": c.chain}))?)
        }
        (Method::Delete, ["fallback-chains"]) => {
            let model = query(req, "model")
                .ok_or_else(|| GatewayError::invalid_request("Give the model as ?model=…").with_param("model"))?;
            delete_routing(env, &tenant, RoutingTable::FallbackChains, &model).await
        }
        (Method::Get, ["models", "catalog"]) => models_catalog(config_store::snapshot(env, &tenant).await?.catalog()),
        (Method::Get, ["provider-nodes"]) => Ok(json_response(
            200,
            &json!({"data": repo::documents::<ProviderNode>(&db, &tenant, RoutingTable::Nodes).await?}),
        )?),
        (Method::Post, ["provider-nodes"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            let node = input::parse_strict::<ProviderNode>(&body)?.validate(env::allow_private_upstreams(env))?;
            repo::put_document(&db, &tenant, RoutingTable::Nodes, &node.id, &node, env::now_ms()).await?;
            config_store::rebuild_snapshot(env, &tenant).await?;
            Ok(json_response(201, &serde_json::to_value(&node).unwrap_or_default())?)
        }
        (Method::Delete, ["provider-nodes", id]) => delete_routing(env, &tenant, RoutingTable::Nodes, id).await,
        (Method::Get, ["provider-models"]) => {
            let data: Vec<Value> = repo::custom_models(&db, &tenant)
                .await?
                .into_iter()
                .map(|(provider, models)| json!({"provider": provider, "models": models}))
                .collect();
            Ok(json_response(200, &json!({"data": data}))?)
        }
        (Method::Post, ["provider-models"]) => {
            let body = read_body(&*req, MAX_ADMIN_BODY).await?;
            let m: ModelsInput = input::parse(&body)?;
            node::validate_models(&m.provider, &m.models)?;
            if config_store::snapshot(env, &tenant).await?.catalog().find(&m.provider).is_none() {
                return Err(
                    GatewayError::invalid_request(format!("Unknown provider `{}`.", m.provider)).with_param("provider")
                );
            }
            repo::put_document(&db, &tenant, RoutingTable::CustomModels, &m.provider, &m.models, env::now_ms()).await?;
            config_store::rebuild_snapshot(env, &tenant).await?;
            Ok(json_response(201, &json!({"provider": m.provider, "models": m.models}))?)
        }
        (Method::Delete, ["provider-models", provider]) => {
            delete_routing(env, &tenant, RoutingTable::CustomModels, provider).await
        }
        (Method::Get, ["stats"]) => stats(req, env, &tenant).await,
        (_, ["usage" | "logs" | "pricing", ..]) => admin_usage::handle(req, env, &tenant, segments).await,
        (_, ["auth", ..]) => admin_auth::handle(req, env, principal, segments).await,
        (_, ["backup", ..]) => super::admin_backup::handle(req, env, principal, &tenant, segments).await,
        (_, ["sync", ..]) => {
            principal.require_owner()?; // enrollments and machines span tenants
            admin_sync::handle(req, env, segments).await
        }
        (
            _,
            ["providers" | "keys" | "settings" | "stats" | "cooldowns" | "health" | "combos" | "aliases"
            | "fallback-chains" | "audit", ..],
        ) => Err(GatewayError::new(ErrorKind::InvalidRequest, "Method not allowed for this path.").with_status(405)),
        _ => Err(GatewayError::not_found(format!("No admin route `{path}`."))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelsInput {
    provider: String,
    models: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainInput {
    model: String,
    chain: Vec<String>,
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn delete_routing(env: &Env, tenant: &str, table: RoutingTable, key: &str) -> Result<Response> {
    if !repo::delete_routing(&repo::db(env)?, tenant, table, key).await? {
        return Err(GatewayError::not_found(format!("Nothing named `{key}`.")));
    }
    config_store::rebuild_snapshot(env, tenant).await?;
    Ok(json_response(200, &json!({"deleted": key}))?)
}

/// Every provider's models (built-ins with custom ids, and provider nodes), grouped by provider.
fn models_catalog(catalog: &Catalog) -> Result<Response> {
    let data: Vec<Value> = catalog
        .iter()
        .map(|p| {
            let models: Vec<Value> =
                p.models_with_kinds().map(|(m, kind)| json!({"id": format!("{}/{m}", p.id), "kind": kind})).collect();
            json!({"provider": p.id, "name": p.name, "format": p.format, "models": models})
        })
        .collect();
    Ok(json_response(200, &json!({"data": data}))?)
}

/// Breaker state per provider and cooldowns per connection, from the shared Durable Object.
async fn health(env: &Env, tenant: &str) -> Result<Response> {
    let now = env::now_ms();
    let state = resilience_view::fetch_state(env, tenant).await?;
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
    Ok(json_response(200, &json!({"breakers": breakers, "cooldowns": cooldowns}))?)
}

/// Per connection and model, what its upstream said is left of its quota windows and when they
/// reset (from the shared object; windows past their reset are dropped there); then the windows
/// configured by hand on connections, from their slots objects.
async fn quotas(env: &Env, tenant: &str) -> Result<Response> {
    let now = env::now_ms();
    let state = resilience_view::fetch_state(env, tenant).await?;
    let window = |w: Option<crate::resilience::quota::Window>| {
        w.filter(|w| w.reset_at > now).map(|w| {
            json!({"limit": w.limit, "remaining": w.remaining, "reset_at": w.reset_at, "resets_in_ms": w.reset_at - now})
        })
    };
    let data: Vec<Value> = state
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
    let mut data = data;
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
    Ok(json_response(200, &json!({"data": data}))?)
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
    Ok(json_response(200, &json!({"data": data}))?)
}

/// A connection as shown to admins: never the ciphertext, only the hint.
fn public_connection(c: &ConnectionRecord) -> Value {
    json!({
        "id": c.id, "provider": c.provider, "name": c.name, "priority": c.priority, "is_active": c.is_active,
        "base_url": c.base_url, "api_key_hint": c.api_key_hint, "created_at": c.created_at, "updated_at": c.updated_at,
        "limits": c.limits,
    })
}

async fn list_connections(env: &Env, tenant: &str) -> Result<Response> {
    let conns = repo::connections(&repo::db(env)?, tenant).await?;
    Ok(json_response(200, &json!({"data": conns.iter().map(public_connection).collect::<Vec<_>>()}))?)
}

fn encrypt_key(env: &Env, tenant: &str, conn_id: &str, api_key: &Secret) -> Result<String> {
    env::seal(env, &format!("{tenant}/{conn_id}"), api_key.expose().as_bytes())
}

async fn create_connection(env: &Env, tenant: &str, body: &[u8]) -> Result<Response> {
    let catalog = config_store::snapshot(env, tenant).await?.catalog().clone();
    let valid = input::parse::<NewConnection>(body)?.validate(env::allow_private_upstreams(env), &catalog)?;
    let id = env::new_id("conn")?;
    let now = env::now_ms();
    let record = ConnectionRecord {
        api_key_enc: encrypt_key(env, tenant, &id, &valid.api_key)?,
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
    repo::insert_connection(&repo::db(env)?, tenant, &record).await?;
    config_store::rebuild_snapshot(env, tenant).await?;
    Ok(json_response(201, &public_connection(&record))?)
}

async fn update_connection(env: &Env, tenant: &str, id: &str, body: &[u8]) -> Result<Response> {
    let patch = input::parse::<ConnectionPatch>(body)?.validate(env::allow_private_upstreams(env))?;
    let db = repo::db(env)?;
    let mut c = repo::connection(&db, tenant, id)
        .await?
        .ok_or_else(|| GatewayError::not_found(format!("No connection `{id}`.")))?;
    if let Some(name) = patch.name {
        c.name = name;
    }
    if let Some(key) = patch.api_key {
        c.api_key_enc = encrypt_key(env, tenant, &c.id, &key)?;
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
    config_store::rebuild_snapshot(env, tenant).await?;
    // An edited connection (new key, re-enabled, new base URL) deserves a fresh start.
    resilience_view::reset(env, tenant, Some(&c.id), None).await?;
    Ok(json_response(200, &public_connection(&c))?)
}

async fn delete_connection(env: &Env, tenant: &str, id: &str) -> Result<Response> {
    if !repo::delete_connection(&repo::db(env)?, tenant, id).await? {
        return Err(GatewayError::not_found(format!("No connection `{id}`.")));
    }
    config_store::rebuild_snapshot(env, tenant).await?;
    Ok(json_response(200, &json!({"deleted": id}))?)
}

async fn create_key(env: &Env, tenant: &str, body: &[u8]) -> Result<Response> {
    let new = input::parse_strict::<NewApiKey>(body)?.validate()?;
    let keys = env::keys(env)?;
    let key = api_keys::generate(&env::random_bytes::<32>()?);
    let hash = api_keys::hash(&keys.api_key_hash, &key);
    let row = ApiKeyRow {
        id: env::new_id("key")?,
        name: new.name,
        key_prefix: api_keys::display_prefix(&key),
        created_at: env::now_ms(),
        revoked_at: None,
        limits: new.limits,
        access: new.access,
    };
    repo::insert_api_key(&repo::db(env)?, tenant, &row, &hash).await?;
    config_store::publish_key(env, &hash, &key_entry(tenant, &row)).await?;
    Ok(json_response(
        201,
        &json!({"id": row.id, "name": row.name, "key": key, "key_prefix": row.key_prefix, "created_at": row.created_at,
                "limits": row.limits, "access": row.access, "note": "Store this key now: it is shown only once."}),
    )?)
}

/// An active key of the tenant and its hash, or the 404 that says there is none.
async fn active_key(db: &worker::D1Database, tenant: &str, id: &str) -> Result<(ApiKeyRow, String)> {
    repo::active_api_key(db, tenant, id).await?.ok_or_else(|| no_active_key(id))
}

fn no_active_key(id: &str) -> GatewayError {
    GatewayError::not_found(format!("No active key `{id}`."))
}

fn key_entry(tenant: &str, row: &ApiKeyRow) -> KeyEntry {
    KeyEntry { tenant: tenant.to_string(), key_id: row.id.clone(), limits: row.limits, access: row.access.clone() }
}

/// `PATCH /api/keys/{id}`: a new name or new limits, in D1 and then in the key's entry (KV and this
/// isolate; other isolates within the config cache's freshness).
async fn update_key(env: &Env, tenant: &str, id: &str, body: &[u8]) -> Result<Response> {
    let patch = input::parse_strict::<ApiKeyPatch>(body)?.validate()?;
    let db = repo::db(env)?;
    let (mut row, hash) = active_key(&db, tenant, id).await?;
    if let Some(name) = patch.name {
        row.name = name;
    }
    if let Some(limits) = patch.limits {
        row.limits = limits;
    }
    if let Some(access) = patch.access {
        row.access = access;
    }
    repo::update_api_key(&db, tenant, &row).await?;
    config_store::publish_key(env, &hash, &key_entry(tenant, &row)).await?;
    Ok(json_response(200, &serde_json::to_value(&row).unwrap_or_default())?)
}

/// What a key has spent and used, from its ledger object (zeros for a key that never had limits).
async fn key_usage(env: &Env, tenant: &str, id: &str) -> Result<Response> {
    let (row, _) = active_key(&repo::db(env)?, tenant, id).await?;
    let mut ledger = limits_gate::LEDGERS.read(env, &limits_gate::object_name(tenant, id)).await?;
    Ok(json_response(200, &json!({"id": id, "limits": row.limits, "usage": ledger.usage(env::now_ms())}))?)
}

/// `POST /api/keys/{id}/rotate`: a new secret for the key (shown once), same id and settings; the
/// old secret stops working at once here and everywhere once config caches refresh.
async fn rotate_key(env: &Env, tenant: &str, id: &str) -> Result<Response> {
    let db = repo::db(env)?;
    let (mut row, old_hash) = active_key(&db, tenant, id).await?;
    let keys = env::keys(env)?;
    let key = api_keys::generate(&env::random_bytes::<32>()?);
    let hash = api_keys::hash(&keys.api_key_hash, &key);
    row.key_prefix = api_keys::display_prefix(&key);
    repo::rotate_api_key(&db, tenant, id, &hash, &row.key_prefix).await?;
    config_store::forget_key(env, &old_hash).await?;
    config_store::publish_key(env, &hash, &key_entry(tenant, &row)).await?;
    Ok(json_response(
        200,
        &json!({"id": row.id, "name": row.name, "key": key, "key_prefix": row.key_prefix,
                "note": "Store this key now: it is shown only once. The previous secret no longer works."}),
    )?)
}

async fn revoke_key(env: &Env, tenant: &str, id: &str) -> Result<Response> {
    let hash =
        repo::revoke_api_key(&repo::db(env)?, tenant, id, env::now_ms()).await?.ok_or_else(|| no_active_key(id))?;
    config_store::forget_key(env, &hash).await?;
    Ok(json_response(200, &json!({"revoked": id}))?)
}

async fn update_settings(env: &Env, tenant: &str, body: &[u8]) -> Result<Response> {
    let patch: Value = input::parse(body)?;
    let db = repo::db(env)?;
    let next = repo::settings(&db, tenant).await?.patched(&patch)?;
    repo::save_settings(&db, tenant, &next, env::now_ms()).await?;
    config_store::rebuild_snapshot(env, tenant).await?;
    Ok(json_response(200, &serde_json::to_value(&next).unwrap_or_default())?)
}

/// `GET /api/stats[?since=<ms>]`: this isolate's config-cache counters, and how the response cache
/// and idempotency keys served the tenant (from the request log: what it keeps, or since `since`).
async fn stats(req: &Request, env: &Env, tenant: &str) -> Result<Response> {
    let since = req.url()?.query_pairs().find(|(k, _)| k == "since").map(|(_, v)| v.into_owned());
    let since = match since {
        Some(v) => v.parse::<i64>().map_err(|_| {
            GatewayError::invalid_request("`since` is a time in milliseconds since the epoch.").with_param("since")
        })?,
        None => 0,
    };
    let (sql, args) = crate::metering::query::cache_counts_sql(tenant, since);
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = repo::rows(&repo::db(env)?, &sql, &args).await?;
    let body = json!({
        "config_cache": config_store::stats(),
        "response_cache": crate::metering::query::render_cache_counts(&rows),
    });
    Ok(json_response(200, &body)?)
}
