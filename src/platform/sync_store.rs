//! Cloud sync's storage: enrollments and synced machines in D1, and the caches a push or a deletion
//! must update (key entries, the machine tenant's snapshot). The merge, the mapping and the SQL come
//! from the core (`crate::sync`); pushes and deletions run inside the machine's `SyncMachine` object,
//! one at a time.

use super::{config_store, env, repo, resilience_view};
use crate::config::KeyEntry;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::metering::sql::SqlValue;
use crate::security::api_keys;
use crate::sync::answer::{self, EdgeState};
use crate::sync::machine::{self, Machine, Secrets};
use crate::sync::serve::{self, Revoked, Served};
use crate::sync::{enroll, refresh, store, wire};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use worker::Env;

#[derive(Clone, Serialize, Deserialize)]
pub struct Enrollment {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing)]
    pub secret_enc: String,
    pub return_secrets: i64,
    pub machine_id: Option<String>,
    pub created_at: i64,
    pub bound_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const ENROLLMENT_COLUMNS: &str = "id, name, secret_enc, return_secrets, machine_id, created_at, bound_at, revoked_at";

fn t(v: &str) -> SqlValue {
    SqlValue::text(v)
}

pub fn secret_aad(id: &str) -> String {
    format!("sync-enrollment/{id}")
}
pub fn machine_aad(machine: &str) -> String {
    format!("sync-machine/{machine}")
}

/// How long this isolate trusts what it learnt about a token on the client API path: a bound
/// machine for 10 s (as config_store trusts a key entry), no machine for 5 s (a first push may be
/// about to bind it).
const BOUND_FRESH_MS: i64 = 10_000;
const UNBOUND_FRESH_MS: i64 = 5_000;
const MAX_CACHED_TOKENS: usize = 1_000;

thread_local! {
    static BOUND: std::cell::RefCell<crate::bounded::BoundedMap<String, (Option<String>, i64)>> =
        std::cell::RefCell::new(crate::bounded::BoundedMap::new(MAX_CACHED_TOKENS));
}

/// The machine a live enrollment token is bound to, for `/cloud/{token}/{machine}/v1/*`: answered
/// from this isolate's memory when it can, so the client API path does not query D1 per request.
pub async fn bound_machine(env: &Env, token: &str) -> Result<Option<String>> {
    if !enroll::is_token(token) {
        return Ok(None);
    }
    let hash = token_hash(env, token)?;
    let now = env::now_ms();
    let fresh =
        |(m, at): &(Option<String>, i64)| now - at < if m.is_some() { BOUND_FRESH_MS } else { UNBOUND_FRESH_MS };
    if let Some(hit) = BOUND.with(|c| c.borrow().get(&hash).filter(|e| fresh(e)).map(|(m, _)| m.clone())) {
        return Ok(hit);
    }
    let machine = live_by_token(env, &hash, token).await?.and_then(|e| e.machine_id);
    BOUND.with(|c| c.borrow_mut().insert(hash, (machine.clone(), now)));
    Ok(machine)
}

fn token_hash(env: &Env, token: &str) -> Result<String> {
    Ok(api_keys::hash(&env::keys(env)?.api_key_hash, token))
}

/// The live enrollment a token belongs to (always read from D1: `/sync` acts on it).
pub async fn by_token(env: &Env, token: &str) -> Result<Option<Enrollment>> {
    if !enroll::is_token(token) {
        return Ok(None);
    }
    live_by_token(env, &token_hash(env, token)?, token).await
}

/// The live enrollment of `token` (`hash`: its hash under the current key); during a MASTER_KEY
/// rotation, one still stored under the previous key's hash is found and moved to the current one.
async fn live_by_token(env: &Env, hash: &str, token: &str) -> Result<Option<Enrollment>> {
    if let Some(e) = live_by_hash(env, hash).await? {
        return Ok(Some(e));
    }
    let keys = env::keys(env)?;
    let Some(previous) = keys.previous.as_ref().map(|p| api_keys::hash(&p.api_key_hash, token)) else {
        return Ok(None);
    };
    let found = live_by_hash(env, &previous).await?;
    if found.is_some() {
        let sql = "UPDATE sync_enrollments SET token_hash = ?2 WHERE token_hash = ?1";
        repo::changes(&repo::db(env)?, sql, &[t(&previous), t(hash)]).await?;
    }
    Ok(found)
}

/// The revoked enrollment a token belonged to, if any (only to tell its client so).
pub async fn revoked_by_token(env: &Env, token: &str) -> Result<Option<Enrollment>> {
    if !enroll::is_token(token) {
        return Ok(None);
    }
    let sql =
        format!("SELECT {ENROLLMENT_COLUMNS} FROM sync_enrollments WHERE token_hash = ?1 AND revoked_at IS NOT NULL");
    Ok(repo::rows::<Enrollment>(&repo::db(env)?, &sql, &[t(&token_hash(env, token)?)]).await?.into_iter().next())
}

/// Whether `tenant` is a synced machine's tenant (its keys are the machine's to manage).
pub async fn is_machine(env: &Env, tenant: &str) -> Result<bool> {
    let sql = "SELECT machine_id FROM sync_machines WHERE machine_id = ?1";
    Ok(!repo::rows::<Value>(&repo::db(env)?, sql, &[t(tenant)]).await?.is_empty())
}

async fn live_by_hash(env: &Env, hash: &str) -> Result<Option<Enrollment>> {
    let sql = format!("SELECT {ENROLLMENT_COLUMNS} FROM sync_enrollments WHERE token_hash = ?1 AND revoked_at IS NULL");
    Ok(repo::rows::<Enrollment>(&repo::db(env)?, &sql, &[t(hash)]).await?.into_iter().next())
}

async fn by_id(env: &Env, id: &str) -> Result<Option<Enrollment>> {
    let sql = format!("SELECT {ENROLLMENT_COLUMNS} FROM sync_enrollments WHERE id = ?1");
    Ok(repo::rows::<Enrollment>(&repo::db(env)?, &sql, &[t(id)]).await?.into_iter().next())
}

/// The enrollment's answer-signing secret.
pub fn signing_secret(env: &Env, e: &Enrollment) -> Result<Vec<u8>> {
    env::open(env, &secret_aad(&e.id), &e.secret_enc)
}

/// A new enrollment: its record, the token (for `CLOUD_URL`) and the signing secret, both shown once.
pub async fn issue(env: &Env, name: &str, return_secrets: bool) -> Result<(Enrollment, String, String)> {
    let token = enroll::token(&env::random_bytes::<32>()?);
    let secret = enroll::signing_secret(&env::random_bytes::<32>()?);
    let id = env::new_id("enr")?;
    let e = Enrollment {
        secret_enc: env::seal(env, &secret_aad(&id), secret.as_bytes())?,
        id,
        name: name.to_string(),
        return_secrets: return_secrets.into(),
        machine_id: None,
        created_at: env::now_ms(),
        bound_at: None,
        revoked_at: None,
    };
    let hash = api_keys::hash(&env::keys(env)?.api_key_hash, &token);
    repo::changes(
        &repo::db(env)?,
        "INSERT INTO sync_enrollments (id, name, token_hash, secret_enc, return_secrets, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[t(&e.id), t(&e.name), t(&hash), t(&e.secret_enc), SqlValue::Int(e.return_secrets), SqlValue::Int(e.created_at)],
    )
    .await?;
    Ok((e, token, secret))
}

/// Binds the enrollment to `machine` on its first push; refuses another machine afterwards, and a
/// machine another enrollment holds.
pub async fn bind(env: &Env, e: &Enrollment, machine: &str) -> Result<()> {
    match e.machine_id.as_deref() {
        Some(m) if m == machine => return Ok(()),
        Some(_) => return Err(other_machine()),
        None => {}
    }
    let db = repo::db(env)?;
    let sql = "UPDATE sync_enrollments SET machine_id = ?2, bound_at = ?3 WHERE id = ?1 AND machine_id IS NULL AND revoked_at IS NULL";
    // The unique index on live bindings refuses a machine that another enrollment holds.
    let bound = repo::changes(&db, sql, &[t(&e.id), t(machine), SqlValue::Int(env::now_ms())]).await.map_err(|_| {
        GatewayError::new(ErrorKind::PermissionDenied, "This machine id is enrolled under another enrollment.")
            .with_status(409)
            .with_code("machine_taken")
    })?;
    if bound == 1 {
        // This isolate may have just learnt that the token had no machine: forget that, so the
        // client's first requests after its first push are not refused for the next few seconds.
        BOUND.with(|c| c.borrow_mut().retain(|_, (m, _)| m.is_some()));
        return Ok(());
    }
    // Bound meanwhile (a concurrent first push): fine if to the same machine.
    match by_id(env, &e.id).await?.and_then(|e| e.machine_id) {
        Some(m) if m == machine => Ok(()),
        _ => Err(other_machine()),
    }
}

fn other_machine() -> GatewayError {
    GatewayError::new(ErrorKind::PermissionDenied, "This enrollment belongs to another machine.")
        .with_code("wrong_machine")
}

#[derive(Deserialize)]
struct MachineRow {
    enrollment_id: String,
    data: String,
    secrets_enc: String,
}

/// What a machine synced, with its credentials decrypted.
async fn load(env: &Env, machine: &str) -> Result<Option<(String, Machine, Secrets)>> {
    let sql = "SELECT enrollment_id, data, secrets_enc FROM sync_machines WHERE machine_id = ?1";
    let Some(row) = repo::rows::<MachineRow>(&repo::db(env)?, sql, &[t(machine)]).await?.into_iter().next() else {
        return Ok(None);
    };
    let record: Machine = serde_json::from_str(&row.data).map_err(|e| {
        GatewayError::internal(format!("the stored record of machine `{machine}` does not decode: {e}"))
    })?;
    let secrets: Secrets = serde_json::from_slice(&env::open(env, &machine_aad(machine), &row.secrets_enc)?)
        .map_err(|e| GatewayError::internal(format!("the credentials of machine `{machine}` do not decode: {e}")))?;
    Ok(Some((row.enrollment_id, record, secrets)))
}

/// What the edge knows about the machine's connections now: its active cooldowns.
async fn edge_state(env: &Env, machine: &str) -> EdgeState {
    match resilience_view::fetch_state(env, machine).await {
        Ok(state) => EdgeState { cooldowns: state.cooldowns, ..EdgeState::default() },
        Err(e) => {
            worker::console_warn!("cooldowns of machine {machine} unavailable for the sync answer: {e}");
            EdgeState::default()
        }
    }
}

async fn live_enrollment_of(env: &Env, enrollment_id: &str, machine: &str) -> Result<Enrollment> {
    match by_id(env, enrollment_id).await? {
        Some(e) if e.revoked_at.is_none() && e.machine_id.as_deref() == Some(machine) => Ok(e),
        _ => Err(other_machine()),
    }
}

/// Applies a push (inside the machine's object): merge, map, one D1 batch, then the caches.
pub async fn apply_push(env: &Env, enrollment_id: &str, machine: &str, body: &[u8]) -> Result<Value> {
    let push = wire::parse(body)?;
    let e = live_enrollment_of(env, enrollment_id, machine).await?;
    let with_secrets = e.return_secrets != 0;
    let (stored, stored_secrets) = load(env, machine).await?.map(|(_, m, s)| (m, s)).unwrap_or_default();
    let keys = env::keys(env)?;
    let hash = |k: &str| api_keys::hash(&keys.api_key_hash, k);
    // During a MASTER_KEY rotation a revoked secret may still be recorded under the previous key's hash.
    let previous: Vec<(String, String)> = match &keys.previous {
        Some(p) => push
            .api_keys
            .iter()
            .flatten()
            .filter_map(|k| k.key.as_ref())
            .map(|k| (hash(k.expose()), api_keys::hash(&p.api_key_hash, k.expose())))
            .collect(),
        None => Vec::new(),
    };
    let now = env::now_ms();
    let merged = machine::merge(&stored, &stored_secrets, push, now, with_secrets, &hash);
    let zone_known = |zone: &str| env::local_time(zone, now).is_some();
    let mut served =
        Served::of(machine, &merged.machine, &merged.secrets, env::allow_private_upstreams(env), &zone_known);
    let db = repo::db(env)?;
    let revoked = revoked_keys(&db, machine, &merged.machine, &previous).await?;
    served.withdraw_revoked(machine, &revoked);
    refuse_foreign_keys(&db, machine, &served).await?;
    let secrets_json = serde_json::to_vec(&merged.secrets).map_err(|e| GatewayError::internal(e.to_string()))?;
    let secrets_enc = env::seal(env, &machine_aad(machine), &secrets_json)?;
    let s = store::Stored {
        machine_id: machine,
        enrollment_id: &e.id,
        record: &merged.machine,
        secrets_enc: &secrets_enc,
        now,
    };
    let statements = store::apply_push(&s, &served, &|row, key| {
        env::seal(env, &format!("{machine}/{row}"), key.expose().as_bytes())
    })?;
    run_batch(&db, statements).await?;
    let kept: HashSet<&str> = served.keys.iter().map(|k| k.key_hash.as_str()).collect();
    for gone in stored.api_keys.iter().filter_map(|k| k.key_hash.as_deref()).filter(|h| !kept.contains(h)) {
        config_store::forget_key(env, gone).await?;
    }
    for k in &served.keys {
        let entry =
            KeyEntry { tenant: machine.to_string(), key_id: k.id.clone(), limits: k.limits, access: k.access.clone() };
        if let Err(e) = config_store::publish_key(env, &k.key_hash, &entry).await {
            // D1 has it: a key missing from KV is read from D1 on first use.
            worker::console_warn!("publishing a synced key of {machine} failed: {}", e.message);
        }
    }
    config_store::rebuild_snapshot(env, machine).await?;
    let edge = EdgeState { revoked_keys: revoked, ..edge_state(env, machine).await };
    let view = answer::View {
        machine_id: machine,
        machine: &merged.machine,
        secrets: &merged.secrets,
        with_secrets,
        edge: &edge,
        now,
    };
    Ok(answer::pushed(&view, &merged))
}

/// Hashes bound per statement when looking many up (D1 allows 100 parameters).
const HASHES_PER_QUERY: usize = 90;

/// Rows of `sql` (`… IN ({list})`, `?1` the machine) for `hashes`, a bounded number at a time.
async fn by_hashes<T: serde::de::DeserializeOwned>(
    db: &worker::D1Database,
    sql: &str,
    machine: &str,
    hashes: &[&str],
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for chunk in hashes.chunks(HASHES_PER_QUERY) {
        let list = (2..chunk.len() + 2).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let args: Vec<SqlValue> = std::iter::once(machine).chain(chunk.iter().copied()).map(t).collect();
        out.extend(repo::rows::<T>(db, &sql.replace("{list}", &list), &args).await?);
    }
    Ok(out)
}

/// A synced key that is already another tenant's live key would let one tenant's key reach the
/// other's providers: the push is refused instead.
async fn refuse_foreign_keys(db: &worker::D1Database, machine: &str, served: &Served) -> Result<()> {
    let hashes: Vec<&str> = served.keys.iter().map(|k| k.key_hash.as_str()).collect();
    let sql = "SELECT tenant_id FROM api_keys WHERE tenant_id <> ?1 AND revoked_at IS NULL AND key_hash IN ({list})";
    if by_hashes::<Value>(db, sql, machine, &hashes).await?.is_empty() {
        return Ok(());
    }
    Err(GatewayError::new(ErrorKind::InvalidRequest, "An API key in this push is already in use elsewhere.")
        .with_status(409)
        .with_param("apiKeys")
        .with_code("key_in_use"))
}

/// The machine's keys revoked at the edge: by row (this tenant's revocations) or by secret (any
/// tenant's; `previous` pairs a current hash with the previous MASTER_KEY's).
async fn revoked_keys(
    db: &worker::D1Database,
    machine: &str,
    m: &Machine,
    previous: &[(String, String)],
) -> Result<std::collections::BTreeMap<String, i64>> {
    #[derive(Deserialize)]
    struct Row {
        key_hash: String,
        tenant_id: String,
        key_id: String,
        revoked_at: i64,
    }
    let mut hashes: Vec<&str> = m.api_keys.iter().filter_map(|k| k.key_hash.as_deref()).collect();
    hashes.extend(previous.iter().map(|(_, old)| old.as_str()));
    let sql =
        "SELECT key_hash, tenant_id, key_id, revoked_at FROM revoked_keys WHERE tenant_id = ?1 OR key_hash IN ({list})";
    let rows: Vec<Row> = if hashes.is_empty() {
        repo::rows(db, &sql.replace(" OR key_hash IN ({list})", ""), &[t(machine)]).await?
    } else {
        by_hashes(db, sql, machine, &hashes).await?
    };
    let revoked: Vec<Revoked> = rows
        .into_iter()
        .map(|r| Revoked {
            key_hash: previous.iter().find(|(_, old)| *old == r.key_hash).map_or(r.key_hash, |(cur, _)| cur.clone()),
            row_id: if r.tenant_id == machine { r.key_id } else { String::new() },
            at: r.revoked_at,
        })
        .collect();
    Ok(serve::revoked_keys(machine, m, &revoked))
}

async fn run_batch(db: &worker::D1Database, statements: Vec<store::Statement>) -> Result<()> {
    let prepared = statements.iter().map(|(sql, args)| repo::statement(db, sql, args)).collect::<Result<Vec<_>>>()?;
    repo::batch(db, prepared).await
}

/// Refreshes the machine's subscription accounts the edge owns that are due (inside the machine's
/// object, so no push interleaves): each through its provider's token endpoint, recorded as an edge
/// change so that a stale push keeps it and the next answer brings it to the client
/// (`crate::sync::refresh`). Returns how many were refreshed; a failure skips that account only.
pub async fn refresh_accounts(env: &Env, machine: &str) -> Result<usize> {
    let Some((enrollment_id, mut record, mut secrets)) = load(env, machine).await? else { return Ok(0) };
    let e = live_enrollment_of(env, &enrollment_id, machine).await?;
    let due = refresh::due(&record, &secrets, e.return_secrets != 0, env::now_ms());
    let mut refreshed = 0;
    for d in &due {
        let url = token_url(env, d)?;
        let answer = match call_token_endpoint(&url, d).await {
            Ok((status, body)) => refresh::read_answer(status, &body, env::now_ms()),
            Err(err) => Err(refresh::Failure { terminal: false, message: err.to_string() }),
        };
        match answer {
            Ok(changed) => {
                machine::record_edge_change(&mut record, &mut secrets, &d.id, changed, env::now_ms());
                refreshed += 1;
            }
            Err(f) => worker::console_error!(
                "refreshing account {} of machine {machine}: {}{}",
                d.id,
                f.message,
                if f.terminal { " (it needs a new login)" } else { "" }
            ),
        }
    }
    if refreshed > 0 {
        let secrets_json = serde_json::to_vec(&secrets).map_err(|e| GatewayError::internal(e.to_string()))?;
        let sql = "UPDATE sync_machines SET data = ?2, secrets_enc = ?3 WHERE machine_id = ?1";
        let data = serde_json::to_string(&record).map_err(|e| GatewayError::internal(e.to_string()))?;
        let sealed = env::seal(env, &machine_aad(machine), &secrets_json)?;
        repo::changes(&repo::db(env)?, sql, &[t(machine), SqlValue::Text(data), t(&sealed)]).await?;
    }
    Ok(refreshed)
}

/// The provider's token endpoint, or the operator's override (`OAUTH_TOKEN_URLS`, a JSON object of
/// provider id → URL, e.g. for a relay), checked like any upstream URL.
fn token_url(env: &Env, d: &refresh::Due) -> Result<String> {
    let raw = env.var("OAUTH_TOKEN_URLS").map(|v| v.to_string()).unwrap_or_default();
    // A set but unreadable override fails closed: the tokens go nowhere rather than somewhere unmeant.
    let overrides: serde_json::Map<String, Value> = match raw.trim() {
        "" => serde_json::Map::new(),
        text => serde_json::from_str(text).map_err(|e| {
            GatewayError::internal(format!("OAUTH_TOKEN_URLS is not a JSON object of provider → URL: {e}"))
        })?,
    };
    match d.endpoint.providers.iter().find_map(|p| overrides.get(*p).and_then(Value::as_str)) {
        Some(url) => crate::net_policy::validate_base_url(url, env::allow_private_upstreams(env)),
        None => Ok(d.endpoint.url.to_string()),
    }
}

async fn call_token_endpoint(url: &str, d: &refresh::Due) -> worker::Result<(u16, Vec<u8>)> {
    let headers = worker::Headers::new();
    headers.set("content-type", "application/x-www-form-urlencoded")?;
    headers.set("accept", "application/json")?;
    for (k, v) in d.endpoint.headers {
        headers.set(k, v)?;
    }
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_headers(headers)
        .with_redirect(worker::RequestRedirect::Manual)
        .with_body(Some(refresh::request_body(d.endpoint, &d.refresh_token).into()));
    let mut resp = worker::Fetch::Request(worker::Request::new_with_init(url, &init)?).send().await?;
    Ok((resp.status_code(), resp.bytes().await?))
}

/// Machine ids with synced data.
pub async fn machine_ids(env: &Env) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        machine_id: String,
    }
    let rows: Vec<Row> = repo::rows(&repo::db(env)?, "SELECT machine_id FROM sync_machines", &[]).await?;
    Ok(rows.into_iter().map(|r| r.machine_id).collect())
}

/// The `GET /sync/{machine}` answer.
pub async fn pull(env: &Env, e: &Enrollment, machine: &str) -> Result<Value> {
    let (_, record, secrets) = load(env, machine)
        .await?
        .ok_or_else(|| GatewayError::not_found(format!("Nothing synced for machine `{machine}`.")))?;
    let revoked = revoked_keys(&repo::db(env)?, machine, &record, &[]).await?;
    let edge = EdgeState { revoked_keys: revoked, ..edge_state(env, machine).await };
    let view = answer::View {
        machine_id: machine,
        machine: &record,
        secrets: &secrets,
        with_secrets: e.return_secrets != 0,
        edge: &edge,
        now: env::now_ms(),
    };
    Ok(answer::pulled(&view))
}

/// Deletes everything the machine synced, and its keys from every cache. The enrollment stays.
pub async fn delete_machine(env: &Env, machine: &str) -> Result<()> {
    #[derive(Deserialize)]
    struct Row {
        key_hash: String,
    }
    let db = repo::db(env)?;
    let hashes: Vec<Row> = repo::rows(&db, "SELECT key_hash FROM api_keys WHERE tenant_id = ?1", &[t(machine)]).await?;
    run_batch(&db, store::delete_machine(machine)).await?;
    for h in &hashes {
        config_store::forget_key(env, &h.key_hash).await?;
    }
    config_store::rebuild_snapshot(env, machine).await?;
    Ok(())
}

/// Revokes an enrollment and deletes its machine's data. `None` if there is no live one by that id.
/// Revoking again retries a deletion that failed the first time.
pub async fn revoke(env: &Env, id: &str) -> Result<Option<Enrollment>> {
    let Some(e) = by_id(env, id).await? else { return Ok(None) };
    let first = e.revoked_at.is_none();
    let db = repo::db(env)?;
    if first {
        let sql = "UPDATE sync_enrollments SET revoked_at = ?2 WHERE id = ?1";
        repo::changes(&db, sql, &[t(id), SqlValue::Int(env::now_ms())]).await?;
        // Other isolates stop trusting it within BOUND_FRESH_MS; its machine's keys are deleted below.
        BOUND.with(|c| c.borrow_mut().retain(|_, (m, _)| m.is_none() || *m != e.machine_id));
    }
    if let Some(m) = &e.machine_id {
        let sql = "SELECT machine_id FROM sync_machines WHERE machine_id = ?1 AND enrollment_id = ?2";
        if first || !repo::rows::<Value>(&db, sql, &[t(m), t(id)]).await?.is_empty() {
            super::sync::delete_in_object(env, m).await?;
        }
    }
    Ok(first.then_some(e))
}

pub async fn enrollments(env: &Env) -> Result<Vec<Enrollment>> {
    let sql = format!("SELECT {ENROLLMENT_COLUMNS} FROM sync_enrollments ORDER BY created_at, id");
    repo::rows(&repo::db(env)?, &sql, &[]).await
}

/// The enrolled machines: last sync, what was synced, what is served and what could not be.
pub async fn machines(env: &Env) -> Result<Vec<Value>> {
    #[derive(Deserialize)]
    struct Row {
        machine_id: String,
        enrollment_id: String,
        name: Option<String>,
        created_at: i64,
        last_sync_at: i64,
        status: String,
        return_secrets: Option<i64>,
        data: String,
    }
    let sql = "SELECT m.machine_id, m.enrollment_id, e.name, e.return_secrets, m.created_at, m.last_sync_at, m.status, m.data \
               FROM sync_machines m LEFT JOIN sync_enrollments e ON e.id = m.enrollment_id ORDER BY m.machine_id";
    let rows: Vec<Row> = repo::rows(&repo::db(env)?, sql, &[]).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let status: Value = serde_json::from_str(&r.status).unwrap_or(Value::Null);
            // Who refreshes each subscription account, and until when its token is good (read live:
            // an edge refresh changes it between pushes).
            let accounts = serde_json::from_str::<Machine>(&r.data)
                .map(|m| serde_json::json!(refresh::accounts(&m, r.return_secrets.unwrap_or(0) != 0)))
                .unwrap_or(Value::Null);
            serde_json::json!({
                "machine_id": r.machine_id, "enrollment_id": r.enrollment_id, "enrollment_name": r.name,
                "created_at": r.created_at, "last_sync_at": r.last_sync_at,
                "synced": status["synced"], "served": status["served"], "unservable": status["unservable"],
                "accounts": accounts,
            })
        })
        .collect())
}

/// Machine ids idle (no push) since before `cutoff`.
pub async fn idle_machines(env: &Env, cutoff: i64) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        machine_id: String,
    }
    let rows: Vec<Row> = repo::rows(
        &repo::db(env)?,
        "SELECT machine_id FROM sync_machines WHERE last_sync_at < ?1",
        &[SqlValue::Int(cutoff)],
    )
    .await?;
    Ok(rows.into_iter().map(|r| r.machine_id).collect())
}
