//! List prices of the catalog's models, in USD per 1M tokens: the cost-optimized strategy's input and
//! the default of the usage log's cost (a tenant may override any row: [`PriceOverride`]).
//!
//! Standard (non-batch, short-context) list prices as published on the providers' pricing pages, as
//! of **2025-10**. Tiered prices use the lowest tier (Gemini 2.5 Pro ≤ 200k prompt tokens);
//! per-request fees (Perplexity) are left out. Cached-input prices are given where the provider
//! publishes a plain per-token cache-read price; elsewhere cached tokens cost the input price. Models
//! whose price is variable or unknown (`openrouter/auto`, NVIDIA's credits) have no entry: `None`,
//! which the strategy orders last and the log counts as free.

use crate::error::{GatewayError, Result};
use crate::providers::{self, Catalog};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// USD per 1M input (prompt) tokens.
    pub input: f64,
    /// USD per 1M output (completion) tokens.
    pub output: f64,
    /// USD per 1M cached input tokens (cache reads); `None`: the input price.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// USD per 1M reasoning tokens; `None`: the output price.
    #[serde(default)]
    pub reasoning: Option<f64>,
}

impl Price {
    pub fn cached_input_or_input(&self) -> f64 {
        self.cached_input.unwrap_or(self.input)
    }
    pub fn reasoning_or_output(&self) -> f64 {
        self.reasoning.unwrap_or(self.output)
    }
}

/// The date of the table below; refresh it with the table.
pub const PRICES_AS_OF: &str = "2025-10";

const fn p(input: f64, output: f64) -> Price {
    Price { input, output, cached_input: None, reasoning: None }
}

/// With a published cache-read price.
const fn pc(input: f64, output: f64, cached: f64) -> Price {
    Price { input, output, cached_input: Some(cached), reasoning: None }
}

/// (provider id, model, price). `openai-responses` shares OpenAI's rows.
const TABLE: &[(&str, &str, Price)] = &[
    ("anthropic", "claude-opus-4-1", pc(15.0, 75.0, 1.50)),
    ("anthropic", "claude-sonnet-4-5", pc(3.0, 15.0, 0.30)),
    ("anthropic", "claude-haiku-4-5", pc(1.0, 5.0, 0.10)),
    ("gemini", "gemini-2.5-pro", p(1.25, 10.0)),
    ("gemini", "gemini-2.5-flash", p(0.30, 2.50)),
    ("gemini", "gemini-2.5-flash-lite", p(0.10, 0.40)),
    ("openai", "gpt-5", pc(1.25, 10.0, 0.125)),
    ("openai", "gpt-5-mini", pc(0.25, 2.0, 0.025)),
    ("openai", "gpt-5-codex", pc(1.25, 10.0, 0.125)),
    ("openai", "o3", pc(2.0, 8.0, 0.50)),
    ("openai", "o4-mini", pc(1.10, 4.40, 0.275)),
    ("openai", "gpt-4.1", pc(2.0, 8.0, 0.50)),
    ("openai", "gpt-4.1-mini", pc(0.40, 1.60, 0.10)),
    ("openai", "gpt-4.1-nano", pc(0.10, 0.40, 0.025)),
    ("openai", "gpt-4o", pc(2.50, 10.0, 1.25)),
    ("openai", "gpt-4o-mini", pc(0.15, 0.60, 0.075)),
    // DeepSeek V3.2-Exp prices (cache miss; cache hit as the cached price), both modes.
    ("deepseek", "deepseek-chat", pc(0.28, 0.42, 0.028)),
    ("deepseek", "deepseek-reasoner", pc(0.28, 0.42, 0.028)),
    ("groq", "llama-3.3-70b-versatile", p(0.59, 0.79)),
    ("groq", "llama-3.1-8b-instant", p(0.05, 0.08)),
    ("groq", "openai/gpt-oss-120b", p(0.15, 0.75)),
    ("xai", "grok-4", p(3.0, 15.0)),
    ("xai", "grok-3-mini", p(0.30, 0.50)),
    ("mistral", "mistral-large-latest", p(2.0, 6.0)),
    ("mistral", "mistral-small-latest", p(0.10, 0.30)),
    ("mistral", "codestral-latest", p(0.30, 0.90)),
    ("perplexity", "sonar", p(1.0, 1.0)),
    ("perplexity", "sonar-pro", p(3.0, 15.0)),
    ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", p(0.88, 0.88)),
    ("fireworks", "accounts/fireworks/models/llama-v3p3-70b-instruct", p(0.90, 0.90)),
    ("cerebras", "llama-3.3-70b", p(0.85, 1.20)),
    ("cerebras", "qwen-3-32b", p(0.40, 0.80)),
    ("kimi", "kimi-k2-0905-preview", pc(0.60, 2.50, 0.15)),
    ("nebius", "meta-llama/Llama-3.3-70B-Instruct", p(0.13, 0.40)),
    ("hyperbolic", "meta-llama/Llama-3.3-70B-Instruct", p(0.40, 0.40)),
    // Models of other kinds, priced per token like chat. Embeddings have input only.
    ("openai", "text-embedding-3-small", p(0.02, 0.0)),
    ("openai", "text-embedding-3-large", p(0.13, 0.0)),
    ("openai", "text-embedding-ada-002", p(0.10, 0.0)),
    ("gemini", "gemini-embedding-001", p(0.15, 0.0)),
    ("mistral", "mistral-embed", p(0.10, 0.0)),
    // Text input, image output tokens.
    ("openai", "gpt-image-1", p(5.0, 40.0)),
    // Audio input, text output tokens.
    ("openai", "gpt-4o-transcribe", p(6.0, 10.0)),
    ("openai", "gpt-4o-mini-transcribe", p(3.0, 5.0)),
];

/// The list price of `model` at `provider` (an id or alias such as `ds`); `None` when unknown.
pub fn price(provider: &str, model: &str) -> Option<Price> {
    let id = shared_rows(&providers::find(provider)?.id);
    TABLE.iter().find(|(p, m, _)| *p == id && *m == model).map(|(_, _, price)| *price)
}

/// The provider whose price rows `id` uses: `openai-responses` is OpenAI through another API.
pub fn shared_rows(id: &str) -> &str {
    if id == "openai-responses" {
        "openai"
    } else {
        id
    }
}

/// Every row of the default table: (provider id, model, price).
pub fn defaults() -> impl Iterator<Item = (&'static str, &'static str, Price)> {
    TABLE.iter().copied()
}

/// One number to compare prices by: a typical request reads about three tokens per token it writes,
/// so `(3×input + output) / 4`.
pub fn blended(price: Price) -> f64 {
    (3.0 * price.input + price.output) / 4.0
}

/// A tenant's own price for one model, replacing the default row (or pricing a model that has none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceOverride {
    /// A provider id as the tenant's catalog spells it (never an alias).
    pub provider: String,
    pub model: String,
    pub price: Price,
}

/// The most a price may be, in USD per 1M tokens: far above any list price, low enough that a typo
/// (a per-token price entered per million, say) is caught.
pub const MAX_PRICE: f64 = 10_000.0;
/// Rows one `PUT /api/pricing` may carry.
pub const MAX_PRICES_PER_PUT: usize = 1_000;

/// `PUT /api/pricing` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricesInput {
    pub prices: Vec<PriceInput>,
}

#[derive(Debug, Deserialize)]
pub struct PriceInput {
    pub provider: String,
    pub model: String,
    #[serde(flatten)]
    pub price: Price,
    /// Whatever else the row holds: refused by name (flattening rules out `deny_unknown_fields`).
    #[serde(flatten)]
    pub unknown: std::collections::BTreeMap<String, serde_json::Value>,
}

impl PricesInput {
    /// Checks every row; provider aliases become ids. Errors name the field (`prices[2].input`).
    pub fn validate(self, catalog: &Catalog) -> Result<Vec<PriceOverride>> {
        if self.prices.is_empty() || self.prices.len() > MAX_PRICES_PER_PUT {
            return Err(GatewayError::invalid_request(format!(
                "`prices` must hold 1 to {MAX_PRICES_PER_PUT} entries."
            ))
            .with_param("prices"));
        }
        let mut out: Vec<PriceOverride> = Vec::with_capacity(self.prices.len());
        for (i, row) in self.prices.into_iter().enumerate() {
            let field = |name: &str| format!("prices[{i}].{name}");
            if let Some(name) = row.unknown.keys().next() {
                return Err(GatewayError::invalid_request(format!("Unknown field `{name}`.")).with_param(&field(name)));
            }
            let provider = provider_id(&row.provider, catalog).map_err(|e| e.with_param(&field("provider")))?;
            let model = check_model(&row.model).map_err(|e| e.with_param(&field("model")))?;
            let amount = |name: &str, v: f64| check_amount(v).map_err(|e| e.with_param(&field(name)));
            let p = row.price;
            let price = Price {
                input: amount("input", p.input)?,
                output: amount("output", p.output)?,
                cached_input: p.cached_input.map(|v| amount("cached_input", v)).transpose()?,
                reasoning: p.reasoning.map(|v| amount("reasoning", v)).transpose()?,
            };
            // A later row for the same model wins, as it would if sent in two requests.
            out.retain(|o| !(o.provider == provider && o.model == model));
            out.push(PriceOverride { provider, model, price });
        }
        Ok(out)
    }
}

/// One row of a tenant's price list: the default table merged with its overrides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceRow {
    pub provider: String,
    pub model: String,
    #[serde(flatten)]
    pub price: Price,
    /// `default` (the built-in table) or `custom` (the tenant's own).
    pub source: &'static str,
}

/// The default table with the tenant's overrides applied (and its extra models added), sorted by
/// provider and model.
pub fn merged(overrides: &[PriceOverride]) -> Vec<PriceRow> {
    let mut rows: Vec<PriceRow> = defaults()
        .filter(|(p, m, _)| !overrides.iter().any(|o| o.provider == *p && o.model == *m))
        .map(|(p, m, price)| PriceRow { provider: p.to_string(), model: m.to_string(), price, source: "default" })
        .collect();
    rows.extend(overrides.iter().map(PriceOverride::row));
    rows.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
    rows
}

impl PriceOverride {
    /// As the price list shows it.
    pub fn row(&self) -> PriceRow {
        PriceRow { provider: self.provider.clone(), model: self.model.clone(), price: self.price, source: "custom" }
    }
}

/// A provider the tenant can route to, as its id (`ds` → `deepseek`).
pub fn provider_id(provider: &str, catalog: &Catalog) -> Result<String> {
    catalog.find(provider).map(|p| p.id.to_string()).ok_or_else(|| {
        GatewayError::invalid_request(format!("Unknown provider `{}`.", provider.chars().take(64).collect::<String>()))
    })
}

/// Model ids are the provider's own (any id may be priced, listed or not): bounded, printable.
pub fn check_model(model: &str) -> Result<String> {
    if model.is_empty() || model.len() > 256 || model.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(GatewayError::invalid_request("`model` must be 1 to 256 printable characters without spaces."));
    }
    Ok(model.to_string())
}

fn check_amount(v: f64) -> Result<f64> {
    if !v.is_finite() || !(0.0..=MAX_PRICE).contains(&v) {
        return Err(GatewayError::invalid_request(format!("Prices are USD per 1M tokens, from 0 to {MAX_PRICE}.")));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::catalog;

    #[test]
    fn known_prices_and_aliases() {
        assert_eq!(price("openai", "gpt-4o-mini"), Some(pc(0.15, 0.60, 0.075)));
        assert_eq!(price("ds", "deepseek-chat"), price("deepseek", "deepseek-chat"));
        assert_eq!(price("openai-responses", "gpt-5"), price("openai", "gpt-5"));
        assert_eq!(price("claude", "claude-sonnet-4-5"), Some(pc(3.0, 15.0, 0.30)));
    }

    #[test]
    fn unknown_is_none() {
        assert_eq!(price("openrouter", "openrouter/auto"), None);
        assert_eq!(price("openai", "no-such-model"), None);
        assert_eq!(price("no-such-provider", "gpt-4o"), None);
        assert_eq!(price("groq", "gpt-4o"), None, "prices are per provider");
    }

    #[test]
    fn blended_weights_input_three_to_one() {
        assert_eq!(blended(p(3.0, 15.0)), 6.0);
        assert_eq!(blended(p(0.0, 0.0)), 0.0);
        assert!(blended(price("openai", "gpt-4o-mini").unwrap()) < blended(price("openai", "gpt-4o").unwrap()));
    }

    #[test]
    fn every_row_names_a_catalog_model_with_a_sane_price() {
        for (prov, model, pr) in TABLE {
            // OpenAI's rows also price the Responses-API entry's models.
            let listed = catalog::ALL
                .iter()
                .filter(|s| s.id == *prov || (*prov == "openai" && s.id == "openai-responses"))
                .any(|s| s.lists(model));
            assert!(listed, "{prov}/{model} is not in the catalog");
            // Output costs more than input, or nothing (embeddings have none).
            let output_ok = pr.output >= pr.input || pr.output == 0.0;
            assert!(pr.input > 0.0 && output_ok && pr.output < 1000.0, "{prov}/{model}");
            // A cache read is a discount on input, never a surcharge.
            assert!(pr.cached_input.is_none_or(|c| c > 0.0 && c < pr.input), "{prov}/{model}");
            assert!(pr.reasoning.is_none(), "{prov}/{model}: no provider lists reasoning apart from output");
        }
        let mut keys: Vec<_> = TABLE.iter().map(|(p, m, _)| (*p, *m)).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate rows");
    }

    #[test]
    fn every_responses_model_is_priced_through_openai() {
        let responses = catalog::ALL.iter().find(|s| s.id == "openai-responses").map(|s| &s.models);
        let responses: Vec<&str> = responses.into_iter().flat_map(|m| m.iter()).collect();
        assert!(!responses.is_empty());
        for m in responses {
            assert!(price("openai-responses", m).is_some(), "{m}");
        }
    }

    fn put(json: &str) -> Result<Vec<PriceOverride>> {
        serde_json::from_str::<PricesInput>(json)
            .map_err(|e| GatewayError::invalid_request(e.to_string()))?
            .validate(&Catalog::default())
    }

    #[test]
    fn validates_overrides_and_names_the_bad_field() {
        let ok =
            put(r#"{"prices":[{"provider":"ds","model":"deepseek-chat","input":0.1,"output":0.2,"cached_input":0.01},
                                   {"provider":"openai","model":"my-ft","input":0,"output":0}]}"#)
            .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(
            (ok[0].provider.as_str(), ok[0].price.cached_input, ok[0].price.reasoning),
            ("deepseek", Some(0.01), None)
        );
        for (json, param) in [
            (r#"{"prices":[]}"#, "prices"),
            (r#"{"prices":[{"provider":"nope","model":"m","input":1,"output":1}]}"#, "prices[0].provider"),
            (r#"{"prices":[{"provider":"openai","model":"","input":1,"output":1}]}"#, "prices[0].model"),
            (r#"{"prices":[{"provider":"openai","model":"a b","input":1,"output":1}]}"#, "prices[0].model"),
            (r#"{"prices":[{"provider":"openai","model":"m","input":-1,"output":1}]}"#, "prices[0].input"),
            (r#"{"prices":[{"provider":"openai","model":"m","input":1,"output":10000.5}]}"#, "prices[0].output"),
            (
                r#"{"prices":[{"provider":"openai","model":"m","input":1,"output":1},
                           {"provider":"openai","model":"m","input":1,"output":1,"reasoning":-0.5}]}"#,
                "prices[1].reasoning",
            ),
        ] {
            let e = put(json).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{json}");
        }
        let long =
            format!(r#"{{"prices":[{{"provider":"openai","model":"{}","input":1,"output":1}}]}}"#, "m".repeat(257));
        assert_eq!(put(&long).unwrap_err().param.as_deref(), Some("prices[0].model"));
        let extra = put(r#"{"prices":[{"provider":"openai","model":"m","input":1,"output":1,"extra":1}]}"#);
        assert_eq!(extra.unwrap_err().param.as_deref(), Some("prices[0].extra"));
        assert!(put(r#"{"prices":[{"provider":"openai","model":"m","input":1}]}"#).is_err(), "output is required");
    }

    #[test]
    fn a_repeated_row_keeps_the_last_price() {
        let v = put(r#"{"prices":[{"provider":"openai","model":"m","input":1,"output":1},
                                  {"provider":"openai","model":"m","input":2,"output":3}]}"#)
        .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].price, p(2.0, 3.0));
    }

    proptest::proptest! {
        #[test]
        fn accepts_exactly_the_finite_amounts_in_range(v in proptest::num::f64::ANY) {
            let ok = check_amount(v).is_ok();
            proptest::prop_assert_eq!(ok, v.is_finite() && (0.0..=MAX_PRICE).contains(&v));
        }
    }

    #[test]
    fn the_price_list_is_the_defaults_with_overrides_applied() {
        let own = PriceOverride { provider: "openai".into(), model: "gpt-4o".into(), price: p(1.0, 2.0) };
        let extra = PriceOverride { provider: "groq".into(), model: "new-model".into(), price: p(0.5, 0.5) };
        let rows = merged(&[own.clone(), extra]);
        assert_eq!(rows.len(), TABLE.len() + 1);
        let find = |pr: &str, m: &str| rows.iter().find(|r| r.provider == pr && r.model == m).unwrap();
        assert_eq!((find("openai", "gpt-4o").price, find("openai", "gpt-4o").source), (own.price, "custom"));
        assert_eq!(find("groq", "new-model").source, "custom");
        assert_eq!(find("openai", "gpt-4o-mini").source, "default");
        assert!(rows.windows(2).all(|w| (&w[0].provider, &w[0].model) < (&w[1].provider, &w[1].model)));
        let json = serde_json::to_value(find("openai", "gpt-4o-mini")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"provider":"openai","model":"gpt-4o-mini","input":0.15,"output":0.6,"cached_input":0.075,"reasoning":null,"source":"default"})
        );
    }
}
