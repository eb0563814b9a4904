// The hourly cron trigger deletes request-log rows older than each tenant's log_retention_days, and
// usage aggregates and audit rows older than 400 days; everything newer stays.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";

const DAY = 86_400_000;

test("the scheduled purge keeps each tenant's log for its retention and aggregates for 400 days", async () => {
  const gw = await startGateway({ assets: false });
  try {
    const db = await gw.mf.getD1Database("DB");
    const now = Date.now();
    await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('other', 'Other', 0)").run();
    const patch = await gw.admin("PATCH", "/api/settings", { log_retention_days: 7 });
    assert.equal(patch.status, 200, patch.text);
    assert.equal((await gw.admin("PATCH", "/api/settings", { log_retention_days: 0 })).json.error.param, "log_retention_days");

    const log = db.prepare("INSERT INTO request_log (request_id, tenant_id, status, at) VALUES (?, ?, 200, ?)");
    const audit = db.prepare("INSERT INTO audit_log (tenant_id, at, actor, role, via, method, path, status) VALUES ('default', ?, ?, 'owner', 'secret', 'POST', '/api/keys', 201)");
    const hourly = db.prepare("INSERT INTO usage_hourly (tenant_id, hour_start_ms, key_id, provider, model, requests) VALUES ('default', ?, '', 'openai', ?, 1)");
    await db.batch([
      log.bind("default-8d", "default", now - 8 * DAY), // past default's 7 days
      log.bind("default-6d", "default", now - 6 * DAY),
      log.bind("other-8d", "other", now - 8 * DAY), // within other's default 30 days
      log.bind("other-31d", "other", now - 31 * DAY),
      hourly.bind(now - 401 * DAY, "old"),
      hourly.bind(now - 399 * DAY, "kept"),
      audit.bind(now - 401 * DAY, "old"),
      audit.bind(now - 399 * DAY, "kept"),
    ]);

    const result = await gw.scheduled();
    assert.equal(result.outcome, "ok");

    const ids = (await db.prepare("SELECT request_id FROM request_log ORDER BY request_id").all()).results.map((r) => r.request_id);
    assert.deepEqual(ids, ["default-6d", "other-8d"]);
    const models = (await db.prepare("SELECT model FROM usage_hourly").all()).results.map((r) => r.model);
    assert.deepEqual(models, ["kept"]);
    const actors = (await db.prepare("SELECT actor FROM audit_log WHERE path = '/api/keys'").all()).results.map((r) => r.actor);
    assert.deepEqual(actors, ["kept"]);
    // The API reads what is left.
    const logs = await gw.admin("GET", "/api/logs");
    assert.deepEqual(logs.json.data.map((r) => r.request_id), ["default-6d"]);
  } finally {
    await gw.dispose();
  }
});
