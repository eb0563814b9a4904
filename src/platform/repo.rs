//! D1 queries: the source of truth for configuration. Only admin operations and cache rebuilds come
//! here; the request path reads snapshots (see `config_store`).
//!
//! Configuration rows are decoded one by one. A row that does not decode (written by a newer version
//! of the gateway, or damaged) is skipped with a warning naming it, so one row cannot take a tenant's
//! whole configuration down; [`skipped_rows`] counts them.

use crate::config::key_access::KeyAccess;
use crate::config::rows;
use crate::config::{ConnectionRecord, KeyEntry, Settings};
use crate::error::{GatewayError, Result};
use crate::limits::{ConnectionLimits, KeyLimits};
use crate::metering::sql::SqlValue;
use crate::pricing::{Price, PriceOverride};
use crate::routing::alias::{Aliases, FallbackChains};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

pub fn db(env: &Env) -> Result<D1Database> {
    env.d1(super::env::DB).map_err(|e| GatewayError::internal(format!("D1 binding `DB` missing: {e}")))
}

fn d1_err(e: worker::Error) -> GatewayError {
    GatewayError::internal(format!("D1: {e}"))
}

async fn run(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<D1Result> {
    db.prepare(sql).bind(args).map_err(d1_err)?.run().await.map_err(d1_err)
}

async fn first<T: DeserializeOwned>(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<Option<T>> {
    db.prepare(sql).bind(args).map_err(d1_err)?.first::<T>(None).await.map_err(d1_err)
}

async fn all<T: DeserializeOwned>(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<Vec<T>> {
    db.prepare(sql).bind(args).map_err(d1_err)?.all().await.map_err(d1_err)?.results::<T>().map_err(d1_err)
}

thread_local! {
    static SKIPPED: Cell<u64> = const { Cell::new(0) };
}

/// Stored rows (or settings keys) left out since this isolate started because they did not decode.
pub fn skipped_rows() -> u64 {
    SKIPPED.with(Cell::get)
}

fn skip(row: &str, error: impl std::fmt::Display) {
    SKIPPED.with(|c| c.set(c.get() + 1));
    worker::console_warn!("skipping stored {row}: {error}");
}

/// The rows of a query over one tenant (`?1`) of `table`, each decoded on its own; a row that does
/// not decode is skipped, named by its `key` column.
async fn decoded_rows<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    tenant: &str,
    (table, key): (&str, &str),
) -> Result<Vec<T>> {
    let rows: Vec<serde_json::Value> = all(db, sql, &[s(tenant)]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let k = row.get(key).map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string));
            let label = row_label(table, &k.unwrap_or_default(), tenant);
            serde_json::from_value(row).map_err(|e| skip(&label, e)).ok()
        })
        .collect())
}

/// Which row, for the log.
fn row_label(table: &str, key: &str, tenant: &str) -> String {
    format!("{table} row `{key}` of tenant `{tenant}`")
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}
fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}
fn opt(v: Option<&str>) -> JsValue {
    v.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

#[derive(Deserialize)]
struct ConnectionRow {
    id: String,
    provider: String,
    name: String,
    priority: i64,
    is_active: i64,
    base_url: Option<String>,
    api_key_enc: String,
    api_key_hint: String,
    created_at: i64,
    updated_at: i64,
    #[serde(default)]
    limits: Option<String>,
}

impl From<ConnectionRow> for ConnectionRecord {
    fn from(r: ConnectionRow) -> Self {
        // Limits that do not decode keep the connection out of routing (fail closed: never unlimited).
        let (limits, error) = ConnectionLimits::from_stored(r.limits.as_deref());
        if let Some(e) = error {
            worker::console_error!("the stored limits of connection `{}` do not decode ({e}); it is not used", r.id);
        }
        ConnectionRecord {
            id: r.id,
            provider: r.provider,
            name: r.name,
            priority: r.priority,
            is_active: r.is_active != 0,
            base_url: r.base_url,
            api_key_enc: r.api_key_enc,
            api_key_hint: r.api_key_hint,
            created_at: r.created_at,
            updated_at: r.updated_at,
            limits,
        }
    }
}

const CONNECTION_COLUMNS: &str =
    "id, provider, name, priority, is_active, base_url, api_key_enc, api_key_hint, created_at, updated_at, limits";

pub async fn connections(db: &D1Database, tenant: &str) -> Result<Vec<ConnectionRecord>> {
    let sql = format!(
        "SELECT {CONNECTION_COLUMNS} FROM provider_connections WHERE tenant_id = ?1 ORDER BY priority, created_at, id"
    );
    let rows: Vec<ConnectionRow> = decoded_rows(db, &sql, tenant, ("provider_connections", "id")).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn connection(db: &D1Database, tenant: &str, id: &str) -> Result<Option<ConnectionRecord>> {
    let sql = format!("SELECT {CONNECTION_COLUMNS} FROM provider_connections WHERE tenant_id = ?1 AND id = ?2");
    Ok(first::<ConnectionRow>(db, &sql, &[s(tenant), s(id)]).await?.map(Into::into))
}

pub async fn insert_connection(db: &D1Database, tenant: &str, c: &ConnectionRecord) -> Result<()> {
    let (sql, args) = rows::insert_connection(tenant, c);
    statement(db, &sql, &args)?.run().await.map_err(d1_err)?;
    Ok(())
}

/// Writes back every mutable field of an existing connection.
pub async fn update_connection(db: &D1Database, tenant: &str, c: &ConnectionRecord) -> Result<()> {
    run(
        db,
        "UPDATE provider_connections SET name = ?3, priority = ?4, is_active = ?5, base_url = ?6, api_key_enc = ?7, \
         api_key_hint = ?8, updated_at = ?9, limits = ?10 WHERE tenant_id = ?1 AND id = ?2",
        &[
            s(tenant),
            s(&c.id),
            s(&c.name),
            n(c.priority),
            n(c.is_active as i64),
            opt(c.base_url.as_deref()),
            s(&c.api_key_enc),
            s(&c.api_key_hint),
            n(c.updated_at),
            limits_column(&c.limits),
        ],
    )
    .await?;
    Ok(())
}

/// Returns whether a row was deleted.
pub async fn delete_connection(db: &D1Database, tenant: &str, id: &str) -> Result<bool> {
    let r = run(db, "DELETE FROM provider_connections WHERE tenant_id = ?1 AND id = ?2", &[s(tenant), s(id)]).await?;
    Ok(r.meta().map_err(d1_err)?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

/// An API key as listed (never with its hash).
#[derive(Serialize, Deserialize)]
#[serde(from = "StoredKeyRow")]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub key_prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub limits: KeyLimits,
    pub access: KeyAccess,
}

/// An `api_keys` row as D1 gives it: `limits` and `access` are JSON text, read by [`stored_key`].
#[derive(Deserialize)]
struct StoredKeyRow {
    id: String,
    name: String,
    key_prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
    #[serde(default)]
    limits: Option<String>,
    #[serde(default)]
    access: Option<String>,
}

impl From<StoredKeyRow> for ApiKeyRow {
    fn from(r: StoredKeyRow) -> ApiKeyRow {
        let (access, limits) = stored_key(&r.id, r.access.as_deref(), r.limits.as_deref());
        ApiKeyRow {
            id: r.id,
            name: r.name,
            key_prefix: r.key_prefix,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            limits,
            access,
        }
    }
}

/// A key's stored access and limits; when either does not decode the key is refused (fail closed:
/// never an open key), and the log says which key and column (never the key's secret or hash).
fn stored_key(id: &str, access: Option<&str>, limits: Option<&str>) -> (KeyAccess, KeyLimits) {
    let (access, limits, error) = KeyAccess::from_stored(access, limits);
    if let Some(e) = error {
        worker::console_error!("the stored access or limits of key `{id}` do not decode ({e}); the key is refused");
    }
    (access, limits)
}

fn limits_column<T: Serialize + Default + PartialEq>(limits: &T) -> JsValue {
    js(&rows::limits_column(limits))
}

const KEY_COLUMNS: &str = "id, name, key_prefix, created_at, revoked_at, limits, access";

pub async fn api_keys(db: &D1Database, tenant: &str) -> Result<Vec<ApiKeyRow>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id");
    all::<ApiKeyRow>(db, &sql, &[s(tenant)]).await
}

pub async fn insert_api_key(db: &D1Database, tenant: &str, row: &ApiKeyRow, key_hash: &str) -> Result<()> {
    let key = rows::NewKeyRow {
        id: &row.id,
        name: &row.name,
        key_hash,
        key_prefix: &row.key_prefix,
        created_at: row.created_at,
        limits: &row.limits,
        access: &row.access,
    };
    let (sql, args) = rows::insert_api_key(tenant, &key);
    statement(db, &sql, &args)?.run().await.map_err(d1_err)?;
    Ok(())
}

/// An active key with its hash (to republish its entry after a change).
pub async fn active_api_key(db: &D1Database, tenant: &str, id: &str) -> Result<Option<(ApiKeyRow, String)>> {
    #[derive(Deserialize)]
    struct Row {
        #[serde(flatten)]
        row: ApiKeyRow,
        key_hash: String,
    }
    let sql =
        format!("SELECT {KEY_COLUMNS}, key_hash FROM api_keys WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL");
    Ok(first::<Row>(db, &sql, &[s(tenant), s(id)]).await?.map(|r| (r.row, r.key_hash)))
}

pub async fn update_api_key(db: &D1Database, tenant: &str, row: &ApiKeyRow) -> Result<()> {
    run(
        db,
        "UPDATE api_keys SET name = ?3, limits = ?4, access = ?5 WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant), s(&row.id), s(&row.name), limits_column(&row.limits), limits_column(&row.access)],
    )
    .await?;
    Ok(())
}

/// Gives an active key a new secret (its hash and display prefix); its id and settings stay. The
/// old secret is remembered as revoked, so that no push can bring it back.
pub async fn rotate_api_key(
    db: &D1Database,
    tenant: &str,
    id: &str,
    (old_hash, key_hash): (&str, &str),
    key_prefix: &str,
    now: i64,
) -> Result<()> {
    batch(
        db,
        vec![
            statement(
                db,
                "UPDATE api_keys SET key_hash = ?3, key_prefix = ?4 WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                &[SqlValue::text(tenant), SqlValue::text(id), SqlValue::text(key_hash), SqlValue::text(key_prefix)],
            )?,
            remember_revoked(db, old_hash, tenant, id, now)?,
        ],
    )
    .await
}

/// Records a revoked secret (migrations/0012_revoked_keys.sql).
fn remember_revoked(db: &D1Database, key_hash: &str, tenant: &str, id: &str, now: i64) -> Result<D1PreparedStatement> {
    let sql = "INSERT OR IGNORE INTO revoked_keys (key_hash, tenant_id, key_id, revoked_at) VALUES (?1, ?2, ?3, ?4)";
    statement(db, sql, &[SqlValue::text(key_hash), SqlValue::text(tenant), SqlValue::text(id), SqlValue::Int(now)])
}

/// Stores a key under its hash by the current `MASTER_KEY` (it was found under the previous one's).
pub async fn rehash_api_key(db: &D1Database, old: &str, new: &str) -> Result<()> {
    run(db, "UPDATE api_keys SET key_hash = ?2 WHERE key_hash = ?1", &[s(old), s(new)]).await?;
    Ok(())
}

/// Revokes a key; returns its hash (to evict it from caches) if it existed and was active.
pub async fn revoke_api_key(db: &D1Database, tenant: &str, id: &str, now: i64) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct H {
        key_hash: String,
    }
    let found: Option<H> = first(
        db,
        "SELECT key_hash FROM api_keys WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        &[s(tenant), s(id)],
    )
    .await?;
    let Some(H { key_hash }) = found else { return Ok(None) };
    batch(
        db,
        vec![
            statement(
                db,
                "UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
                &[SqlValue::text(tenant), SqlValue::text(id), SqlValue::Int(now)],
            )?,
            remember_revoked(db, &key_hash, tenant, id, now)?,
        ],
    )
    .await?;
    Ok(Some(key_hash))
}

/// The tenant an active key belongs to.
pub async fn key_entry(db: &D1Database, key_hash: &str) -> Result<Option<KeyEntry>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        tenant_id: String,
        #[serde(default)]
        limits: Option<String>,
        #[serde(default)]
        access: Option<String>,
    }
    let row = first::<Row>(
        db,
        "SELECT id, tenant_id, limits, access FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL",
        &[s(key_hash)],
    )
    .await?;
    Ok(row.map(|r| {
        let (access, limits) = stored_key(&r.id, r.access.as_deref(), r.limits.as_deref());
        KeyEntry { tenant: r.tenant_id, key_id: r.id, limits, access }
    }))
}

pub async fn settings(db: &D1Database, tenant: &str) -> Result<Settings> {
    #[derive(Deserialize)]
    struct Row {
        value: String,
    }
    let row = first::<Row>(db, "SELECT value FROM settings WHERE tenant_id = ?1", &[s(tenant)]).await?;
    let Some(row) = row else { return Ok(Settings::default()) };
    let value = serde_json::from_str(&row.value).unwrap_or_else(|e| {
        skip(&format!("settings of tenant `{tenant}`"), e);
        serde_json::Value::Null
    });
    let (settings, dropped) = Settings::from_stored(&value);
    for key in dropped {
        let what = if settings.unreadable.contains(&key) {
            "not readable by this version; what it guards is refused until it is set again"
        } else {
            "not readable by this version; using its default (or a more careful value)"
        };
        skip(&format!("setting `{key}` of tenant `{tenant}`"), what);
    }
    Ok(settings)
}

pub async fn save_settings(db: &D1Database, tenant: &str, value: &Settings, now: i64) -> Result<()> {
    let json = serde_json::to_string(value).map_err(|e| GatewayError::internal(e.to_string()))?;
    run(
        db,
        "INSERT INTO settings (tenant_id, value, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (tenant_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[s(tenant), s(&json), n(now)],
    )
    .await?;
    Ok(())
}

pub async fn tenant_exists(db: &D1Database, tenant: &str) -> Result<bool> {
    #[derive(Deserialize)]
    struct Row {
        #[allow(dead_code)]
        id: String,
    }
    let row = first::<Row>(db, "SELECT id FROM tenants WHERE id = ?1", &[s(tenant)]).await?;
    Ok(row.is_some())
}

// ---- routing configuration: combos, model aliases, fallback chains (values validated by the core)

/// The JSON documents of a routing table with their keys, in key order.
pub async fn keyed_documents<T: DeserializeOwned>(
    db: &D1Database,
    tenant: &str,
    table: RoutingTable,
) -> Result<Vec<(String, T)>> {
    #[derive(Deserialize)]
    struct Row {
        k: String,
        v: String,
    }
    let (name, key, value) = table.columns();
    let sql = format!("SELECT {key} AS k, {value} AS v FROM {name} WHERE tenant_id = ?1 ORDER BY {key}");
    let rows: Vec<Row> = decoded_rows(db, &sql, tenant, (name, "k")).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match serde_json::from_str(&r.v) {
            Ok(doc) => Some((r.k, doc)),
            Err(e) => {
                skip(&row_label(name, &r.k, tenant), e);
                None
            }
        })
        .collect())
}

/// The JSON documents of a routing table, in key order.
pub async fn documents<T: DeserializeOwned>(db: &D1Database, tenant: &str, table: RoutingTable) -> Result<Vec<T>> {
    Ok(keyed_documents(db, tenant, table).await?.into_iter().map(|(_, doc)| doc).collect())
}

/// Creates or replaces the JSON document `key` of a routing table.
pub async fn put_document(
    db: &D1Database,
    tenant: &str,
    table: RoutingTable,
    key: &str,
    doc: &impl Serialize,
    now: i64,
) -> Result<()> {
    let json = serde_json::to_string(doc).map_err(|e| GatewayError::internal(e.to_string()))?;
    let (name, column, value) = table.columns();
    let sql = format!(
        "INSERT INTO {name} (tenant_id, {column}, {value}, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (tenant_id, {column}) DO UPDATE SET {value} = excluded.{value}, updated_at = excluded.updated_at"
    );
    run(db, &sql, &[s(tenant), s(key), s(&json), n(now)]).await?;
    Ok(())
}

/// Deletes a row of one of the routing tables by its key column; returns whether one existed.
pub async fn delete_routing(db: &D1Database, tenant: &str, table: RoutingTable, key: &str) -> Result<bool> {
    let (table, column, _) = table.columns();
    let sql = format!("DELETE FROM {table} WHERE tenant_id = ?1 AND {column} = ?2");
    let r = run(db, &sql, &[s(tenant), s(key)]).await?;
    Ok(r.meta().map_err(d1_err)?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

#[derive(Clone, Copy)]
pub enum RoutingTable {
    Nodes,
    CustomModels,
    Combos,
    Aliases,
    FallbackChains,
}

impl RoutingTable {
    /// The table, its key column and its value column (fixed names, never user input). Aliases
    /// hold a plain string; the other values are JSON documents.
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            RoutingTable::Nodes => ("provider_nodes", "id", "data"),
            RoutingTable::CustomModels => ("provider_models", "provider", "models"),
            RoutingTable::Combos => ("combos", "name", "data"),
            RoutingTable::Aliases => ("model_aliases", "pattern", "target"),
            RoutingTable::FallbackChains => ("fallback_chains", "model", "chain"),
        }
    }
}

pub async fn aliases(db: &D1Database, tenant: &str) -> Result<Aliases> {
    #[derive(Deserialize)]
    struct Row {
        pattern: String,
        target: String,
    }
    let rows: Vec<Row> = decoded_rows(
        db,
        "SELECT pattern, target FROM model_aliases WHERE tenant_id = ?1 ORDER BY updated_at, pattern",
        tenant,
        ("model_aliases", "pattern"),
    )
    .await?;
    Ok(Aliases::new(rows.into_iter().map(|r| (r.pattern, r.target))))
}

pub async fn put_alias(db: &D1Database, tenant: &str, pattern: &str, target: &str, now: i64) -> Result<()> {
    run(
        db,
        "INSERT INTO model_aliases (tenant_id, pattern, target, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (tenant_id, pattern) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at",
        &[s(tenant), s(pattern), s(target), n(now)],
    )
    .await?;
    Ok(())
}

pub async fn fallback_chains(db: &D1Database, tenant: &str) -> Result<FallbackChains> {
    let mut chains = FallbackChains::new();
    for (model, chain) in keyed_documents::<Vec<String>>(db, tenant, RoutingTable::FallbackChains).await? {
        chains.set(model, chain);
    }
    Ok(chains)
}

// ---- provider nodes and custom model ids

pub async fn custom_models(db: &D1Database, tenant: &str) -> Result<BTreeMap<String, Vec<String>>> {
    Ok(keyed_documents(db, tenant, RoutingTable::CustomModels).await?.into_iter().collect())
}

// ---- metering: statements built by the core (`metering::*`), and the tenant's price overrides

fn js(v: &SqlValue) -> JsValue {
    match v {
        SqlValue::Null => JsValue::NULL,
        SqlValue::Int(i) => n(*i),
        SqlValue::Real(f) => JsValue::from_f64(*f),
        SqlValue::Text(t) => s(t),
    }
}

/// A statement with its arguments bound, for `db.batch`.
pub fn statement(db: &D1Database, sql: &str, args: &[SqlValue]) -> Result<D1PreparedStatement> {
    let args: Vec<JsValue> = args.iter().map(js).collect();
    db.prepare(sql).bind(&args).map_err(d1_err)
}

/// Runs statements in one round trip, atomically: `Err` if any fails (then none took effect).
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<()> {
    db.batch(statements).await.map_err(d1_err)?;
    Ok(())
}

pub async fn rows<T: DeserializeOwned>(db: &D1Database, sql: &str, args: &[SqlValue]) -> Result<Vec<T>> {
    statement(db, sql, args)?.all().await.map_err(d1_err)?.results::<T>().map_err(d1_err)
}

/// Rows changed by a statement.
pub async fn changes(db: &D1Database, sql: &str, args: &[SqlValue]) -> Result<usize> {
    let r = statement(db, sql, args)?.run().await.map_err(d1_err)?;
    Ok(r.meta().map_err(d1_err)?.and_then(|m| m.changes).unwrap_or(0))
}

pub async fn tenant_ids(db: &D1Database) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let rows: Vec<Row> = all(db, "SELECT id FROM tenants ORDER BY id", &[]).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Key id → name, for usage grouped by key (revoked keys included: their usage is still theirs).
pub async fn key_names(db: &D1Database, tenant: &str) -> Result<std::collections::HashMap<String, String>> {
    Ok(api_keys(db, tenant).await?.into_iter().map(|k| (k.id, k.name)).collect())
}

pub async fn prices(db: &D1Database, tenant: &str) -> Result<Vec<PriceOverride>> {
    #[derive(Deserialize)]
    struct Row {
        provider: String,
        model: String,
        input: f64,
        output: f64,
        cached_input: Option<f64>,
        reasoning: Option<f64>,
    }
    let rows: Vec<Row> = all(
        db,
        "SELECT provider, model, input, output, cached_input, reasoning FROM prices WHERE tenant_id = ?1 \
         ORDER BY provider, model",
        &[s(tenant)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PriceOverride {
            provider: r.provider,
            model: r.model,
            price: Price { input: r.input, output: r.output, cached_input: r.cached_input, reasoning: r.reasoning },
        })
        .collect())
}

/// Creates or replaces the given overrides, all or none.
pub async fn put_prices(db: &D1Database, tenant: &str, prices: &[PriceOverride], now: i64) -> Result<()> {
    let opt_f = |v: Option<f64>| v.map_or(SqlValue::Null, SqlValue::Real);
    let statements = prices
        .iter()
        .map(|o| {
            statement(
                db,
                "INSERT INTO prices (tenant_id, provider, model, input, output, cached_input, reasoning, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (tenant_id, provider, model) DO UPDATE SET \
                 input = excluded.input, output = excluded.output, cached_input = excluded.cached_input, \
                 reasoning = excluded.reasoning, updated_at = excluded.updated_at",
                &[
                    SqlValue::text(tenant),
                    SqlValue::text(&o.provider),
                    SqlValue::text(&o.model),
                    SqlValue::Real(o.price.input),
                    SqlValue::Real(o.price.output),
                    opt_f(o.price.cached_input),
                    opt_f(o.price.reasoning),
                    SqlValue::Int(now),
                ],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    batch(db, statements).await
}

/// Returns whether the override existed.
pub async fn delete_price(db: &D1Database, tenant: &str, provider: &str, model: &str) -> Result<bool> {
    let sql = "DELETE FROM prices WHERE tenant_id = ?1 AND provider = ?2 AND model = ?3";
    Ok(changes(db, sql, &[SqlValue::text(tenant), SqlValue::text(provider), SqlValue::text(model)]).await? > 0)
}
