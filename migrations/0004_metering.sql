-- Metering: the request log (one row per generation request), hourly usage aggregates with a
-- latency histogram, and per-tenant price overrides. Written off the request path by the usage store
-- (src/platform/usage_store.rs); purged hourly by the scheduled handler (log: the tenant's
-- log_retention_days; aggregates: 400 days). Timestamps are milliseconds since the Unix epoch.

-- One row per request, every field of metering::UsageRecord a column. request_id is not unique: a
-- client may reuse its X-Request-Id, and every request is kept. Bodies only with the opt-in setting.
CREATE TABLE request_log (
  request_id          TEXT NOT NULL,
  tenant_id           TEXT NOT NULL,
  key_id              TEXT NOT NULL DEFAULT '',
  endpoint            TEXT NOT NULL DEFAULT '',
  client_format       TEXT NOT NULL DEFAULT '',
  requested_model     TEXT NOT NULL DEFAULT '',
  provider            TEXT NOT NULL DEFAULT '',
  connection          TEXT NOT NULL DEFAULT '',
  upstream_model      TEXT NOT NULL DEFAULT '',
  combo               TEXT,
  attempts            INTEGER NOT NULL DEFAULT 0,
  continuations       INTEGER NOT NULL DEFAULT 0,
  status              INTEGER NOT NULL,
  error_code          TEXT,
  tokens_in           INTEGER NOT NULL DEFAULT 0,
  tokens_out          INTEGER NOT NULL DEFAULT 0,
  tokens_cached       INTEGER NOT NULL DEFAULT 0,
  tokens_cache_write  INTEGER NOT NULL DEFAULT 0,
  tokens_reasoning    INTEGER NOT NULL DEFAULT 0,
  tokens_estimated    INTEGER NOT NULL DEFAULT 0,
  cost_usd            REAL NOT NULL DEFAULT 0,
  latency_ms          INTEGER NOT NULL DEFAULT 0,
  ttfb_ms             INTEGER,
  streamed            INTEGER NOT NULL DEFAULT 0,
  at                  INTEGER NOT NULL,
  request_body        TEXT,
  response_body       TEXT
);
-- Newest-first paging (keyset on at, request_id), the retention purge, and lookups by id.
CREATE INDEX request_log_page ON request_log (tenant_id, at, request_id);
CREATE INDEX request_log_id ON request_log (tenant_id, request_id, at);
-- The /api/logs filters, each newest first.
CREATE INDEX request_log_provider ON request_log (tenant_id, provider, at, request_id);
CREATE INDEX request_log_model ON request_log (tenant_id, upstream_model, at, request_id);
CREATE INDEX request_log_key ON request_log (tenant_id, key_id, at, request_id);
CREATE INDEX request_log_status ON request_log (tenant_id, status, at, request_id);

-- Sums per (tenant, hour, key, provider, model). lat_00..lat_23 count requests per latency bucket
-- (bounds in src/metering/histogram.rs), so percentiles over any range come from these rows alone.
CREATE TABLE usage_hourly (
  tenant_id           TEXT NOT NULL,
  hour_start_ms       INTEGER NOT NULL,
  key_id              TEXT NOT NULL,
  provider            TEXT NOT NULL,
  model               TEXT NOT NULL,
  requests            INTEGER NOT NULL DEFAULT 0,
  errors              INTEGER NOT NULL DEFAULT 0,
  tokens_in           INTEGER NOT NULL DEFAULT 0,
  tokens_out          INTEGER NOT NULL DEFAULT 0,
  tokens_cached       INTEGER NOT NULL DEFAULT 0,
  tokens_reasoning    INTEGER NOT NULL DEFAULT 0,
  cost_usd            REAL NOT NULL DEFAULT 0,
  latency_sum_ms      INTEGER NOT NULL DEFAULT 0,
  lat_00            INTEGER NOT NULL DEFAULT 0,
  lat_01            INTEGER NOT NULL DEFAULT 0,
  lat_02            INTEGER NOT NULL DEFAULT 0,
  lat_03            INTEGER NOT NULL DEFAULT 0,
  lat_04            INTEGER NOT NULL DEFAULT 0,
  lat_05            INTEGER NOT NULL DEFAULT 0,
  lat_06            INTEGER NOT NULL DEFAULT 0,
  lat_07            INTEGER NOT NULL DEFAULT 0,
  lat_08            INTEGER NOT NULL DEFAULT 0,
  lat_09            INTEGER NOT NULL DEFAULT 0,
  lat_10            INTEGER NOT NULL DEFAULT 0,
  lat_11            INTEGER NOT NULL DEFAULT 0,
  lat_12            INTEGER NOT NULL DEFAULT 0,
  lat_13            INTEGER NOT NULL DEFAULT 0,
  lat_14            INTEGER NOT NULL DEFAULT 0,
  lat_15            INTEGER NOT NULL DEFAULT 0,
  lat_16            INTEGER NOT NULL DEFAULT 0,
  lat_17            INTEGER NOT NULL DEFAULT 0,
  lat_18            INTEGER NOT NULL DEFAULT 0,
  lat_19            INTEGER NOT NULL DEFAULT 0,
  lat_20            INTEGER NOT NULL DEFAULT 0,
  lat_21            INTEGER NOT NULL DEFAULT 0,
  lat_22            INTEGER NOT NULL DEFAULT 0,
  lat_23            INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour_start_ms, key_id, provider, model)
);
-- The 400-day purge across tenants.
CREATE INDEX usage_hourly_hour ON usage_hourly (hour_start_ms);

-- A tenant's own prices (USD per 1M tokens), replacing the built-in table's rows. NULL cached_input
-- or reasoning: the input or output price.
CREATE TABLE prices (
  tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  provider      TEXT NOT NULL,
  model         TEXT NOT NULL,
  input         REAL NOT NULL,
  output        REAL NOT NULL,
  cached_input  REAL,
  reasoning     REAL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, provider, model)
);
