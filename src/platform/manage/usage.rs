//! `/api/usage` and `/api/logs`: what requests cost and how they went. Parameters are checked by the
//! core (`metering::query`); this module runs the SQL and renders.

use super::{value, Call};
use crate::error::{GatewayError, Result};
use crate::manage::routes::Usage as Op;
use crate::metering::log::LogRow;
use crate::metering::query::{self, LogQuery, UsageQuery};
use crate::metering::UsageRecord;
use crate::platform::{env, repo};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use worker::Response;

pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    let (tenant, db) = (call.tenant, call.db()?);
    match op {
        Op::Summary => {
            let q = UsageQuery::parse(&call.query_pairs()?, env::now_ms())?;
            let (sql, args) = q.sql(tenant);
            let rows: Vec<Map<String, Value>> = repo::rows(&db, &sql, &args).await?;
            let by_key = q.group_by == query::GroupBy::Key;
            let names = if by_key { repo::key_names(&db, tenant).await? } else { HashMap::new() };
            value(200, &q.render(&rows, &names))
        }
        Op::Logs => {
            let q = LogQuery::parse(&call.query_pairs()?)?;
            let (sql, args) = q.sql(tenant);
            let rows: Vec<LogRow> = repo::rows(&db, &sql, &args).await?;
            let (page, next) = q.page(rows.into_iter().map(UsageRecord::from).collect());
            value(200, &json!({"data": page, "next": next}))
        }
        Op::Log => {
            let request_id = call.param("id");
            if request_id.len() > 256 {
                return Err(
                    GatewayError::invalid_request("A request id has 1 to 256 characters.").with_param("request_id")
                );
            }
            let (sql, args) = query::record_sql(tenant, request_id);
            let row = repo::rows::<LogRow>(&db, &sql, &args).await?.into_iter().next();
            let row = row.ok_or_else(|| GatewayError::not_found(format!("No logged request `{request_id}`.")))?;
            value(200, &UsageRecord::from(row))
        }
    }
}
