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
  await kv.delete("cfg/v1/tenant/default");
  // Wait out the isolate's freshness window so the next request must look further.
  await new Promise((r) => setTimeout(r, 10_500));
  const before = await stats();
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
