//! The hot-path view of one tenant, rebuilt from D1 after every admin write and cached in KV.
//!
//! A snapshot in KV may have been written by an older or a newer version of the gateway (during a
//! deploy, or after a rollback), so it is read leniently: unknown fields are ignored and missing ones
//! take their defaults. One that still does not decode is not an error: [`TenantSnapshot::from_stored`]
//! gives `None` and the caller rebuilds it from D1.

use super::Settings;
use crate::limits::ConnectionLimits;
use crate::pricing::{self, Price, PriceOverride};
use crate::providers::{Catalog, ProviderNode};
use crate::routing::alias::{Aliases, FallbackChains};
use crate::routing::combo::Combo;
use serde::{Deserialize, Serialize};
use std::cell::OnceCell;
use std::collections::BTreeMap;

/// A provider account as stored. The credential is only ever held encrypted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub id: String,
    pub provider: String,
    pub name: String,
    /// Lower is preferred.
    pub priority: i64,
    pub is_active: bool,
    /// Overrides the provider's default base URL (already validated).
    pub base_url: Option<String>,
    /// `security::crypto` ciphertext of the provider API key.
    pub api_key_enc: String,
    /// Last characters of the key, for display.
    pub api_key_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Requests per minute, minimum gap, concurrency (`limits::connection`); empty for none.
    #[serde(default)]
    pub limits: ConnectionLimits,
}

/// A connection as the management API shows it and a backup archive keeps it: everything but the
/// credential, of which only the hint is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub id: String,
    pub provider: String,
    pub name: String,
    pub priority: i64,
    pub is_active: bool,
    pub base_url: Option<String>,
    pub api_key_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub limits: ConnectionLimits,
}

impl From<&ConnectionRecord> for ConnectionView {
    fn from(c: &ConnectionRecord) -> Self {
        ConnectionView {
            id: c.id.clone(),
            provider: c.provider.clone(),
            name: c.name.clone(),
            priority: c.priority,
            is_active: c.is_active,
            base_url: c.base_url.clone(),
            api_key_hint: c.api_key_hint.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            limits: c.limits,
        }
    }
}

/// What a gateway API key (looked up by its hash) grants: the tenant it belongs to, and its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub tenant: String,
    pub key_id: String,
    /// Empty for a key without limits (and in entries written before limits existed).
    #[serde(default)]
    pub limits: crate::limits::KeyLimits,
    /// Enabled, expiry and scopes (open in entries written before they existed).
    #[serde(default)]
    pub access: super::key_access::KeyAccess,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantSnapshot {
    pub tenant: String,
    /// When this snapshot was built (ms since epoch); newer wins.
    pub version: i64,
    pub connections: Vec<ConnectionRecord>,
    #[serde(default, deserialize_with = "lenient_settings")]
    pub settings: Settings,
    #[serde(default)]
    pub combos: Vec<Combo>,
    #[serde(default)]
    pub aliases: Aliases,
    #[serde(default)]
    pub fallback_chains: FallbackChains,
    /// User-defined providers.
    #[serde(default)]
    pub nodes: Vec<ProviderNode>,
    /// Extra model ids per provider id.
    #[serde(default)]
    pub custom_models: BTreeMap<String, Vec<String>>,
    /// The tenant's own prices, replacing the default table's rows (`PUT /api/pricing`).
    #[serde(default)]
    pub prices: Vec<PriceOverride>,
    /// The tenant's provider catalog, built once per snapshot (it lives as long as the snapshot).
    #[serde(skip)]
    pub(crate) catalog: OnceCell<Catalog>,
}

/// Settings in a snapshot, read leniently; but a guard that does not decode here makes the whole
/// snapshot undecodable, so it is rebuilt from D1, the source of truth, which decides whether the
/// guard is unreadable (a snapshot built from D1 carries that decision as `unreadable`).
fn lenient_settings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Settings, D::Error> {
    let (settings, dropped) = Settings::from_stored(&serde_json::Value::deserialize(d)?);
    match dropped.iter().find(|k| Settings::GUARDS.contains(&k.as_str()) || *k == Settings::NOT_AN_OBJECT) {
        Some(k) => Err(serde::de::Error::custom(format!("setting `{k}` does not decode"))),
        None => Ok(settings),
    }
}

impl TenantSnapshot {
    /// The snapshot of `tenant` in a stored document, or `None` when the document does not decode
    /// or belongs to another tenant (the caller then rebuilds it from D1).
    pub fn from_stored(json: &str, tenant: &str) -> Option<TenantSnapshot> {
        serde_json::from_str::<TenantSnapshot>(json).ok().filter(|s| s.tenant == tenant)
    }

    /// Built-in providers (with custom model ids) and the tenant's provider nodes.
    pub fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| Catalog::new(&self.nodes, &self.custom_models))
    }

    /// What `model` costs at `provider` (an id or alias) for this tenant: its own price, else the
    /// default table's. `openai-responses` shares OpenAI's rows, overrides included.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        let id = self.catalog().find(provider).map_or(provider, |p| &*p.id);
        let own = |id: &str| self.prices.iter().find(|o| o.provider == id && o.model == model).map(|o| o.price);
        own(id).or_else(|| own(pricing::shared_rows(id))).or_else(|| pricing::price(id, model))
    }

    pub fn combo(&self, name: &str) -> Option<&Combo> {
        self.combos.iter().find(|c| c.name == name)
    }

    /// Active connections of `provider`, most preferred first (priority, then age).
    pub fn connections_for(&self, provider: &str) -> Vec<&ConnectionRecord> {
        let mut v: Vec<_> = self.connections.iter().filter(|c| c.is_active && c.provider == provider).collect();
        v.sort_by(|a, b| (a.priority, a.created_at, &a.id).cmp(&(b.priority, b.created_at, &b.id)));
        v
    }

    /// Provider ids with at least one active connection, ordered by their best connection's priority.
    pub fn connected_providers(&self) -> Vec<&str> {
        let mut best: Vec<(&str, i64)> = Vec::new();
        for c in self.connections.iter().filter(|c| c.is_active) {
            match best.iter_mut().find(|(p, _)| *p == c.provider) {
                Some(entry) => entry.1 = entry.1.min(c.priority),
                None => best.push((c.provider.as_str(), c.priority)),
            }
        }
        best.sort_by_key(|(_, prio)| *prio);
        best.into_iter().map(|(p, _)| p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: &str, provider: &str, priority: i64, active: bool) -> ConnectionRecord {
        ConnectionRecord {
            id: id.into(),
            provider: provider.into(),
            name: id.into(),
            priority,
            is_active: active,
            base_url: None,
            api_key_enc: String::new(),
            api_key_hint: String::new(),
            created_at: 0,
            updated_at: 0,
            limits: ConnectionLimits::default(),
        }
    }

    /// A snapshot written today, as JSON.
    fn stored_today() -> serde_json::Value {
        let mut s = TenantSnapshot {
            tenant: "t".into(),
            version: 3,
            connections: vec![conn("a", "openai", 1, true)],
            settings: Settings { sticky_limit: 5, ..Settings::default() },
            ..Default::default()
        };
        s.combos =
            vec![serde_json::from_value(serde_json::json!({"name": "c", "targets": [{"model": "openai/gpt-4o"}]}))
                .unwrap()];
        s.nodes = vec![serde_json::from_value(
            serde_json::json!({"id": "lab", "format": "openai", "base_url": "https://lab.example.com/v1"}),
        )
        .unwrap()];
        s.aliases = Aliases::new([("fast", "openai/gpt-4o-mini")]);
        s.custom_models = BTreeMap::from([("openai".to_string(), vec!["gpt-9".to_string()])]);
        serde_json::to_value(&s).unwrap()
    }

    #[test]
    fn reads_a_snapshot_written_today() {
        let json = stored_today().to_string();
        let s = TenantSnapshot::from_stored(&json, "t").unwrap();
        assert_eq!((s.version, s.settings.sticky_limit, s.combos.len(), s.nodes.len()), (3, 5, 1, 1));
        assert_eq!(serde_json::to_value(&s).unwrap(), stored_today(), "nothing lost in a round trip");
        assert!(TenantSnapshot::from_stored(&json, "other").is_none(), "another tenant's document");
    }

    #[test]
    fn a_missing_field_takes_its_default() {
        // Written before a setting (and the newer collections) existed.
        let mut v = stored_today();
        v["settings"].as_object_mut().unwrap().remove("sticky_limit");
        for key in ["combos", "aliases", "fallback_chains", "nodes", "custom_models"] {
            v.as_object_mut().unwrap().remove(key);
        }
        let s = TenantSnapshot::from_stored(&v.to_string(), "t").unwrap();
        assert_eq!(s.settings, Settings::default());
        assert!(s.combos.is_empty() && s.nodes.is_empty() && s.custom_models.is_empty());
        assert_eq!(s.connections.len(), 1);
        v.as_object_mut().unwrap().remove("settings");
        assert_eq!(TenantSnapshot::from_stored(&v.to_string(), "t").unwrap().settings, Settings::default());
    }

    #[test]
    fn unknown_fields_are_ignored_at_every_level() {
        let mut v = stored_today();
        let extra = serde_json::json!({"from": "a newer version"});
        v["new_top_level"] = extra.clone();
        v["settings"]["new_setting"] = extra.clone();
        v["settings"]["account_strategy"] = "a_newer_strategy".into();
        v["connections"][0]["new_connection_field"] = extra.clone();
        v["combos"][0]["new_combo_field"] = extra.clone();
        v["combos"][0]["targets"][0]["new_target_field"] = extra.clone();
        v["combos"][0]["config"]["new_config_field"] = extra.clone();
        v["nodes"][0]["new_node_field"] = extra;
        let s = TenantSnapshot::from_stored(&v.to_string(), "t").unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), stored_today());
    }

    #[test]
    fn a_snapshot_that_does_not_decode_is_none() {
        let mut broken_node = stored_today();
        broken_node["nodes"][0]["format"] = "carrier_pigeon".into();
        let mut no_tenant = stored_today();
        no_tenant.as_object_mut().unwrap().remove("tenant");
        for json in [
            String::new(),
            "garbage".into(),
            "{".into(),
            "[]".into(),
            "null".into(),
            "{}".into(),
            r#"{"tenant":"t","version":"x","connections":[]}"#.into(),
            broken_node.to_string(),
            no_tenant.to_string(),
        ] {
            assert!(TenantSnapshot::from_stored(&json, "t").is_none(), "{json}");
        }
    }

    #[test]
    fn a_snapshot_whose_guard_does_not_decode_is_rebuilt_but_a_carried_mark_is_kept() {
        let mut damaged = stored_today();
        damaged["settings"]["v1_ip_allow"] = "10.0.0.0/8".into();
        assert!(TenantSnapshot::from_stored(&damaged.to_string(), "t").is_none(), "rebuilt from D1, which decides");
        let mut whole = stored_today();
        whole["settings"] = "garbled".into();
        assert!(TenantSnapshot::from_stored(&whole.to_string(), "t").is_none());
        // D1's decision, carried by a snapshot built from it, is read as it is.
        let mut marked = stored_today();
        marked["settings"]["unreadable"] = serde_json::json!(["v1_ip_allow"]);
        let s = TenantSnapshot::from_stored(&marked.to_string(), "t").unwrap();
        assert_eq!(s.settings.unreadable, ["v1_ip_allow"]);
        // A damaged setting that is no guard still falls back alone.
        let mut other = stored_today();
        other["settings"]["sticky_limit"] = "many".into();
        assert!(TenantSnapshot::from_stored(&other.to_string(), "t").is_some());
    }

    proptest::proptest! {
        /// Any field may be missing except what identifies the snapshot and its connections.
        #[test]
        fn only_identity_and_connections_are_required(keep in proptest::collection::vec(proptest::bool::ANY, 16)) {
            let today = stored_today();
            let mut v = today.clone();
            let keys: Vec<String> = today.as_object().unwrap().keys().cloned().collect();
            proptest::prop_assert!(keys.len() <= keep.len(), "every stored field is covered");
            for (key, keep) in keys.iter().zip(&keep) {
                if !keep {
                    v.as_object_mut().unwrap().remove(key);
                }
            }
            let required = ["tenant", "version", "connections"].iter().all(|k| v.get(*k).is_some());
            proptest::prop_assert_eq!(TenantSnapshot::from_stored(&v.to_string(), "t").is_some(), required);
        }
    }

    #[test]
    fn orders_connections_and_providers_by_priority() {
        let s = TenantSnapshot {
            tenant: "t".into(),
            version: 1,
            connections: vec![
                conn("a", "openai", 5, true),
                conn("b", "openai", 1, true),
                conn("c", "groq", 3, true),
                conn("d", "deepseek", 0, false),
            ],
            settings: Settings::default(),
            ..Default::default()
        };
        let ids: Vec<_> = s.connections_for("openai").iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(s.connected_providers(), ["openai", "groq"]);
        assert!(s.connections_for("deepseek").is_empty());
    }

    #[test]
    fn a_tenant_price_replaces_the_default_and_survives_the_cache() {
        let own = Price { input: 9.0, output: 9.5, cached_input: None, reasoning: Some(20.0) };
        let s = TenantSnapshot {
            prices: vec![
                PriceOverride { provider: "openai".into(), model: "gpt-4o".into(), price: own },
                PriceOverride { provider: "deepseek".into(), model: "my-model".into(), price: own },
            ],
            ..Default::default()
        };
        assert_eq!(s.price("openai", "gpt-4o"), Some(own));
        assert_eq!(s.price("oai", "gpt-4o"), Some(own), "aliases resolve");
        assert_eq!(s.price("openai-responses", "gpt-4o"), Some(own), "responses share openai's rows");
        assert_eq!(s.price("ds", "my-model"), Some(own), "unlisted models can be priced");
        assert_eq!(s.price("openai", "gpt-4o-mini"), pricing::price("openai", "gpt-4o-mini"));
        assert_eq!(s.price("groq", "gpt-4o"), None);
        let back: TenantSnapshot = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.price("openai", "gpt-4o"), Some(own));
        // Snapshots cached before prices existed still load.
        let old: TenantSnapshot =
            serde_json::from_str(r#"{"tenant":"t","version":1,"connections":[],"settings":{}}"#).unwrap();
        assert!(old.prices.is_empty());
    }
}
