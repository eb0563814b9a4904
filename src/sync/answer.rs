//! The answers `/sync/{machineId}` gives, in the shape OmniRoute and 9router expect
//! (`{success, data: {providers: {<id>: …}, modelAliases, combos, apiKeys, updatedAt}, changes}`), and
//! their signature: `X-Cloud-Sig: hex(HMAC-SHA256(secret, raw body))` (omniroute.md §4.5).
//!
//! A connection comes back as it was pushed plus what the edge knows about it: `updatedAt`, and,
//! while the edge has it cooling down after rate limits, `status: "unavailable"` and
//! `rateLimitedUntil`. Credentials come back only for enrollments that allow it.

use super::machine::{Changes, Machine, Secrets};
use super::serve::row_id;
use crate::error::GatewayError;
use crate::security::{hmac_sha256, to_hex};
use serde_json::{json, Map, Value};

/// What the edge itself knows about the machine's connections right now.
#[derive(Debug, Clone, Default)]
pub struct EdgeState {
    /// Active cooldowns: the gateway's scope (`{row id}` or `{row id}:{model}`) and its deadline (ms).
    pub cooldowns: Vec<(String, i64)>,
}

impl EdgeState {
    /// The latest cooldown deadline of connection `id` of `machine`, if one is active.
    fn cooling_until(&self, machine: &str, id: &str, now: i64) -> Option<i64> {
        let row = row_id(machine, id);
        self.cooldowns
            .iter()
            .filter(|(scope, until)| {
                *until > now && (*scope == row || scope.strip_prefix(&row).is_some_and(|r| r.starts_with(':')))
            })
            .map(|(_, until)| *until)
            .max()
    }
}

/// The machine's `data` as the client expects it.
pub fn data(machine_id: &str, m: &Machine, secrets: &Secrets, with_secrets: bool, edge: &EdgeState, now: i64) -> Value {
    let providers: Map<String, Value> = m
        .providers
        .iter()
        .map(|c| {
            let mut o = c.fields.clone();
            if with_secrets {
                if let Some(creds) = secrets.providers.get(&c.id) {
                    o.extend(creds.clone());
                }
            }
            o.insert("updatedAt".into(), iso(c.updated_at).into());
            if let Some(until) = edge.cooling_until(machine_id, &c.id, now) {
                o.insert("status".into(), "unavailable".into());
                o.insert("rateLimitedUntil".into(), iso(until).into());
            }
            (c.id.clone(), Value::Object(o))
        })
        .collect();
    let api_keys: Vec<Value> = m
        .api_keys
        .iter()
        .map(|k| {
            let mut o = k.fields.clone();
            match secrets.api_keys.get(&k.id).filter(|_| with_secrets) {
                Some(key) => o.insert("key".into(), key.clone().into()),
                None => o.insert("keyHint".into(), k.key_hint.clone().into()),
            };
            Value::Object(o)
        })
        .collect();
    json!({
        "providers": providers,
        "providerNodes": m.provider_nodes,
        "modelAliases": m.model_aliases,
        "combos": m.combos,
        "apiKeys": api_keys,
        "settings": m.settings,
        "version": m.version,
        "updatedAt": iso(m.synced_at),
    })
}

/// `POST` answer. Connections the edge is cooling down are reported in `fromWorker` too.
pub fn pushed(
    machine_id: &str,
    m: &Machine,
    secrets: &Secrets,
    with_secrets: bool,
    mut changes: Changes,
    edge: &EdgeState,
    now: i64,
) -> Value {
    for c in &m.providers {
        if edge.cooling_until(machine_id, &c.id, now).is_some() && !changes.from_worker.contains(&c.id) {
            changes.from_worker.push(c.id.clone());
        }
    }
    json!({"success": true, "data": data(machine_id, m, secrets, with_secrets, edge, now), "changes": changes})
}

/// `GET` answer.
pub fn pulled(
    machine_id: &str,
    m: &Machine,
    secrets: &Secrets,
    with_secrets: bool,
    edge: &EdgeState,
    now: i64,
) -> Value {
    json!({"success": true, "data": data(machine_id, m, secrets, with_secrets, edge, now)})
}

/// An error on `/sync`, in 9router's shape (`error` is a string) plus a stable code.
pub fn error(e: &GatewayError) -> Value {
    json!({"success": false, "error": e.message, "code": e.code.as_deref().unwrap_or(e.kind.as_str())})
}

/// `X-Cloud-Sig` of an answer body.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    to_hex(&hmac_sha256(secret, body))
}

/// Milliseconds since the epoch as `2026-11-22T03:15:31.000Z` (proleptic Gregorian, UTC).
pub fn iso(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Days since 1970-01-01 → (year, month, day), by 400-year eras of 146 097 days.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::machine::merge;
    use crate::sync::wire::parse;

    #[test]
    fn formats_times_like_javascript() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_317_331_042), "2026-11-22T03:15:31.042Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
    }

    proptest::proptest! {
        /// Consecutive days give consecutive dates: the day after is the next day of the month or
        /// the first of the next month (or year).
        #[test]
        fn dates_advance_one_day_at_a_time(day in -800_000i64..800_000) {
            let (y, m, d) = civil(day);
            let (y2, m2, d2) = civil(day + 1);
            let next_in_month = (y2, m2, d2) == (y, m, d + 1);
            let next_month = d2 == 1 && ((y2, m2) == (y, m + 1) || (y2, m2, m) == (y + 1, 1, 12));
            proptest::prop_assert!(next_in_month || next_month, "{:?} -> {:?}", (y, m, d), (y2, m2, d2));
            proptest::prop_assert!((28..=31).contains(&d) || !next_month);
        }
    }

    #[test]
    fn signs_the_raw_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn answers_what_was_pushed_with_secrets_only_when_allowed() {
        let body = serde_json::json!({"providers": [{"id": "c1", "provider": "openai", "apiKey": "sk-1", "name": "n"}],
            "apiKeys": [{"id": "k1", "key": "sk-m-k1", "name": "key"}], "combos": [{"name": "c", "models": ["a/b"]}]});
        let push = parse(body.to_string().as_bytes()).unwrap();
        let m = merge(&Machine::default(), &Secrets::default(), push, 5, true, &|k| format!("h{k}"));
        let edge = EdgeState { cooldowns: vec![("m1.c1:gpt-4o".into(), 10_000), ("m1.c10".into(), 20_000)] };
        let open = pushed("m1", &m.machine, &m.secrets, true, m.changes.clone(), &edge, 100);
        assert_eq!(open["data"]["providers"]["c1"]["apiKey"], "sk-1");
        assert_eq!(open["data"]["apiKeys"][0]["key"], "sk-m-k1");
        assert_eq!(open["data"]["providers"]["c1"]["rateLimitedUntil"], iso(10_000));
        assert_eq!(open["data"]["providers"]["c1"]["status"], "unavailable");
        assert_eq!(open["changes"], json!({"updated": ["c1"], "fromWorker": ["c1"]}));
        assert_eq!(open["data"]["combos"], body["combos"]);
        let closed = pulled("m1", &m.machine, &m.secrets, false, &EdgeState::default(), 100);
        let text = closed.to_string();
        assert!(!text.contains("sk-1") && !text.contains("sk-m-k1"), "{text}");
        assert_eq!(closed["data"]["apiKeys"][0]["keyHint"], "…m-k1");
        assert_eq!(closed["data"]["providers"]["c1"]["name"], "n");
        assert!(closed["data"]["providers"]["c1"].get("status").is_none(), "no cooldown known");
    }
}
