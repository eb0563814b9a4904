// A tenant's prices: the built-in table merged with its own overrides, edited through the admin API,
// validated strictly, and carried in the tenant's snapshot so the request path prices requests
// without a D1 query.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

const t = gatewayWithOpenAI();
const list = async () => (await t.gw.admin("GET", "/api/pricing")).json.data;
const row = (rows, provider, model) => rows.find((r) => r.provider === provider && r.model === model);
const snapshotPrices = async () => {
  const kv = await t.gw.mf.getKVNamespace("CONFIG_CACHE");
  return JSON.parse(await kv.get("cfg/v1/tenant/default")).prices;
};

test("the list starts as the built-in table", async () => {
  const rows = await list();
  assert.ok(rows.length > 20);
  assert.deepEqual(row(rows, "openai", "gpt-4o-mini"),
    { provider: "openai", model: "gpt-4o-mini", input: 0.15, output: 0.6, cached_input: 0.075, reasoning: null, source: "default" });
  assert.ok(rows.every((r) => r.source === "default"));
});

test("PUT overrides prices (aliases become ids), GET merges them, DELETE restores the default", async () => {
  const put = await t.gw.admin("PUT", "/api/pricing", { prices: [
    { provider: "oai", model: "gpt-4o-mini", input: 1, output: 2 },
    { provider: "openai", model: "my-finetune", input: 0.5, output: 0.75, cached_input: 0.05, reasoning: 3 },
  ] });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.data.map((r) => [r.provider, r.model, r.source]), [["openai", "gpt-4o-mini", "custom"], ["openai", "my-finetune", "custom"]]);

  const rows = await list();
  assert.deepEqual(row(rows, "openai", "gpt-4o-mini"),
    { provider: "openai", model: "gpt-4o-mini", input: 1, output: 2, cached_input: null, reasoning: null, source: "custom" });
  assert.deepEqual(row(rows, "openai", "my-finetune"),
    { provider: "openai", model: "my-finetune", input: 0.5, output: 0.75, cached_input: 0.05, reasoning: 3, source: "custom" });
  assert.equal(rows.filter((r) => r.provider === "openai" && r.model === "gpt-4o-mini").length, 1);

  // The snapshot the request path reads was rebuilt with the overrides.
  const snap = await snapshotPrices();
  assert.deepEqual(snap.map((o) => [o.provider, o.model, o.price.input]).sort(), [["openai", "gpt-4o-mini", 1], ["openai", "my-finetune", 0.5]]);

  // A second PUT of the same model replaces it.
  assert.equal((await t.gw.admin("PUT", "/api/pricing", { prices: [{ provider: "openai", model: "my-finetune", input: 9, output: 9 }] })).status, 200);
  assert.equal(row(await list(), "openai", "my-finetune").input, 9);

  const del = await t.gw.admin("DELETE", "/api/pricing?provider=oai&model=gpt-4o-mini");
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json.deleted, { provider: "openai", model: "gpt-4o-mini" });
  assert.equal(row(await list(), "openai", "gpt-4o-mini").source, "default");
  assert.deepEqual((await snapshotPrices()).map((o) => o.model), ["my-finetune"]);
  const again = await t.gw.admin("DELETE", "/api/pricing?provider=openai&model=gpt-4o-mini");
  assert.equal(again.status, 404);
  assert.equal((await t.gw.admin("DELETE", "/api/pricing?provider=openai&model=my-finetune")).status, 200);
  assert.equal(row(await list(), "openai", "my-finetune"), undefined);
});

test("bad prices are refused with the field named, and nothing is stored", async () => {
  const p = (over) => ({ prices: [{ provider: "openai", model: "gpt-4o", input: 1, output: 1, ...over }] });
  for (const [body, param] of [
    [p({ input: -0.01 }), "prices[0].input"],
    [p({ output: 10001 }), "prices[0].output"],
    [p({ cached_input: -1 }), "prices[0].cached_input"],
    [p({ reasoning: 1e300 }), "prices[0].reasoning"],
    [p({ provider: "no-such-provider" }), "prices[0].provider"],
    [p({ model: "" }), "prices[0].model"],
    [p({ model: "x".repeat(300) }), "prices[0].model"],
    [p({ colour: "red" }), "prices[0].colour"],
    [{ prices: [] }, "prices"],
    [{ prices: [{ provider: "openai", model: "a", input: 1, output: 1 }, { provider: "openai", model: "b", input: "1", output: 1 }] }, null],
  ]) {
    const r = await t.gw.admin("PUT", "/api/pricing", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.param, param, JSON.stringify(body));
  }
  assert.equal((await t.gw.admin("PUT", "/api/pricing", "not json")).status, 400);
  assert.ok((await list()).every((r) => r.source === "default"), "a refused PUT stores nothing");
  for (const [q, param] of [["?model=gpt-4o", "provider"], ["?provider=openai", "model"], ["?provider=nope&model=x", "provider"]]) {
    const r = await t.gw.admin("DELETE", `/api/pricing${q}`);
    assert.deepEqual([r.status, r.json.error.param], [400, param], q);
  }
  assert.equal((await t.gw.admin("POST", "/api/pricing", p({}))).status, 405);
  assert.equal((await t.gw.admin("GET", "/api/pricing", undefined, { secret: "wrong" })).status, 401);
});
