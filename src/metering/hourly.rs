//! Hourly usage aggregates: one `usage_hourly` row per (tenant, hour, key, provider, model) holding
//! sums and a latency histogram. Records are folded here before they are written, and a flush adds
//! them to the stored rows with `ON CONFLICT DO UPDATE SET x = x + excluded.x`, so concurrent writers
//! and retries only ever add. Reads sum rows over any range and estimate percentiles from the
//! summed histograms.

use super::histogram::{self, Counts, BUCKETS};
use super::sql::{placeholders, SqlValue};
use super::UsageRecord;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// How long hourly aggregates are kept: a year and a month, so a year-over-year view still works.
pub const RETENTION_DAYS: i64 = 400;

pub fn hour_start(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// A request counts as an error when the client got an error status, or a stream that failed midway.
pub fn is_error(rec: &UsageRecord) -> bool {
    rec.status >= 400 || rec.error_code.is_some()
}

/// The model a record is counted under: the one that served it, else the one the client named.
pub fn model_of(rec: &UsageRecord) -> &str {
    if rec.upstream_model.is_empty() {
        &rec.requested_model
    } else {
        &rec.upstream_model
    }
}

/// Sums over some set of requests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub tokens_cached: u64,
    pub tokens_reasoning: u64,
    pub cost_usd: f64,
    pub latency_sum_ms: u64,
    pub latency: Counts,
}

/// The summed columns, in `usage_hourly` order (the histogram's `lat_NN` follow).
const SUM_COLUMNS: [&str; 8] = [
    "requests",
    "errors",
    "tokens_in",
    "tokens_out",
    "tokens_cached",
    "tokens_reasoning",
    "cost_usd",
    "latency_sum_ms",
];

/// Every summed column of `usage_hourly`, histogram included.
pub fn sum_columns() -> Vec<String> {
    SUM_COLUMNS.iter().map(|c| c.to_string()).chain((0..BUCKETS).map(histogram::column)).collect()
}

impl Totals {
    pub fn add(&mut self, rec: &UsageRecord) {
        let t = &rec.tokens;
        self.requests += 1;
        self.errors += u64::from(is_error(rec));
        self.tokens_in = self.tokens_in.saturating_add(t.input);
        self.tokens_out = self.tokens_out.saturating_add(t.output);
        self.tokens_cached = self.tokens_cached.saturating_add(t.cached);
        self.tokens_reasoning = self.tokens_reasoning.saturating_add(t.reasoning);
        if rec.cost_usd.is_finite() && rec.cost_usd > 0.0 {
            self.cost_usd += rec.cost_usd;
        }
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(rec.latency_ms);
        self.latency[histogram::bucket(rec.latency_ms)] += 1;
    }

    pub fn merge(&mut self, o: &Totals) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.tokens_in = self.tokens_in.saturating_add(o.tokens_in);
        self.tokens_out = self.tokens_out.saturating_add(o.tokens_out);
        self.tokens_cached = self.tokens_cached.saturating_add(o.tokens_cached);
        self.tokens_reasoning = self.tokens_reasoning.saturating_add(o.tokens_reasoning);
        self.cost_usd += o.cost_usd;
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(o.latency_sum_ms);
        for (a, b) in self.latency.iter_mut().zip(o.latency.iter()) {
            *a += b;
        }
    }

    /// Values for [`sum_columns`], in order.
    fn values(&self) -> Vec<SqlValue> {
        let c = SqlValue::count;
        let mut v = vec![
            c(self.requests),
            c(self.errors),
            c(self.tokens_in),
            c(self.tokens_out),
            c(self.tokens_cached),
            c(self.tokens_reasoning),
            SqlValue::Real(self.cost_usd),
            c(self.latency_sum_ms),
        ];
        v.extend(self.latency.iter().map(|&n| c(n)));
        v
    }

    /// Reads a row holding [`sum_columns`] (as D1 returns it: numbers, or null for an empty sum).
    pub fn from_row(row: &Map<String, Value>) -> Totals {
        let n = |name: &str| row.get(name).and_then(Value::as_f64).filter(|v| v.is_finite() && *v > 0.0).unwrap_or(0.0);
        let mut latency = [0; BUCKETS];
        for (i, slot) in latency.iter_mut().enumerate() {
            *slot = n(&histogram::column(i)) as u64;
        }
        Totals {
            requests: n("requests") as u64,
            errors: n("errors") as u64,
            tokens_in: n("tokens_in") as u64,
            tokens_out: n("tokens_out") as u64,
            tokens_cached: n("tokens_cached") as u64,
            tokens_reasoning: n("tokens_reasoning") as u64,
            cost_usd: n("cost_usd"),
            latency_sum_ms: n("latency_sum_ms") as u64,
            latency,
        }
    }

    /// The API's view: sums, cost, and latency percentiles estimated from the histogram.
    pub fn to_json(&self) -> Value {
        let p = |q| histogram::percentile(&self.latency, q);
        json!({
            "requests": self.requests,
            "errors": self.errors,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cached": self.tokens_cached,
            "tokens_reasoning": self.tokens_reasoning,
            // Sums of many small doubles: round away the float noise (a millionth of a cent).
            "cost_usd": (self.cost_usd * 1e8).round() / 1e8,
            "latency_ms": {"p50": p(0.50), "p95": p(0.95), "p99": p(0.99)},
        })
    }
}

/// What one `usage_hourly` row is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourKey {
    pub tenant: String,
    pub hour_start_ms: i64,
    pub key_id: String,
    pub provider: String,
    pub model: String,
}

/// Folds records into one entry per hourly row, in key order.
pub fn fold(records: &[UsageRecord]) -> Vec<(HourKey, Totals)> {
    let mut rows: BTreeMap<HourKey, Totals> = BTreeMap::new();
    for rec in records {
        let key = HourKey {
            tenant: rec.tenant.clone(),
            hour_start_ms: hour_start(rec.at),
            key_id: rec.key_id.clone(),
            provider: rec.provider.clone(),
            model: model_of(rec).to_string(),
        };
        rows.entry(key).or_default().add(rec);
    }
    rows.into_iter().collect()
}

const KEY_COLUMNS: [&str; 5] = ["tenant_id", "hour_start_ms", "key_id", "provider", "model"];

/// Adds one folded row to `usage_hourly` (creating it if needed).
pub fn upsert(key: &HourKey, totals: &Totals) -> (String, Vec<SqlValue>) {
    let sums = sum_columns();
    let columns: Vec<&str> = KEY_COLUMNS.iter().copied().chain(sums.iter().map(String::as_str)).collect();
    let add: Vec<String> = sums.iter().map(|c| format!("{c} = {c} + excluded.{c}")).collect();
    let sql = format!(
        "INSERT INTO usage_hourly ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders(columns.len()),
        KEY_COLUMNS.join(", "),
        add.join(", ")
    );
    let mut values = vec![
        SqlValue::text(&key.tenant),
        SqlValue::Int(key.hour_start_ms),
        SqlValue::text(&key.key_id),
        SqlValue::text(&key.provider),
        SqlValue::text(&key.model),
    ];
    values.extend(totals.values());
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::TokenUsage;
    use proptest::prelude::*;

    fn rec(at: i64, key: &str, provider: &str, model: &str, status: u16, latency_ms: u64) -> UsageRecord {
        UsageRecord {
            tenant: "t".into(),
            key_id: key.into(),
            provider: provider.into(),
            upstream_model: model.into(),
            requested_model: "asked".into(),
            status,
            latency_ms,
            at,
            cost_usd: 0.25,
            tokens: TokenUsage { input: 10, output: 5, cached: 2, reasoning: 1, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn folds_by_hour_key_provider_and_model() {
        let h = 10 * HOUR_MS;
        let rows = fold(&[
            rec(h, "k1", "openai", "gpt-4o", 200, 100),
            rec(h + HOUR_MS - 1, "k1", "openai", "gpt-4o", 502, 300),
            rec(h + HOUR_MS, "k1", "openai", "gpt-4o", 200, 100),
            rec(h + 5, "k2", "openai", "gpt-4o", 200, 100),
            rec(h + 5, "k1", "", "", 404, 1),
        ]);
        assert_eq!(rows.len(), 4);
        let (k, t) =
            &rows.iter().find(|(k, _)| k.key_id == "k1" && k.hour_start_ms == h && k.provider == "openai").unwrap();
        assert_eq!((t.requests, t.errors, t.tokens_in, t.tokens_cached, t.latency_sum_ms), (2, 1, 20, 4, 400));
        assert_eq!(k.model, "gpt-4o");
        assert!((t.cost_usd - 0.5).abs() < 1e-12);
        let refused = rows.iter().find(|(k, _)| k.provider.is_empty()).unwrap();
        assert_eq!(
            (refused.0.model.as_str(), refused.1.errors),
            ("asked", 1),
            "no upstream: counted under the asked model"
        );
    }

    #[test]
    fn a_failed_stream_with_status_200_is_an_error() {
        let mut r = rec(0, "k", "p", "m", 200, 1);
        assert!(!is_error(&r));
        r.error_code = Some("stream_failed".into());
        assert!(is_error(&r));
    }

    #[test]
    fn upsert_binds_one_value_per_column_and_only_adds() {
        let (key, totals) = &fold(&[rec(7, "k", "p", "m", 200, 12)])[0];
        let (sql, values) = upsert(key, totals);
        assert_eq!(sql.matches('?').count(), values.len());
        assert_eq!(values.len(), 5 + 8 + BUCKETS);
        assert!(values.len() <= 100, "D1 binds at most 100 parameters");
        for c in sum_columns() {
            assert!(sql.contains(&format!("{c} = {c} + excluded.{c}")), "{c}");
        }
    }

    #[test]
    fn a_stored_row_reads_back_as_the_totals_written() {
        let (_, totals) = &fold(&[rec(7, "k", "p", "m", 200, 12), rec(8, "k", "p", "m", 500, 3000)])[0];
        let row: Map<String, Value> = sum_columns()
            .into_iter()
            .zip(totals.values())
            .map(|(c, v)| {
                let v = match v {
                    SqlValue::Int(i) => json!(i),
                    SqlValue::Real(f) => json!(f),
                    other => panic!("{other:?}"),
                };
                (c, v)
            })
            .collect();
        assert_eq!(&Totals::from_row(&row), totals);
        assert_eq!(Totals::from_row(&Map::new()), Totals::default(), "empty sums are zero");
    }

    proptest! {
        #[test]
        fn folding_loses_no_request_and_merging_is_the_sum(
            recs in prop::collection::vec((0i64..5 * HOUR_MS, 0usize..3, 0usize..3, 100u16..600, 0u64..500_000), 0..80)
        ) {
            let recs: Vec<UsageRecord> = recs
                .iter()
                .map(|&(at, k, p, status, lat)| rec(at, ["a", "b", "c"][k], ["x", "y", "z"][p], "m", status, lat))
                .collect();
            let rows = fold(&recs);
            let mut all = Totals::default();
            for (_, t) in &rows {
                all.merge(t);
            }
            prop_assert_eq!(all.requests, recs.len() as u64);
            prop_assert_eq!(all.errors, recs.iter().filter(|r| r.status >= 400).count() as u64);
            prop_assert_eq!(all.latency.iter().sum::<u64>(), recs.len() as u64);
            prop_assert_eq!(all.latency_sum_ms, recs.iter().map(|r| r.latency_ms).sum::<u64>());
            let mut keys: Vec<_> = rows.iter().map(|(k, _)| k.clone()).collect();
            keys.dedup();
            prop_assert_eq!(keys.len(), rows.len(), "one entry per row");
        }
    }
}
