//! What a synced OmniRoute API key's restrictions are as a gateway key's access and limits, so that
//! the edge allows what the instance allows (OmniRoute 3.7.9: `apiKeyPolicy`, `isModelAllowedForKey`,
//! `validateApiKey`; later versions' `allowedCombos`):
//!
//! - `allowedModels` → model scopes. OmniRoute matches the name the client sends against each
//!   entry: equal; with a trailing `/*`, any name starting with what precedes it (so `openai/*` also
//!   admits `openai-x/…`); with any `*`, the entry as a regular expression whose `*` is `.*` and whose
//!   other characters are not escaped (`.` is any one character). Each entry becomes the globs that
//!   match the same names; regex syntax besides `.` and `*`, a `?` or a leading `!` has no glob that
//!   matches alike, and leaves the key unserved. A provider node's id (`openai-compatible-chat-<uuid>`)
//!   is renamed to its prefix, as its models are called at the edge.
//! - `allowedCombos` (newer versions) → a non-empty list refuses the synced combos it does not name
//!   (`name` or `combo/name`; `combo/*` names all), as `!` patterns; other models are unaffected.
//! - `allowedConnections` → connection scopes (row ids `{machine}.{id}`).
//! - `maxRequestsPerMinute`, `maxRequestsPerDay` → limits (a UTC day at the edge; OmniRoute counts
//!   the last 24 hours). Fractions round up, as OmniRoute compares `count >= max`.
//! - `accessSchedule` → a schedule, when `enabled`; an unknown time zone leaves the key unserved
//!   (OmniRoute would let it through).
//! - `isActive: false` → disabled; `expiresAt` (ISO with a zone, a date, or ms) → expiry;
//!   `revokedAt` → not served; `noLog` → bodies never logged. `autoResolve` is read by no request
//!   path of 3.7.9.
//! - Any other field that is set (`maxSessions` above 0, `throttleDelayMs`, `ipAllowlist`, …) is a
//!   restriction the edge cannot enforce: the key is not served, and the status says why.

use crate::config::key_access::KeyAccess;
use crate::config::schedule::{minutes, Schedule};
use crate::limits::KeyLimits;
use crate::time::{parse_iso, NoZone};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What of the machine a key's mapping depends on.
pub struct KeyContext<'a> {
    pub machine_id: &'a str,
    /// Provider node id → the prefix the edge serves it as.
    pub renames: &'a BTreeMap<String, String>,
    /// The combos the edge serves for the machine.
    pub combos: &'a [String],
    /// Whether the runtime's time-zone database knows a zone.
    pub zone_known: &'a dyn Fn(&str) -> bool,
}

/// Fields that say nothing about what the key may do.
const DESCRIPTIVE: &[&str] =
    &["id", "name", "machineId", "createdAt", "updatedAt", "lastUsedAt", "keyPrefix", "key_prefix", "autoResolve"];

/// The key's access and limits, or why the edge cannot serve it.
pub fn restrictions(fields: &Map<String, Value>, cx: &KeyContext) -> Result<(KeyAccess, KeyLimits), String> {
    let mut access = KeyAccess::default();
    let mut limits = KeyLimits::default();
    let mut allowed_combos = Vec::new();
    for (field, v) in fields {
        let f = field.as_str();
        match f {
            _ if DESCRIPTIVE.contains(&f) => {}
            "isActive" => access.enabled = !(*v == false || *v == 0 || *v == "0"),
            "noLog" => access.no_log = *v == true || *v == 1 || *v == "1",
            "allowedModels" => {
                let patterns = strings(f, v)?;
                let mut globs = Vec::new();
                for p in &patterns {
                    for g in model_globs(p, cx.renames)? {
                        if !globs.contains(&g) {
                            globs.push(g);
                        }
                    }
                }
                if !patterns.is_empty() && globs.is_empty() {
                    globs.push("!*".into()); // entries that match no name: nothing is allowed
                }
                access.scopes.models.extend(globs);
            }
            "allowedCombos" => allowed_combos = strings(f, v)?,
            "allowedConnections" => access.scopes.connections = connections(&strings(f, v)?, cx.machine_id)?,
            "accessSchedule" => access.schedule = schedule(v, cx.zone_known)?,
            "expiresAt" => access.expires_at = expiry(v)?,
            "revokedAt" if set(v) => return Err("the key is revoked".into()),
            "maxRequestsPerMinute" => limits.requests_per_minute = per(v),
            "maxRequestsPerDay" => limits.requests_per_day = per(v),
            _ if set(v) => return Err(format!("the key has `{f}`, which the edge cannot enforce")),
            _ => {}
        }
    }
    access.scopes.models.extend(refused_combos(&allowed_combos, cx.combos));
    let limits = limits.validate().map_err(|e| e.message)?;
    let access = access.validate().map_err(|e| e.message)?;
    Ok((access, limits))
}

/// Whether a field restricts anything: not null, false, 0, empty.
fn set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(true) => true,
    }
}

/// A list of strings; other items are ignored, as OmniRoute does.
fn strings(field: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => Ok(a.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        _ => Err(format!("`{field}` is not a list")),
    }
}

/// Regular-expression syntax that a glob cannot express (`.` and `*` can).
const REGEX_SYNTAX: &[char] = &['\\', '^', '$', '|', '+', '?', '(', ')', '[', ']', '{', '}'];

/// The globs that admit the names one `allowedModels` entry admits (see the module doc).
fn model_globs(p: &str, renames: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let cannot =
        || Err(format!("the `allowedModels` entry `{p}` cannot be matched at the edge as OmniRoute matches it"));
    if p.is_empty() {
        return Ok(Vec::new()); // equal to no name the client can send
    }
    if p.starts_with('!') || p.contains('?') || (p.contains('*') && p.contains(REGEX_SYNTAX)) {
        return cannot();
    }
    // A node's models are called `prefix/model` at the edge; `.` in the rest is any one character.
    let renamed = |p: &str, regex: bool| -> String {
        let any_char = |s: &str| if regex { s.replace('.', "?") } else { s.to_string() };
        match p.split_once('/') {
            Some((node, rest)) if renames.contains_key(node) => format!("{}/{}", renames[node], any_char(rest)),
            _ => any_char(p),
        }
    };
    if !p.contains('*') {
        return Ok(vec![renamed(p, false)]);
    }
    let mut globs = Vec::new();
    if let Some(head) = p.strip_suffix("/*") {
        // The literal prefix match; a renamed node's is its `prefix/*` (the regex below).
        if !head.contains('*') && !renames.contains_key(head) {
            globs.push(format!("{head}*"));
        }
    }
    globs.push(renamed(p, true));
    Ok(globs)
}

/// `!` patterns for the synced combos a non-empty `allowedCombos` does not name.
fn refused_combos(allowed: &[String], combos: &[String]) -> Vec<String> {
    let names = |c: &String| allowed.iter().any(|a| a == c || a.strip_prefix("combo/") == Some(c.as_str()));
    if allowed.is_empty() || allowed.iter().any(|a| a == "*" || a == "combo/*") {
        return Vec::new();
    }
    combos.iter().filter(|c| !names(c)).map(|c| format!("!{c}")).collect()
}

fn connections(ids: &[String], machine_id: &str) -> Result<Vec<String>, String> {
    ids.iter()
        .map(|id| match id.contains(['*', '?']) {
            true => Err(format!("the connection id `{id}` in `allowedConnections` is not an id")),
            false => Ok(super::serve::row_id(machine_id, id)),
        })
        .collect()
}

/// A positive request limit; anything else is none, as in OmniRoute.
fn per(v: &Value) -> Option<u32> {
    v.as_f64().filter(|n| *n > 0.0).map(|n| n.ceil().min(f64::from(u32::MAX)) as u32)
}

/// OmniRoute's `{enabled, from, until, days, tz}`; a disabled schedule restricts nothing.
fn schedule(v: &Value, zone_known: &dyn Fn(&str) -> bool) -> Result<Option<Schedule>, String> {
    let bad = |why: &str| Err(format!("`accessSchedule` {why}"));
    let o = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return bad("is not an object"),
    };
    match o.get("enabled") {
        Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => {}
        _ => return bad("has no boolean `enabled`"),
    }
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::trim);
    let time = |k: &str| text(k).and_then(minutes).map(|m| format!("{:02}:{:02}", m / 60, m % 60));
    let (Some(from), Some(until), Some(zone)) = (time("from"), time("until"), text("tz")) else {
        return bad("needs `from` and `until` (HH:MM) and `tz`");
    };
    let Some(listed) = o.get("days").and_then(Value::as_array) else { return bad("has no `days` list") };
    // Days outside 0–6 are dropped, as OmniRoute reads them.
    let mut days: Vec<u8> = listed.iter().filter_map(Value::as_u64).filter(|d| *d <= 6).map(|d| d as u8).collect();
    days.sort_unstable();
    days.dedup();
    let s = Schedule { days, from, until, time_zone: zone.to_string() };
    s.validate().map_err(|e| format!("`accessSchedule` cannot be served: {}", e.message))?;
    if !zone_known(zone) {
        return bad(&format!("is in the time zone `{zone}`, which is unknown here"));
    }
    Ok(Some(s))
}

/// `expiresAt` as ms since the epoch: ms, or an ISO 8601 date, or date-time with `Z` or an offset
/// (without one JavaScript would read it in the instance's own zone, which the edge does not know).
fn expiry(v: &Value) -> Result<Option<i64>, String> {
    let bad = || Err(format!("`expiresAt` ({v}) is not a time the edge can read"));
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => parse_iso(s.trim(), NoZone::Refuse).map(Some).map_or_else(bad, Ok),
        Value::Number(n) => {
            n.as_f64().filter(|ms| *ms >= 1.0 && *ms < 1e15).map(|ms| Some(ms as i64)).map_or_else(bad, Ok)
        }
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NODE: &str = "openai-compatible-chat-1c9a";

    fn map(fields: Value) -> Result<(KeyAccess, KeyLimits), String> {
        let renames = BTreeMap::from([(NODE.to_string(), "mock".to_string())]);
        let combos = ["duo".to_string(), "trio".to_string()];
        let zone_known = |z: &str| matches!(z, "UTC" | "Europe/Berlin" | "Asia/Tokyo");
        let cx = KeyContext { machine_id: "m1", renames: &renames, combos: &combos, zone_known: &zone_known };
        restrictions(fields.as_object().unwrap(), &cx)
    }

    fn models(fields: Value) -> Vec<String> {
        map(fields).unwrap().0.scopes.models
    }

    /// Whether the mapped key admits `model`, next to what OmniRoute 3.7.9 decides (its matcher,
    /// transcribed: equal, `/*` prefix, `*` as a regular expression).
    fn admits(patterns: &[&str], model: &str) -> bool {
        let (access, _) = map(json!({"allowedModels": patterns})).unwrap();
        access.allows_model(model)
    }

    #[test]
    fn the_captured_key_maps_to_an_open_key() {
        let captured = json!({"id": "8dce", "name": "bench-key", "machineId": "b149", "allowedModels": [],
            "allowedConnections": [], "noLog": false, "autoResolve": false, "isActive": true, "accessSchedule": null,
            "maxRequestsPerDay": null, "maxRequestsPerMinute": null, "maxSessions": 0});
        assert_eq!(map(captured).unwrap(), (KeyAccess::default(), KeyLimits::default()));
    }

    #[test]
    fn model_entries_admit_what_omniroute_admits() {
        // Exact names, dots literal.
        assert!(
            admits(&["gpt-4.1"], "gpt-4.1") && !admits(&["gpt-4.1"], "gpt-4x1") && !admits(&["gpt-4.1"], "gpt-4.10")
        );
        // `x/*` admits every name starting with `x`, slash or not.
        for m in ["openai/gpt-4o", "openai", "openai-compatible/x", "openaiX"] {
            assert!(admits(&["openai/*"], m), "{m}");
        }
        assert!(!admits(&["openai/*"], "azure/openai"));
        // Any `*` makes a regular expression: `.` is any one character.
        assert!(admits(&["claude-3.5-*"], "claude-3x5-haiku") && admits(&["claude-3.5-*"], "claude-3.5-sonnet"));
        assert!(!admits(&["claude-3.5-*"], "claude-3.-sonnet"));
        assert!(admits(&["*/gpt-4o"], "azure/gpt-4o") && !admits(&["*/gpt-4o"], "gpt-4o"));
        assert!(admits(&["*"], "anything") && admits(&["a", "b*"], "bee") && !admits(&["a", "b*"], "c"));
        assert_eq!(models(json!({"allowedModels": ["gpt-4.1/*"]})), ["gpt-4.1*", "gpt-4?1/*"]);
    }

    #[test]
    fn entries_naming_a_node_are_renamed_to_its_prefix() {
        assert_eq!(models(json!({"allowedModels": [format!("{NODE}/gpt-4o")]})), ["mock/gpt-4o"]);
        assert_eq!(models(json!({"allowedModels": [format!("{NODE}/*")]})), ["mock/*"]);
        assert_eq!(models(json!({"allowedModels": [format!("{NODE}/gpt-4.*")]})), ["mock/gpt-4?*"]);
        assert!(admits(&[&format!("{NODE}/*")], "mock/gpt-4o") && !admits(&[&format!("{NODE}/*")], "mockery/x"));
    }

    #[test]
    fn entries_without_a_glob_equivalent_leave_the_key_unserved() {
        for p in ["gpt-(4|5)*", "a+*", "what?", "!negated", "x\\.y*", "[ab]*"] {
            let e = map(json!({"allowedModels": [p]})).unwrap_err();
            assert!(e.contains("cannot be matched"), "{p}: {e}");
        }
        assert_eq!(models(json!({"allowedModels": [""]})), ["!*"], "an empty entry admits nothing");
        assert!(!admits(&[""], "x"));
        let many: Vec<String> = (0..40).map(|i| format!("m{i}/*")).collect();
        assert!(map(json!({"allowedModels": many})).unwrap_err().contains("at most 64"));
    }

    #[test]
    fn allowed_combos_refuse_the_other_combos_only() {
        let (a, _) = map(json!({"allowedCombos": ["duo"]})).unwrap();
        assert_eq!(a.scopes.models, ["!trio"]);
        assert!(a.allows_model("duo") && !a.allows_model("trio") && a.allows_model("openai/gpt-4o"));
        assert_eq!(models(json!({"allowedCombos": ["combo/trio", "duo"]})), Vec::<String>::new());
        assert_eq!(models(json!({"allowedCombos": ["combo/*"]})), Vec::<String>::new());
        // With allowedModels too, a combo must pass both.
        let (a, _) = map(json!({"allowedModels": ["duo", "trio", "mock/*"], "allowedCombos": ["duo"]})).unwrap();
        assert!(a.allows_model("duo") && !a.allows_model("trio") && a.allows_model("mock/x") && !a.allows_model("x/y"));
    }

    #[test]
    fn connections_activity_expiry_and_rates_map_onto_the_key() {
        let (a, l) = map(json!({"allowedConnections": ["c1", "c2"], "isActive": false, "noLog": true,
            "expiresAt": "2030-01-01T00:00:00.000Z", "maxRequestsPerMinute": 2.5, "maxRequestsPerDay": 100}))
        .unwrap();
        assert_eq!(a.scopes.connections, ["m1.c1", "m1.c2"]);
        assert!(!a.enabled && a.no_log);
        assert_eq!(a.expires_at, Some(1_893_456_000_000));
        assert_eq!(
            (l.requests_per_minute, l.requests_per_day),
            (Some(3), Some(100)),
            "2.5 admits 3, as `count >= 2.5`"
        );
        let (_, l) = map(json!({"maxRequestsPerMinute": 0, "maxRequestsPerDay": "10"})).unwrap();
        assert!(l.is_empty(), "0 and non-numbers are no limit");
        assert!(!map(json!({"isActive": 0})).unwrap().0.enabled);
        assert!(map(json!({"isActive": "yes"})).unwrap().0.enabled);
        assert_eq!(map(json!({"expiresAt": 1_900_000_000_000u64})).unwrap().0.expires_at, Some(1_900_000_000_000));
        assert_eq!(map(json!({"revokedAt": "2026-01-01T00:00:00Z"})).unwrap_err(), "the key is revoked");
        assert!(map(json!({"revokedAt": null, "expiresAt": ""})).is_ok());
        assert!(map(json!({"allowedConnections": ["c*"]})).is_err());
    }

    #[test]
    fn an_expiry_without_a_zone_leaves_the_key_unserved() {
        assert!(map(json!({"expiresAt": "2030-01-01T00:00:00"})).unwrap_err().contains("expiresAt"));
        assert!(map(json!({"expiresAt": "2030-01-01T00:00:00Z"})).is_ok());
    }

    #[test]
    fn an_enabled_schedule_maps_with_its_zone_and_an_unknown_zone_blocks() {
        let s = |v: Value| map(json!({"accessSchedule": v}));
        let on =
            json!({"enabled": true, "from": "9:00", "until": "17:30", "days": [5, 1, 1, 9], "tz": "Europe/Berlin"});
        let sched = s(on.clone()).unwrap().0.schedule.unwrap();
        assert_eq!(
            sched,
            Schedule {
                days: vec![1, 5],
                from: "09:00".into(),
                until: "17:30".into(),
                time_zone: "Europe/Berlin".into()
            }
        );
        let off = json!({"enabled": false, "from": "09:00", "until": "17:00", "days": [1], "tz": "Mars/Base"});
        assert_eq!(s(off).unwrap().0.schedule, None, "a disabled schedule restricts nothing");
        let mars = json!({"enabled": true, "from": "09:00", "until": "17:00", "days": [1], "tz": "Mars/Base"});
        assert!(s(mars).unwrap_err().contains("`Mars/Base`, which is unknown"));
        let never = json!({"enabled": true, "from": "09:00", "until": "09:00", "days": [1], "tz": "UTC"});
        assert!(s(never).unwrap_err().contains("could never be used"));
        assert!(s(json!({"enabled": true, "from": "09:00", "until": "17:00", "days": [], "tz": "UTC"})).is_err());
        assert!(s(json!({"from": "09:00"})).is_err());
    }

    #[test]
    fn harmless_fields_pass_and_unenforceable_ones_block() {
        let harmless = json!({"noLog": false, "autoResolve": true, "maxSessions": 0, "throttleDelayMs": null,
            "ipAllowlist": [], "allowedEndpoints": [], "createdAt": "2026-01-01T00:00:00Z", "scopes": []});
        assert!(map(harmless).is_ok());
        for (field, value) in [
            ("maxSessions", json!(2)),
            ("throttleDelayMs", json!(500)),
            ("ipAllowlist", json!(["10.0.0.0/8"])),
            ("allowedEndpoints", json!(["/v1/chat/completions"])),
            ("blockedModels", json!(["x"])),
            ("usageLimitEnabled", json!(true)),
        ] {
            let e = map(json!({ field: value })).unwrap_err();
            assert_eq!(e, format!("the key has `{field}`, which the edge cannot enforce"));
        }
    }
}
