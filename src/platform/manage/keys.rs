//! `/api/keys`: the tenant's gateway API keys. A key's secret is shown once (create, rotate); D1
//! keeps its HMAC, KV the entry the request path looks it up by.

use super::{list, value, Call};
use crate::config::input::{parse_strict, ApiKeyPatch, NewApiKey};
use crate::config::key_access::KeyAccess;
use crate::config::KeyEntry;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::manage::routes::Keys as Op;
use crate::platform::repo::{self, ApiKeyRow};
use crate::platform::{config_store, env, limits_gate, sync_store};
use crate::security::api_keys;
use serde_json::json;
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::List => list(&repo::api_keys(&call.db()?, call.tenant).await?),
        Op::Create => create(call).await,
        Op::Update => update(call).await,
        Op::Usage => usage(call).await,
        Op::Rotate => rotate(call).await,
        Op::Revoke => {
            let id = call.param("id");
            let hash = repo::revoke_api_key(&call.db()?, call.tenant, id, env::now_ms())
                .await?
                .ok_or_else(|| no_active_key(id))?;
            config_store::forget_key(call.env, &hash).await?;
            value(200, &json!({"revoked": id}))
        }
    }
}

/// A new secret and its hash under this deployment's key.
fn new_secret(call: &Call<'_>) -> Result<(String, String)> {
    let key = api_keys::generate(&env::random_bytes::<32>()?);
    let hash = api_keys::hash(&env::keys(call.env)?.api_key_hash, &key);
    Ok((key, hash))
}

async fn create(call: &mut Call<'_>) -> Result<Response> {
    let new = parse_strict::<NewApiKey>(&call.body().await?)?.validate()?;
    known_zone(&new.access)?;
    let (key, hash) = new_secret(call)?;
    let row = ApiKeyRow {
        id: env::new_id("key")?,
        name: new.name,
        key_prefix: api_keys::display_prefix(&key),
        created_at: env::now_ms(),
        revoked_at: None,
        limits: new.limits,
        access: new.access,
    };
    repo::insert_api_key(&call.db()?, call.tenant, &row, &hash).await?;
    config_store::publish_key(call.env, &hash, &key_entry(call.tenant, &row)).await?;
    value(
        201,
        &json!({"id": row.id, "name": row.name, "key": key, "key_prefix": row.key_prefix, "created_at": row.created_at,
                "limits": row.limits, "access": row.access, "note": "Store this key now: it is shown only once."}),
    )
}

/// An active key of the tenant and its hash, or the 404 that says there is none.
async fn active_key(call: &Call<'_>) -> Result<(ApiKeyRow, String)> {
    let id = call.param("id");
    repo::active_api_key(&call.db()?, call.tenant, id).await?.ok_or_else(|| no_active_key(id))
}

fn no_active_key(id: &str) -> GatewayError {
    GatewayError::not_found(format!("No active key `{id}`."))
}

/// A schedule's time zone must be one this runtime knows, or the key could never be used.
fn known_zone(access: &KeyAccess) -> Result<()> {
    match &access.schedule {
        Some(s) if env::local_time(&s.time_zone, env::now_ms()).is_none() => Err(GatewayError::invalid_request(
            format!("`schedule.time_zone`: `{}` is not a time zone this runtime knows (IANA names such as `Europe/Berlin`).", s.time_zone),
        )
        .with_param("schedule.time_zone")),
        _ => Ok(()),
    }
}

fn key_entry(tenant: &str, row: &ApiKeyRow) -> KeyEntry {
    KeyEntry { tenant: tenant.to_string(), key_id: row.id.clone(), limits: row.limits, access: row.access.clone() }
}

/// `PATCH /api/keys/{id}`: a new name, limits or scopes, in D1 and then in the key's entry (KV and
/// this isolate; other isolates within the config cache's freshness).
async fn update(call: &mut Call<'_>) -> Result<Response> {
    let patch = parse_strict::<ApiKeyPatch>(&call.body().await?)?.validate()?;
    if let Some(access) = &patch.access {
        known_zone(access)?;
    }
    let (mut row, hash) = active_key(call).await?;
    if let Some(name) = patch.name {
        row.name = name;
    }
    if let Some(limits) = patch.limits {
        row.limits = limits;
    }
    if let Some(access) = patch.access {
        row.access = access;
    }
    repo::update_api_key(&call.db()?, call.tenant, &row).await?;
    config_store::publish_key(call.env, &hash, &key_entry(call.tenant, &row)).await?;
    value(200, &row)
}

/// What a key has spent and used, from its ledger object (zeros for a key that never had limits).
async fn usage(call: &mut Call<'_>) -> Result<Response> {
    let (row, _) = active_key(call).await?;
    let name = limits_gate::object_name(call.tenant, &row.id);
    let mut ledger = limits_gate::LEDGERS.read(call.env, &name).await?;
    value(200, &json!({"id": row.id, "limits": row.limits, "usage": ledger.usage(env::now_ms())}))
}

/// `POST /api/keys/{id}/rotate`: a new secret for the key (shown once), same id and settings; the
/// old secret stops working at once here and everywhere once config caches refresh.
async fn rotate(call: &mut Call<'_>) -> Result<Response> {
    let (mut row, old_hash) = active_key(call).await?;
    if sync_store::is_machine(call.env, call.tenant).await? {
        // Its next push would bring the old secret back (refused, being revoked) and drop the new one.
        return Err(GatewayError::new(
            ErrorKind::InvalidRequest,
            "This key belongs to a synced machine: rotate it in OmniRoute (its next push brings the new key here). Revoking it here works and sticks.",
        )
        .with_status(409)
        .with_code("synced_key"));
    }
    let (key, hash) = new_secret(call)?;
    row.key_prefix = api_keys::display_prefix(&key);
    repo::rotate_api_key(&call.db()?, call.tenant, &row.id, (&old_hash, &hash), &row.key_prefix, env::now_ms()).await?;
    config_store::forget_key(call.env, &old_hash).await?;
    config_store::publish_key(call.env, &hash, &key_entry(call.tenant, &row)).await?;
    value(
        200,
        &json!({"id": row.id, "name": row.name, "key": key, "key_prefix": row.key_prefix,
                "note": "Store this key now: it is shown only once. The previous secret no longer works."}),
    )
}
