//! Per-tenant settings, stored as one JSON object. Admin patches are strict (unknown keys are
//! refused, values range-checked); stored settings are read leniently ([`Settings::from_stored`]), as
//! another version of the gateway may have written them.
//!
//! Lenient reading fails closed: a stored value that does not decode takes its default only where
//! the default lets through no more than any stored value could. A guard ([`Settings::GUARDS`]: the
//! address lists, the CORS origins, the system prompt, the request size bound) is instead marked
//! `unreadable`, and what it guards is refused until an administrator sets it again
//! ([`Settings::admit_v1`], [`Settings::admit_management`], [`Settings::cors`]).

use super::input::{unknown_key, unknown_key_error};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::policy::{Policies, ThinkingMode};
use crate::resilience::breaker::BreakerProfile;
use crate::resilience::state::Profiles;
use crate::routing::strategy::Strategy;
use crate::security::cidr::{self, Cidr};
use crate::security::cors::{self, Decision};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The guards of `/v1`: unreadable, the tenant's keys are refused.
const V1_GUARDS: [&str; 4] = ["v1_ip_allow", "v1_ip_block", "system_prompt", "max_request_bytes"];
/// The guards of the management API: unreadable, only the owner's `ADMIN_SECRET` passes (to repair them).
const ADMIN_GUARDS: [&str; 2] = ["admin_ip_allow", "admin_ip_block"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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
    /// Days the request log keeps a request (hourly usage aggregates are kept 400 days).
    pub log_retention_days: u32,
    /// Whether the request log keeps request and response bodies (redacted, capped). Off by default:
    /// bodies are the users' conversations.
    pub log_bodies: bool,
    /// The most of each body the log keeps, in bytes.
    pub log_body_max_bytes: u64,
    /// Streams that die after their first byte continue from the next attempt, for every model
    /// (a combo can also opt in alone with `continue_streams`).
    pub stream_continuation: bool,
    /// How long an attempt may wait for a connection at its limits (`limits::connection`) before
    /// moving on to the next account or target; 0 moves on at once.
    pub connection_wait_ms: u64,
    /// The response cache (`replay::key`): deterministic requests (temperature 0) and those that
    /// opt in with `X-OmniRoute-Cache: force` are answered from it when the same request was
    /// answered within the TTL.
    pub response_cache: bool,
    /// How long a cached answer is served, in seconds (KV's shortest expiry is 60 s).
    pub response_cache_ttl_secs: u64,
    /// How long an answer is replayed to requests with the same `Idempotency-Key`, in milliseconds
    /// after it was made; 0 turns idempotency off.
    pub idempotency_window_ms: u64,
    /// Client addresses (`CF-Connecting-IP`) allowed to call `/v1` with this tenant's keys: CIDR
    /// ranges or single addresses, IPv4 or IPv6; empty allows every address.
    pub v1_ip_allow: Vec<String>,
    /// Client addresses refused on `/v1`, whatever the allow list says.
    pub v1_ip_block: Vec<String>,
    /// A system prompt put before every conversation request's own (`policy`); empty: none.
    pub system_prompt: String,
    /// How requests reason: `passthrough`, `off`, `fixed` (`thinking_budget_tokens`) or
    /// `adaptive` (the client's effort, else `thinking_effort`). See `policy`.
    pub thinking_mode: ThinkingMode,
    pub thinking_budget_tokens: u64,
    pub thinking_effort: String,
    /// Instance-wide (read from the default tenant's settings; only the owner changes them):
    /// client addresses allowed to reach the management API (`/api/*`, the sign-in included).
    pub admin_ip_allow: Vec<String>,
    /// Instance-wide: client addresses refused on the management API.
    pub admin_ip_block: Vec<String>,
    /// Instance-wide: web origins whose pages may call `/v1` from a browser (`security::cors`);
    /// `*` allows any.
    pub cors_origins: Vec<String>,
    /// Set by the gateway, never input: the guards ([`Settings::GUARDS`]) whose stored value did not
    /// decode. What they guard is refused until each is set again (a patch that gives it clears it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
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
            log_retention_days: 30,
            log_bodies: false,
            log_body_max_bytes: 16 * 1024,
            stream_continuation: false,
            connection_wait_ms: 0,
            response_cache: true,
            response_cache_ttl_secs: 1_800,
            idempotency_window_ms: 5_000,
            v1_ip_allow: Vec::new(),
            v1_ip_block: Vec::new(),
            system_prompt: String::new(),
            thinking_mode: ThinkingMode::Passthrough,
            thinking_budget_tokens: 8_192,
            thinking_effort: "medium".into(),
            admin_ip_allow: Vec::new(),
            admin_ip_block: Vec::new(),
            cors_origins: vec!["*".into()],
            unreadable: Vec::new(),
        }
    }
}

impl Settings {
    pub const MAX_REQUEST_BYTES_RANGE: (u64, u64) = (1024, 100 * 1024 * 1024);
    pub const UPSTREAM_TIMEOUT_RANGE: (u64, u64) = (1_000, 600_000);
    pub const BREAKER_THRESHOLD_RANGE: (u64, u64) = (1, 1_000);
    pub const BREAKER_RESET_RANGE: (u64, u64) = (1_000, 3_600_000);
    pub const LOG_RETENTION_DAYS_RANGE: (u64, u64) = (1, 365);
    pub const LOG_BODY_MAX_BYTES_RANGE: (u64, u64) = (256, 1024 * 1024);
    pub const RESPONSE_CACHE_TTL_RANGE: (u64, u64) = (60, 30 * 86_400);
    pub const IDEMPOTENCY_WINDOW_RANGE: (u64, u64) = (0, 86_400_000);
    pub const MAX_IP_ENTRIES: u64 = 256;
    pub const MAX_CORS_ORIGINS: u64 = 64;
    /// The settings that apply to the whole instance, kept in the default tenant's settings.
    pub const INSTANCE_KEYS: [&'static str; 3] = ["admin_ip_allow", "admin_ip_block", "cors_origins"];
    /// Settings whose default guards less than a stored value may (an empty allow or block list, `*`
    /// origins, no system prompt, the largest body): one whose stored value does not decode refuses
    /// what it guards instead of taking its default.
    pub const GUARDS: [&'static str; 7] = [
        "v1_ip_allow",
        "v1_ip_block",
        "system_prompt",
        "max_request_bytes",
        "admin_ip_allow",
        "admin_ip_block",
        "cors_origins",
    ];
    pub const MAX_SYSTEM_PROMPT_BYTES: u64 = 32 * 1024;
    /// Anthropic's smallest budget up to the largest outputs models take.
    pub const THINKING_BUDGET_RANGE: (u64, u64) = (1_024, 128_000);

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
        if patch.contains_key("unreadable") {
            let e = bad("`unreadable` is set by the gateway, not by input; set the settings it names instead.".into());
            return Err(e.with_param("unreadable"));
        }
        let mut merged = serde_json::to_value(self).map_err(|e| bad(e.to_string()))?;
        if let Some(key) = unknown_key(&serde_json::Value::Object(patch.clone()), &merged) {
            return Err(unknown_key_error(&key));
        }
        if let serde_json::Value::Object(m) = &mut merged {
            for (k, v) in patch {
                m.insert(k.clone(), v.clone());
            }
        }
        let mut next: Settings = serde_json::from_value(merged).map_err(|e| bad(format!("Invalid settings: {e}")))?;
        next.unreadable.retain(|k| !patch.contains_key(k));
        next.validate()?;
        Ok(next)
    }

    /// What [`Settings::from_stored`] names as dropped when the stored value is no object at all.
    pub const NOT_AN_OBJECT: &'static str = "(not an object)";

    /// Settings as stored (in D1 or a snapshot), written by this or another version of the gateway.
    /// Unknown keys are ignored and missing ones take their defaults. A value that does not decode
    /// (a type or variant this version does not know, damage) falls back alone: a guard
    /// ([`Settings::GUARDS`]) is marked `unreadable`, a few others take their most careful value
    /// (the response cache off, the shortest cache TTL and logged body), the rest their default. The
    /// keys so dropped are returned for the log. Never fails: a stored setting must not break requests.
    pub fn from_stored(stored: &serde_json::Value) -> (Settings, Vec<String>) {
        let mut current = Settings::default();
        let mut dropped = Vec::new();
        let Some(stored) = stored.as_object() else {
            current.unreadable = Self::GUARDS.map(String::from).to_vec();
            current.unreadable.sort();
            current.apply_careful(Self::CAREFUL);
            return (current, vec![Self::NOT_AN_OBJECT.to_string()]);
        };
        for (key, value) in stored {
            if key == "unreadable" {
                // The gateway's own mark, kept until the setting is set again; itself damaged, all guards.
                let marked = serde_json::from_value::<Vec<String>>(value.clone())
                    .unwrap_or_else(|_| Self::GUARDS.map(String::from).to_vec());
                current.unreadable.extend(marked.into_iter().filter(|k| Self::GUARDS.contains(&k.as_str())));
                continue;
            }
            let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(&current) else { break };
            if !map.contains_key(key) {
                continue; // a setting of another version
            }
            map.insert(key.clone(), value.clone());
            match serde_json::from_value(serde_json::Value::Object(map)) {
                Ok(next) => current = next,
                Err(_) => {
                    dropped.push(key.clone());
                    if Self::GUARDS.contains(&key.as_str()) {
                        current.unreadable.push(key.clone());
                    }
                    current.apply_careful([key.as_str()]);
                }
            }
        }
        current.unreadable.sort();
        current.unreadable.dedup();
        (current, dropped)
    }

    /// Settings that are no guard but have a more careful value than their default, taken when the
    /// stored one does not decode. (`log_retention_days` keeps its default: a shorter one would
    /// delete logs for good, a longer one only keeps them until the setting is set again.)
    const CAREFUL: [&'static str; 3] = ["response_cache", "response_cache_ttl_secs", "log_body_max_bytes"];

    fn apply_careful<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        for key in keys {
            match key {
                "response_cache" => self.response_cache = false,
                "response_cache_ttl_secs" => self.response_cache_ttl_secs = Self::RESPONSE_CACHE_TTL_RANGE.0,
                "log_body_max_bytes" => self.log_body_max_bytes = Self::LOG_BODY_MAX_BYTES_RANGE.0,
                _ => {}
            }
        }
    }

    /// Which of `guards` are unreadable.
    fn unreadable_of(&self, guards: &[&str]) -> Vec<String> {
        self.unreadable.iter().filter(|k| guards.contains(&k.as_str())).map(|k| format!("`{k}`")).collect()
    }

    /// Whether a request from `ip` may use what `guards` guard (`whose`): not while one of them is
    /// unreadable (unless `owner_secret()`), and only from an address the lists admit.
    fn admit(
        &self,
        (guards, allow, block): (&[&str], &[String], &[String]),
        ip: Option<IpAddr>,
        (whose, repair): (&str, &str),
        owner_secret: impl FnOnce() -> bool,
    ) -> Result<()> {
        let unreadable = self.unreadable_of(guards);
        if !unreadable.is_empty() {
            if owner_secret() {
                return Ok(());
            }
            let settings = if unreadable.len() == 1 { "setting" } else { "settings" };
            let names = unreadable.join(", ");
            return Err(GatewayError::new(
                ErrorKind::PermissionDenied,
                format!("The stored {settings} {names} cannot be read, so {whose} may not be used until {repair}."),
            )
            .with_code("settings_unreadable"));
        }
        if (allow.is_empty() && block.is_empty()) || cidr::admits(allow, block, ip) {
            Ok(())
        } else {
            Err(cidr::refused(whose))
        }
    }

    /// Whether a `/v1` request from `ip` (`CF-Connecting-IP`) may use this tenant's keys: not while
    /// a `/v1` guard is unreadable, and only from an address the tenant's lists admit.
    pub fn admit_v1(&self, ip: Option<IpAddr>) -> Result<()> {
        let guards = (&V1_GUARDS[..], &self.v1_ip_allow[..], &self.v1_ip_block[..]);
        self.admit(guards, ip, ("this tenant's gateway keys", "an administrator sets it again"), || false)
    }

    /// Whether a management request from `ip` passes the instance's lists (these are the default
    /// tenant's settings). While a list is unreadable only the owner's `ADMIN_SECRET` bearer passes
    /// (`admin_secret` says whether the request bears it), from any address, so it can repair it.
    pub fn admit_management(&self, ip: Option<IpAddr>, admin_secret: impl FnOnce() -> bool) -> Result<()> {
        let guards = (&ADMIN_GUARDS[..], &self.admin_ip_allow[..], &self.admin_ip_block[..]);
        let repair = "the owner sets it again (`PATCH /api/settings` with `Authorization: Bearer <ADMIN_SECRET>`)";
        self.admit(guards, ip, ("this gateway's management API", repair), admin_secret)
    }

    /// What a browser's cross-origin call to `/v1` from `origin` gets; none while `cors_origins`
    /// is unreadable.
    pub fn cors(&self, origin: &str) -> Decision {
        if self.unreadable.iter().any(|k| k == "cors_origins") {
            return Decision::Refuse;
        }
        cors::decide(&self.cors_origins, origin)
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
        check("sticky_limit", self.sticky_limit.into(), (1, 1_000))?;
        check("log_retention_days", self.log_retention_days.into(), Self::LOG_RETENTION_DAYS_RANGE)?;
        check("log_body_max_bytes", self.log_body_max_bytes, Self::LOG_BODY_MAX_BYTES_RANGE)?;
        check("connection_wait_ms", self.connection_wait_ms, (0, 30_000))?;
        check("response_cache_ttl_secs", self.response_cache_ttl_secs, Self::RESPONSE_CACHE_TTL_RANGE)?;
        check("idempotency_window_ms", self.idempotency_window_ms, Self::IDEMPOTENCY_WINDOW_RANGE)?;
        let ip_lists = [
            ("v1_ip_allow", &self.v1_ip_allow),
            ("v1_ip_block", &self.v1_ip_block),
            ("admin_ip_allow", &self.admin_ip_allow),
            ("admin_ip_block", &self.admin_ip_block),
        ];
        for (name, list) in ip_lists {
            check(name, list.len() as u64, (0, Self::MAX_IP_ENTRIES))?;
            if let Some(bad) = list.iter().find(|e| Cidr::parse(e).is_none()) {
                return Err(GatewayError::invalid_request(format!(
                    "`{name}`: `{bad}` is not an IP address or CIDR range (e.g. `203.0.113.0/24`, `2001:db8::/32`)."
                ))
                .with_param(name));
            }
        }
        check("cors_origins", self.cors_origins.len() as u64, (0, Self::MAX_CORS_ORIGINS))?;
        if let Some(bad) = self.cors_origins.iter().find(|e| !crate::security::cors::valid_entry(e)) {
            return Err(GatewayError::invalid_request(format!(
                "`cors_origins`: `{bad}` is not `*` or an origin (e.g. `https://app.example.com`, `https://*.example.com`)."
            ))
            .with_param("cors_origins"));
        }
        check("system_prompt", self.system_prompt.len() as u64, (0, Self::MAX_SYSTEM_PROMPT_BYTES))?;
        check("thinking_budget_tokens", self.thinking_budget_tokens, Self::THINKING_BUDGET_RANGE)?;
        if !matches!(self.thinking_effort.as_str(), "minimal" | "low" | "medium" | "high" | "xhigh") {
            return Err(GatewayError::invalid_request(
                "`thinking_effort` is one of minimal, low, medium, high, xhigh.",
            )
            .with_param("thinking_effort"));
        }
        Ok(())
    }

    /// The request policies these settings select.
    pub fn policies(&self) -> Policies<'_> {
        Policies {
            system_prompt: &self.system_prompt,
            thinking: self.thinking_mode,
            budget_tokens: self.thinking_budget_tokens,
            effort: &self.thinking_effort,
        }
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
        for (patch, param) in [
            (json!({"log_retention_days": 0}), "log_retention_days"),
            (json!({"log_retention_days": 366}), "log_retention_days"),
            (json!({"log_body_max_bytes": 255}), "log_body_max_bytes"),
            (json!({"log_body_max_bytes": 1024 * 1024 + 1}), "log_body_max_bytes"),
        ] {
            assert_eq!(d.patched(&patch).unwrap_err().param.as_deref(), Some(param), "{patch}");
        }
        assert!(d.patched(&json!({"log_bodies": "yes"})).is_err());
    }

    #[test]
    fn metering_settings_default_to_a_month_without_bodies() {
        let d = Settings::default();
        assert_eq!((d.log_retention_days, d.log_bodies, d.log_body_max_bytes), (30, false, 16 * 1024));
        let s = d.patched(&json!({"log_retention_days": 365, "log_bodies": true, "log_body_max_bytes": 256})).unwrap();
        assert_eq!((s.log_retention_days, s.log_bodies, s.log_body_max_bytes), (365, true, 256));
    }

    #[test]
    fn ip_lists_take_cidr_ranges_and_name_a_bad_entry() {
        let s = Settings::default().patched(&json!({"v1_ip_allow": ["10.0.0.0/8", "2001:db8::1"]})).unwrap();
        assert_eq!(s.v1_ip_allow.len(), 2);
        let e = Settings::default().patched(&json!({"v1_ip_block": ["10.0.0.0/8", "10.0.0/8"]})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("v1_ip_block"));
        assert!(e.message.contains("`10.0.0/8`"), "{}", e.message);
        let many: Vec<String> = (0..257).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
        assert!(Settings::default().patched(&json!({"v1_ip_allow": many})).is_err());
    }

    #[test]
    fn refused_unknown_key_is_named() {
        let e = Settings::default().patched(&json!({"sticky_limit": 2, "max_request_byte": 9})).unwrap_err();
        assert_eq!(
            (e.status, e.param.as_deref(), e.code.as_deref()),
            (400, Some("max_request_byte"), Some("unknown_field"))
        );
    }

    #[test]
    fn stored_json_with_missing_keys_gets_defaults() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(Settings::from_stored(&json!({})), (Settings::default(), vec![]));
    }

    #[test]
    fn stored_json_of_another_version_is_read_key_by_key() {
        // Today's exact shape, plus a setting of a newer version: read as is, the new key ignored.
        let mut today = serde_json::to_value(Settings { sticky_limit: 7, ..Settings::default() }).unwrap();
        today["retry_budget_ms"] = json!(5000);
        let (s, dropped) = Settings::from_stored(&today);
        assert_eq!((s.sticky_limit, dropped.len()), (7, 0));
        assert_eq!(serde_json::from_value::<Settings>(today).unwrap().sticky_limit, 7);
        // A value this version cannot read (a newer strategy, a changed type) falls back alone.
        let (s, dropped) = Settings::from_stored(
            &json!({"account_strategy": "fastest_first", "upstream_timeout_ms": "soon", "sticky_limit": 9}),
        );
        assert_eq!((s.account_strategy, s.upstream_timeout_ms, s.sticky_limit), (Strategy::Priority, 120_000, 9));
        assert_eq!(dropped, ["account_strategy", "upstream_timeout_ms"]);
        assert_eq!(Settings::from_stored(&json!([1])).0.unreadable.len(), Settings::GUARDS.len(), "fails closed");
    }

    #[test]
    fn a_guard_that_does_not_decode_refuses_what_it_guards_instead_of_opening_it() {
        let ip = Some("203.0.113.9".parse().unwrap());
        for key in ["v1_ip_allow", "v1_ip_block", "system_prompt", "max_request_bytes"] {
            let (s, dropped) = Settings::from_stored(&json!({key: {"from": "damage"}, "sticky_limit": 4}));
            assert_eq!(
                (dropped, s.unreadable.clone(), s.sticky_limit),
                (vec![key.to_string()], vec![key.to_string()], 4)
            );
            let e = s.admit_v1(ip).unwrap_err();
            assert_eq!((e.status, e.code.as_deref()), (403, Some("settings_unreadable")), "{key}");
            assert!(e.message.contains(&format!("`{key}`")), "{}", e.message);
            assert!(s.admit_management(ip, || false).is_ok(), "{key} guards /v1 only");
        }
        for key in ["admin_ip_allow", "admin_ip_block"] {
            let (s, _) = Settings::from_stored(&json!({key: "10.0.0.0/8"}));
            let e = s.admit_management(ip, || false).unwrap_err();
            assert_eq!((e.status, e.code.as_deref()), (403, Some("settings_unreadable")), "{key}");
            assert!(e.message.contains("ADMIN_SECRET"), "{}", e.message);
            assert!(s.admit_management(None, || true).is_ok(), "the owner's secret passes to repair it");
            assert!(s.admit_v1(ip).is_ok());
        }
        let (s, _) = Settings::from_stored(&json!({"cors_origins": "https://app.example.com"}));
        assert_eq!(s.cors("https://app.example.com"), Decision::Refuse);
        assert_eq!(Settings::default().cors("https://app.example.com"), Decision::Any);
        // A settings value that is not an object at all: every guard is unreadable.
        let (s, _) = Settings::from_stored(&serde_json::Value::Null);
        assert_eq!(s.unreadable.len(), Settings::GUARDS.len());
        assert!(s.admit_v1(ip).is_err() && s.admit_management(ip, || false).is_err());
    }

    #[test]
    fn a_damaged_setting_that_is_no_guard_takes_its_most_careful_value() {
        let (s, dropped) = Settings::from_stored(&json!({
            "response_cache": "yes", "response_cache_ttl_secs": -1, "log_body_max_bytes": "all", "log_bodies": 1,
            "log_retention_days": "forever",
        }));
        assert_eq!(dropped.len(), 5);
        assert!(s.unreadable.is_empty());
        assert_eq!((s.response_cache, s.response_cache_ttl_secs, s.log_body_max_bytes), (false, 60, 256));
        assert_eq!((s.log_bodies, s.log_retention_days), (false, 30));
    }

    #[test]
    fn guards_of_a_newer_version_with_extra_fields_still_read() {
        // A newer version's settings: today's guards as they are, plus settings this one does not know.
        let stored = json!({
            "v1_ip_allow": ["203.0.113.0/24"], "admin_ip_block": ["198.51.100.7"], "cors_origins": ["https://a.example"],
            "system_prompt": "Be brief.", "v1_ip_geo": {"allow": ["EU"]}, "admin_mfa": true,
        });
        let (s, dropped) = Settings::from_stored(&stored);
        assert!(dropped.is_empty() && s.unreadable.is_empty());
        assert!(s.admit_v1(Some("203.0.113.9".parse().unwrap())).is_ok());
        assert_eq!(s.admit_v1(Some("192.0.2.1".parse().unwrap())).unwrap_err().code.as_deref(), Some("ip_not_allowed"));
        assert!(s.admit_management(Some("198.51.100.7".parse().unwrap()), || true).is_err(), "the list applies to all");
        assert_eq!(s.cors("https://a.example"), Decision::Echo);
    }

    #[test]
    fn the_unreadable_mark_outlives_other_patches_and_goes_when_its_setting_is_set() {
        let (damaged, _) = Settings::from_stored(&json!({"v1_ip_allow": 7, "cors_origins": false}));
        let other = damaged.patched(&json!({"sticky_limit": 2})).unwrap();
        assert_eq!(other.unreadable, ["cors_origins", "v1_ip_allow"]);
        // Stored and read back (as D1 and the snapshot do), the mark stays.
        let (again, dropped) = Settings::from_stored(&serde_json::to_value(&other).unwrap());
        assert_eq!((again.unreadable.clone(), dropped.len()), (other.unreadable.clone(), 0));
        let repaired = again.patched(&json!({"v1_ip_allow": []})).unwrap();
        assert_eq!(repaired.unreadable, ["cors_origins"]);
        assert!(repaired.admit_v1(None).is_ok());
        let e = repaired.patched(&json!({"unreadable": []})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("unreadable"));
        assert!(Settings::default().patched(&json!({"unreadable": ["x"]})).is_err());
        assert!(serde_json::to_value(Settings::default()).unwrap().get("unreadable").is_none(), "absent when none");
        // A mark naming no guard is not kept.
        assert!(Settings::from_stored(&json!({"unreadable": ["sticky_limit"]})).0.unreadable.is_empty());
    }
}
