//! What a request cost, from its token counts and a price per 1M tokens.
//!
//! Counts follow [`TokenUsage`]: `input` includes the cached tokens and `output` the reasoning
//! tokens, so each part is priced once:
//! `(input − cached)·input + cached·cached_input + (output − reasoning)·output + reasoning·reasoning`.
//! A count reported larger than its total (an upstream's inconsistency) is held to the total.

use super::TokenUsage;
use crate::pricing::Price;

/// USD for `tokens` at `price`; 0 when the model has no price.
pub fn cost_usd(tokens: &TokenUsage, price: Option<Price>) -> f64 {
    let Some(p) = price else { return 0.0 };
    let cached = tokens.cached.min(tokens.input);
    let reasoning = tokens.reasoning.min(tokens.output);
    let per_million = (tokens.input - cached) as f64 * p.input
        + cached as f64 * p.cached_input_or_input()
        + (tokens.output - reasoning) as f64 * p.output
        + reasoning as f64 * p.reasoning_or_output();
    per_million / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> TokenUsage {
        TokenUsage { input, cached, output, reasoning, ..Default::default() }
    }

    const PRICE: Price = Price { input: 2.0, output: 8.0, cached_input: Some(0.5), reasoning: Some(10.0) };

    #[test]
    fn prices_each_part_once() {
        // 1000 fresh input, 3000 cached, 200 visible output, 100 reasoning.
        let c = cost_usd(&usage(4000, 3000, 300, 100), Some(PRICE));
        let expected = (1000.0 * 2.0 + 3000.0 * 0.5 + 200.0 * 8.0 + 100.0 * 10.0) / 1e6;
        assert!((c - expected).abs() < 1e-15, "{c} vs {expected}");
    }

    #[test]
    fn missing_cached_and_reasoning_prices_fall_back_to_input_and_output() {
        let plain = Price { input: 3.0, output: 15.0, cached_input: None, reasoning: None };
        let split = cost_usd(&usage(1000, 400, 500, 200), Some(plain));
        let whole = cost_usd(&usage(1000, 0, 500, 0), Some(plain));
        assert!((split - whole).abs() < 1e-15);
        assert!((whole - (1000.0 * 3.0 + 500.0 * 15.0) / 1e6).abs() < 1e-15);
    }

    #[test]
    fn no_price_costs_nothing() {
        assert_eq!(cost_usd(&usage(1_000_000, 0, 1_000_000, 0), None), 0.0);
    }

    #[test]
    fn inconsistent_counts_are_held_to_their_totals() {
        // 50 cached of 10 input: all 10 are cached; 9 reasoning of 3 output: all 3 are reasoning.
        let c = cost_usd(&usage(10, 50, 3, 9), Some(PRICE));
        assert!((c - (10.0 * 0.5 + 3.0 * 10.0) / 1e6).abs() < 1e-18);
    }

    proptest! {
        #[test]
        fn cost_is_finite_non_negative_and_between_the_cheapest_and_dearest_rates(
            input in 0u64..1u64 << 40, cached in 0u64..1u64 << 40, output in 0u64..1u64 << 40, reasoning in 0u64..1u64 << 40,
            rates in proptest::array::uniform4(0.0f64..10_000.0),
        ) {
            let price = Price { input: rates[0], output: rates[1], cached_input: Some(rates[2]), reasoning: Some(rates[3]) };
            let u = usage(input, cached, output, reasoning);
            let c = cost_usd(&u, Some(price));
            let tokens = (input + output) as f64;
            let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min) * tokens / 1e6;
            let hi = rates.iter().cloned().fold(0.0, f64::max) * tokens / 1e6;
            prop_assert!(c.is_finite() && c >= 0.0);
            prop_assert!(c >= lo * (1.0 - 1e-9) && c <= hi * (1.0 + 1e-9), "{} not in [{}, {}]", c, lo, hi);
        }

        #[test]
        fn more_tokens_never_cost_less(input in 0u64..1u64 << 32, extra in 0u64..1u64 << 32, output in 0u64..1u64 << 32) {
            let p = Some(PRICE);
            prop_assert!(cost_usd(&usage(input + extra, 0, output, 0), p) >= cost_usd(&usage(input, 0, output, 0), p));
            prop_assert!(cost_usd(&usage(input, 0, output + extra, 0), p) >= cost_usd(&usage(input, 0, output, 0), p));
        }
    }
}
