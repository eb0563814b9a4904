//! The request log: one `request_log` row per [`UsageRecord`], every field a column, so the admin
//! API can filter and page with indexes. Rows are read back into records.

use super::sql::{placeholders, SqlValue};
use super::{TokenUsage, UsageRecord};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// Every column but the bodies, in insert order.
pub const COLUMNS: [&str; 25] = [
    "request_id",
    "tenant_id",
    "key_id",
    "endpoint",
    "client_format",
    "requested_model",
    "provider",
    "connection",
    "upstream_model",
    "combo",
    "attempts",
    "continuations",
    "status",
    "error_code",
    "tokens_in",
    "tokens_out",
    "tokens_cached",
    "tokens_cache_write",
    "tokens_reasoning",
    "tokens_estimated",
    "cost_usd",
    "latency_ms",
    "ttfb_ms",
    "streamed",
    "at",
];

pub const BODY_COLUMNS: [&str; 2] = ["request_body", "response_body"];

/// The columns a listing selects (no bodies: a page of them could be megabytes).
pub fn list_columns() -> String {
    COLUMNS.join(", ")
}

/// The columns of one full record.
pub fn all_columns() -> String {
    COLUMNS.iter().chain(BODY_COLUMNS.iter()).copied().collect::<Vec<_>>().join(", ")
}

/// Inserts one record (bodies included when it carries them).
pub fn insert(rec: &UsageRecord) -> (String, Vec<SqlValue>) {
    let n = COLUMNS.len() + BODY_COLUMNS.len();
    let sql = format!("INSERT INTO request_log ({}) VALUES ({})", all_columns(), placeholders(n));
    let c = SqlValue::count;
    let t = &rec.tokens;
    let values = vec![
        SqlValue::text(&rec.request_id),
        SqlValue::text(&rec.tenant),
        SqlValue::text(&rec.key_id),
        SqlValue::text(&rec.endpoint),
        SqlValue::text(&rec.client_format),
        SqlValue::text(&rec.requested_model),
        SqlValue::text(&rec.provider),
        SqlValue::text(&rec.connection),
        SqlValue::text(&rec.upstream_model),
        SqlValue::opt_text(rec.combo.as_deref()),
        c(rec.attempts.into()),
        c(rec.continuations.into()),
        c(rec.status.into()),
        SqlValue::opt_text(rec.error_code.as_deref()),
        c(t.input),
        c(t.output),
        c(t.cached),
        c(t.cache_write),
        c(t.reasoning),
        SqlValue::Int(t.estimated.into()),
        SqlValue::Real(if rec.cost_usd.is_finite() { rec.cost_usd.max(0.0) } else { 0.0 }),
        c(rec.latency_ms),
        rec.ttfb_ms.map_or(SqlValue::Null, c),
        SqlValue::Int(rec.streamed.into()),
        SqlValue::Int(rec.at),
        SqlValue::opt_text(rec.request_body.as_deref()),
        SqlValue::opt_text(rec.response_body.as_deref()),
    ];
    (sql, values)
}

/// A `request_log` row as D1 returns it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogRow {
    request_id: String,
    tenant_id: String,
    key_id: String,
    endpoint: String,
    client_format: String,
    requested_model: String,
    provider: String,
    connection: String,
    upstream_model: String,
    combo: Option<String>,
    attempts: u32,
    continuations: u32,
    status: u16,
    error_code: Option<String>,
    tokens_in: u64,
    tokens_out: u64,
    tokens_cached: u64,
    tokens_cache_write: u64,
    tokens_reasoning: u64,
    tokens_estimated: u8,
    cost_usd: f64,
    latency_ms: u64,
    ttfb_ms: Option<u64>,
    streamed: u8,
    at: i64,
    request_body: Option<String>,
    response_body: Option<String>,
}

impl From<LogRow> for UsageRecord {
    fn from(r: LogRow) -> Self {
        UsageRecord {
            request_id: r.request_id,
            tenant: r.tenant_id,
            key_id: r.key_id,
            endpoint: r.endpoint,
            client_format: r.client_format,
            requested_model: r.requested_model,
            provider: r.provider,
            connection: r.connection,
            upstream_model: r.upstream_model,
            combo: r.combo,
            attempts: r.attempts,
            continuations: r.continuations,
            status: r.status,
            error_code: r.error_code,
            tokens: TokenUsage {
                input: r.tokens_in,
                output: r.tokens_out,
                cached: r.tokens_cached,
                cache_write: r.tokens_cache_write,
                reasoning: r.tokens_reasoning,
                estimated: r.tokens_estimated != 0,
            },
            cost_usd: r.cost_usd,
            latency_ms: r.latency_ms,
            ttfb_ms: r.ttfb_ms,
            streamed: r.streamed != 0,
            at: r.at,
            request_body: r.request_body,
            response_body: r.response_body,
        }
    }
}

/// Where a page of the log ends: the last row's `(at, request_id)`. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub request_id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at, self.request_id))
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() > 1024 {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (at, id) = raw.split_once(':')?;
        Some(Cursor { at: at.parse().ok()?, request_id: id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn full_record() -> UsageRecord {
        UsageRecord {
            request_id: "req_1".into(),
            tenant: "t".into(),
            key_id: "key_1".into(),
            endpoint: "/v1/chat/completions".into(),
            client_format: "openai_chat".into(),
            requested_model: "coding".into(),
            provider: "openai".into(),
            connection: "conn_1".into(),
            upstream_model: "gpt-4o".into(),
            combo: Some("coding".into()),
            attempts: 2,
            continuations: 1,
            status: 200,
            error_code: Some("stream_failed".into()),
            tokens: TokenUsage { input: 11, output: 7, cached: 3, cache_write: 2, reasoning: 1, estimated: true },
            cost_usd: 0.0125,
            latency_ms: 1234,
            ttfb_ms: Some(321),
            streamed: true,
            at: 1_700_000_000_123,
            request_body: Some("{}".into()),
            response_body: Some("data: x".into()),
        }
    }

    /// What D1 would hand back for the inserted values.
    fn as_row(values: Vec<SqlValue>) -> Value {
        let cols = COLUMNS.iter().chain(BODY_COLUMNS.iter());
        let map = cols
            .zip(values)
            .map(|(c, v)| {
                let v = match v {
                    SqlValue::Null => Value::Null,
                    SqlValue::Int(i) => json!(i),
                    SqlValue::Real(f) => json!(f),
                    SqlValue::Text(s) => json!(s),
                };
                (c.to_string(), v)
            })
            .collect();
        Value::Object(map)
    }

    #[test]
    fn a_record_survives_the_row_round_trip() {
        let rec = full_record();
        let (sql, values) = insert(&rec);
        assert_eq!(sql.matches('?').count(), values.len());
        assert_eq!(values.len(), COLUMNS.len() + BODY_COLUMNS.len());
        let row: LogRow = serde_json::from_value(as_row(values)).unwrap();
        assert_eq!(UsageRecord::from(row), rec);
        let sparse = UsageRecord { request_id: "r".into(), status: 404, ..Default::default() };
        let row: LogRow = serde_json::from_value(as_row(insert(&sparse).1)).unwrap();
        assert_eq!(UsageRecord::from(row), sparse);
    }

    #[test]
    fn listings_leave_the_bodies_out() {
        assert!(!list_columns().contains("body"));
        assert!(all_columns().ends_with("request_body, response_body"));
    }

    #[test]
    fn bad_cursors_are_refused() {
        for bad in ["", "!!", "bm9jb2xvbg", &URL_SAFE_NO_PAD.encode("x:y"), &"a".repeat(2000)] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn cursors_round_trip(at in any::<i64>(), id in "\\PC{0,80}") {
            let c = Cursor { at, request_id: id };
            prop_assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()));
            prop_assert!(c.encode().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
