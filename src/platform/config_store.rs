//! How the request path gets configuration without touching D1.
//!
//! Lookups go isolate memory → KV → D1. A snapshot in isolate memory is used for `FRESH_MS`; after
//! that it is re-read from KV (itself edge-cached). D1 is read only when KV has nothing (first use,
//! or KV was cleared), and the result is written back to KV. Admin writes rebuild the snapshot from D1
//! and write it to KV and to this isolate at once; other isolates see it within `FRESH_MS` plus KV's
//! own propagation (up to about a minute across locations).
//!
//! A snapshot or key entry in KV that does not decode (damaged, or written by a version of the
//! gateway that this one cannot read) and a KV read that fails are not errors: it is rebuilt from D1
//! (a key entry is then written back, replacing the damaged one). A rebuilt snapshot is written back
//! to KV only when every D1 row decoded, so a version that had to skip rows does not replace a
//! complete snapshot other versions can read with its partial one.
//!
//! The counters in [`Stats`] make this observable (`GET /api/stats`) and testable.

use super::repo::RoutingTable;
use super::{env, repo};
use crate::bounded::BoundedMap;
use crate::config::{KeyEntry, TenantSnapshot};
use crate::error::{GatewayError, Result};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Env, KvStore};

const FRESH_MS: i64 = 10_000;
/// Unknown keys are remembered briefly so that a flood of bad keys cannot turn into D1 queries.
const UNKNOWN_KEY_MS: i64 = 30_000;
const MAX_CACHED_KEYS: usize = 10_000;

#[derive(Default, Clone, Copy, Serialize)]
pub struct Stats {
    pub snapshot_memory_hits: u64,
    pub snapshot_kv_reads: u64,
    pub snapshot_d1_loads: u64,
    pub key_memory_hits: u64,
    pub key_kv_reads: u64,
    pub key_d1_loads: u64,
    /// Snapshots in KV that did not decode (each was rebuilt from D1).
    pub snapshot_kv_unreadable: u64,
    /// Key entries in KV that did not decode (each was rebuilt from D1).
    pub key_kv_unreadable: u64,
    /// Stored D1 rows or settings left out because they did not decode.
    pub stored_rows_skipped: u64,
}

struct Cache {
    snapshots: HashMap<String, (Rc<TenantSnapshot>, i64)>,
    keys: BoundedMap<String, (Option<KeyEntry>, i64)>,
    stats: Stats,
}

impl Default for Cache {
    fn default() -> Self {
        Cache { snapshots: HashMap::new(), keys: BoundedMap::new(MAX_CACHED_KEYS), stats: Stats::default() }
    }
}

thread_local! {
    // Workers run one request at a time per isolate thread, and wasm has one thread: a RefCell is enough.
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

fn with_cache<T>(f: impl FnOnce(&mut Cache) -> T) -> T {
    CACHE.with(|c| f(&mut c.borrow_mut()))
}

pub fn stats() -> Stats {
    Stats { stored_rows_skipped: repo::skipped_rows(), ..with_cache(|c| c.stats) }
}

fn kv(env: &Env) -> Result<KvStore> {
    env.kv(env::CONFIG_CACHE).map_err(|e| GatewayError::internal(format!("KV binding `CONFIG_CACHE` missing: {e}")))
}

fn snapshot_key(tenant: &str) -> String {
    format!("cfg/v1/tenant/{tenant}")
}
fn api_key_key(hash: &str) -> String {
    format!("cfg/v1/key/{hash}")
}

fn kv_err(e: worker::kv::KvError) -> GatewayError {
    GatewayError::internal(format!("KV: {e}"))
}

pub async fn snapshot(env: &Env, tenant: &str) -> Result<Rc<TenantSnapshot>> {
    let now = env::now_ms();
    let cached = with_cache(|c| c.snapshots.get(tenant).filter(|(_, at)| now - at < FRESH_MS).map(|(s, _)| s.clone()));
    if let Some(s) = cached {
        with_cache(|c| c.stats.snapshot_memory_hits += 1);
        return Ok(s);
    }
    with_cache(|c| c.stats.snapshot_kv_reads += 1);
    let store = kv(env)?;
    let stored = match store.get(&snapshot_key(tenant)).text().await {
        Ok(text) => text,
        Err(e) => {
            worker::console_warn!("reading the snapshot of tenant `{tenant}` from KV failed: {e}; using D1");
            None
        }
    };
    if let Some(snap) = stored.as_deref().and_then(|json| TenantSnapshot::from_stored(json, tenant)) {
        return Ok(remember_snapshot(snap, now));
    }
    if stored.is_some() {
        with_cache(|c| c.stats.snapshot_kv_unreadable += 1);
        worker::console_warn!("the snapshot of tenant `{tenant}` in KV does not decode; rebuilding it from D1");
    }
    let skipped_before = repo::skipped_rows();
    let snap = load_snapshot(env, tenant).await?;
    if repo::skipped_rows() == skipped_before {
        if let Err(e) = publish_snapshot(&store, &snap).await {
            worker::console_warn!("writing the snapshot of tenant `{tenant}` to KV failed: {e}");
        }
    }
    Ok(remember_snapshot(snap, now))
}

/// Keeps the newer of `snap` and what this isolate already holds.
fn remember_snapshot(snap: TenantSnapshot, now: i64) -> Rc<TenantSnapshot> {
    with_cache(|c| {
        let tenant = snap.tenant.clone();
        let keep = match c.snapshots.get(&tenant) {
            Some((old, _)) if old.version > snap.version => old.clone(),
            _ => Rc::new(snap),
        };
        c.snapshots.insert(tenant, (keep.clone(), now));
        keep
    })
}

/// Reads the tenant from D1 and publishes the snapshot to KV and to this isolate. Called after every
/// admin write.
pub async fn rebuild_snapshot(env: &Env, tenant: &str) -> Result<TenantSnapshot> {
    let snap = load_snapshot(env, tenant).await?;
    publish_snapshot(&kv(env)?, &snap).await?;
    with_cache(|c| c.snapshots.insert(tenant.to_string(), (Rc::new(snap.clone()), env::now_ms())));
    Ok(snap)
}

async fn publish_snapshot(store: &KvStore, snap: &TenantSnapshot) -> Result<()> {
    let json = serde_json::to_string(snap).map_err(|e| GatewayError::internal(e.to_string()))?;
    store.put(&snapshot_key(&snap.tenant), json).map_err(kv_err)?.execute().await.map_err(kv_err)
}

/// The tenant's snapshot as D1 holds it now.
async fn load_snapshot(env: &Env, tenant: &str) -> Result<TenantSnapshot> {
    with_cache(|c| c.stats.snapshot_d1_loads += 1);
    let db = repo::db(env)?;
    Ok(TenantSnapshot {
        tenant: tenant.to_string(),
        version: env::now_ms(),
        connections: repo::connections(&db, tenant).await?,
        settings: repo::settings(&db, tenant).await?,
        combos: repo::documents(&db, tenant, RoutingTable::Combos).await?,
        aliases: repo::aliases(&db, tenant).await?,
        fallback_chains: repo::fallback_chains(&db, tenant).await?,
        nodes: repo::documents(&db, tenant, RoutingTable::Nodes).await?,
        custom_models: repo::custom_models(&db, tenant).await?,
        prices: repo::prices(&db, tenant).await?,
        ..Default::default()
    })
}

/// The tenant of an active gateway key, by the key's hash.
pub async fn key_entry(env: &Env, hash: &str) -> Result<Option<KeyEntry>> {
    let now = env::now_ms();
    let cached = with_cache(|c| {
        c.keys
            .get(hash)
            .filter(|(e, at)| now - at < if e.is_some() { FRESH_MS } else { UNKNOWN_KEY_MS })
            .map(|(e, _)| e.clone())
    });
    if let Some(entry) = cached {
        with_cache(|c| c.stats.key_memory_hits += 1);
        return Ok(entry);
    }
    with_cache(|c| c.stats.key_kv_reads += 1);
    let store = kv(env)?;
    let mut entry = match store.get(&api_key_key(hash)).text().await {
        Ok(text) => text.and_then(|json| match serde_json::from_str::<KeyEntry>(&json) {
            Ok(e) => Some(e),
            Err(e) => {
                with_cache(|c| c.stats.key_kv_unreadable += 1);
                worker::console_warn!("a key entry in KV does not decode ({e}); rebuilding it from D1");
                None
            }
        }),
        Err(e) => {
            worker::console_warn!("reading a key entry from KV failed: {e}; using D1");
            None
        }
    };
    if entry.is_none() {
        with_cache(|c| c.stats.key_d1_loads += 1);
        entry = repo::key_entry(&repo::db(env)?, hash).await?;
        if let Some(e) = &entry {
            publish_key(env, hash, e).await?;
        }
    }
    with_cache(|c| c.keys.insert(hash.to_string(), (entry.clone(), now)));
    Ok(entry)
}

pub async fn publish_key(env: &Env, hash: &str, entry: &KeyEntry) -> Result<()> {
    let json = serde_json::to_string(entry).map_err(|e| GatewayError::internal(e.to_string()))?;
    kv(env)?.put(&api_key_key(hash), json).map_err(kv_err)?.execute().await.map_err(kv_err)?;
    with_cache(|c| c.keys.insert(hash.to_string(), (Some(entry.clone()), env::now_ms())));
    Ok(())
}

/// Removes a revoked key from KV and from this isolate (other isolates drop it within `FRESH_MS`).
pub async fn forget_key(env: &Env, hash: &str) -> Result<()> {
    kv(env)?.delete(&api_key_key(hash)).await.map_err(kv_err)?;
    with_cache(|c| c.keys.insert(hash.to_string(), (None, env::now_ms())));
    Ok(())
}

/// A key found under `old` (its hash under `MASTER_KEY_PREVIOUS`) is stored under `new` (its hash
/// under the current key) from now on: D1 first, then the key entries. Runs once per key during a
/// rotation, on its first use.
pub async fn rehash_key(env: &Env, old: &str, new: &str) -> Result<Option<KeyEntry>> {
    let Some(entry) = key_entry(env, old).await? else { return Ok(None) };
    repo::rehash_api_key(&repo::db(env)?, old, new).await?;
    publish_key(env, new, &entry).await?;
    forget_key(env, old).await?;
    Ok(Some(entry))
}
