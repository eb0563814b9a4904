//! `/api/backup/*`: a tenant's configuration exported as one archive and imported back
//! (docs/backup.md), its automatic backups, and re-encryption after a `MASTER_KEY` rotation
//! (docs/secrets.md). The archive, its validation and the statements are the core's
//! (`crate::backup`); this module reads D1, derives passphrase keys with WebCrypto and runs the
//! statements in one batch.

use super::Call;
use crate::backup::apply::{self, Backup, Replacement};
use crate::backup::archive::{self, ApiKey, Chain, Connection, ProviderModels};
use crate::backup::secrets::{check_passphrase, ITERATIONS};
use crate::backup::{Archive, Config, Sealed, Secrets};
use crate::config::{input, ConnectionRecord, KeyEntry};
use crate::error::{GatewayError, Result};
use crate::manage::input::{settings_write, SettingsCaller};
use crate::manage::routes::Backup as Op;
use crate::metering::sql::SqlValue;
use crate::platform::http::json_response;
use crate::platform::{config_store, env, password_kdf, repo};
use crate::security::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use worker::{Env, Headers, Response};

/// An archive of a large tenant (thousands of keys, prices and connections) fits well below this.
const MAX_BACKUP_BODY: u64 = 4 * 1024 * 1024;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    let (env, tenant) = (call.env, call.tenant);
    match op {
        Op::Export => {
            if call.query("secrets").is_some_and(|v| v != "false") {
                return Err(GatewayError::invalid_request(
                    "Secrets are exported only sealed with a passphrase, which never goes in a URL: \
                     POST /api/backup/export {\"passphrase\": \"…\"}.",
                )
                .with_param("secrets"));
            }
            export(env, tenant, None).await
        }
        Op::ExportSealed => {
            let body = call.body().await?;
            let ask: ExportInput = if body.is_empty() { ExportInput::default() } else { input::parse(&body)? };
            export(env, tenant, ask.passphrase).await
        }
        Op::Import => import(env, tenant, &call.settings_caller(), &call.body_up_to(MAX_BACKUP_BODY).await?).await,
        Op::List => list(env, tenant).await,
        Op::Restore => restore(env, tenant, &call.settings_caller(), call.param("id")).await,
        // Owner only (the route table): every tenant's credentials.
        Op::Rekey => rekey(env).await,
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportInput {
    #[serde(default)]
    passphrase: Option<Secret>,
}

/// `POST /api/backup/import`: the archive itself, or `{"archive": …, "passphrase": "…"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportInput {
    archive: Value,
    #[serde(default)]
    passphrase: Option<Secret>,
}

/// A tenant's configuration as D1 holds it, with what the archive leaves out: ciphertexts and hashes.
struct Current {
    config: Config,
    connections: Vec<ConnectionRecord>,
    /// Stored hash by active key id.
    key_hashes: BTreeMap<String, String>,
}

async fn current(env: &Env, tenant: &str) -> Result<Current> {
    use super::repo::RoutingTable;
    let db = repo::db(env)?;
    let connections = repo::connections(&db, tenant).await?;
    let api_keys = repo::api_keys(&db, tenant)
        .await?
        .into_iter()
        .map(|k| ApiKey {
            id: k.id,
            name: k.name,
            key_prefix: k.key_prefix,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            limits: k.limits,
            access: k.access,
        })
        .collect();
    #[derive(Deserialize)]
    struct Hash {
        id: String,
        key_hash: String,
    }
    let hashes: Vec<Hash> = repo::rows(
        &db,
        "SELECT id, key_hash FROM api_keys WHERE tenant_id = ?1 AND revoked_at IS NULL",
        &[SqlValue::text(tenant)],
    )
    .await?;
    let config = Config {
        settings: repo::settings(&db, tenant).await?,
        connections: connections.iter().map(Connection::from).collect(),
        api_keys,
        combos: repo::documents(&db, tenant, RoutingTable::Combos).await?,
        aliases: repo::aliases(&db, tenant).await?.entries().to_vec(),
        fallback_chains: repo::fallback_chains(&db, tenant)
            .await?
            .iter()
            .map(|(model, chain)| Chain { model: model.to_string(), chain: chain.to_vec() })
            .collect(),
        provider_nodes: repo::documents(&db, tenant, RoutingTable::Nodes).await?,
        provider_models: repo::custom_models(&db, tenant)
            .await?
            .into_iter()
            .map(|(provider, models)| ProviderModels { provider, models })
            .collect(),
        prices: repo::prices(&db, tenant).await?,
    }
    .canonical();
    let key_hashes =
        hashes.into_iter().filter(|h| apply::is_usable_hash(&h.key_hash)).map(|h| (h.id, h.key_hash)).collect();
    Ok(Current { config, connections, key_hashes })
}

impl Current {
    /// The secrets in plaintext. A credential this deployment cannot read (none was imported, or it
    /// was sealed under a key that is gone) is left out.
    fn secrets(&self, env: &Env, tenant: &str) -> Result<Secrets> {
        let keys = env::keys(env)?;
        let mut connections = BTreeMap::new();
        for c in self.connections.iter().filter(|c| !c.api_key_enc.is_empty()) {
            match keys.open(&format!("{tenant}/{}", c.id), &c.api_key_enc) {
                Ok((plain, _)) => {
                    let key =
                        String::from_utf8(plain).map_err(|_| GatewayError::internal("credential is not UTF-8"))?;
                    connections.insert(c.id.clone(), Secret::new(key));
                }
                Err(e) => worker::console_warn!("backup: leaving out a credential: {}", e.message),
            }
        }
        Ok(Secrets { connections, api_key_hashes: self.key_hashes.clone() })
    }
}

async fn passphrase_key(passphrase: &Secret, salt: &[u8], iterations: u32) -> Result<[u8; 32]> {
    password_kdf::derive(passphrase.expose(), salt, iterations)
        .await
        .try_into()
        .map_err(|_| GatewayError::internal("key derivation gave a wrong length"))
}

/// `GET /api/backup/export` (no secrets) and `POST /api/backup/export {"passphrase"}` (with them).
async fn export(env: &Env, tenant: &str, passphrase: Option<Secret>) -> Result<Response> {
    let current = current(env, tenant).await?;
    let sealed = match passphrase {
        None => None,
        Some(p) => {
            check_passphrase(&p)?;
            let salt = env::random_bytes::<16>()?;
            let key = passphrase_key(&p, &salt, ITERATIONS).await?;
            let secrets = current.secrets(env, tenant)?;
            Some(Sealed::seal(&key, &salt, &env::random_bytes::<12>()?, tenant, &secrets)?)
        }
    };
    let body = Archive::new(tenant, current.config, sealed).to_json();
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("content-disposition", &format!("attachment; filename=\"omniroute-edge-{tenant}.json\""))?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// Validates the whole archive (and opens its secrets) before anything is written.
async fn import(env: &Env, tenant: &str, who: &SettingsCaller, body: &[u8]) -> Result<Response> {
    let raw: Value = input::parse(body)?;
    let ImportInput { archive, passphrase } =
        if raw.get("archive").is_some() { input::parse(body)? } else { ImportInput { archive: raw, passphrase: None } };
    let archive = Archive::parse(&archive)?;
    let config = archive.config.validate(env::allow_private_upstreams(env))?;
    let secrets = match &archive.secrets {
        None => None,
        Some(sealed) => {
            let p = passphrase.ok_or_else(|| {
                GatewayError::invalid_request(
                    "This archive holds secrets: send it as {\"archive\": …, \"passphrase\": \"…\"}.",
                )
                .with_param("passphrase")
                .with_code("passphrase_required")
            })?;
            let (salt, iterations) = sealed.kdf_params()?;
            let secrets = sealed.open(&passphrase_key(&p, &salt, iterations).await?, &archive.tenant)?;
            secrets.validate(&config)?;
            Some(secrets)
        }
    };
    replace(env, tenant, who, config, secrets, "import").await
}

/// Replaces the tenant's configuration: the automatic backup of what it holds now and every write in
/// one batch; then the snapshot and the key entries. The settings go through the same check as
/// `PATCH /api/settings` (who may change which, no lock-out) before anything is written.
async fn replace(
    env: &Env,
    tenant: &str,
    who: &SettingsCaller,
    mut config: Config,
    secrets: Option<Secrets>,
    reason: &str,
) -> Result<Response> {
    let db = repo::db(env)?;
    let now = env::now_ms();
    let before = current(env, tenant).await?;
    config.settings =
        settings_write(&before.config.settings, config.settings, who).map_err(archive::at("config.settings"))?;
    let secrets = secrets.unwrap_or_default();
    // Without a credential in the archive, a connection that exists here keeps its own.
    let mut credentials = BTreeMap::new();
    for c in &config.connections {
        let enc = match secrets.connections.get(&c.id) {
            Some(key) => Some(env::seal(env, &format!("{tenant}/{}", c.id), key.expose().as_bytes())?),
            None => before
                .connections
                .iter()
                .find(|e| e.id == c.id && !e.api_key_enc.is_empty())
                .map(|e| e.api_key_enc.clone()),
        };
        credentials.extend(enc.map(|enc| (c.id.clone(), enc)));
    }
    // A key that is active here keeps its own secret: an archive must not bring back one that was
    // rotated away (or hashed under a MASTER_KEY since rotated).
    // A hash taken already (an archive's for another key) is not given twice: hashes are unique.
    let mut key_hashes = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for k in &config.api_keys {
        let hash = before.key_hashes.get(&k.id).or_else(|| secrets.api_key_hashes.get(&k.id));
        if let Some(h) = hash.filter(|h| taken.insert(h.as_str())) {
            key_hashes.insert(k.id.clone(), h.clone());
        }
    }
    refuse_conflicts(&db, tenant, &config, &key_hashes).await?;

    let backup_id = env::new_id("bak")?;
    let backup_archive = Archive::new(tenant, before.config.clone(), None).to_json();
    let plain = serde_json::to_vec(&before.secrets(env, tenant)?).map_err(|e| GatewayError::internal(e.to_string()))?;
    let backup_secrets = env::seal(env, &apply::backup_aad(&backup_id), &plain)?;
    let backup = Backup {
        id: &backup_id,
        tenant,
        created_at: now,
        reason,
        archive: &backup_archive,
        secrets_enc: Some(&backup_secrets),
    };
    let replacement = Replacement { tenant, config: &config, credentials: &credentials, key_hashes: &key_hashes, now };
    let statements = apply::keep_backup(&backup)
        .into_iter()
        .chain(replacement.statements())
        .map(|(sql, args)| repo::statement(&db, &sql, &args))
        .collect::<Result<Vec<_>>>()?;
    repo::batch(&db, statements).await?;

    config_store::rebuild_snapshot(env, tenant).await?;
    let mut live = BTreeSet::new();
    for k in config.api_keys.iter().filter(|k| k.revoked_at.is_none()) {
        if let Some(hash) = key_hashes.get(&k.id) {
            let entry =
                KeyEntry { tenant: tenant.into(), key_id: k.id.clone(), limits: k.limits, access: k.access.clone() };
            config_store::publish_key(env, hash, &entry).await?;
            live.insert(hash.as_str());
        }
    }
    for hash in before.key_hashes.values().filter(|h| !live.contains(h.as_str())) {
        config_store::forget_key(env, hash).await?;
    }
    Ok(json_response(
        200,
        &json!({
            "imported": config.counts(),
            "backup_id": backup_id,
            "connections_without_credentials": replacement.without_credentials(),
            "keys_without_secret": replacement.without_secret(),
        }),
    )?)
}

/// Connection and key ids are unique across the deployment, and so are key hashes: an archive of
/// another tenant of this deployment cannot be imported next to it (409, naming the archive's first
/// entry at fault). Neither the other tenant nor its own ids are named: the caller may manage only
/// this one.
async fn refuse_conflicts(
    db: &worker::D1Database,
    tenant: &str,
    config: &Config,
    key_hashes: &BTreeMap<String, String>,
) -> Result<()> {
    let list = |ids: Vec<&str>| SqlValue::Text(serde_json::to_string(&ids).unwrap_or_default());
    #[derive(Deserialize)]
    struct Row {
        what: String,
        id: String,
        key_hash: Option<String>,
    }
    let rows: Vec<Row> = repo::rows(
        db,
        "SELECT 'connection' AS what, id, NULL AS key_hash FROM provider_connections WHERE tenant_id != ?1 \
         AND id IN (SELECT value FROM json_each(?2)) UNION ALL \
         SELECT 'key' AS what, id, key_hash FROM api_keys WHERE tenant_id != ?1 \
         AND (id IN (SELECT value FROM json_each(?3)) OR key_hash IN (SELECT value FROM json_each(?4))) LIMIT 1",
        &[
            SqlValue::text(tenant),
            list(config.connections.iter().map(|c| c.id.as_str()).collect()),
            list(config.api_keys.iter().map(|k| k.id.as_str()).collect()),
            list(key_hashes.values().map(String::as_str).collect()),
        ],
    )
    .await?;
    let Some(r) = rows.first() else { return Ok(()) };
    // A key found by its secret's hash has another id there: name the archive's key with that hash.
    let by_hash = key_hashes.iter().find(|(_, h)| r.key_hash.as_deref() == Some(h.as_str())).map(|(id, _)| id);
    let id = if r.what == "key" && !config.api_keys.iter().any(|k| k.id == r.id) {
        by_hash.map_or("", String::as_str)
    } else {
        r.id.as_str()
    };
    Err(GatewayError::invalid_request(format!(
        "The archive's {} `{id}` belongs to another tenant of this deployment; ids and key secrets are unique \
         across tenants, so an archive is imported into the tenant it came from (or into another deployment).",
        r.what
    ))
    .with_status(409)
    .with_code("id_conflict"))
}

/// `GET /api/backup/backups`: the tenant's automatic backups, newest first.
async fn list(env: &Env, tenant: &str) -> Result<Response> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        created_at: i64,
        reason: String,
        bytes: i64,
        has_secrets: i64,
    }
    let rows: Vec<Row> = repo::rows(
        &repo::db(env)?,
        "SELECT id, created_at, reason, length(archive) AS bytes, secrets_enc IS NOT NULL AS has_secrets \
         FROM config_backups WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC",
        &[SqlValue::text(tenant)],
    )
    .await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({"id": r.id, "created_at": r.created_at, "reason": r.reason, "bytes": r.bytes,
                   "has_secrets": r.has_secrets != 0})
        })
        .collect();
    Ok(json_response(200, &json!({"data": data}))?)
}

/// `POST /api/backup/backups/{id}/restore`: imports a backup (which backs up first, in turn).
async fn restore(env: &Env, tenant: &str, who: &SettingsCaller, id: &str) -> Result<Response> {
    #[derive(Deserialize)]
    struct Row {
        archive: String,
        secrets_enc: Option<String>,
    }
    let row: Option<Row> = repo::rows(
        &repo::db(env)?,
        "SELECT archive, secrets_enc FROM config_backups WHERE tenant_id = ?1 AND id = ?2",
        &[SqlValue::text(tenant), SqlValue::text(id)],
    )
    .await?
    .into_iter()
    .next();
    let row = row.ok_or_else(|| GatewayError::not_found(format!("No backup `{id}`.")))?;
    let raw: Value = serde_json::from_str(&row.archive).map_err(|e| GatewayError::internal(e.to_string()))?;
    let config = Archive::from_stored(&raw)?.config.validate(env::allow_private_upstreams(env))?;
    let secrets = match row.secrets_enc {
        Some(enc) => {
            let plain = env::open(env, &apply::backup_aad(id), &enc)?;
            let secrets: Secrets = serde_json::from_slice(&plain).map_err(|e| GatewayError::internal(e.to_string()))?;
            secrets.validate(&config)?;
            Some(secrets)
        }
        None => None,
    };
    replace(env, tenant, who, config, secrets, "restore").await
}

/// Statements per D1 batch of a rekey.
const REKEY_BATCH: usize = 500;

/// One kind of value sealed under the credentials key: how to list it, its AAD, how to replace it.
struct SealedColumn {
    what: &'static str,
    /// Rows of (tenant_id, id, enc).
    select: &'static str,
    aad: fn(&str, &str) -> String,
    /// ?1 id, ?2 the ciphertext read (so a concurrent change is not overwritten), ?3 the new one.
    update: &'static str,
}

const SEALED: &[SealedColumn] = &[
    SealedColumn {
        what: "connection",
        select: "SELECT tenant_id, id, api_key_enc AS enc FROM provider_connections",
        aad: |tenant, id| format!("{tenant}/{id}"),
        update: "UPDATE provider_connections SET api_key_enc = ?3 WHERE id = ?1 AND api_key_enc = ?2",
    },
    SealedColumn {
        what: "backup",
        select: "SELECT tenant_id, id, secrets_enc AS enc FROM config_backups WHERE secrets_enc IS NOT NULL",
        aad: |_, id| apply::backup_aad(id),
        update: "UPDATE config_backups SET secrets_enc = ?3 WHERE id = ?1 AND secrets_enc = ?2",
    },
    SealedColumn {
        what: "sync_enrollment",
        select: "SELECT '' AS tenant_id, id, secret_enc AS enc FROM sync_enrollments",
        aad: |_, id| crate::platform::sync_store::secret_aad(id),
        update: "UPDATE sync_enrollments SET secret_enc = ?3 WHERE id = ?1 AND secret_enc = ?2",
    },
    SealedColumn {
        what: "sync_machine",
        select: "SELECT machine_id AS tenant_id, machine_id AS id, secrets_enc AS enc FROM sync_machines",
        aad: |_, id| crate::platform::sync_store::machine_aad(id),
        update: "UPDATE sync_machines SET secrets_enc = ?3 WHERE machine_id = ?1 AND secrets_enc = ?2",
    },
];

/// `POST /api/backup/rekey` (owner): everything sealed under `MASTER_KEY_PREVIOUS` is sealed again
/// under `MASTER_KEY`, in one batch; snapshots of tenants whose credentials changed are rebuilt.
/// Idempotent: a second call finds everything current.
async fn rekey(env: &Env) -> Result<Response> {
    #[derive(Deserialize)]
    struct Row {
        tenant_id: String,
        id: String,
        enc: String,
    }
    let db = repo::db(env)?;
    let keys = env::keys(env)?;
    let (mut reencrypted, mut already_current, mut failed) = (0u64, 0u64, Vec::new());
    let mut statements = Vec::new();
    let mut tenants = BTreeSet::new();
    for column in SEALED {
        let rows: Vec<Row> = repo::rows(&db, column.select, &[]).await?;
        for r in rows.into_iter().filter(|r| !r.enc.is_empty()) {
            let aad = (column.aad)(&r.tenant_id, &r.id);
            match keys.open(&aad, &r.enc) {
                Ok((_, true)) => already_current += 1,
                Ok((plain, false)) => {
                    let sealed = env::seal(env, &aad, &plain)?;
                    let args = [SqlValue::text(&r.id), SqlValue::text(&r.enc), SqlValue::Text(sealed)];
                    statements.push(repo::statement(&db, column.update, &args)?);
                    reencrypted += 1;
                    if column.what == "connection" {
                        tenants.insert(r.tenant_id);
                    }
                }
                Err(_) => failed.push(json!({"what": column.what, "tenant": r.tenant_id, "id": r.id})),
            }
        }
    }
    // In batches of bounded size; each is atomic, and a rekey cut short is simply run again.
    let mut statements = statements.into_iter().peekable();
    while statements.peek().is_some() {
        repo::batch(&db, statements.by_ref().take(REKEY_BATCH).collect()).await?;
    }
    for tenant in &tenants {
        config_store::rebuild_snapshot(env, tenant).await?;
    }
    Ok(json_response(
        200,
        &json!({"reencrypted": reencrypted, "already_current": already_current, "failed": failed,
                "previous_key_set": keys.previous.is_some()}),
    )?)
}
