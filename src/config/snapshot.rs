//! The hot-path view of one tenant, rebuilt from D1 after every admin write and cached in KV.

use super::Settings;
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
}

/// What a gateway API key (looked up by its hash) grants: the tenant it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub tenant: String,
    pub key_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantSnapshot {
    pub tenant: String,
    /// When this snapshot was built (ms since epoch); newer wins.
    pub version: i64,
    pub connections: Vec<ConnectionRecord>,
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

impl TenantSnapshot {
    /// Built-in providers (with custom model ids) and the tenant's provider nodes.
    pub fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| Catalog::new(&self.nodes, &self.custom_models))
    }

    /// What `model` costs at `provider` (an id or alias) for this tenant: its own price, else the
    /// default table's. `openai-responses` shares OpenAI's rows, overrides included.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        let id = self.catalog().find(provider).map_or(provider, |p| p.id);
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
