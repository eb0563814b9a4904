//! Per-tenant settings, stored as one JSON object. Unknown keys are refused, values are range-checked.

use crate::error::{GatewayError, Result};
use crate::resilience::breaker::BreakerProfile;
use crate::resilience::state::Profiles;
use crate::routing::strategy::Strategy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Largest request body accepted on `/v1/*`, in bytes.
    pub max_request_bytes: u64,
    /// How long to wait for an upstream's response headers (first byte), in milliseconds.
    pub upstream_timeout_ms: u64,
    /// Failures (5xx, timeouts, dropped connections) that open a provider's circuit breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker waits before letting a probe through, in milliseconds.
    pub breaker_reset_ms: u64,
    /// How a provider's connections are ordered: `priority` (fill-first), `round_robin`, `random`,
    /// `least_used`, `p2c`, `weighted`, `cost_optimized`.
    pub account_strategy: Strategy,
    /// Round-robin: requests a connection serves before the next one takes over.
    pub sticky_limit: u32,
    /// Streams that die after their first byte continue from the next attempt, for every model
    /// (a combo can also opt in alone with `continue_streams`).
    pub stream_continuation: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_request_bytes: 16 * 1024 * 1024,
            upstream_timeout_ms: 120_000,
            breaker_failure_threshold: BreakerProfile::API_KEY.failure_threshold,
            breaker_reset_ms: BreakerProfile::API_KEY.reset_ms as u64,
            account_strategy: Strategy::Priority,
            sticky_limit: 3,
            stream_continuation: false,
        }
    }
}

impl Settings {
    pub const MAX_REQUEST_BYTES_RANGE: (u64, u64) = (1024, 100 * 1024 * 1024);
    pub const UPSTREAM_TIMEOUT_RANGE: (u64, u64) = (1_000, 600_000);
    pub const BREAKER_THRESHOLD_RANGE: (u64, u64) = (1, 1_000);
    pub const BREAKER_RESET_RANGE: (u64, u64) = (1_000, 3_600_000);

    /// The resilience tunables these settings select.
    pub fn profiles(&self) -> Profiles {
        Profiles::with_breaker(self.breaker_failure_threshold, self.breaker_reset_ms as i64)
    }

    /// Applies a JSON patch of settings (only the keys given change) and validates the result.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<Settings> {
        let bad = |m: String| GatewayError::invalid_request(m);
        let serde_json::Value::Object(patch) = patch else {
            return Err(bad("Settings must be a JSON object.".into()));
        };
        let mut merged = serde_json::to_value(self).map_err(|e| bad(e.to_string()))?;
        if let serde_json::Value::Object(m) = &mut merged {
            for (k, v) in patch {
                m.insert(k.clone(), v.clone());
            }
        }
        let next: Settings = serde_json::from_value(merged).map_err(|e| bad(format!("Invalid settings: {e}")))?;
        next.validate()?;
        Ok(next)
    }

    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: u64, (lo, hi): (u64, u64)| {
            if v < lo || v > hi {
                Err(GatewayError::invalid_request(format!("`{name}` must be between {lo} and {hi}.")).with_param(name))
            } else {
                Ok(())
            }
        };
        check("max_request_bytes", self.max_request_bytes, Self::MAX_REQUEST_BYTES_RANGE)?;
        check("upstream_timeout_ms", self.upstream_timeout_ms, Self::UPSTREAM_TIMEOUT_RANGE)?;
        check("breaker_failure_threshold", self.breaker_failure_threshold.into(), Self::BREAKER_THRESHOLD_RANGE)?;
        check("breaker_reset_ms", self.breaker_reset_ms, Self::BREAKER_RESET_RANGE)?;
        check("sticky_limit", self.sticky_limit.into(), (1, 1_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_only_given_keys() {
        let s = Settings::default().patched(&json!({"upstream_timeout_ms": 5000})).unwrap();
        assert_eq!(s.upstream_timeout_ms, 5000);
        assert_eq!(s.max_request_bytes, Settings::default().max_request_bytes);
    }

    #[test]
    fn refuses_unknown_keys_and_out_of_range_values() {
        let d = Settings::default();
        assert!(d.patched(&json!({"nope": 1})).is_err());
        assert!(d.patched(&json!({"upstream_timeout_ms": 1})).is_err());
        assert!(d.patched(&json!({"max_request_bytes": "big"})).is_err());
        assert!(d.patched(&json!([1])).is_err());
        assert!(d.patched(&json!({"stream_continuation": "on"})).is_err());
        assert!(d.patched(&json!({"stream_continuation": true})).unwrap().stream_continuation);
    }

    #[test]
    fn stored_json_with_missing_keys_gets_defaults() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
    }
}
