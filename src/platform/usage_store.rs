//! Where usage records go: the request log and the hourly aggregates in D1, written off the request
//! path, and purged by age.
//!
//! [`record`] never waits on D1. It appends the record to an isolate-local buffer and, unless a flush
//! is already running, starts one under the request's `wait_until`. A flush first waits
//! `FLUSH_DELAY_MS` so that the records of a busy moment share it, then drains the buffer in batches
//! until it is empty; each batch is ONE `db.batch`: the log rows as one `json_each` insert (see
//! `log::insert_rows`) plus the batch's records folded into hourly upserts that only add
//! (`x = x + excluded.x`). So a burst of requests costs a few D1 statements, not one per request, and
//! nothing pushed while a flush runs is missed: the emptiness check and the end of the flush happen
//! with no await in between.
//!
//! A failed batch is retried once, then dropped with a `console_error!` (counts only, never
//! contents). A flush hands over after `FLUSH_BUDGET_MS`, within the time the runtime grants a
//! finished request's background work; the next record starts a new flush under its own request.

use super::{env, repo};
use crate::error::Result;
use crate::metering::hourly::{self, DAY_MS};
use crate::metering::sql::SqlValue;
use crate::metering::{log, redact, UsageRecord};
use std::cell::RefCell;
use std::collections::VecDeque;
use worker::{Context, D1Database, Env};

/// Records one batch carries at most.
const MAX_BATCH_RECORDS: usize = 500;
/// How long a flush gathers records before its first batch. Measured in the local runtime, D1 costs
/// about 2 ms of CPU per statement plus 60-100 µs per row, so a write per request would cost more
/// than the request; 200 ms gathers ~100 records at a few hundred requests per second, at the price
/// of log rows landing that much later.
const FLUSH_DELAY_MS: u64 = 200;
/// JSON bytes one row-insert statement carries at most (D1 caps one bound value at 2 MB); a row
/// bigger than this (stored bodies) is inserted on its own.
const MAX_ROWS_JSON: usize = 1024 * 1024;
/// Body bytes one batch carries at most, to keep a D1 request well under its size limit.
const MAX_BATCH_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Each stored body at most: a D1 row holds at most 2 MB, and a record has two bodies.
const MAX_STORED_BODY: usize = 900 * 1024;
/// How long one flush keeps draining before it hands over (the runtime allows 30 s).
const FLUSH_BUDGET_MS: i64 = 15_000;
/// A flush silent this long was cut off by the runtime: the next record starts another.
const FLUSH_STALE_MS: i64 = 60_000;
/// Records held at most while D1 cannot be written; past that the oldest are dropped.
const MAX_BUFFERED: usize = 20_000;
/// Rows one purge statement deletes at most.
const PURGE_CHUNK: usize = 5_000;

#[derive(Default)]
struct Buffer {
    pending: VecDeque<UsageRecord>,
    /// The running flush: its number and when it last started or finished a batch.
    flush: Option<(u64, i64)>,
    flushes_started: u64,
}

thread_local! {
    static BUFFER: RefCell<Buffer> = RefCell::new(Buffer::default());
}

fn with_buffer<T>(f: impl FnOnce(&mut Buffer) -> T) -> T {
    BUFFER.with(|b| f(&mut b.borrow_mut()))
}

/// Queues `rec` for the log and the aggregates; returns at once.
pub fn record(env: &Env, ctx: &Context, mut rec: UsageRecord) {
    for body in [&mut rec.request_body, &mut rec.response_body].into_iter().flatten() {
        if body.len() > MAX_STORED_BODY {
            *body = redact::capped_redacted(body, MAX_STORED_BODY);
        }
    }
    let now = env::now_ms();
    let start = with_buffer(|b| {
        if b.pending.len() >= MAX_BUFFERED {
            b.pending.pop_front();
            worker::console_error!("usage store: buffer full, dropped the oldest record");
        }
        b.pending.push_back(rec);
        if b.flush.is_some_and(|(_, seen)| now - seen < FLUSH_STALE_MS) {
            return None;
        }
        b.flushes_started += 1;
        b.flush = Some((b.flushes_started, now));
        Some(b.flushes_started)
    });
    if let Some(id) = start {
        let env = env.clone();
        ctx.wait_until(async move { flush(&env, id, now).await });
    }
}

async fn flush(env: &Env, id: u64, started: i64) {
    worker::Delay::from(std::time::Duration::from_millis(FLUSH_DELAY_MS)).await;
    loop {
        let batch = with_buffer(|b| take_batch(&mut b.pending));
        if batch.is_empty() {
            break;
        }
        if write(env, &batch).await.is_err() {
            if let Err(e) = write(env, &batch).await {
                worker::console_error!("usage store: {} records lost after a retry: {}", batch.len(), e.message);
            }
        }
        let now = env::now_ms();
        with_buffer(|b| {
            if let Some((running, seen)) = &mut b.flush {
                if *running == id {
                    *seen = now;
                }
            }
        });
        if now - started > FLUSH_BUDGET_MS {
            break;
        }
    }
    with_buffer(|b| {
        if b.flush.is_some_and(|(running, _)| running == id) {
            b.flush = None;
        }
    });
}

/// The oldest records, up to the batch limits (always at least one if any are pending).
fn take_batch(pending: &mut VecDeque<UsageRecord>) -> Vec<UsageRecord> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(next) = pending.front() {
        let size =
            next.request_body.as_ref().map_or(0, String::len) + next.response_body.as_ref().map_or(0, String::len);
        if batch.len() == MAX_BATCH_RECORDS || (!batch.is_empty() && bytes + size > MAX_BATCH_BODY_BYTES) {
            break;
        }
        bytes += size;
        batch.extend(pending.pop_front());
    }
    batch
}

/// One round trip: every record's log row and the batch's hourly sums, all or nothing.
async fn write(env: &Env, batch: &[UsageRecord]) -> Result<()> {
    let db = repo::db(env)?;
    let mut statements = Vec::new();
    for (sql, args) in log::inserts(batch, MAX_ROWS_JSON) {
        statements.push(repo::statement(&db, &sql, &args)?);
    }
    for (key, totals) in hourly::fold(batch) {
        let (sql, args) = hourly::upsert(&key, &totals);
        statements.push(repo::statement(&db, &sql, &args)?);
    }
    repo::batch(&db, statements).await
}

/// Rows deleted by one purge.
#[derive(Debug, Default, Clone, Copy)]
pub struct Purged {
    pub log_rows: usize,
    pub hourly_rows: usize,
    pub audit_rows: usize,
}

/// Deletes each tenant's log rows older than its `log_retention_days`, aggregates older than
/// `hourly::RETENTION_DAYS` and audit rows older than `audit::RETENTION_DAYS`. Runs from the hourly
/// cron trigger.
pub async fn purge(env: &Env, now: i64) -> Result<Purged> {
    let db = repo::db(env)?;
    let mut purged = Purged::default();
    for tenant in repo::tenant_ids(&db).await? {
        let days = i64::from(repo::settings(&db, &tenant).await?.log_retention_days);
        let args = [SqlValue::text(&tenant), SqlValue::Int(now - days * DAY_MS)];
        purged.log_rows += delete_all(&db, "request_log", "tenant_id = ?1 AND at < ?2", &args).await?;
    }
    let args = [SqlValue::Int(now - hourly::RETENTION_DAYS * DAY_MS)];
    purged.hourly_rows = delete_all(&db, "usage_hourly", "hour_start_ms < ?1", &args).await?;
    let args = [SqlValue::Int(now - crate::auth::audit::RETENTION_DAYS * DAY_MS)];
    purged.audit_rows = delete_all(&db, "audit_log", "at < ?1", &args).await?;
    Ok(purged)
}

/// Deletes the rows of `table` matching `condition`, in chunks (short statements keep D1 responsive).
async fn delete_all(db: &D1Database, table: &str, condition: &str, args: &[SqlValue]) -> Result<usize> {
    let sql =
        format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT {PURGE_CHUNK})");
    let mut total = 0;
    loop {
        let n = repo::changes(db, &sql, args).await?;
        total += n;
        if n < PURGE_CHUNK {
            return Ok(total);
        }
    }
}
