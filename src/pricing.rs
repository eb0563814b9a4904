//! List prices of the catalog's models, in USD per 1M tokens, for the cost-optimized strategy.
//!
//! A routing heuristic, not billing: standard (non-batch, uncached, short-context) list prices as
//! published on the providers' pricing pages, as of **2025-10**. Tiered prices use the lowest tier
//! (Gemini 2.5 Pro ≤ 200k prompt tokens); per-request fees (Perplexity) are left out. Models whose
//! price is variable or unknown (`openrouter/auto`, NVIDIA's credits) have no entry: `None`, which
//! the strategy orders last.

use crate::providers;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// USD per 1M input (prompt) tokens.
    pub input: f64,
    /// USD per 1M output (completion) tokens.
    pub output: f64,
}

/// The date of the table below; refresh it with the table.
pub const PRICES_AS_OF: &str = "2025-10";

const fn p(input: f64, output: f64) -> Price {
    Price { input, output }
}

/// (provider id, model, price). `openai-responses` shares OpenAI's rows.
const TABLE: &[(&str, &str, Price)] = &[
    ("anthropic", "claude-opus-4-1", p(15.0, 75.0)),
    ("anthropic", "claude-sonnet-4-5", p(3.0, 15.0)),
    ("anthropic", "claude-haiku-4-5", p(1.0, 5.0)),
    ("gemini", "gemini-2.5-pro", p(1.25, 10.0)),
    ("gemini", "gemini-2.5-flash", p(0.30, 2.50)),
    ("gemini", "gemini-2.5-flash-lite", p(0.10, 0.40)),
    ("openai", "gpt-5", p(1.25, 10.0)),
    ("openai", "gpt-5-mini", p(0.25, 2.0)),
    ("openai", "gpt-5-codex", p(1.25, 10.0)),
    ("openai", "o3", p(2.0, 8.0)),
    ("openai", "o4-mini", p(1.10, 4.40)),
    ("openai", "gpt-4.1", p(2.0, 8.0)),
    ("openai", "gpt-4.1-mini", p(0.40, 1.60)),
    ("openai", "gpt-4.1-nano", p(0.10, 0.40)),
    ("openai", "gpt-4o", p(2.50, 10.0)),
    ("openai", "gpt-4o-mini", p(0.15, 0.60)),
    // DeepSeek V3.2-Exp prices (cache miss), both modes.
    ("deepseek", "deepseek-chat", p(0.28, 0.42)),
    ("deepseek", "deepseek-reasoner", p(0.28, 0.42)),
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
    ("kimi", "kimi-k2-0905-preview", p(0.60, 2.50)),
    ("nebius", "meta-llama/Llama-3.3-70B-Instruct", p(0.13, 0.40)),
    ("hyperbolic", "meta-llama/Llama-3.3-70B-Instruct", p(0.40, 0.40)),
];

/// The list price of `model` at `provider` (an id or alias such as `ds`); `None` when unknown.
pub fn price(provider: &str, model: &str) -> Option<Price> {
    let id = &providers::find(provider)?.id;
    let id = if id == "openai-responses" { "openai" } else { id };
    TABLE.iter().find(|(p, m, _)| *p == id && *m == model).map(|(_, _, price)| *price)
}

/// One number to compare prices by: a typical request reads about three tokens per token it writes,
/// so `(3×input + output) / 4`.
pub fn blended(price: Price) -> f64 {
    (3.0 * price.input + price.output) / 4.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::catalog;

    #[test]
    fn known_prices_and_aliases() {
        assert_eq!(price("openai", "gpt-4o-mini"), Some(Price { input: 0.15, output: 0.60 }));
        assert_eq!(price("ds", "deepseek-chat"), price("deepseek", "deepseek-chat"));
        assert_eq!(price("openai-responses", "gpt-5"), price("openai", "gpt-5"));
        assert_eq!(price("claude", "claude-sonnet-4-5"), Some(Price { input: 3.0, output: 15.0 }));
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
        assert_eq!(blended(Price { input: 3.0, output: 15.0 }), 6.0);
        assert_eq!(blended(Price { input: 0.0, output: 0.0 }), 0.0);
        assert!(blended(price("openai", "gpt-4o-mini").unwrap()) < blended(price("openai", "gpt-4o").unwrap()));
    }

    #[test]
    fn every_row_names_a_catalog_model_with_a_sane_price() {
        for (prov, model, pr) in TABLE {
            // OpenAI's rows also price the Responses-API entry's models.
            let listed = catalog::ALL
                .iter()
                .filter(|s| s.id == *prov || (*prov == "openai" && s.id == "openai-responses"))
                .any(|s| s.models.contains(model));
            assert!(listed, "{prov}/{model} is not in the catalog");
            assert!(pr.input > 0.0 && pr.output >= pr.input && pr.output < 1000.0, "{prov}/{model}");
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
}
