//! The archive: `{"format": "omniroute-edge/backup", "version": 1, "tenant", "config", "secrets"}`.
//!
//! `config` holds everything but secrets; each section is in a canonical order (by id, name or
//! model; aliases in definition order, because that order breaks ties between patterns), so the same
//! configuration always exports to the same bytes. An archive from a client is read strictly: an
//! unknown version or field, a duplicate id or an invalid entry is refused (400) naming the field
//! (`config.combos[2].targets`), through the same validators as the admin API.

use super::secrets::Sealed;
use crate::config::input::{self, check_name, check_priority};
use crate::config::key_access::KeyAccess;
use crate::config::{valid_tenant_id, Settings};
use crate::error::{GatewayError, Result};
use crate::limits::{ConnectionLimits, KeyLimits};
use crate::net_policy::validate_base_url;
use crate::pricing::{PriceInput, PriceOverride, PricesInput};
use crate::providers::{self, node, Catalog, ProviderNode};
use crate::routing::alias::{self, Alias, Aliases};
use crate::routing::combo::{self, Combo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const FORMAT: &str = "omniroute-edge/backup";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    pub format: String,
    pub version: u32,
    /// The tenant it was exported from (an import may target another one).
    pub tenant: String,
    pub config: Config,
    /// Provider credentials and key hashes, sealed with a passphrase; `null` when left out.
    pub secrets: Option<Sealed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub settings: Settings,
    pub connections: Vec<Connection>,
    pub api_keys: Vec<ApiKey>,
    pub combos: Vec<Combo>,
    pub aliases: Vec<Alias>,
    pub fallback_chains: Vec<Chain>,
    pub provider_nodes: Vec<ProviderNode>,
    pub provider_models: Vec<ProviderModels>,
    pub prices: Vec<PriceOverride>,
}

/// A provider connection without its credential (as the management API shows it).
pub use crate::config::ConnectionView as Connection;

/// A gateway key's metadata (revoked keys too: their usage stays attributed to them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub key_prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub limits: KeyLimits,
    pub access: KeyAccess,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    pub model: String,
    pub chain: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderModels {
    pub provider: String,
    pub models: Vec<String>,
}

impl Archive {
    pub fn new(tenant: &str, config: Config, secrets: Option<Sealed>) -> Archive {
        Archive { format: FORMAT.into(), version: VERSION, tenant: tenant.into(), config: config.canonical(), secrets }
    }

    /// The archive as exported: compact JSON, fields in declaration order, sections canonical.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an archive from a client: the format and version first (so a newer archive is named
    /// as such rather than as a list of unknown fields), then every field strictly.
    pub fn parse(raw: &Value) -> Result<Archive> {
        let archive = Self::decode(raw)?;
        // Serializing writes every field the types have, so a key of the input missing there is unknown.
        let known = serde_json::to_value(&archive).map_err(|e| GatewayError::internal(e.to_string()))?;
        if let Some(path) = input::unknown_key(raw, &known) {
            return Err(input::unknown_key_error(&path));
        }
        Ok(archive)
    }

    /// Reads an automatic backup the gateway stored itself, leniently like all stored configuration
    /// (another version of the gateway may have written it): unknown fields are ignored.
    pub fn from_stored(raw: &Value) -> Result<Archive> {
        Self::decode(raw)
    }

    fn decode(raw: &Value) -> Result<Archive> {
        let Some(obj) = raw.as_object() else {
            return Err(bad("archive", "A backup archive is a JSON object.".into()));
        };
        if obj.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(bad("format", format!("This is not a backup archive: `format` must be `{FORMAT}`.")));
        }
        match obj.get("version").and_then(Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(bad(
                    "version",
                    format!("Archive version {v} is not supported; this gateway reads version {VERSION}."),
                )
                .with_code("unsupported_version"))
            }
            None => return Err(bad("version", "`version` must be a number.".into())),
        }
        let archive: Archive = serde_json::from_value(raw.clone())
            .map_err(|e| GatewayError::invalid_request(format!("Invalid backup archive: {e}")))?;
        if !valid_tenant_id(&archive.tenant) {
            return Err(bad("tenant", "`tenant` is not a tenant id.".into()));
        }
        Ok(archive)
    }
}

fn bad(param: &str, message: String) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

/// Puts `path` in front of an error's field: `targets` of combo 2 becomes `config.combos[2].targets`.
pub fn at(path: &str) -> impl Fn(GatewayError) -> GatewayError + '_ {
    move |e| {
        let param = match &e.param {
            Some(p) if p.starts_with('[') => format!("{path}{p}"),
            Some(p) => format!("{path}.{p}"),
            None => path.to_string(),
        };
        let message = format!("{path}: {}", e.message);
        GatewayError { message, ..e.with_param(&param) }
    }
}

/// Refuses a second entry with the same key in a section.
fn unique<'a>(section: &str, keys: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = BTreeSet::new();
    for (i, k) in keys.enumerate() {
        if !seen.insert(k) {
            return Err(bad(&format!("config.{section}[{i}]"), format!("config.{section}[{i}]: `{k}` appears twice."))
                .with_code("duplicate"));
        }
    }
    Ok(())
}

/// Ids of connections and keys: printable, no whitespace or `/` (ids go into AAD `tenant/id`).
fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control() || c.is_whitespace() || c == '/') {
        return Err(bad("id", "`id` must be 1 to 200 printable characters without spaces or `/`.".into()));
    }
    Ok(())
}

impl Config {
    /// Sorted by id, name or model; aliases keep their order (it decides ties between patterns).
    pub fn canonical(mut self) -> Config {
        self.connections.sort_by(|a, b| a.id.cmp(&b.id));
        self.api_keys.sort_by(|a, b| a.id.cmp(&b.id));
        self.combos.sort_by(|a, b| a.name.cmp(&b.name));
        self.fallback_chains.sort_by(|a, b| a.model.cmp(&b.model));
        self.provider_nodes.sort_by(|a, b| a.id.cmp(&b.id));
        self.provider_models.sort_by(|a, b| a.provider.cmp(&b.provider));
        self.prices.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        self
    }

    /// How many entries each section holds (answers and the backup list).
    pub fn counts(&self) -> Value {
        serde_json::json!({
            "connections": self.connections.len(), "api_keys": self.api_keys.len(), "combos": self.combos.len(),
            "aliases": self.aliases.len(), "fallback_chains": self.fallback_chains.len(),
            "provider_nodes": self.provider_nodes.len(), "provider_models": self.provider_models.len(),
            "prices": self.prices.len(),
        })
    }

    /// Checks every entry as the admin API would before storing it, and that no section holds
    /// a key twice; returns the configuration normalised (provider aliases as ids) and canonical.
    pub fn validate(mut self, allow_private: bool) -> Result<Config> {
        self.settings.validate().map_err(at("config.settings"))?;
        for (i, n) in std::mem::take(&mut self.provider_nodes).into_iter().enumerate() {
            let n = n.validate(allow_private).map_err(at(&format!("config.provider_nodes[{i}]")))?;
            self.provider_nodes.push(n);
        }
        unique("provider_nodes", self.provider_nodes.iter().map(|n| n.id.as_str()))?;
        let catalog = Catalog::new(&self.provider_nodes, &BTreeMap::new());
        let provider = |p: &str, path: &str| -> Result<String> {
            catalog
                .find(p)
                .map(|spec| spec.id.to_string())
                .ok_or_else(|| at(path)(bad("provider", format!("Unknown provider `{p}`."))))
        };
        for (i, m) in self.provider_models.iter_mut().enumerate() {
            let path = format!("config.provider_models[{i}]");
            node::validate_models(&m.provider, &m.models).map_err(at(&path))?;
            m.provider = provider(&m.provider, &path)?;
        }
        unique("provider_models", self.provider_models.iter().map(|m| m.provider.as_str()))?;
        for (i, c) in self.connections.iter_mut().enumerate() {
            let path = format!("config.connections[{i}]");
            let wrap = at(&path);
            check_id(&c.id).map_err(&wrap)?;
            c.provider = provider(&c.provider, &path)?;
            c.name = check_name(&c.name).map_err(&wrap)?;
            check_priority(c.priority).map_err(&wrap)?;
            c.base_url =
                c.base_url.as_deref().map(|u| validate_base_url(u, allow_private)).transpose().map_err(&wrap)?;
            // A connection exported while its stored limits could not be read stays out of routing.
            c.limits = if c.limits.unreadable {
                ConnectionLimits::unreadable()
            } else {
                c.limits.validate().map_err(&wrap)?
            };
        }
        unique("connections", self.connections.iter().map(|c| c.id.as_str()))?;
        for (i, k) in self.api_keys.iter_mut().enumerate() {
            let wrap = at_owned(format!("config.api_keys[{i}]"));
            check_id(&k.id).map_err(&wrap)?;
            k.name = check_name(&k.name).map_err(&wrap)?;
            if k.key_prefix.is_empty() || k.key_prefix.len() > 64 || k.key_prefix.chars().any(char::is_control) {
                return Err(wrap(bad("key_prefix", "`key_prefix` must be 1 to 64 printable characters.".into())));
            }
            k.limits = k.limits.validate().map_err(&wrap)?;
            // A key exported while its stored access could not be read stays refused when restored.
            k.access = if k.access.unreadable {
                KeyAccess::unreadable()
            } else {
                k.access.clone().validate().map_err(&wrap)?
            };
        }
        unique("api_keys", self.api_keys.iter().map(|k| k.id.as_str()))?;
        for (i, c) in self.combos.iter().enumerate() {
            let wrap = at_owned(format!("config.combos[{i}]"));
            c.validate().map_err(&wrap)?;
            if providers::find(&c.name).is_some() {
                return Err(wrap(bad("name", format!("`{}` is a provider name.", c.name))));
            }
        }
        unique("combos", self.combos.iter().map(|c| c.name.as_str()))?;
        // A cycle is named at the combo it starts from.
        if let Some(i) = combo::find_cycle(&self.combos).and_then(|cy| self.combos.iter().position(|c| c.name == cy[0]))
        {
            combo::refuse_cycles(&self.combos, "targets").map_err(at(&format!("config.combos[{i}]")))?;
        }
        for (i, a) in self.aliases.iter().enumerate() {
            alias::validate_alias(&a.pattern, &a.target).map_err(at(&format!("config.aliases[{i}]")))?;
        }
        unique("aliases", self.aliases.iter().map(|a| a.pattern.as_str()))?;
        // A loop is named at the alias of its first step.
        let aliases = Aliases::new(self.aliases.iter().map(|a| (a.pattern.clone(), a.target.clone())));
        if let Some(i) = aliases.find_loop().and_then(|cy| self.aliases.iter().position(|a| a.target == cy[1])) {
            aliases.refuse_loops("target").map_err(at(&format!("config.aliases[{i}]")))?;
        }
        for (i, c) in self.fallback_chains.iter().enumerate() {
            alias::validate_chain(&c.model, &c.chain).map_err(at(&format!("config.fallback_chains[{i}]")))?;
        }
        unique("fallback_chains", self.fallback_chains.iter().map(|c| c.model.as_str()))?;
        if !self.prices.is_empty() {
            let keys: Vec<String> = self.prices.iter().map(|p| format!("{}/{}", p.provider, p.model)).collect();
            unique("prices", keys.iter().map(String::as_str))?;
            let rows = self.prices.iter().map(|p| PriceInput {
                provider: p.provider.clone(),
                model: p.model.clone(),
                price: p.price,
                unknown: BTreeMap::new(),
            });
            self.prices = PricesInput { prices: rows.collect() }.validate(&catalog).map_err(at("config"))?;
        }
        Ok(self.canonical())
    }
}

fn at_owned(path: String) -> impl Fn(GatewayError) -> GatewayError {
    move |e| at(&path)(e)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::routing::combo::ComboTarget;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Config {
        Config {
            settings: Settings { sticky_limit: 5, system_prompt: "Be brief.".into(), ..Settings::default() },
            connections: vec![Connection {
                id: "conn_b".into(),
                provider: "openai".into(),
                name: "main".into(),
                priority: 10,
                is_active: true,
                base_url: Some("https://api.example.com/v1".into()),
                api_key_hint: "…1234".into(),
                created_at: 1,
                updated_at: 2,
                limits: crate::limits::ConnectionLimits { max_concurrent: Some(2), ..Default::default() },
            }],
            api_keys: vec![ApiKey {
                id: "key_a".into(),
                name: "ci".into(),
                key_prefix: "sk-oe-abcd".into(),
                created_at: 3,
                revoked_at: None,
                limits: KeyLimits { requests_per_minute: Some(10), ..Default::default() },
                access: KeyAccess::default(),
            }],
            combos: vec![Combo {
                name: "coding".into(),
                targets: vec![ComboTarget::new("openai/gpt-4o")],
                strategy: Default::default(),
                config: Default::default(),
            }],
            aliases: vec![
                Alias { pattern: "gpt-*".into(), target: "coding".into() },
                Alias { pattern: "fast".into(), target: "openai/gpt-4o-mini".into() },
            ],
            fallback_chains: vec![Chain { model: "openai/gpt-4o".into(), chain: vec!["mylab/qwen".into()] }],
            provider_nodes: vec![ProviderNode {
                id: "mylab".into(),
                name: None,
                format: node::NodeFormat::Openai,
                base_url: "https://lab.example.com/v1".into(),
                chat_path: None,
                headers: BTreeMap::new(),
                models: vec!["qwen".into()],
            }],
            provider_models: vec![ProviderModels { provider: "openai".into(), models: vec!["gpt-x".into()] }],
            prices: vec![PriceOverride {
                provider: "openai".into(),
                model: "gpt-x".into(),
                price: crate::pricing::Price { input: 0.1, output: 0.4, cached_input: None, reasoning: Some(1.5) },
            }],
        }
    }

    fn parse_json(json: &str) -> Result<Archive> {
        Archive::parse(&serde_json::from_str(json).unwrap())
    }

    fn archive_json() -> Value {
        serde_json::from_str(&Archive::new("default", sample(), None).to_json()).unwrap()
    }

    #[test]
    fn a_valid_archive_parses_validates_and_exports_the_same_bytes() {
        let json = Archive::new("default", sample(), None).to_json();
        let back = parse_json(&json).unwrap();
        let valid = back.config.clone().validate(false).unwrap();
        assert_eq!(Archive::new("default", valid, None).to_json(), json);
    }

    #[test]
    fn refuses_other_formats_versions_and_unknown_fields() {
        let mut v = archive_json();
        v["version"] = 2.into();
        let e = Archive::parse(&v).unwrap_err();
        assert_eq!(
            (e.status, e.param.as_deref(), e.code.as_deref()),
            (400, Some("version"), Some("unsupported_version"))
        );
        let mut v = archive_json();
        v["format"] = "something/else".into();
        assert_eq!(Archive::parse(&v).unwrap_err().param.as_deref(), Some("format"));
        let mut v = archive_json();
        v["config"]["combos"][0]["targets"][0]["wieght"] = 2.into();
        assert_eq!(Archive::parse(&v).unwrap_err().param.as_deref(), Some("config.combos[0].targets[0].wieght"));
        let mut v = archive_json();
        v["config"]["extra"] = 1.into();
        assert_eq!(Archive::parse(&v).unwrap_err().param.as_deref(), Some("config.extra"));
        assert!(Archive::from_stored(&v).is_ok(), "what the gateway stored itself is read leniently");
        let mut v = archive_json();
        v["config"].as_object_mut().unwrap().remove("combos");
        assert!(Archive::parse(&v).unwrap_err().message.contains("combos"));
        assert!(parse_json("[]").is_err());
    }

    #[test]
    fn validation_names_the_entry_at_fault() {
        type Change = fn(&mut Config);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.combos[0].targets.clear(), "config.combos[0].targets"),
            (|c| c.combos[0].name = "openai".into(), "config.combos[0].name"),
            (|c| c.aliases[1].target = "fast".into(), "config.aliases[1].target"),
            (|c| c.fallback_chains[0].chain.clear(), "config.fallback_chains[0].chain"),
            (|c| c.provider_nodes[0].id = "openai".into(), "config.provider_nodes[0].id"),
            (|c| c.connections[0].provider = "nope".into(), "config.connections[0].provider"),
            (|c| c.connections[0].priority = -1, "config.connections[0].priority"),
            (|c| c.connections[0].id = "a/b".into(), "config.connections[0].id"),
            (|c| c.api_keys[0].limits.requests_per_minute = Some(0), "config.api_keys[0].limits.requests_per_minute"),
            (|c| c.prices[0].price.input = -1.0, "config.prices[0].input"),
            (|c| c.settings.sticky_limit = 0, "config.settings.sticky_limit"),
            (|c| c.provider_models[0].provider = "nope".into(), "config.provider_models[0].provider"),
            (|c| c.aliases.push(c.aliases[0].clone()), "config.aliases[2]"),
            (|c| c.connections.push(c.connections[0].clone()), "config.connections[1]"),
            (|c| c.combos[0].targets.push(ComboTarget::new("coding")), "config.combos[0].targets"),
            (
                |c| {
                    c.aliases[1].target = "quick".into();
                    c.aliases.push(Alias { pattern: "quick".into(), target: "fast".into() });
                },
                "config.aliases[1].target",
            ),
        ];
        for (change, param) in cases {
            let mut c = sample();
            change(&mut c);
            let e = c.validate(false).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{} {:?}", e.message, e.param);
            assert!(e.message.starts_with("config"), "{}", e.message);
        }
    }

    #[test]
    fn a_key_exported_unreadable_is_restored_refused() {
        let mut c = sample();
        c.api_keys[0].access = KeyAccess::unreadable();
        let json = serde_json::to_value(Archive::new("default", c, None)).unwrap();
        let restored = Archive::parse(&json).unwrap().config.validate(false).unwrap();
        assert_eq!(restored.api_keys[0].access, KeyAccess::unreadable());
    }

    #[test]
    fn a_connection_exported_with_unreadable_limits_is_restored_out_of_routing() {
        let mut c = sample();
        c.connections[0].limits = ConnectionLimits::unreadable();
        let json = serde_json::to_value(Archive::new("default", c, None)).unwrap();
        assert_eq!(json["config"]["connections"][0]["limits"]["unreadable"], true);
        let restored = Archive::parse(&json).unwrap().config.validate(false).unwrap();
        assert_eq!(restored.connections[0].limits, ConnectionLimits::unreadable());
    }

    #[test]
    fn private_base_urls_need_the_switch() {
        let mut c = sample();
        c.connections[0].base_url = Some("http://127.0.0.1:9/v1".into());
        assert!(c.clone().validate(false).is_err());
        assert!(c.validate(true).is_ok());
    }

    #[test]
    fn provider_aliases_become_ids() {
        let mut c = sample();
        c.connections[0].provider = "oai".into();
        assert_eq!(c.validate(false).unwrap().connections[0].provider, "openai");
    }

    fn arb_name() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9_-]{0,11}"
    }

    prop_compose! {
        fn arb_config()(
            conns in proptest::collection::btree_map(arb_name(), (0i64..10_000, any::<bool>(), 0i64..1 << 50), 0..4),
            keys in proptest::collection::btree_map(arb_name(), (proptest::option::of(1u32..1000), proptest::option::of(0i64..1 << 50)), 0..4),
            aliases in proptest::collection::btree_map(arb_name(), arb_name(), 0..4),
            prices in proptest::collection::btree_map(arb_name(), (0.0f64..10_000.0, 0.0f64..10_000.0), 0..4),
            prompt in "[ -~]{0,40}",
        ) -> Config {
            Config {
                settings: Settings { system_prompt: prompt, ..Settings::default() },
                connections: conns.into_iter().map(|(id, (priority, is_active, at))| Connection {
                    id, provider: "openai".into(), name: "n".into(), priority, is_active, base_url: None,
                    api_key_hint: "…abcd".into(), created_at: at, updated_at: at + 1, limits: Default::default(),
                }).collect(),
                api_keys: keys.into_iter().map(|(id, (rpm, revoked_at))| ApiKey {
                    id, name: "k".into(), key_prefix: "sk-oe-1234".into(), created_at: 5, revoked_at,
                    limits: KeyLimits { requests_per_minute: rpm, ..Default::default() }, access: KeyAccess::default(),
                }).collect(),
                combos: vec![],
                aliases: aliases.into_iter().filter(|(p, t)| p != t)
                    .map(|(pattern, target)| Alias { pattern, target }).collect(),
                fallback_chains: vec![],
                provider_nodes: vec![],
                provider_models: vec![],
                prices: prices.into_iter().map(|(model, (input, output))| PriceOverride {
                    provider: "openai".into(), model,
                    price: crate::pricing::Price { input, output, cached_input: None, reasoning: None },
                }).collect(),
            }
        }
    }

    proptest! {
        #[test]
        fn archives_round_trip_through_json(config in arb_config()) {
            let archive = Archive::new("t1", config, None);
            let json = archive.to_json();
            let back = Archive::parse(&serde_json::from_str(&json).unwrap()).unwrap();
            prop_assert_eq!(&back, &archive);
            let valid = back.config.validate(false).unwrap();
            prop_assert_eq!(Archive::new("t1", valid, None).to_json(), json);
        }
    }
}
