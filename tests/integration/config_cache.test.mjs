// The request path reads configuration from the isolate cache backed by KV: D1 is not queried per
// request. Shown with the gateway's own counters (GET /api/stats).
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

const t = gatewayWithOpenAI();

const stats = async () => (await t.gw.admin("GET", "/api/stats")).json.config_cache;
const chat = () => fetch(`${t.gw.url}/v1/chat/completions`, {
  method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
}).then(async (r) => { assert.equal(r.status, 200, await r.clone().text()); await r.arrayBuffer(); });

test("steady-state requests hit the isolate cache: no D1 query per request", async () => {
  await chat(); // warm
  const before = await stats();
  for (let i = 0; i < 20; i++) await chat();
  const after = await stats();
  assert.equal(after.snapshot_d1_loads - before.snapshot_d1_loads, 0);
  assert.equal(after.key_d1_loads - before.key_d1_loads, 0);
  assert.ok(after.snapshot_memory_hits - before.snapshot_memory_hits >= 20);
  assert.ok(after.key_memory_hits - before.key_memory_hits >= 20);
});

test("requests keep working with the D1 rows gone: the hot path does not read them", async () => {
  const db = await t.gw.mf.getD1Database("DB");
  const saved = await db.prepare("SELECT * FROM provider_connections").all();
  await db.prepare("DELETE FROM provider_connections").run();
  try {
    const before = await stats();
    for (let i = 0; i < 5; i++) await chat();
    const after = await stats();
    assert.equal(after.snapshot_d1_loads - before.snapshot_d1_loads, 0);
  } finally {
    for (const r of saved.results) {
      await db.prepare(`INSERT INTO provider_connections (${Object.keys(r).join(",")}) VALUES (${Object.keys(r).map(() => "?").join(",")})`)
        .bind(...Object.values(r)).run();
    }
  }
});

test("a snapshot missing from KV is rebuilt from D1 once, then served from cache", async () => {
  const kv = await t.gw.mf.getKVNamespace("CONFIG_CACHE");
  assert.ok(await kv.get("cfg/v1/tenant/default"), "admin writes published a snapshot to KV");
  // Read before the deletion: a management call reads the instance settings (the default tenant's
  // snapshot) itself, which would rebuild it before the requests below.
  const before = await stats();
  await kv.delete("cfg/v1/tenant/default");
  // Wait out the isolate's freshness window so the next request must look further.
  await new Promise((r) => setTimeout(r, 10_500));
  for (let i = 0; i < 5; i++) await chat();
  const after = await stats();
  assert.equal(after.snapshot_kv_reads - before.snapshot_kv_reads, 1);
  assert.equal(after.snapshot_d1_loads - before.snapshot_d1_loads, 1);
  assert.ok(await kv.get("cfg/v1/tenant/default"), "the rebuilt snapshot was written back to KV");
});

test("unknown keys are remembered briefly, so a flood of bad keys does not reach D1", async () => {
  const before = await stats();
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${t.gw.url}/v1/models`, { headers: { authorization: "Bearer sk-oe-flood" } });
    assert.equal(r.status, 401);
  }
  const after = await stats();
  assert.equal(after.key_d1_loads - before.key_d1_loads, 1);
});

// Stored configuration outlives the code that wrote it: a snapshot or row from another version of
// the gateway (or a damaged one) must never become a client error. Each case gets a tenant of its
// own, set up through the admin API; one wait lets their snapshots age out of the isolate's memory.
const tenants = {};
const tenantChat = (tenant) => fetch(`${t.gw.url}/${tenant}/v1/chat/completions`, {
  method: "POST", headers: { authorization: `Bearer ${tenants[tenant]}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
});

test("stored configuration of another version: setup", async () => {
  const db = await t.gw.mf.getD1Database("DB");
  for (const tenant of ["garbled", "newer", "badrows"]) {
    await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, 0)").bind(tenant, tenant).run();
    const q = `?tenant=${tenant}`;
    const conn = await t.gw.admin("POST", `/api/providers${q}`, { provider: "openai", api_key: t.upstream.apiKey, base_url: t.upstream.url });
    assert.equal(conn.status, 201, conn.text);
    tenants[tenant] = await t.gw.createKey("k", q);
  }
  const kv = await t.gw.mf.getKVNamespace("CONFIG_CACHE");
  await kv.put("cfg/v1/tenant/garbled", "{\"tenant\": \"garbled\", \"version\": ");
  // Today's snapshot as a newer version would write it: unknown fields at every level.
  const snap = JSON.parse(await kv.get("cfg/v1/tenant/newer"));
  const extra = { added_by: "a newer version" };
  Object.assign(snap, { new_top_level: extra });
  Object.assign(snap.settings, { new_setting: extra, account_strategy: "a_newer_strategy" });
  Object.assign(snap.connections[0], { new_connection_field: extra });
  await kv.put("cfg/v1/tenant/newer", JSON.stringify(snap));
  // D1 rows this version cannot read, next to good ones; and no snapshot in KV.
  await db.prepare("INSERT INTO combos (tenant_id, name, data, updated_at) VALUES ('badrows', 'broken', '{not json', 0)").run();
  await db.prepare("INSERT INTO combos (tenant_id, name, data, updated_at) VALUES ('badrows', 'newer', ?, 0)")
    .bind(JSON.stringify({ name: "newer", targets: [{ model: "openai/gpt-4o" }], strategy: "a_newer_strategy" })).run();
  await db.prepare("INSERT INTO combos (tenant_id, name, data, updated_at) VALUES ('badrows', 'good', ?, 0)")
    .bind(JSON.stringify({ name: "good", targets: [{ model: "openai/gpt-4o-mini" }], future_field: 1 })).run();
  await db.prepare("INSERT INTO settings (tenant_id, value, updated_at) VALUES ('badrows', ?, 0)")
    .bind(JSON.stringify({ sticky_limit: 4, upstream_timeout_ms: "soon", new_setting: true })).run();
  await kv.delete("cfg/v1/tenant/badrows");
  await new Promise((r) => setTimeout(r, 10_500));
});

test("a snapshot in KV that does not decode is rebuilt from D1 and rewritten", async () => {
  const before = await stats();
  const r = await tenantChat("garbled");
  assert.equal(r.status, 200, await r.text());
  const after = await stats();
  assert.equal(after.snapshot_kv_unreadable - before.snapshot_kv_unreadable, 1);
  assert.equal(after.snapshot_d1_loads - before.snapshot_d1_loads, 1);
  const rewritten = JSON.parse(await (await t.gw.mf.getKVNamespace("CONFIG_CACHE")).get("cfg/v1/tenant/garbled"));
  assert.equal(rewritten.tenant, "garbled");
});

test("a snapshot with fields this version does not know is used as it is", async () => {
  const before = await stats();
  const r = await tenantChat("newer");
  assert.equal(r.status, 200, await r.text());
  const after = await stats();
  assert.equal(after.snapshot_d1_loads - before.snapshot_d1_loads, 0, "no rebuild");
  assert.equal(after.snapshot_kv_unreadable - before.snapshot_kv_unreadable, 0);
});

test("D1 rows that do not decode are skipped, not fatal, and the partial snapshot is not published", async () => {
  const before = await stats();
  const good = await fetch(`${t.gw.url}/badrows/v1/chat/completions`, {
    method: "POST", headers: { authorization: `Bearer ${tenants.badrows}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "good", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(good.status, 200, await good.text());
  const after = await stats();
  // Two combo rows and one setting value.
  assert.equal(after.stored_rows_skipped - before.stored_rows_skipped, 3);
  assert.equal(await (await t.gw.mf.getKVNamespace("CONFIG_CACHE")).get("cfg/v1/tenant/badrows"), null);
  const combos = await t.gw.admin("GET", "/api/combos?tenant=badrows");
  assert.equal(combos.status, 200, combos.text);
  assert.deepEqual(combos.json.data.map((c) => c.name), ["good"]);
  const settings = await t.gw.admin("GET", "/api/settings?tenant=badrows");
  assert.equal(settings.json.sticky_limit, 4);
  assert.equal(settings.json.upstream_timeout_ms, 120000, "an unreadable value falls back to its default");
});

test("admin input stays strict: unknown keys are refused, naming the key", async () => {
  const cases = [
    ["PATCH", "/api/settings", { sticky_limit: 2, stiky_limit: 2 }, "stiky_limit"],
    ["POST", "/api/combos", { name: "c", targets: [{ model: "openai/gpt-4o", wieght: 2 }] }, "targets[0].wieght"],
    ["POST", "/api/provider-nodes", { id: "lab", format: "openai", base_url: "https://lab.example.com", extra: 1 }, "extra"],
  ];
  for (const [method, path, body, param] of cases) {
    const r = await t.gw.admin(method, path, body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, param);
  }
});
