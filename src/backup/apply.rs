//! The D1 statements of an import: keep the automatic backup of what is replaced, delete the
//! tenant's configuration rows, insert the archive's. The platform runs them as one batch, so an
//! import lands whole or not at all.

use super::archive::Config;
use crate::config::rows::{self, Statement};
use crate::config::ConnectionRecord;
use crate::metering::sql::SqlValue;
use std::collections::BTreeMap;

/// The tables an import replaces (usage, logs and logins are not configuration).
pub use crate::config::rows::CONFIG_TABLES as TABLES;

/// Automatic backups kept per tenant; older ones are deleted by the import that adds one.
pub const KEEP_BACKUPS: u32 = 20;

const UNUSABLE: &str = "none:";

/// The stored hash of a key imported without one: never a match (real hashes are 64 hex digits),
/// unique like a hash must be. Rotating the key gives it a secret.
pub fn unusable_hash(key_id: &str) -> String {
    format!("{UNUSABLE}{key_id}")
}

pub fn is_usable_hash(hash: &str) -> bool {
    !hash.starts_with(UNUSABLE)
}

/// What replaces a tenant's configuration.
pub struct Replacement<'a> {
    pub tenant: &'a str,
    pub config: &'a Config,
    /// Stored ciphertext by connection id, sealed for this tenant. A connection without one is
    /// stored inactive: it has nothing to authenticate with.
    pub credentials: &'a BTreeMap<String, String>,
    /// Stored hash by key id; a key without one gets [`unusable_hash`].
    pub key_hashes: &'a BTreeMap<String, String>,
    pub now: i64,
}

fn t(v: &str) -> SqlValue {
    SqlValue::text(v)
}

fn json(v: &impl serde::Serialize) -> SqlValue {
    SqlValue::Text(serde_json::to_string(v).unwrap_or_default())
}

impl Replacement<'_> {
    /// Connections stored inactive for want of a credential.
    pub fn without_credentials(&self) -> Vec<&str> {
        let missing = |id: &str| !self.credentials.contains_key(id);
        self.config.connections.iter().filter(|c| c.is_active && missing(&c.id)).map(|c| c.id.as_str()).collect()
    }

    /// Active keys stored with an unusable hash.
    pub fn without_secret(&self) -> Vec<&str> {
        let missing = |id: &str| !self.key_hashes.contains_key(id);
        self.config
            .api_keys
            .iter()
            .filter(|k| k.revoked_at.is_none() && missing(&k.id))
            .map(|k| k.id.as_str())
            .collect()
    }

    pub fn statements(&self) -> Vec<Statement> {
        let (tenant, c, now) = (self.tenant, self.config, SqlValue::Int(self.now));
        let mut out: Vec<Statement> =
            TABLES.iter().map(|table| (format!("DELETE FROM {table} WHERE tenant_id = ?1"), vec![t(tenant)])).collect();
        out.push((
            "INSERT INTO settings (tenant_id, value, updated_at) VALUES (?1, ?2, ?3)".into(),
            vec![t(tenant), json(&c.settings), now.clone()],
        ));
        for conn in &c.connections {
            let enc = self.credentials.get(&conn.id);
            let record = ConnectionRecord {
                id: conn.id.clone(),
                provider: conn.provider.clone(),
                name: conn.name.clone(),
                priority: conn.priority,
                is_active: conn.is_active && enc.is_some(),
                base_url: conn.base_url.clone(),
                api_key_enc: enc.cloned().unwrap_or_default(),
                api_key_hint: conn.api_key_hint.clone(),
                created_at: conn.created_at,
                updated_at: conn.updated_at,
                limits: conn.limits,
            };
            out.push(rows::insert_connection(tenant, &record));
        }
        for k in &c.api_keys {
            let hash = self.key_hashes.get(&k.id).cloned().unwrap_or_else(|| unusable_hash(&k.id));
            let row = rows::NewKeyRow {
                id: &k.id,
                name: &k.name,
                key_hash: &hash,
                key_prefix: &k.key_prefix,
                created_at: k.created_at,
                limits: &k.limits,
                access: &k.access,
            };
            out.push(rows::insert_api_key(tenant, &row));
            if let Some(at) = k.revoked_at {
                out.push((
                    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1".into(),
                    vec![t(&k.id), SqlValue::Int(at)],
                ));
            }
        }
        let doc = |table: &str, key: &str, value: &str, k: &str, v: SqlValue, at: i64| -> Statement {
            (
                format!("INSERT INTO {table} (tenant_id, {key}, {value}, updated_at) VALUES (?1, ?2, ?3, ?4)"),
                vec![t(tenant), t(k), v, SqlValue::Int(at)],
            )
        };
        for combo in &c.combos {
            out.push(doc("combos", "name", "data", &combo.name, json(combo), self.now));
        }
        // Aliases are read back in `updated_at` order, which breaks ties between patterns: one
        // millisecond apart, ending now, keeps the archive's order.
        let n = c.aliases.len() as i64;
        for (i, a) in c.aliases.iter().enumerate() {
            out.push(doc(
                "model_aliases",
                "pattern",
                "target",
                &a.pattern,
                t(&a.target),
                self.now - (n - 1 - i as i64),
            ));
        }
        for chain in &c.fallback_chains {
            out.push(doc("fallback_chains", "model", "chain", &chain.model, json(&chain.chain), self.now));
        }
        for node in &c.provider_nodes {
            out.push(doc("provider_nodes", "id", "data", &node.id, json(node), self.now));
        }
        for m in &c.provider_models {
            out.push(doc("provider_models", "provider", "models", &m.provider, json(&m.models), self.now));
        }
        let opt = |v: Option<f64>| v.map_or(SqlValue::Null, SqlValue::Real);
        for p in &c.prices {
            out.push((
                "INSERT INTO prices (tenant_id, provider, model, input, output, cached_input, reasoning, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                    .into(),
                vec![
                    t(tenant),
                    t(&p.provider),
                    t(&p.model),
                    SqlValue::Real(p.price.input),
                    SqlValue::Real(p.price.output),
                    opt(p.price.cached_input),
                    opt(p.price.reasoning),
                    now.clone(),
                ],
            ));
        }
        out
    }
}

/// An automatic backup: the archive without secrets, and its secrets sealed under the deployment's
/// credentials key (never plaintext in D1).
pub struct Backup<'a> {
    pub id: &'a str,
    pub tenant: &'a str,
    pub created_at: i64,
    /// `import` or `restore`: what replaced the configuration it holds.
    pub reason: &'a str,
    pub archive: &'a str,
    pub secrets_enc: Option<&'a str>,
}

/// Stores the backup and deletes the tenant's backups beyond the newest [`KEEP_BACKUPS`].
pub fn keep_backup(b: &Backup) -> Vec<Statement> {
    vec![
        (
            "INSERT INTO config_backups (id, tenant_id, created_at, reason, archive, secrets_enc) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                .into(),
            vec![
                t(b.id),
                t(b.tenant),
                SqlValue::Int(b.created_at),
                t(b.reason),
                t(b.archive),
                SqlValue::opt_text(b.secrets_enc),
            ],
        ),
        (
            "DELETE FROM config_backups WHERE tenant_id = ?1 AND id NOT IN (SELECT id FROM config_backups \
             WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2)"
                .into(),
            vec![t(b.tenant), SqlValue::Int(KEEP_BACKUPS.into())],
        ),
    ]
}

/// The associated data of a backup's sealed secrets: bound to its row.
pub fn backup_aad(id: &str) -> String {
    format!("config-backup/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::archive::tests::sample;
    use crate::config::rows::highest_placeholder;

    #[test]
    fn every_statement_binds_its_placeholders_and_missing_secrets_are_safe() {
        let mut config = sample();
        config.api_keys.push(crate::backup::archive::ApiKey {
            id: "key_r".into(),
            revoked_at: Some(9),
            ..config.api_keys[0].clone()
        });
        let none = BTreeMap::new();
        let r = Replacement { tenant: "t1", config: &config, credentials: &none, key_hashes: &none, now: 100 };
        let stmts = r.statements();
        for (sql, args) in &stmts {
            assert_eq!(highest_placeholder(sql), args.len(), "{sql}");
        }
        assert_eq!(stmts.iter().filter(|(sql, _)| sql.starts_with("DELETE")).count(), TABLES.len());
        let text = format!("{stmts:?}");
        assert!(text.contains("none:key_a") && text.contains("none:key_r"));
        assert_eq!(r.without_credentials(), vec!["conn_b"]);
        assert_eq!(r.without_secret(), vec!["key_a"], "a revoked key needs no secret");
        let conn = stmts.iter().find(|(sql, _)| sql.contains("INTO provider_connections")).unwrap();
        assert_eq!(conn.1[5], SqlValue::Int(0), "stored inactive without a credential");
        let revoked = stmts.iter().find(|(sql, _)| sql.starts_with("UPDATE api_keys")).unwrap();
        assert_eq!(revoked.1, vec![t("key_r"), SqlValue::Int(9)]);
        // Aliases keep their order through `updated_at`.
        let alias_times: Vec<&SqlValue> =
            stmts.iter().filter(|(sql, _)| sql.contains("model_aliases (")).map(|(_, a)| &a[3]).collect();
        assert_eq!(alias_times, vec![&SqlValue::Int(99), &SqlValue::Int(100)]);
    }

    #[test]
    fn credentials_and_hashes_are_stored_as_given() {
        let config = sample();
        let creds: BTreeMap<String, String> = [("conn_b".to_string(), "v1.n.c".to_string())].into();
        let hashes: BTreeMap<String, String> = [("key_a".to_string(), "ab".repeat(32))].into();
        let r = Replacement { tenant: "t1", config: &config, credentials: &creds, key_hashes: &hashes, now: 1 };
        let text = format!("{:?}", r.statements());
        assert!(text.contains("v1.n.c") && text.contains(&"ab".repeat(32)) && !text.contains("none:"));
        assert!(r.without_credentials().is_empty() && r.without_secret().is_empty());
        assert!(is_usable_hash(&"ab".repeat(32)) && !is_usable_hash(&unusable_hash("k")));
    }

    #[test]
    fn a_backup_prunes_beyond_the_newest() {
        let b = Backup { id: "b1", tenant: "t1", created_at: 5, reason: "import", archive: "{}", secrets_enc: None };
        let stmts = keep_backup(&b);
        for (sql, args) in &stmts {
            assert_eq!(highest_placeholder(sql), args.len(), "{sql}");
        }
        assert_eq!(stmts[0].1[5], SqlValue::Null);
    }
}
