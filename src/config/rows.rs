//! Inserts of configuration rows, built once for every writer: the admin API
//! (`platform::repo`) and cloud sync (`sync::store`, inside one D1 batch) store connections and
//! keys through the same statements, so a column added later cannot be forgotten by one of them.

use super::key_access::KeyAccess;
use super::snapshot::ConnectionRecord;
use crate::limits::KeyLimits;
use crate::metering::sql::SqlValue;
use serde::Serialize;

/// Every table with a tenant's configuration (its usage and logs are not configuration).
pub const CONFIG_TABLES: &[&str] = &[
    "provider_connections",
    "api_keys",
    "settings",
    "combos",
    "model_aliases",
    "fallback_chains",
    "provider_nodes",
    "provider_models",
    "prices",
];

/// SQL and its arguments.
pub type Statement = (String, Vec<SqlValue>);

/// A `limits` column: the limits as JSON, NULL for none.
pub fn limits_column<T: Serialize + Default + PartialEq>(limits: &T) -> SqlValue {
    if *limits == T::default() {
        SqlValue::Null
    } else {
        SqlValue::Text(serde_json::to_string(limits).unwrap_or_default())
    }
}

/// A provider connection of `tenant`.
pub fn insert_connection(tenant: &str, c: &ConnectionRecord) -> Statement {
    let sql = "INSERT INTO provider_connections (id, tenant_id, provider, name, priority, is_active, base_url, \
               api_key_enc, api_key_hint, created_at, updated_at, limits) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    let args = vec![
        SqlValue::text(&c.id),
        SqlValue::text(tenant),
        SqlValue::text(&c.provider),
        SqlValue::text(&c.name),
        SqlValue::Int(c.priority),
        SqlValue::Int(c.is_active.into()),
        SqlValue::opt_text(c.base_url.as_deref()),
        SqlValue::text(&c.api_key_enc),
        SqlValue::text(&c.api_key_hint),
        SqlValue::Int(c.created_at),
        SqlValue::Int(c.updated_at),
        limits_column(&c.limits),
    ];
    (sql.into(), args)
}

/// A gateway API key of `tenant`, stored by its hash.
pub struct NewKeyRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub created_at: i64,
    pub limits: &'a KeyLimits,
    pub access: &'a KeyAccess,
}

pub fn insert_api_key(tenant: &str, k: &NewKeyRow) -> Statement {
    let sql = "INSERT INTO api_keys (id, tenant_id, name, key_hash, key_prefix, created_at, limits, access) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    let args = vec![
        SqlValue::text(k.id),
        SqlValue::text(tenant),
        SqlValue::text(k.name),
        SqlValue::text(k.key_hash),
        SqlValue::text(k.key_prefix),
        SqlValue::Int(k.created_at),
        limits_column(k.limits),
        limits_column(k.access),
    ];
    (sql.into(), args)
}

/// The highest `?n` of a statement, to check it against its arguments in tests.
#[cfg(test)]
pub fn highest_placeholder(sql: &str) -> usize {
    (1..=20).rev().find(|i| sql.contains(&format!("?{i}"))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_has_its_argument_and_no_limits_is_null() {
        let c = ConnectionRecord {
            id: "c".into(),
            provider: "openai".into(),
            name: "n".into(),
            priority: 1,
            is_active: true,
            base_url: None,
            api_key_enc: "enc".into(),
            api_key_hint: "…abcd".into(),
            created_at: 1,
            updated_at: 2,
            limits: Default::default(),
        };
        let (sql, args) = insert_connection("t", &c);
        assert_eq!(sql.matches('?').count(), args.len());
        assert_eq!(args.last(), Some(&SqlValue::Null));
        let limits = KeyLimits { requests_per_minute: Some(10), ..Default::default() };
        let access = KeyAccess::default();
        let key = NewKeyRow {
            id: "k",
            name: "n",
            key_hash: "h",
            key_prefix: "sk-",
            created_at: 3,
            limits: &limits,
            access: &access,
        };
        let (sql, args) = insert_api_key("t", &key);
        assert_eq!(sql.matches('?').count(), args.len());
        assert_eq!(args[7], SqlValue::Null, "an open key stores no access");
        let SqlValue::Text(json) = &args[6] else { panic!("limits not stored") };
        assert_eq!(serde_json::from_str::<KeyLimits>(json).unwrap(), limits);
    }
}
