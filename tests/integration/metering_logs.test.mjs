// Every generation request leaves one row in the request log and is counted in the hourly
// aggregates, written in the background: a burst loses nothing. /api/logs pages and filters the
// log; /api/usage groups the aggregates. Records are what the request pipeline wrote for real
// requests through the gateway (the mock upstream reports token usage).
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

const t = gatewayWithOpenAI();
const BURST = 500;

const chat = (model, requestId) => fetch(`${t.gw.url}/v1/chat/completions`, {
  method: "POST",
  headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json", ...(requestId ? { "x-request-id": requestId } : {}) },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
}).then(async (r) => { await r.arrayBuffer(); return r.status; });

const db = () => t.gw.mf.getD1Database("DB");
const logCount = async () => (await (await db()).prepare("SELECT COUNT(*) AS n FROM request_log").first()).n;
async function waitForLogRows(n) {
  for (let i = 0; i < 300; i++) {
    if ((await logCount()) >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the log holds ${await logCount()} rows, not ${n}`);
}
const logs = async (query) => (await t.gw.admin("GET", `/api/logs${query}`));

test("a burst of 500 concurrent requests leaves 500 log rows and aggregates that sum to 500", async () => {
  const statuses = await Promise.all(Array.from({ length: BURST }, (_, i) => chat("openai/gpt-4o", `burst-${i}`)));
  assert.deepEqual(statuses.filter((s) => s !== 200), []);
  await waitForLogRows(BURST);
  await new Promise((r) => setTimeout(r, 300)); // nothing more arrives later
  assert.equal(await logCount(), BURST);
  const distinct = await (await db()).prepare("SELECT COUNT(DISTINCT request_id) AS n FROM request_log").first();
  assert.equal(distinct.n, BURST);
  const usage = (await t.gw.admin("GET", "/api/usage")).json;
  assert.equal(usage.totals.requests, BURST);
  assert.equal(usage.totals.errors, 0);
  assert.deepEqual(usage.data.map((g) => [g.group, g.requests]), [["openai", BURST]]);
  const hist = await (await db()).prepare(
    `SELECT SUM(requests) AS requests, SUM(${Array.from({ length: 24 }, (_, i) => `lat_${String(i).padStart(2, "0")}`).join(" + ")}) AS counted FROM usage_hourly`,
  ).first();
  assert.deepEqual(hist, { requests: BURST, counted: BURST }, "every request is in one latency bucket");
});

test("the log pages newest first and filters by status, provider, model and time", async () => {
  await new Promise((r) => setTimeout(r, 5));
  const after = Date.now();
  for (const [model, id] of [
    ["openai/gpt-4o-mini", "mini-1"], ["openai/gpt-4o-mini", "mini-2"], ["openai/gpt-4o-mini", "mini-3"],
    ["openai/server-error", "fail-1"], ["openai/overloaded", "fail-2"],
    ["nope/unknown-model", "missing-1"], ["openai/rate-limited", "limited-1"],
  ]) await chat(model, id);
  await waitForLogRows(BURST + 7);

  // Every row exactly once across pages, newest first.
  const seen = [];
  let cursor = null;
  do {
    const page = await logs(`?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    assert.equal(page.status, 200, page.text);
    seen.push(...page.json.data);
    cursor = page.json.next;
  } while (cursor);
  assert.equal(seen.length, BURST + 7);
  assert.equal(new Set(seen.map((r) => r.request_id)).size, BURST + 7);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].at >= seen[i].at, "newest first");
  assert.equal(seen[0].request_id, "limited-1");
  assert.ok(seen.every((r) => r.request_body === undefined && r.response_body === undefined), "no bodies in lists");

  const first = (await logs("?limit=2")).json;
  assert.deepEqual(first.data.map((r) => r.request_id), ["limited-1", "missing-1"]);
  const second = (await logs(`?limit=2&cursor=${first.next}`)).json;
  assert.deepEqual(second.data.map((r) => r.request_id), ["fail-2", "fail-1"]);

  const ids = async (q) => (await logs(q)).json.data.map((r) => r.request_id).sort();
  assert.deepEqual(await ids("?status=5xx"), ["fail-1", "fail-2"]);
  assert.deepEqual(await ids("?status=4xx"), ["limited-1", "missing-1"]);
  assert.deepEqual(await ids("?status=429"), ["limited-1"]);
  assert.deepEqual(await ids("?status=error"), ["fail-1", "fail-2", "limited-1", "missing-1"]);
  assert.deepEqual(await ids("?model=gpt-4o-mini"), ["mini-1", "mini-2", "mini-3"]);
  assert.deepEqual(await ids(`?from=${after}&status=200&provider=openai`), ["mini-1", "mini-2", "mini-3"]);
  assert.deepEqual(await ids(`?to=${after}&status=5xx`), []);
  assert.equal((await logs(`?from=${after}&limit=200`)).json.data.length, 7);
  assert.equal((await logs("?provider=anthropic")).json.data.length, 0);
});

test("one logged request by id, and a 404 in the usual shape for an unknown one", async () => {
  const r = await t.gw.admin("GET", "/api/logs/fail-1");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.request_id, "fail-1");
  assert.equal(r.json.status, 502);
  assert.equal(r.json.provider, "openai", "the provider tried last, though it failed");
  assert.ok(r.json.attempts >= 1 && r.json.error_code, JSON.stringify(r.json));
  assert.equal(r.json.endpoint, "/v1/chat/completions");
  assert.equal(r.json.client_format, "openai_chat");
  const ok = (await t.gw.admin("GET", "/api/logs/mini-2")).json;
  assert.deepEqual([ok.provider, ok.upstream_model, ok.status], ["openai", "gpt-4o-mini", 200]);
  assert.match(ok.connection, /^conn_/);
  const missing = await t.gw.admin("GET", "/api/logs/no-such-request");
  assert.equal(missing.status, 404);
  assert.match(missing.json.error.message, /No logged request `no-such-request`/);
});

test("bad log parameters are refused with the parameter named", async () => {
  for (const [q, param] of [
    ["?limit=201", "limit"], ["?limit=0", "limit"], ["?status=abc", "status"], ["?cursor=!!!", "cursor"],
    ["?from=yesterday", "from"], ["?from=10&to=5", "from"], ["?sort=asc", "sort"],
  ]) {
    const r = await logs(q);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error.param, param, q);
  }
  assert.equal((await t.gw.admin("POST", "/api/logs", {})).status, 405);
});

test("usage groups by provider, model, key, hour and day, with totals and latency percentiles", async () => {
  const total = BURST + 7;
  const byModel = (await t.gw.admin("GET", "/api/usage?group_by=model")).json;
  assert.equal(byModel.group_by, "model");
  const group = (name) => byModel.data.find((g) => g.group === name);
  assert.equal(group("openai/gpt-4o").requests, BURST);
  assert.equal(group("openai/gpt-4o-mini").requests, 3);
  assert.equal(byModel.data[0].group, "openai/gpt-4o", "busiest first");
  assert.equal(byModel.totals.requests, total);
  assert.equal(byModel.totals.errors, 4);
  assert.equal(byModel.data.reduce((n, g) => n + g.requests, 0), total);
  const p = byModel.totals.latency_ms;
  assert.ok(p.p50 !== null && p.p50 <= p.p95 && p.p95 <= p.p99, JSON.stringify(p));

  const byHour = (await t.gw.admin("GET", "/api/usage?group_by=hour")).json;
  assert.ok(byHour.data.every((g) => g.group % 3_600_000 === 0));
  assert.equal(byHour.totals.requests, total);
  const byDay = (await t.gw.admin("GET", `/api/usage?group_by=day&from=${Date.now() - 3 * 86_400_000}`)).json;
  assert.ok(byDay.data.every((g) => g.group % 86_400_000 === 0));
  assert.equal(byDay.totals.requests, total);
  // One model alone, per hour: its own requests only.
  const oneModel = (await t.gw.admin("GET", "/api/usage?group_by=hour&model=openai/gpt-4o-mini")).json;
  assert.equal(oneModel.totals.requests, 3);
  assert.equal(oneModel.data.reduce((n, g) => n + g.requests, 0), 3);
  assert.equal((await t.gw.admin("GET", "/api/usage?provider=openai&model=openai/gpt-4o")).json.error.param, "model");
  const past = (await t.gw.admin("GET", `/api/usage?from=0&to=${Date.now() - 3 * 86_400_000}`)).json;
  assert.deepEqual([past.data, past.totals.requests, past.totals.latency_ms.p50], [[], 0, null]);

  // Every record carries the gateway key that made the request.
  const key = (await t.gw.admin("GET", "/api/keys")).json.data[0];
  const byKey = (await t.gw.admin("GET", "/api/usage?group_by=key")).json;
  const mine = byKey.data.find((g) => g.group === key.id);
  assert.deepEqual([mine.key_name, mine.requests, mine.errors], [key.name, total, 4]);
  assert.ok(mine.tokens_in > 0 && mine.tokens_out > 0 && mine.cost_usd > 0, JSON.stringify(mine));
  assert.ok(mine.latency_ms.p50 !== null && mine.latency_ms.p50 <= mine.latency_ms.p99, JSON.stringify(mine.latency_ms));
  assert.equal(byKey.totals.requests, total);
  assert.ok(Math.abs(byKey.totals.cost_usd - byModel.totals.cost_usd) < 1e-9, "the same cost, grouped another way");

  for (const [q, param] of [["?group_by=week", "group_by"], ["?from=5&to=4", "from"], ["?to=-1", "to"], ["?limit=3", "limit"]]) {
    const r = await t.gw.admin("GET", `/api/usage${q}`);
    assert.deepEqual([r.status, r.json.error.param], [400, param], q);
  }
});
