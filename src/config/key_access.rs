//! What a gateway key may do besides its limits: whether it is enabled, until when it is valid, and
//! its scopes: the models (model, combo or alias names as the client sends them) and providers it
//! may reach, as glob patterns (`*` any run of characters, `?` one: `routing::alias::glob_match`).
//! Empty scopes allow everything.
//!
//! Checked on the request path: a disabled or expired key is refused like a wrong one (401); a model
//! outside the key's scope is refused (403) and a provider outside it is skipped, so a combo keeps
//! serving from its allowed targets. `/v1/models` lists only what the key may use.

use crate::error::{ErrorKind, GatewayError, Result};
use crate::routing::alias::glob_match;
use serde::{Deserialize, Serialize};

/// Patterns one scope may hold, and how long each may be.
const MAX_PATTERNS: usize = 64;
const MAX_PATTERN_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyAccess {
    pub enabled: bool,
    /// When the key stops working (ms since epoch); `None`: never.
    pub expires_at: Option<i64>,
    pub scopes: Scopes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scopes {
    pub models: Vec<String>,
    pub providers: Vec<String>,
}

impl Default for KeyAccess {
    fn default() -> Self {
        KeyAccess { enabled: true, expires_at: None, scopes: Scopes::default() }
    }
}

impl KeyAccess {
    /// Checks admin input.
    pub fn validate(self) -> Result<KeyAccess> {
        for (name, list) in [("scopes.models", &self.scopes.models), ("scopes.providers", &self.scopes.providers)] {
            if list.len() > MAX_PATTERNS {
                return Err(bad(name, format!("`{name}` holds at most {MAX_PATTERNS} patterns.")));
            }
            if let Some(p) = list.iter().find(|p| !valid_pattern(p)) {
                return Err(bad(
                    name,
                    format!("`{name}`: `{p}` is not a pattern (1 to {MAX_PATTERN_LEN} printable characters, `*` and `?` as wildcards)."),
                ));
            }
        }
        if self.expires_at.is_some_and(|t| t <= 0) {
            return Err(bad("expires_at", "`expires_at` is a time in milliseconds since the epoch.".into()));
        }
        Ok(self)
    }

    /// Whether the key may be used at `now_ms` (else the 401 that says why).
    pub fn usable(&self, now_ms: i64) -> Result<()> {
        if !self.enabled {
            return Err(GatewayError::authentication("This API key is disabled.").with_code("key_disabled"));
        }
        if self.expires_at.is_some_and(|t| t <= now_ms) {
            return Err(GatewayError::authentication("This API key has expired.").with_code("key_expired"));
        }
        Ok(())
    }

    pub fn allows_model(&self, model: &str) -> bool {
        any_matches(&self.scopes.models, model)
    }

    pub fn allows_provider(&self, provider: &str) -> bool {
        any_matches(&self.scopes.providers, provider)
    }

    /// The 403 for a model outside the key's scope.
    pub fn model_refused(model: &str) -> GatewayError {
        GatewayError::new(ErrorKind::PermissionDenied, format!("This API key may not use the model `{model}`."))
            .with_param("model")
            .with_code("model_not_allowed")
    }

    /// The 403 when none of a model's providers is in the key's scope.
    pub fn providers_refused(model: &str) -> GatewayError {
        GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("This API key may not use the providers that serve `{model}`."),
        )
        .with_param("model")
        .with_code("provider_not_allowed")
    }
}

fn bad(param: &str, message: String) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

fn valid_pattern(p: &str) -> bool {
    (1..=MAX_PATTERN_LEN).contains(&p.len()) && p.chars().all(|c| !c.is_control())
}

/// Empty lists allow everything.
fn any_matches(patterns: &[String], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob_match(p, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_or_expired_key_is_refused_with_why() {
        let open = KeyAccess::default();
        assert!(open.usable(5).is_ok());
        let off = KeyAccess { enabled: false, ..KeyAccess::default() };
        assert_eq!(off.usable(5).unwrap_err().code.as_deref(), Some("key_disabled"));
        let dated = KeyAccess { expires_at: Some(10), ..KeyAccess::default() };
        assert!(dated.usable(9).is_ok());
        let e = dated.usable(10).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (401, Some("key_expired")));
    }

    #[test]
    fn empty_scopes_allow_everything_and_patterns_narrow() {
        let open = KeyAccess::default();
        assert!(open.allows_model("x") && open.allows_provider("y"));
        let narrow = KeyAccess {
            scopes: Scopes { models: vec!["openai/*".into(), "coding".into()], providers: vec!["openai".into()] },
            ..KeyAccess::default()
        };
        assert!(narrow.allows_model("openai/gpt-4o") && narrow.allows_model("coding"));
        assert!(!narrow.allows_model("anthropic/claude-sonnet-4-5"));
        assert!(narrow.allows_provider("openai") && !narrow.allows_provider("anthropic"));
        assert_eq!(KeyAccess::model_refused("m").status, 403);
    }

    #[test]
    fn admin_input_is_checked_and_unknown_fields_refused() {
        let too_many =
            KeyAccess { scopes: Scopes { models: vec!["a".into(); 65], ..Scopes::default() }, ..KeyAccess::default() };
        assert_eq!(too_many.validate().unwrap_err().param.as_deref(), Some("scopes.models"));
        let empty =
            KeyAccess { scopes: Scopes { providers: vec!["".into()], ..Scopes::default() }, ..KeyAccess::default() };
        assert!(empty.validate().is_err());
        assert!(serde_json::from_str::<KeyAccess>(r#"{"scopes":{"model":["x"]}}"#).is_err());
        assert_eq!(serde_json::from_str::<KeyAccess>("{}").unwrap(), KeyAccess::default());
    }
}
