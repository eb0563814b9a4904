//! What a gateway key may do besides its limits: whether it is enabled, until when it is valid,
//! when in the week it may be used (`schedule`), whether its bodies may be logged, and its scopes:
//! the models (model, combo or alias names as the client sends them), providers and connections it
//! may reach, as glob patterns (`*` any run of characters, `?` one: `routing::alias::glob_match`).
//! Empty scopes allow everything; a pattern starting with `!` refuses what it matches whatever else
//! allows it (a synced key's refused combos are such patterns).
//!
//! Checked on the request path: a disabled or expired key is refused like a wrong one (401), a key
//! outside its schedule with a 403; a model outside the key's scope is refused (403), and a provider
//! or connection outside it is skipped, so a combo keeps serving from its allowed targets.
//! `/v1/models` lists only what the key may use.
//!
//! Admin input is strict (`config::input::parse_strict` refuses unknown keys at any depth); stored
//! values (D1 `api_keys.access`, the KV key entry) are read leniently, as another version of the
//! gateway may have written them: unknown fields are ignored. A stored value that does not decode at
//! all fails closed ([`KeyAccess::from_stored`]): the key is refused (401 `key_unreadable`), never
//! served as an open key.

use super::schedule::{LocalTime, Schedule};
use super::TenantSnapshot;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::limits::KeyLimits;
use crate::routing::alias::glob_match;
use serde::{Deserialize, Serialize};

/// Patterns one scope may hold, and how long each may be.
const MAX_PATTERNS: usize = 64;
const MAX_PATTERN_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyAccess {
    pub enabled: bool,
    /// When the key stops working (ms since epoch); `None`: never.
    pub expires_at: Option<i64>,
    pub scopes: Scopes,
    /// When in the week the key may be used; `None`: any time.
    pub schedule: Option<Schedule>,
    /// The key's request and response bodies are never logged, whatever the tenant's `log_bodies`.
    pub no_log: bool,
    /// Set by the gateway when the key's stored access or limits did not decode: the key is refused
    /// until an administrator sets its access again. Never admin input.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scopes {
    pub models: Vec<String>,
    pub providers: Vec<String>,
    /// Connection ids: only these may serve the key's requests.
    pub connections: Vec<String>,
}

impl Default for KeyAccess {
    fn default() -> Self {
        KeyAccess {
            enabled: true,
            expires_at: None,
            scopes: Scopes::default(),
            schedule: None,
            no_log: false,
            unreadable: false,
        }
    }
}

impl KeyAccess {
    /// What a key whose stored access or limits do not decode may do: nothing.
    pub fn unreadable() -> KeyAccess {
        KeyAccess { enabled: false, unreadable: true, ..KeyAccess::default() }
    }

    /// A key's stored `access` and `limits` columns (JSON text; NULL: open, unlimited). Unknown
    /// fields are ignored; a value that does not decode makes the access [`KeyAccess::unreadable`]
    /// (and the error says which column, for the log).
    pub fn from_stored(access: Option<&str>, limits: Option<&str>) -> (KeyAccess, KeyLimits, Option<String>) {
        fn read<T: serde::de::DeserializeOwned + Default>(
            column: &str,
            text: Option<&str>,
        ) -> std::result::Result<T, String> {
            text.map_or(Ok(T::default()), |t| serde_json::from_str(t).map_err(|e| format!("`{column}`: {e}")))
        }
        match (read::<KeyAccess>("access", access), read::<KeyLimits>("limits", limits)) {
            (Ok(access), Ok(limits)) => (access, limits, None),
            (Err(e), _) | (_, Err(e)) => (KeyAccess::unreadable(), KeyLimits::default(), Some(e)),
        }
    }

    /// Checks admin input.
    pub fn validate(self) -> Result<KeyAccess> {
        if self.unreadable {
            return Err(bad("unreadable", "`unreadable` is set by the gateway, not by input.".into()));
        }
        let scopes = &self.scopes;
        for (name, list) in [
            ("scopes.models", &scopes.models),
            ("scopes.providers", &scopes.providers),
            ("scopes.connections", &scopes.connections),
        ] {
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
        if let Some(s) = &self.schedule {
            s.validate()?;
        }
        Ok(self)
    }

    /// Whether the key may be used at `now_ms`, whose local time in a zone `local` gives (`None`
    /// for a zone the runtime does not know); else the 401 or 403 that says why.
    pub fn usable(&self, now_ms: i64, local: impl FnOnce(&str) -> Option<LocalTime>) -> Result<()> {
        if self.unreadable {
            return Err(GatewayError::authentication(
                "This API key's stored settings cannot be read, so it is refused; an administrator can set its access again.",
            )
            .with_code("key_unreadable"));
        }
        if !self.enabled {
            return Err(GatewayError::authentication("This API key is disabled.").with_code("key_disabled"));
        }
        if self.expires_at.is_some_and(|t| t <= now_ms) {
            return Err(GatewayError::authentication("This API key has expired.").with_code("key_expired"));
        }
        match &self.schedule {
            None => Ok(()),
            Some(s) => match local(&s.time_zone) {
                Some(at) if s.admits(at) => Ok(()),
                Some(at) => Err(s.refused(at)),
                None => Err(s.unknown_zone()),
            },
        }
    }

    pub fn allows_model(&self, model: &str) -> bool {
        any_matches(&self.scopes.models, model)
    }

    pub fn allows_provider(&self, provider: &str) -> bool {
        any_matches(&self.scopes.providers, provider)
    }

    pub fn allows_connection(&self, id: &str) -> bool {
        any_matches(&self.scopes.connections, id)
    }

    /// Whether the key may be given an answer `provider` made through `connection` (a cached one).
    pub fn allows_answer_of(&self, provider: &str, connection: &str) -> bool {
        self.allows_provider(provider) && self.allows_connection(connection)
    }

    /// Whether the key may reach `provider`: it is in scope, and so is one of its active connections.
    pub fn reaches(&self, snapshot: &TenantSnapshot, provider: &str) -> bool {
        self.allows_provider(provider)
            && (self.scopes.connections.is_empty()
                || snapshot.connections_for(provider).iter().any(|c| self.allows_connection(&c.id)))
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

    /// The 403 when none of the connections that serve a model is in the key's scope.
    pub fn connections_refused(model: &str) -> GatewayError {
        GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("This API key may not use the connections that serve `{model}`."),
        )
        .with_param("model")
        .with_code("connection_not_allowed")
    }
}

fn bad(param: &str, message: String) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

fn valid_pattern(p: &str) -> bool {
    let bare = p.strip_prefix('!').unwrap_or(p);
    (1..=MAX_PATTERN_LEN).contains(&bare.len()) && p.chars().all(|c| !c.is_control())
}

/// Whether a scope admits `text`: no `!` pattern matches it, and some other pattern does (or there
/// is none: empty lists allow everything).
fn any_matches(patterns: &[String], text: &str) -> bool {
    let mut allowed = None;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(refused) if glob_match(refused, text) => return false,
            Some(_) => {}
            None => allowed = Some(allowed.unwrap_or(false) || glob_match(p, text)),
        }
    }
    allowed.unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_or_expired_key_is_refused_with_why() {
        let open = KeyAccess::default();
        let utc = |_: &str| Some(LocalTime { weekday: 0, minute: 0 });
        assert!(open.usable(5, utc).is_ok());
        let off = KeyAccess { enabled: false, ..KeyAccess::default() };
        assert_eq!(off.usable(5, utc).unwrap_err().code.as_deref(), Some("key_disabled"));
        let dated = KeyAccess { expires_at: Some(10), ..KeyAccess::default() };
        assert!(dated.usable(9, utc).is_ok());
        let e = dated.usable(10, utc).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (401, Some("key_expired")));
    }

    #[test]
    fn empty_scopes_allow_everything_and_patterns_narrow() {
        let open = KeyAccess::default();
        assert!(open.allows_model("x") && open.allows_provider("y"));
        let narrow = KeyAccess {
            scopes: Scopes {
                models: vec!["openai/*".into(), "coding".into()],
                providers: vec!["openai".into()],
                ..Scopes::default()
            },
            ..KeyAccess::default()
        };
        assert!(narrow.allows_model("openai/gpt-4o") && narrow.allows_model("coding"));
        assert!(!narrow.allows_model("anthropic/claude-sonnet-4-5"));
        assert!(narrow.allows_provider("openai") && !narrow.allows_provider("anthropic"));
        assert_eq!(KeyAccess::model_refused("m").status, 403);
        let conns = KeyAccess { scopes: Scopes { connections: vec!["m1.c1".into()], ..Scopes::default() }, ..open };
        assert!(conns.allows_connection("m1.c1") && !conns.allows_connection("m1.c2"));
        assert_eq!(KeyAccess::connections_refused("m").code.as_deref(), Some("connection_not_allowed"));
    }

    #[test]
    fn a_bang_pattern_refuses_what_it_matches_whatever_else_allows() {
        let access = |models: &[&str]| KeyAccess {
            scopes: Scopes { models: models.iter().map(|m| m.to_string()).collect(), ..Scopes::default() },
            ..KeyAccess::default()
        };
        let all_but = access(&["!secret", "!paid-*"]);
        assert!(all_but.allows_model("openai/gpt-4o") && all_but.allows_model("duo"));
        assert!(!all_but.allows_model("secret") && !all_but.allows_model("paid-combo"));
        let narrow = access(&["openai/*", "!openai/o1*"]);
        assert!(narrow.allows_model("openai/gpt-4o") && !narrow.allows_model("openai/o1-pro"));
        assert!(!narrow.allows_model("anthropic/claude"));
        assert!(access(&["!"]).validate().is_err(), "a bare `!` excludes nothing nameable");
    }

    /// The platform gives the local time in a zone; here fixed offsets stand in for it (a Thursday,
    /// 1970-01-01 00:00 UTC, plus whole days and minutes).
    #[test]
    fn a_scheduled_key_is_usable_inside_its_window_in_its_zone_only() {
        let at_offset = |offset_min: i64| {
            move |now_ms: i64| {
                let local = now_ms / 60_000 + offset_min;
                LocalTime {
                    weekday: ((local.div_euclid(1440) + 4).rem_euclid(7)) as u8,
                    minute: local.rem_euclid(1440) as u16,
                }
            }
        };
        // Monday 2026-11-23 07:30 UTC.
        let now = 1_795_419_000_000;
        assert_eq!(at_offset(0)(now), LocalTime { weekday: 1, minute: 7 * 60 + 30 });
        let schedule = |zone: &str| Schedule {
            days: vec![1, 2, 3, 4, 5],
            from: "09:00".into(),
            until: "17:00".into(),
            time_zone: zone.into(),
        };
        let key = |zone: &str| KeyAccess { schedule: Some(schedule(zone)), ..KeyAccess::default() };
        let zones = |zone: &str| match zone {
            "Europe/Berlin" => Some(at_offset(60)(now)),
            "Asia/Tokyo" => Some(at_offset(9 * 60)(now)),
            "America/New_York" => Some(at_offset(-5 * 60)(now)),
            _ => None,
        };
        assert!(key("Europe/Berlin").usable(now, zones).is_err(), "08:30 in Berlin");
        assert!(key("Asia/Tokyo").usable(now, zones).is_ok(), "16:30 in Tokyo");
        let e = key("America/New_York").usable(now, zones).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (403, Some("outside_schedule")));
        assert!(e.message.contains("it is Mon 02:30"), "{}", e.message);
        let e = key("Mars/Olympus").usable(now, zones).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (403, Some("outside_schedule")));
        assert!(e.message.contains("unknown"), "{}", e.message);
        let off = KeyAccess { enabled: false, ..key("Asia/Tokyo") };
        assert_eq!(off.usable(now, zones).unwrap_err().status, 401, "disabled before scheduled");
    }

    #[test]
    fn admin_input_is_checked_and_unknown_fields_refused() {
        use crate::config::input::{parse_strict, ApiKeyPatch};
        let too_many =
            KeyAccess { scopes: Scopes { models: vec!["a".into(); 65], ..Scopes::default() }, ..KeyAccess::default() };
        assert_eq!(too_many.validate().unwrap_err().param.as_deref(), Some("scopes.models"));
        let empty =
            KeyAccess { scopes: Scopes { providers: vec!["".into()], ..Scopes::default() }, ..KeyAccess::default() };
        assert!(empty.validate().is_err());
        let typo = parse_strict::<ApiKeyPatch>(br#"{"access":{"scopes":{"model":["x"]}}}"#).unwrap_err();
        assert_eq!(typo.param.as_deref(), Some("access.scopes.model"));
        let schedule =
            br#"{"access":{"schedule":{"days":[1],"from":"09:00","until":"17:00","time_zone":"UTC","x":1}}}"#;
        assert!(parse_strict::<ApiKeyPatch>(schedule).is_err());
        let forged = parse_strict::<ApiKeyPatch>(br#"{"access":{"unreadable":true}}"#).unwrap().validate();
        assert_eq!(forged.unwrap_err().param.as_deref(), Some("unreadable"));
        let bad_schedule = r#"{"schedule":{"days":[1],"from":"09:00","until":"9:00","time_zone":"UTC"}}"#;
        let e = serde_json::from_str::<KeyAccess>(bad_schedule).unwrap().validate().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("schedule.until"));
        assert_eq!(serde_json::from_str::<KeyAccess>("{}").unwrap(), KeyAccess::default());
    }

    #[test]
    fn stored_access_from_a_newer_version_keeps_its_scopes() {
        let future = r#"{"enabled":true,"scopes":{"models":["openai/*"],"regions":["eu"]},"ip_allow":["10.0.0.0/8"],
            "schedule":{"days":[1],"from":"09:00","until":"17:00","time_zone":"UTC","holidays":"de"}}"#;
        let (access, limits, error) =
            KeyAccess::from_stored(Some(future), Some(r#"{"requests_per_minute":5,"burst":9}"#));
        assert_eq!(error, None);
        assert!(!access.unreadable && access.enabled && access.schedule.is_some());
        assert!(access.allows_model("openai/gpt-4o") && !access.allows_model("anthropic/claude"));
        assert_eq!(limits.requests_per_minute, Some(5));
        let (open, none, _) = KeyAccess::from_stored(None, None);
        assert_eq!((open, none), (KeyAccess::default(), KeyLimits::default()), "NULL columns: open, unlimited");
    }

    #[test]
    fn stored_access_or_limits_that_do_not_decode_refuse_the_key() {
        let utc = |_: &str| Some(LocalTime { weekday: 0, minute: 0 });
        for (access, limits) in [
            (Some(r#"{"scopes":{"models":"openai/*"}}"#), None),
            (Some("{not json"), None),
            (Some(r#"["x"]"#), None),
            (None, Some(r#"{"requests_per_minute":"many"}"#)),
        ] {
            let (stored, _, error) = KeyAccess::from_stored(access, limits);
            assert!(error.is_some(), "{access:?} {limits:?}");
            let e = stored.usable(5, utc).unwrap_err();
            assert_eq!((e.status, e.code.as_deref()), (401, Some("key_unreadable")), "{access:?} {limits:?}");
        }
        // The marker survives the KV entry's round trip, and an older reader sees a disabled key.
        let json = serde_json::to_string(&KeyAccess::unreadable()).unwrap();
        assert_eq!(serde_json::from_str::<KeyAccess>(&json).unwrap(), KeyAccess::unreadable());
        assert!(json.contains(r#""enabled":false"#), "{json}");
    }
}
