//! The limits of one gateway key, as set with `POST /api/keys` and `PATCH /api/keys/{id}` and as
//! stored with the key (D1 `api_keys.limits`, the KV key entry). Stored values are read leniently
//! (unknown fields ignored, missing ones unset); admin input is checked by [`KeyLimits::validate`].

use crate::error::{GatewayError, Result};
use serde::{Deserialize, Serialize};

/// Every field is optional; a key with none set is not limited and never waits on a ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyLimits {
    /// Spend in USD per UTC calendar day, ISO week (from Monday) and calendar month.
    pub usd_per_day: Option<f64>,
    pub usd_per_week: Option<f64>,
    pub usd_per_month: Option<f64>,
    /// Requests admitted in any 60 s.
    pub requests_per_minute: Option<u32>,
    /// Requests admitted in a UTC calendar day.
    pub requests_per_day: Option<u32>,
    /// Tokens (input + output) of the requests admitted in any 60 s.
    pub tokens_per_minute: Option<u64>,
}

const MAX_USD: f64 = 1e9;
const MAX_RPM: u32 = 1_000_000;
const MAX_RPD: u32 = 1_000_000_000;
const MAX_TPM: u64 = 1_000_000_000_000;

impl KeyLimits {
    pub fn is_empty(&self) -> bool {
        *self == KeyLimits::default()
    }

    /// Checks admin input: budgets positive and finite, rates at least 1.
    pub fn validate(self) -> Result<KeyLimits> {
        for (name, usd) in [
            ("usd_per_day", self.usd_per_day),
            ("usd_per_week", self.usd_per_week),
            ("usd_per_month", self.usd_per_month),
        ] {
            if usd.is_some_and(|v| !(v.is_finite() && v > 0.0 && v <= MAX_USD)) {
                return Err(invalid(name, &format!("a USD amount above 0 and at most {MAX_USD}")));
            }
        }
        if self.requests_per_minute.is_some_and(|v| !(1..=MAX_RPM).contains(&v)) {
            return Err(invalid("requests_per_minute", &format!("between 1 and {MAX_RPM}")));
        }
        if self.requests_per_day.is_some_and(|v| !(1..=MAX_RPD).contains(&v)) {
            return Err(invalid("requests_per_day", &format!("between 1 and {MAX_RPD}")));
        }
        if self.tokens_per_minute.is_some_and(|v| !(1..=MAX_TPM).contains(&v)) {
            return Err(invalid("tokens_per_minute", &format!("between 1 and {MAX_TPM}")));
        }
        Ok(self)
    }
}

fn invalid(field: &str, what: &str) -> GatewayError {
    let param = format!("limits.{field}");
    GatewayError::invalid_request(format!("`{param}` must be {what}.")).with_param(&param)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> KeyLimits {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn accepts_sane_limits_and_names_the_bad_field() {
        let ok = parse(r#"{"usd_per_day":5,"requests_per_minute":10,"tokens_per_minute":100000}"#).validate().unwrap();
        assert_eq!((ok.usd_per_day, ok.requests_per_minute, ok.usd_per_week), (Some(5.0), Some(10), None));
        for (json, param) in [
            (r#"{"usd_per_day":0}"#, "limits.usd_per_day"),
            (r#"{"usd_per_week":-1}"#, "limits.usd_per_week"),
            (r#"{"usd_per_month":1e12}"#, "limits.usd_per_month"),
            (r#"{"requests_per_minute":0}"#, "limits.requests_per_minute"),
            (r#"{"requests_per_day":0}"#, "limits.requests_per_day"),
            (r#"{"tokens_per_minute":0}"#, "limits.tokens_per_minute"),
        ] {
            let e = parse(json).validate().unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{json}");
        }
    }

    #[test]
    fn empty_means_unlimited_and_stored_values_are_read_leniently() {
        assert!(parse("{}").is_empty());
        assert!(parse(r#"{"usd_per_day":null,"future_field":1}"#).is_empty());
        assert!(!parse(r#"{"requests_per_minute":1}"#).is_empty());
    }
}
