//! The management API's checks for the routing documents and query parameters: raw request bytes
//! in, values ready to store out. The platform only reads bodies and runs SQL.

use crate::config::input::{parse, parse_strict};
use crate::error::{GatewayError, Result};
use crate::providers::{self, node, Catalog, ProviderNode};
use crate::routing::alias::{self, Alias};
use crate::routing::combo::Combo;
use serde::{Deserialize, Serialize};

/// `POST /api/combos`: a valid combo whose name does not shadow a provider.
pub fn combo(body: &[u8]) -> Result<Combo> {
    let combo: Combo = parse_strict(body)?;
    combo.validate()?;
    if providers::find(&combo.name).is_some() {
        return Err(GatewayError::invalid_request(format!(
            "`{}` is a provider name; pick another combo name.",
            combo.name
        ))
        .with_param("name"));
    }
    Ok(combo)
}

/// `POST /api/aliases`.
pub fn alias(body: &[u8]) -> Result<Alias> {
    let a: Alias = parse_strict(body)?;
    alias::validate_alias(&a.pattern, &a.target)?;
    Ok(a)
}

/// `POST /api/fallback-chains`: after a model, the models to try in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    pub model: String,
    pub chain: Vec<String>,
}

pub fn chain(body: &[u8]) -> Result<Chain> {
    let c: Chain = parse(body)?;
    alias::validate_chain(&c.model, &c.chain)?;
    Ok(c)
}

/// `POST /api/provider-nodes`.
pub fn node(body: &[u8], allow_private: bool) -> Result<ProviderNode> {
    parse_strict::<ProviderNode>(body)?.validate(allow_private)
}

/// `POST /api/provider-models`: extra model ids for a provider the tenant's catalog knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomModels {
    pub provider: String,
    pub models: Vec<String>,
}

pub fn custom_models(body: &[u8], catalog: &Catalog) -> Result<CustomModels> {
    let m: CustomModels = parse(body)?;
    node::validate_models(&m.provider, &m.models)?;
    if catalog.find(&m.provider).is_none() {
        return Err(GatewayError::invalid_request(format!("Unknown provider `{}`.", m.provider)).with_param("provider"));
    }
    Ok(m)
}

/// A required query parameter naming what to delete (`?pattern=`, `?model=`).
pub fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| GatewayError::invalid_request(format!("Give it as ?{name}=…")).with_param(name))
}

/// A page size: `default` when absent, at most `max`.
pub fn limit(value: Option<&str>, default: u32, max: u32) -> Result<u32> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .map(|n| n.clamp(1, max))
            .map_err(|_| GatewayError::invalid_request("`limit` is a number.").with_param("limit")),
    }
}

/// A `since` time in milliseconds since the epoch; 0 when absent.
pub fn since(value: Option<&str>) -> Result<i64> {
    match value {
        None => Ok(0),
        Some(v) => v.parse::<i64>().map_err(|_| {
            GatewayError::invalid_request("`since` is a time in milliseconds since the epoch.").with_param("since")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_combo_may_not_take_a_provider_name() {
        let e = combo(br#"{"name":"openai","targets":[{"model":"openai/gpt-4o"}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("name"));
        assert!(combo(br#"{"name":"mine","targets":[{"model":"openai/gpt-4o"}]}"#).is_ok());
        assert!(combo(br#"{"name":"mine","targets":[{"model":"openai/gpt-4o"}],"typo":1}"#).is_err());
    }

    #[test]
    fn custom_models_need_a_known_provider() {
        let catalog = Catalog::new(&[], &Default::default());
        assert!(custom_models(br#"{"provider":"openai","models":["gpt-x"]}"#, &catalog).is_ok());
        let e = custom_models(br#"{"provider":"nobody","models":["m"]}"#, &catalog).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("provider"));
    }

    #[test]
    fn query_values_are_checked() {
        assert_eq!(limit(None, 100, 500).unwrap(), 100);
        assert_eq!(limit(Some("9999"), 100, 500).unwrap(), 500);
        assert_eq!(limit(Some("0"), 100, 500).unwrap(), 1);
        assert!(limit(Some("ten"), 100, 500).is_err());
        assert_eq!(since(Some("12")).unwrap(), 12);
        assert!(since(Some("yesterday")).is_err());
        assert_eq!(required(Some("x"), "model").unwrap(), "x");
        assert_eq!(required(Some(""), "model").unwrap_err().param.as_deref(), Some("model"));
    }
}
