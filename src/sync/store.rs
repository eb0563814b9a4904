//! The D1 statements that apply a push or delete a machine, built here so that the platform only
//! runs them, all in one batch: a push is applied whole or not at all.
//!
//! A push replaces the machine's tenant rows (connections, nodes, combos, aliases, keys) with what
//! [`Served`] maps it to, and stores the record, the encrypted credentials and the status.

use super::machine::Machine;
use super::serve::Served;
use crate::config::rows;
use crate::error::Result;
use crate::metering::sql::SqlValue;
use crate::security::Secret;
use serde_json::{json, Value};

pub use crate::config::rows::Statement;

/// The tenant's configuration tables a push rewrites.
const PUSHED_TABLES: &[&str] = &["provider_connections", "api_keys", "combos", "model_aliases", "provider_nodes"];
/// The tables with a tenant's rows besides its configuration: usage, and its automatic backups.
const OTHER_TENANT_TABLES: &[&str] = &["request_log", "usage_hourly", "config_backups"];

fn t(v: &str) -> SqlValue {
    SqlValue::text(v)
}

/// What a push stores besides the served rows.
pub struct Stored<'a> {
    pub machine_id: &'a str,
    pub enrollment_id: &'a str,
    pub record: &'a Machine,
    pub secrets_enc: &'a str,
    pub now: i64,
}

/// Statements that make the machine's tenant serve `served` and store the record. `encrypt`
/// turns a connection's key into its stored ciphertext (bound to the row id).
pub fn apply_push(
    s: &Stored,
    served: &Served,
    encrypt: &dyn Fn(&str, &Secret) -> Result<String>,
) -> Result<Vec<Statement>> {
    let m = s.machine_id;
    let now = SqlValue::Int(s.now);
    let mut out: Vec<Statement> = vec![(
        "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING".into(),
        vec![t(m), t(&format!("OmniRoute machine {m}")), now.clone()],
    )];
    for table in PUSHED_TABLES {
        // Revoked keys stay listed as revoked; a push never brings one back (serve::revoked_keys).
        let live = if *table == "api_keys" { " AND revoked_at IS NULL" } else { "" };
        out.push((format!("DELETE FROM {table} WHERE tenant_id = ?1{live}"), vec![t(m)]));
    }
    for c in &served.connections {
        out.push(rows::insert_connection(m, &c.record(encrypt(&c.id, &c.api_key)?, s.now)));
    }
    let doc = |table: &str, key: &str, value: &str, k: &str, v: String| -> Statement {
        (
            format!("INSERT INTO {table} (tenant_id, {key}, {value}, updated_at) VALUES (?1, ?2, ?3, ?4)"),
            vec![t(m), t(k), SqlValue::Text(v), SqlValue::Int(s.now)],
        )
    };
    for n in &served.nodes {
        out.push(doc("provider_nodes", "id", "data", &n.id, serde_json::to_string(n).unwrap_or_default()));
    }
    for c in &served.combos {
        out.push(doc("combos", "name", "data", &c.name, serde_json::to_string(c).unwrap_or_default()));
    }
    for (pattern, target) in &served.aliases {
        out.push(doc("model_aliases", "pattern", "target", pattern, target.clone()));
    }
    for k in &served.keys {
        let key = rows::NewKeyRow {
            id: &k.id,
            name: &k.name,
            key_hash: &k.key_hash,
            key_prefix: &k.key_prefix,
            created_at: s.now,
            limits: &k.limits,
            access: &k.access,
        };
        out.push(rows::insert_api_key(m, &key));
    }
    out.push((
        "INSERT INTO sync_machines (machine_id, enrollment_id, data, secrets_enc, status, created_at, last_sync_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (machine_id) DO UPDATE SET enrollment_id = excluded.enrollment_id, \
         data = excluded.data, secrets_enc = excluded.secrets_enc, status = excluded.status, last_sync_at = excluded.last_sync_at"
            .into(),
        vec![
            t(m),
            t(s.enrollment_id),
            SqlValue::Text(serde_json::to_string(s.record).unwrap_or_default()),
            t(s.secrets_enc),
            SqlValue::Text(status(s.record, served).to_string()),
            now,
        ],
    ));
    Ok(out)
}

/// Statements that delete everything of a machine: its tenant's rows (usage included) and record.
pub fn delete_machine(machine_id: &str) -> Vec<Statement> {
    let mut out: Vec<Statement> = rows::CONFIG_TABLES
        .iter()
        .chain(OTHER_TENANT_TABLES)
        .map(|table| (format!("DELETE FROM {table} WHERE tenant_id = ?1"), vec![t(machine_id)]))
        .collect();
    out.push(("DELETE FROM sync_machines WHERE machine_id = ?1".into(), vec![t(machine_id)]));
    out.push(("DELETE FROM tenants WHERE id = ?1".into(), vec![t(machine_id)]));
    out
}

/// What the machine synced, what the gateway serves of it, and what it cannot serve (and why). A
/// combo or alias that is stored but cannot be served is not counted as served.
pub fn status(m: &Machine, served: &Served) -> Value {
    let combos = served.served_count("combo", served.combos.iter().map(|c| c.name.as_str()));
    let aliases = served.served_count("alias", served.aliases.iter().map(|(p, _)| p.as_str()));
    json!({
        "synced": {
            "connections": m.providers.len(), "provider_nodes": m.provider_nodes.len(), "combos": m.combos.len(),
            "aliases": m.model_aliases.len(), "api_keys": m.api_keys.len(),
        },
        "served": {
            "connections": served.connections.len(), "provider_nodes": served.nodes.len(), "combos": combos,
            "aliases": aliases, "api_keys": served.keys.len(),
        },
        "unservable": served.unservable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::rows::highest_placeholder;
    use crate::sync::machine::{merge, Secrets};
    use crate::sync::wire::parse;

    #[test]
    fn every_statement_binds_exactly_its_placeholders_and_secrets_stay_encrypted() {
        let body = serde_json::json!({
            "providers": [{"id": "c1", "provider": "openai", "apiKey": "sk-up"}, {"id": "c2", "provider": "claude", "authType": "oauth", "accessToken": "at"}],
            "modelAliases": {"fast": "openai/gpt-4o-mini"}, "combos": [{"name": "c", "models": ["openai/gpt-4o"]}],
            "apiKeys": [{"id": "k1", "key": "sk-m-k1"}]});
        let merged = merge(
            &Machine::default(),
            &Secrets::default(),
            parse(body.to_string().as_bytes()).unwrap(),
            7,
            false,
            &|k| format!("h:{}", k.len()),
        );
        let served = Served::of("m1", &merged.machine, &merged.secrets, false, &|_| true);
        let stored =
            Stored { machine_id: "m1", enrollment_id: "e1", record: &merged.machine, secrets_enc: "v1.x.y", now: 7 };
        let stmts = apply_push(&stored, &served, &|id, key| Ok(format!("enc({id},{})", key.expose().len()))).unwrap();
        // tenant + 5 clears + 1 connection + 1 combo + 1 alias + 1 key + record.
        assert_eq!(stmts.len(), 11);
        for (sql, args) in &stmts {
            assert_eq!(highest_placeholder(sql), args.len(), "{sql}");
        }
        let everything = format!("{stmts:?}");
        for secret in ["sk-up", "\"at\"", "sk-m-k1"] {
            assert!(!everything.contains(secret), "{secret} in {everything}");
        }
        assert!(everything.contains("enc(m1.c1,5)"));
        let del = delete_machine("m1");
        assert!(del.iter().all(|(sql, args)| highest_placeholder(sql) == args.len() && args == &[t("m1")]));
        assert!(del.last().unwrap().0.contains("FROM tenants"), "the tenant goes last");
    }
}
