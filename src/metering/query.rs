//! The admin API's questions about usage, as validated parameters and the SQL that answers them.
//! Every parameter is checked here (a bad one is a 400 naming it); the platform only runs the SQL.
//!
//! - `/api/logs`: newest first, keyset-paged on `(at, request_id)` (stable while rows arrive, and
//!   each page is an index range, however deep).
//! - `/api/usage`: sums of `usage_hourly` rows over whole hours, grouped; percentiles come from the
//!   summed histograms.

use super::hourly::{self, Totals, DAY_MS};
use super::log::{self, Cursor};
use super::sql::SqlValue;
use super::UsageRecord;
use crate::error::{GatewayError, Result};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;
/// The latest timestamp accepted: the largest integer a D1 number holds exactly.
const MAX_MS: i64 = (1 << 53) - 1;

fn bad(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

/// Query parameters by name; each may appear once, and only the endpoint's own (plus `tenant`).
struct Params<'a>(HashMap<&'a str, &'a str>);

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)], allowed: &[&str]) -> Result<Params<'a>> {
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if k != "tenant" && !allowed.contains(&k.as_str()) {
                return Err(bad(k, format!("Unknown parameter `{k}`; this endpoint takes {}.", allowed.join(", "))));
            }
            if map.insert(k.as_str(), v.as_str()).is_some() {
                return Err(bad(k, format!("`{k}` is given more than once.")));
            }
        }
        Ok(Params(map))
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).copied()
    }

    fn ms(&self, name: &str) -> Result<Option<i64>> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|ms| (0..=MAX_MS).contains(ms))
                    .ok_or_else(|| bad(name, format!("`{name}` must be a time in milliseconds since the epoch.")))
            })
            .transpose()
    }

    fn text(&self, name: &str, max: usize) -> Result<Option<String>> {
        self.get(name)
            .map(|v| {
                if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
                    Err(bad(name, format!("`{name}` must be 1 to {max} printable characters.")))
                } else {
                    Ok(v.to_string())
                }
            })
            .transpose()
    }
}

fn check_range(from: Option<i64>, to: Option<i64>) -> Result<()> {
    match (from, to) {
        (Some(f), Some(t)) if f >= t => Err(bad("from", "`from` must be before `to`.")),
        _ => Ok(()),
    }
}

/// A WHERE clause under construction: each bound condition gets the next placeholder number.
struct Where {
    conds: Vec<String>,
    values: Vec<SqlValue>,
}

impl Where {
    /// `cond` holds one `?`.
    fn bind(&mut self, cond: &str, v: SqlValue) {
        self.values.push(v);
        self.conds.push(cond.replace('?', &format!("?{}", self.values.len())));
    }
}

/// Which statuses `/api/logs?status=` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// One status, e.g. `200`.
    Exact(u16),
    /// A class: `2xx` … `5xx` (the hundreds digit).
    Class(u16),
    /// Every failure: an error status or a stream that failed midway (`error`).
    Error,
}

impl StatusFilter {
    fn parse(v: &str) -> Option<StatusFilter> {
        match v {
            "error" => Some(StatusFilter::Error),
            "2xx" | "3xx" | "4xx" | "5xx" => v[..1].parse().ok().map(StatusFilter::Class),
            _ => v.parse::<u16>().ok().filter(|s| (100..=599).contains(s)).map(StatusFilter::Exact),
        }
    }
}

/// `GET /api/logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub limit: usize,
    pub cursor: Option<Cursor>,
    pub status: Option<StatusFilter>,
    pub provider: Option<String>,
    /// Matches the model that served the request.
    pub model: Option<String>,
    /// A gateway API key id.
    pub key: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl LogQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<LogQuery> {
        let p = Params::new(pairs, &["limit", "cursor", "status", "provider", "model", "key", "from", "to"])?;
        let limit = match p.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| bad("limit", format!("`limit` must be between 1 and {MAX_LIMIT}.")))?,
        };
        let cursor = p
            .get("cursor")
            .map(|c| {
                Cursor::decode(c).ok_or_else(|| bad("cursor", "`cursor` must be a `next` value from a previous page."))
            })
            .transpose()?;
        let status = p
            .get("status")
            .map(|s| {
                StatusFilter::parse(s)
                    .ok_or_else(|| bad("status", "`status` must be a status code, `2xx`…`5xx`, or `error`."))
            })
            .transpose()?;
        let (from, to) = (p.ms("from")?, p.ms("to")?);
        check_range(from, to)?;
        Ok(LogQuery {
            limit,
            cursor,
            status,
            provider: p.text("provider", 64)?,
            model: p.text("model", 256)?,
            key: p.text("key", 128)?,
            from,
            to,
        })
    }

    /// One row more than the page, so the caller knows whether another page follows.
    pub fn sql(&self, tenant: &str) -> (String, Vec<SqlValue>) {
        let mut w = Where { conds: vec!["tenant_id = ?1".into()], values: vec![SqlValue::text(tenant)] };
        match self.status {
            Some(StatusFilter::Exact(s)) => w.bind("status = ?", SqlValue::Int(s.into())),
            Some(StatusFilter::Class(c)) => {
                w.bind("status >= ?", SqlValue::Int(i64::from(c) * 100));
                w.bind("status < ?", SqlValue::Int(i64::from(c) * 100 + 100));
            }
            Some(StatusFilter::Error) => w.conds.push("(status >= 400 OR error_code IS NOT NULL)".into()),
            None => {}
        }
        for (column, v) in [("provider", &self.provider), ("upstream_model", &self.model), ("key_id", &self.key)] {
            if let Some(v) = v {
                w.bind(&format!("{column} = ?"), SqlValue::text(v));
            }
        }
        if let Some(f) = self.from {
            w.bind("at >= ?", SqlValue::Int(f));
        }
        if let Some(t) = self.to {
            w.bind("at < ?", SqlValue::Int(t));
        }
        if let Some(c) = &self.cursor {
            w.values.push(SqlValue::Int(c.at));
            w.values.push(SqlValue::text(&c.request_id));
            let (a, r) = (w.values.len() - 1, w.values.len());
            w.conds.push(format!("(at < ?{a} OR (at = ?{a} AND request_id < ?{r}))"));
        }
        let sql = format!(
            "SELECT {} FROM request_log WHERE {} ORDER BY at DESC, request_id DESC LIMIT {}",
            log::list_columns(),
            w.conds.join(" AND "),
            self.limit + 1
        );
        (sql, w.values)
    }

    /// The page and the cursor of the next one (`None` on the last page).
    pub fn page(&self, mut rows: Vec<UsageRecord>) -> (Vec<UsageRecord>, Option<String>) {
        if rows.len() <= self.limit {
            return (rows, None);
        }
        rows.truncate(self.limit);
        let next = rows.last().map(|r| Cursor { at: r.at, request_id: r.request_id.clone() }.encode());
        (rows, next)
    }
}

/// How the response cache and idempotency keys served the tenant's requests since `since_ms`:
/// rows of `cache` (`hit`, `miss`, `bypass`, `replay`) and `n`, over what the log keeps.
pub fn cache_counts_sql(tenant: &str, since_ms: i64) -> (String, Vec<SqlValue>) {
    let sql = "SELECT cache, COUNT(*) AS n, SUM(cost_usd) AS cost_usd FROM request_log \
               WHERE tenant_id = ?1 AND at >= ?2 AND cache IS NOT NULL GROUP BY cache";
    (sql.to_string(), vec![SqlValue::text(tenant), SqlValue::Int(since_ms)])
}

/// [`cache_counts_sql`]'s rows as `{hit, miss, bypass, replay, hit_ratio}` (every count present).
pub fn render_cache_counts(rows: &[Map<String, Value>]) -> Value {
    let count = |name: &str| {
        rows.iter()
            .find(|r| r.get("cache").and_then(Value::as_str) == Some(name))
            .and_then(|r| r["n"].as_u64())
            .unwrap_or(0)
    };
    let (hit, miss) = (count("hit"), count("miss"));
    let ratio = if hit + miss == 0 { 0.0 } else { hit as f64 / (hit + miss) as f64 };
    json!({"hit": hit, "miss": miss, "bypass": count("bypass"), "replay": count("replay"), "hit_ratio": ratio})
}

/// One record with its bodies.
pub fn record_sql(tenant: &str, request_id: &str) -> (String, Vec<SqlValue>) {
    let sql = format!(
        "SELECT {} FROM request_log WHERE tenant_id = ?1 AND request_id = ?2 ORDER BY at DESC LIMIT 1",
        log::all_columns()
    );
    (sql, vec![SqlValue::text(tenant), SqlValue::text(request_id)])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Provider,
    /// `provider/model`.
    Model,
    /// The gateway API key (with its name).
    Key,
    /// The hour's start, in ms.
    Hour,
    /// The UTC day's start, in ms.
    Day,
}

impl GroupBy {
    fn parse(v: &str) -> Option<GroupBy> {
        Some(match v {
            "provider" => GroupBy::Provider,
            "model" => GroupBy::Model,
            "key" => GroupBy::Key,
            "hour" => GroupBy::Hour,
            "day" => GroupBy::Day,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
            GroupBy::Key => "key",
            GroupBy::Hour => "hour",
            GroupBy::Day => "day",
        }
    }

    fn expression(self) -> String {
        match self {
            GroupBy::Provider => "provider".into(),
            GroupBy::Model => "provider || '/' || model".into(),
            GroupBy::Key => "key_id".into(),
            GroupBy::Hour => "hour_start_ms".into(),
            GroupBy::Day => format!("hour_start_ms - (hour_start_ms % {DAY_MS})"),
        }
    }

    fn is_time(self) -> bool {
        matches!(self, GroupBy::Hour | GroupBy::Day)
    }
}

/// `GET /api/usage`.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageQuery {
    pub from: i64,
    pub to: i64,
    pub group_by: GroupBy,
    /// Only the rows of one provider, model (`provider/model`) or key: a time series of each (the
    /// dashboard's charts by provider, model and key).
    pub only: Option<(GroupBy, String)>,
}

impl UsageQuery {
    /// Defaults: the last 24 hours, by provider.
    pub fn parse(pairs: &[(String, String)], now_ms: i64) -> Result<UsageQuery> {
        let p = Params::new(pairs, &["from", "to", "group_by", "provider", "model", "key"])?;
        let to = p.ms("to")?.unwrap_or(now_ms);
        let from = p.ms("from")?.unwrap_or(to - DAY_MS).max(0);
        check_range(Some(from), Some(to))?;
        let group_by = match p.get("group_by") {
            None => GroupBy::Provider,
            Some(g) => GroupBy::parse(g)
                .ok_or_else(|| bad("group_by", "`group_by` must be provider, model, key, hour or day."))?,
        };
        let mut only = None;
        for (name, by, max) in
            [("provider", GroupBy::Provider, 64), ("model", GroupBy::Model, 256), ("key", GroupBy::Key, 128)]
        {
            if let Some(v) = p.text(name, max)? {
                if only.is_some() {
                    return Err(bad(name, "Give at most one of `provider`, `model` and `key`."));
                }
                only = Some((by, v));
            }
        }
        Ok(UsageQuery { from, to, group_by, only })
    }

    /// Sums per group of the hourly rows that overlap `[from, to)`: ranges resolve to whole hours.
    pub fn sql(&self, tenant: &str) -> (String, Vec<SqlValue>) {
        let sums: Vec<String> = hourly::sum_columns().iter().map(|c| format!("SUM({c}) AS {c}")).collect();
        let only = self.only.as_ref().map(|(by, _)| format!(" AND {} = ?4", by.expression())).unwrap_or_default();
        let sql = format!(
            "SELECT {} AS grp, {} FROM usage_hourly WHERE tenant_id = ?1 AND hour_start_ms >= ?2 AND hour_start_ms < ?3{only} \
             GROUP BY grp",
            self.group_by.expression(),
            sums.join(", ")
        );
        let mut values =
            vec![SqlValue::text(tenant), SqlValue::Int(hourly::hour_start(self.from)), SqlValue::Int(self.to)];
        values.extend(self.only.as_ref().map(|(_, v)| SqlValue::text(v)));
        (sql, values)
    }

    /// The response: one entry per group (time groups in time order, others busiest first) and the
    /// totals over all of them. `key_names` names key ids for `group_by=key`.
    pub fn render(&self, rows: &[Map<String, Value>], key_names: &HashMap<String, String>) -> Value {
        let mut groups: Vec<(Value, Totals)> =
            rows.iter().map(|r| (r.get("grp").cloned().unwrap_or(Value::Null), Totals::from_row(r))).collect();
        if self.group_by.is_time() {
            groups.sort_by_key(|(g, _)| g.as_f64().unwrap_or(0.0) as i64);
        } else {
            groups.sort_by(|(ga, a), (gb, b)| {
                b.requests.cmp(&a.requests).then_with(|| ga.to_string().cmp(&gb.to_string()))
            });
        }
        let mut totals = Totals::default();
        let data: Vec<Value> = groups
            .iter()
            .map(|(g, t)| {
                totals.merge(t);
                let mut entry = t.to_json();
                let group = if self.group_by.is_time() { json!(g.as_f64().unwrap_or(0.0) as i64) } else { g.clone() };
                entry["group"] = group;
                if self.group_by == GroupBy::Key {
                    entry["key_name"] = g.as_str().and_then(|id| key_names.get(id)).map_or(Value::Null, |n| json!(n));
                }
                entry
            })
            .collect();
        json!({"from": self.from, "to": self.to, "group_by": self.group_by.name(), "data": data, "totals": totals.to_json()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::hourly::HOUR_MS;

    fn q(s: &str) -> Vec<(String, String)> {
        s.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn log_queries_validate_every_parameter() {
        let d = LogQuery::parse(&q("tenant=t")).unwrap();
        assert_eq!((d.limit, d.cursor.clone(), d.status), (DEFAULT_LIMIT, None, None));
        for (query, param) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=x", "limit"),
            ("cursor=zzz", "cursor"),
            ("status=6xx", "status"),
            ("status=99", "status"),
            ("from=-1", "from"),
            ("from=5&to=5", "from"),
            ("to=1e3", "to"),
            ("provider=", "provider"),
            ("model=a%0Ab", "model"),
            ("bogus=1", "bogus"),
            ("limit=1&limit=2", "limit"),
        ] {
            let mut pairs = q(query);
            if query.starts_with("model=") {
                pairs[0].1 = "a\nb".into();
            }
            let e = LogQuery::parse(&pairs).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)), "{query}");
        }
    }

    #[test]
    fn log_sql_binds_each_filter_in_order() {
        let cursor = Cursor { at: 99, request_id: "r9".into() }.encode();
        let lq = LogQuery::parse(&q(&format!(
            "status=5xx&provider=openai&model=gpt-4o&key=k1&from=10&to=100&limit=3&cursor={cursor}"
        )))
        .unwrap();
        let (sql, values) = lq.sql("t");
        assert_eq!(values.len(), 10, "{sql}");
        assert!(sql.contains("status >= ?2 AND status < ?3 AND provider = ?4 AND upstream_model = ?5 AND key_id = ?6 AND at >= ?7 AND at < ?8 AND (at < ?9 OR (at = ?9 AND request_id < ?10))"), "{sql}");
        assert!(sql.ends_with("ORDER BY at DESC, request_id DESC LIMIT 4"));
        assert_eq!(values[1], SqlValue::Int(500));
        assert_eq!(values[9], SqlValue::text("r9"));
        let (sql, values) = LogQuery::parse(&q("status=error")).unwrap().sql("t");
        assert!(sql.contains("(status >= 400 OR error_code IS NOT NULL)"));
        assert_eq!(values.len(), 1);
        let (sql, _) = LogQuery::parse(&q("status=429")).unwrap().sql("t");
        assert!(sql.contains("status = ?2"));
    }

    #[test]
    fn a_page_says_whether_another_follows() {
        let lq = LogQuery::parse(&q("limit=2")).unwrap();
        let rec = |at, id: &str| UsageRecord { at, request_id: id.into(), ..Default::default() };
        let (page, next) = lq.page(vec![rec(3, "c"), rec(2, "b")]);
        assert_eq!((page.len(), next), (2, None));
        let (page, next) = lq.page(vec![rec(3, "c"), rec(2, "b"), rec(1, "a")]);
        assert_eq!(page.len(), 2);
        assert_eq!(Cursor::decode(&next.unwrap()), Some(Cursor { at: 2, request_id: "b".into() }));
    }

    #[test]
    fn usage_queries_default_to_the_last_day_by_provider() {
        let u = UsageQuery::parse(&q(""), 10 * DAY_MS).unwrap();
        assert_eq!((u.from, u.to, u.group_by), (9 * DAY_MS, 10 * DAY_MS, GroupBy::Provider));
        for (query, param) in
            [("group_by=week", "group_by"), ("from=10&to=5", "from"), ("to=x", "to"), ("limit=5", "limit")]
        {
            assert_eq!(UsageQuery::parse(&q(query), DAY_MS).unwrap_err().param.as_deref(), Some(param), "{query}");
        }
        let (sql, values) =
            UsageQuery::parse(&q(&format!("group_by=day&from={}", HOUR_MS + 5)), 3 * DAY_MS).unwrap().sql("t");
        assert!(sql.contains(&format!("hour_start_ms - (hour_start_ms % {DAY_MS}) AS grp")));
        assert!(sql.contains("SUM(lat_23) AS lat_23"));
        assert_eq!(values[1], SqlValue::Int(HOUR_MS), "from is widened to its hour");
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn usage_queries_may_keep_one_provider_model_or_key() {
        let (sql, values) = UsageQuery::parse(&q("group_by=hour&model=openai/gpt-4o"), DAY_MS).unwrap().sql("t");
        assert!(sql.contains("AND provider || '/' || model = ?4 GROUP BY"), "{sql}");
        assert_eq!(values[3], SqlValue::text("openai/gpt-4o"));
        let (sql, values) = UsageQuery::parse(&q("group_by=day&key=key_1"), DAY_MS).unwrap().sql("t");
        assert!(sql.contains("AND key_id = ?4"), "{sql}");
        assert_eq!(values[3], SqlValue::text("key_1"));
        let two = UsageQuery::parse(&q("provider=openai&key=key_1"), DAY_MS).unwrap_err();
        assert_eq!(two.param.as_deref(), Some("key"));
        assert_eq!(UsageQuery::parse(&q("provider="), DAY_MS).unwrap_err().param.as_deref(), Some("provider"));
    }

    #[test]
    fn usage_renders_groups_and_totals() {
        let row = |g: Value, requests: u64, errors: u64, cost: f64, bucket: usize| {
            let mut m = Map::new();
            m.insert("grp".into(), g);
            m.insert("requests".into(), json!(requests));
            m.insert("errors".into(), json!(errors));
            m.insert("cost_usd".into(), json!(cost));
            m.insert(crate::metering::histogram::column(bucket), json!(requests));
            m
        };
        let u = UsageQuery { from: 0, to: DAY_MS, group_by: GroupBy::Key, only: None };
        let names = HashMap::from([("k1".to_string(), "laptop".to_string())]);
        let out = u.render(&[row(json!("k2"), 1, 1, 0.5, 20), row(json!("k1"), 3, 0, 0.25, 5)], &names);
        assert_eq!(out["data"][0]["group"], "k1", "busiest first");
        assert_eq!(out["data"][0]["key_name"], "laptop");
        assert_eq!(out["data"][1]["key_name"], Value::Null);
        assert_eq!(out["totals"]["requests"], 4);
        assert_eq!(out["totals"]["errors"], 1);
        assert_eq!(out["totals"]["cost_usd"], 0.75);
        assert!(out["totals"].get("group").is_none());
        let p50 = out["totals"]["latency_ms"]["p50"].as_u64().unwrap();
        assert!((63..=100).contains(&p50), "{p50}: bucket 5 is [63, 100)");
        let u = UsageQuery { from: 0, to: DAY_MS, group_by: GroupBy::Hour, only: None };
        let out = u.render(&[row(json!(7200000.0), 1, 0, 0.0, 0), row(json!(3600000), 1, 0, 0.0, 0)], &HashMap::new());
        assert_eq!(
            (out["data"][0]["group"].clone(), out["data"][1]["group"].clone()),
            (json!(3600000), json!(7200000))
        );
        assert_eq!(out["group_by"], "hour");
    }
}
