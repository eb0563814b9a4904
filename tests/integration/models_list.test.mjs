// GET /v1/models lists every id the calling key may call (issue 20): the tenant's combos and exact
// aliases whose targets a connected provider serves (owned_by `combo` / `alias`, with their targets'
// kind), the models a fallback chain is set for, the connected providers' models (provider nodes'
// and custom ids included) and the concrete targets the combos and aliases name; not an alias
// pattern, nor a combo or alias that only reaches unconnected providers. A scoped key sees only its
// scope, /v1/models/health covers the same ids, and every listed chat id answers a chat call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, mock, key;

async function ok(r, status = 201) {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res;
}

before(async () => {
  mock = await startMockOpenAI({ scripted: false });
  gw = await startGateway({ assets: false });
  await gw.connect("openai", mock);
  await ok(gw.admin("POST", "/api/provider-nodes", { id: "lab", format: "openai", base_url: mock.url, models: ["qwen3-coder"] }));
  await gw.addConnection({ provider: "lab", api_key: mock.apiKey });
  await ok(gw.admin("POST", "/api/provider-models", { provider: "openai", models: ["my-finetune"] }));
  await ok(gw.admin("POST", "/api/combos", { name: "coding", targets: [{ model: "lab/qwen3-coder" }, { model: "openai/o9-preview" }] }));
  await ok(gw.admin("POST", "/api/combos", { name: "ghost", targets: [{ model: "anthropic/claude-sonnet-4-5" }] }));
  await ok(gw.admin("POST", "/api/aliases", { pattern: "fast", target: "openai/gpt-4o-mini" }));
  await ok(gw.admin("POST", "/api/aliases", { pattern: "lab-turbo", target: "lab/qwen3-turbo" }));
  await ok(gw.admin("POST", "/api/aliases", { pattern: "gpt-*", target: "coding" }));
  await ok(gw.admin("POST", "/api/aliases", { pattern: "dead", target: "anthropic/claude-haiku-4-5" }));
  await ok(gw.admin("POST", "/api/fallback-chains", { model: "legacy-model", chain: ["openai/gpt-4o-mini"] }));
  key = await gw.createKey("everything");
});
after(async () => { await gw?.dispose(); await mock?.close(); });

const sdk = (k) => new OpenAI({ apiKey: k, baseURL: `${gw.url}/v1`, maxRetries: 0 });
const scopedKey = async (name, scopes) => (await ok(gw.admin("POST", "/api/keys", { name, access: { scopes } }))).json.key;

test("a gateway key's list holds the combo, the aliases, the chain's model, node and custom models, and nothing unservable", async () => {
  const list = (await sdk(key).models.list()).data;
  const byId = Object.fromEntries(list.map((m) => [m.id, m]));
  const shown = (id) => byId[id] && [byId[id].owned_by, byId[id].kind];
  assert.deepEqual(shown("coding"), ["combo", "chat"]);
  assert.deepEqual(shown("fast"), ["alias", "chat"]);
  assert.deepEqual(shown("lab-turbo"), ["alias", "chat"]);
  assert.deepEqual(shown("legacy-model"), ["openai", "chat"], "served by its fallback chain");
  assert.deepEqual(shown("lab/qwen3-coder"), ["lab", "chat"], "a provider node's model");
  assert.deepEqual(shown("lab/qwen3-turbo"), ["lab", "chat"], "named by an alias");
  assert.deepEqual(shown("openai/o9-preview"), ["openai", "chat"], "named by a combo");
  assert.deepEqual(shown("openai/my-finetune"), ["openai", "chat"], "a custom model id");
  assert.deepEqual(shown("openai/text-embedding-3-small"), ["openai", "embedding"]);
  for (const id of ["ghost", "dead", "gpt-*", "anthropic/claude-sonnet-4-5"]) assert.ok(!byId[id], id);
  assert.equal(new Set(list.map((m) => m.id)).size, list.length, "no duplicates");
  assert.deepEqual(list.slice(0, 3).map((m) => m.id), ["coding", "fast", "lab-turbo"], "combos and aliases first");

  const health = (await (await fetch(`${gw.url}/v1/models/health`, { headers: { authorization: `Bearer ${key}` } })).json()).data;
  assert.deepEqual(health.map((h) => h.id), list.map((m) => m.id), "health covers the same ids");
  assert.deepEqual(["coding", "fast", "openai/gpt-4o"].map((id) => health.find((h) => h.id === id).kind), ["combo", "alias", "model"]);
  assert.ok(health.every((h) => h.available), JSON.stringify(health.filter((h) => !h.available)));
  const lab = (await (await fetch(`${gw.url}/v1/providers/lab/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()).data;
  assert.deepEqual(lab.map((m) => m.id), ["lab/qwen3-coder", "lab/qwen3-turbo"]);
});

test("every listed chat id answers a chat call", async () => {
  const list = (await sdk(key).models.list()).data.filter((m) => m.kind === "chat");
  assert.ok(list.length > 10);
  for (const m of list) {
    const r = await sdk(key).chat.completions.create({ model: m.id, messages: [{ role: "user", content: "listed" }] }).withResponse();
    assert.equal(r.response.status, 200, m.id);
    assert.match(r.data.choices[0].message.content, /listed/, m.id);
  }
});

test("a scoped key sees only its scope", async () => {
  const models = await scopedKey("models-scoped", { models: ["openai/*", "coding"] });
  const ids = (await sdk(models).models.list()).data.map((m) => m.id);
  assert.ok(ids.includes("coding") && ids.includes("openai/o9-preview"));
  assert.ok(ids.every((id) => id === "coding" || id.startsWith("openai/")), JSON.stringify(ids));
  const providers = await scopedKey("lab-scoped", { providers: ["lab"] });
  const list = (await sdk(providers).models.list()).data;
  assert.deepEqual(list.map((m) => m.id), ["coding", "lab-turbo", "lab/qwen3-coder", "lab/qwen3-turbo"], "the combo serves from its lab target");
  const r = await sdk(providers).chat.completions.create({ model: "coding", messages: [{ role: "user", content: "x" }] }).withResponse();
  assert.equal(r.response.headers.get("x-omniroute-provider"), "lab");
});
