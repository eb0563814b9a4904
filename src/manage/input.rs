//! The management API's checks for the routing documents and query parameters: raw request bytes
//! in, values ready to store out. The platform only reads bodies and runs SQL.

use crate::config::input::{parse, parse_strict};
use crate::config::Settings;
use crate::error::{GatewayError, Result};
use crate::providers::{self, node, Catalog, ProviderNode};
use crate::routing::alias::{self, Alias, Aliases};
use crate::routing::combo::{self, Combo};
use serde::{Deserialize, Serialize};

/// `POST /api/combos`: a valid combo whose name does not shadow a provider and that, saved next to
/// the tenant's `stored` combos (replacing its namesake), closes no cycle.
pub fn combo(body: &[u8], stored: &[Combo]) -> Result<Combo> {
    let combo: Combo = parse_strict(body)?;
    combo.validate()?;
    if providers::find(&combo.name).is_some() {
        return Err(GatewayError::invalid_request(format!(
            "`{}` is a provider name; pick another combo name.",
            combo.name
        ))
        .with_param("name"));
    }
    // The new combo first, so that a cycle is named from it.
    let others = stored.iter().filter(|c| c.name != combo.name).cloned();
    let all: Vec<Combo> = std::iter::once(combo.clone()).chain(others).collect();
    combo::refuse_cycles(&all, "targets")?;
    Ok(combo)
}

/// `POST /api/aliases`: a valid alias that, saved next to the tenant's `stored` aliases, leads
/// back to no name it started from.
pub fn alias(body: &[u8], stored: &Aliases) -> Result<Alias> {
    let a: Alias = parse_strict(body)?;
    alias::validate_alias(&a.pattern, &a.target)?;
    stored.with(a.clone()).refuse_loops("target")?;
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

/// Who asks for a settings change, as far as the instance-wide settings care.
pub struct SettingsCaller {
    pub owner: bool,
    /// Whether the settings are the default tenant's (where instance settings live).
    pub default_tenant: bool,
    /// The caller's address, when the request came through Cloudflare.
    pub ip: Option<std::net::IpAddr>,
}

/// `PATCH /api/settings`: the patched settings, checked by [`settings_write`].
pub fn settings_update(current: &Settings, patch: &serde_json::Value, who: &SettingsCaller) -> Result<Settings> {
    settings_write(current, current.patched(patch)?, who)
}

/// The one check every write of a tenant's settings goes through (`PATCH /api/settings`, a backup's
/// import or restore), so that no write path can forget it: `next` is validated, an instance-wide
/// setting (`Settings::INSTANCE_KEYS`) that changes must be the owner's change in the default
/// tenant's settings, and management IP lists that would refuse the caller's own address are
/// refused, so that no one locks themselves (or the owner, as an operator) out.
pub fn settings_write(current: &Settings, next: Settings, who: &SettingsCaller) -> Result<Settings> {
    next.validate()?;
    let (before, after) = (serde_json::to_value(current), serde_json::to_value(&next));
    let (Ok(before), Ok(after)) = (before, after) else {
        return Err(GatewayError::internal("settings do not serialize"));
    };
    // An instance setting changes with its value, or with its `unreadable` mark (an import carries
    // the mark of an archive exported while the setting could not be read).
    let marked = |s: &Settings, k: &str| s.unreadable.iter().any(|u| u == k);
    let changed = Settings::INSTANCE_KEYS
        .into_iter()
        .find(|k| before.get(k) != after.get(k) || marked(current, k) != marked(&next, k));
    if let Some(key) = changed {
        if !who.owner {
            return Err(GatewayError::new(
                crate::error::ErrorKind::PermissionDenied,
                format!("`{key}` applies to the whole instance: only the owner changes it."),
            )
            .with_param(key)
            .with_code("owner_only"));
        }
        if !who.default_tenant {
            return Err(GatewayError::invalid_request(format!(
                "`{key}` applies to the whole instance: set it in the default tenant's settings."
            ))
            .with_param(key));
        }
    }
    // A management list marked unreadable by a write would refuse every session, the writer's too.
    if let Some(key) =
        ["admin_ip_allow", "admin_ip_block"].into_iter().find(|k| marked(&next, k) && !marked(current, k))
    {
        return Err(GatewayError::invalid_request(format!(
            "`{key}` is marked unreadable in these settings (exported while it could not be read), which would refuse every session; set it and remove the mark first."
        ))
        .with_param(key)
        .with_code("would_lock_out"));
    }
    let ip_lists_changed =
        next.admin_ip_allow != current.admin_ip_allow || next.admin_ip_block != current.admin_ip_block;
    if ip_lists_changed && !crate::security::cidr::admits(&next.admin_ip_allow, &next.admin_ip_block, who.ip) {
        let whose = who.ip.map_or("a caller without a client address".to_string(), |ip| format!("your address {ip}"));
        return Err(GatewayError::invalid_request(format!(
            "These management IP lists would refuse {whose}; include it in `admin_ip_allow` (and not in `admin_ip_block`)."
        ))
        .with_param(if next.admin_ip_allow != current.admin_ip_allow { "admin_ip_allow" } else { "admin_ip_block" })
        .with_code("would_lock_out"));
    }
    Ok(next)
}

/// `POST /api/providers/{id}/test`: the model to test with, if not the provider's first; an empty
/// body is no choice.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTest {
    pub model: Option<String>,
}

pub fn connection_test(body: &[u8]) -> Result<ConnectionTest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ConnectionTest::default());
    }
    parse(body)
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
        let e = combo(br#"{"name":"openai","targets":[{"model":"openai/gpt-4o"}]}"#, &[]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("name"));
        assert!(combo(br#"{"name":"mine","targets":[{"model":"openai/gpt-4o"}]}"#, &[]).is_ok());
        assert!(combo(br#"{"name":"mine","targets":[{"model":"openai/gpt-4o"}],"typo":1}"#, &[]).is_err());
    }

    #[test]
    fn a_combo_or_alias_that_closes_a_cycle_is_refused_naming_it() {
        let b = combo(br#"{"name":"b","targets":[{"model":"a"}]}"#, &[]).unwrap();
        let e = combo(br#"{"name":"a","targets":[{"model":"b"}]}"#, std::slice::from_ref(&b)).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("combo_cycle")));
        assert!(e.message.contains("a -> b -> a"), "{}", e.message);
        // Replacing `b` itself so that it no longer names `a` is fine.
        assert!(combo(br#"{"name":"b","targets":[{"model":"openai/gpt-4o"}]}"#, &[b]).is_ok());

        let stored = Aliases::new([("fast", "quick")]);
        let e = alias(br#"{"pattern":"quick","target":"fast"}"#, &stored).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("alias_loop")));
        assert!(e.message.contains("fast -> quick -> fast"), "{}", e.message);
        assert!(alias(br#"{"pattern":"quick","target":"openai/gpt-4o"}"#, &stored).is_ok());
    }

    #[test]
    fn custom_models_need_a_known_provider() {
        let catalog = Catalog::new(&[], &Default::default());
        assert!(custom_models(br#"{"provider":"openai","models":["gpt-x"]}"#, &catalog).is_ok());
        let e = custom_models(br#"{"provider":"nobody","models":["m"]}"#, &catalog).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("provider"));
    }

    fn caller(owner: bool, default_tenant: bool, ip: &str) -> SettingsCaller {
        SettingsCaller { owner, default_tenant, ip: ip.parse().ok() }
    }

    #[test]
    fn instance_settings_are_the_owners_in_the_default_tenant() {
        let s = Settings::default();
        let patch = serde_json::json!({"cors_origins": ["https://app.example.com"]});
        let next = settings_update(&s, &patch, &caller(true, true, "192.0.2.1")).unwrap();
        assert_eq!(next.cors_origins, ["https://app.example.com"]);
        assert_eq!(settings_update(&s, &patch, &caller(false, true, "192.0.2.1")).unwrap_err().status, 403);
        assert_eq!(settings_update(&s, &patch, &caller(true, false, "192.0.2.1")).unwrap_err().status, 400);
        // Tenant settings stay anyone's who may reach the tenant.
        assert!(settings_update(&s, &serde_json::json!({"sticky_limit": 5}), &caller(false, false, "")).is_ok());
    }

    #[test]
    fn management_ip_lists_may_not_lock_the_caller_out() {
        let s = Settings::default();
        let me = caller(true, true, "192.0.2.7");
        let e = settings_update(&s, &serde_json::json!({"admin_ip_allow": ["10.0.0.0/8"]}), &me).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("would_lock_out"));
        let e = settings_update(&s, &serde_json::json!({"admin_ip_block": ["192.0.2.0/24"]}), &me).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("admin_ip_block"));
        let ok = settings_update(&s, &serde_json::json!({"admin_ip_allow": ["192.0.2.0/24", "::1"]}), &me).unwrap();
        assert_eq!(ok.admin_ip_allow.len(), 2);
        // Without a client address (not behind Cloudflare) only open lists are safe.
        let e = settings_update(&s, &serde_json::json!({"admin_ip_allow": ["::1"]}), &caller(true, true, ""));
        assert!(e.is_err());
        // Unrelated changes are not blocked by lists that already exclude the caller.
        let locked = Settings { admin_ip_allow: vec!["10.0.0.0/8".into()], ..Settings::default() };
        assert!(settings_update(&locked, &serde_json::json!({"sticky_limit": 4}), &me).is_ok());
    }

    #[test]
    fn a_whole_settings_replacement_is_checked_like_a_patch() {
        let s = Settings::default();
        let operator = caller(false, true, "192.0.2.7");
        // An import or restore carrying another instance setting: the owner's alone.
        for next in [
            Settings { cors_origins: vec!["https://evil.example".into()], ..s.clone() },
            Settings { admin_ip_block: vec!["198.51.100.0/24".into()], ..s.clone() },
        ] {
            let e = settings_write(&s, next, &operator).unwrap_err();
            assert_eq!((e.status, e.code.as_deref()), (403, Some("owner_only")));
        }
        // Unchanged instance settings are no change; the tenant's own are the operator's.
        let own = Settings { sticky_limit: 9, ..s.clone() };
        assert_eq!(settings_write(&s, own.clone(), &operator).unwrap(), own);
        // The owner may not lock itself out by an import either, and the values are validated.
        let me = caller(true, true, "192.0.2.7");
        let locking = Settings { admin_ip_allow: vec!["10.0.0.0/8".into()], ..s.clone() };
        assert_eq!(settings_write(&s, locking, &me).unwrap_err().code.as_deref(), Some("would_lock_out"));
        let invalid = Settings { sticky_limit: 0, ..s.clone() };
        assert_eq!(settings_write(&s, invalid, &me).unwrap_err().param.as_deref(), Some("sticky_limit"));
    }

    #[test]
    fn an_unreadable_mark_carried_by_an_import_is_checked_like_its_setting() {
        let s = Settings::default();
        let mark = |k: &str| Settings { unreadable: vec![k.into()], ..s.clone() };
        let (operator, owner) = (caller(false, true, "192.0.2.7"), caller(true, true, "192.0.2.7"));
        // A tenant guard's mark is the tenant's: carried (what it guards stays refused).
        assert_eq!(settings_write(&s, mark("v1_ip_allow"), &operator).unwrap().unreadable, ["v1_ip_allow"]);
        // An instance setting's mark is the owner's, and a management list's would refuse every session.
        assert_eq!(
            settings_write(&s, mark("cors_origins"), &operator).unwrap_err().code.as_deref(),
            Some("owner_only")
        );
        assert!(settings_write(&s, mark("cors_origins"), &owner).is_ok());
        let e = settings_write(&s, mark("admin_ip_allow"), &owner).unwrap_err();
        assert_eq!((e.param.as_deref(), e.code.as_deref()), (Some("admin_ip_allow"), Some("would_lock_out")));
        // Clearing one (the owner's repair) is allowed; an operator may not clear an instance mark.
        assert!(settings_write(&mark("admin_ip_allow"), s.clone(), &owner).is_ok());
        assert_eq!(settings_write(&mark("admin_ip_allow"), s.clone(), &operator).unwrap_err().status, 403);
    }

    #[test]
    fn a_connection_test_takes_an_optional_model() {
        assert_eq!(connection_test(b"").unwrap().model, None);
        assert_eq!(connection_test(b"{}").unwrap().model, None);
        assert_eq!(connection_test(br#"{"model":"gpt-x"}"#).unwrap().model.as_deref(), Some("gpt-x"));
        assert!(connection_test(br#"{"modle":"gpt-x"}"#).is_err());
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
