// Cloud sync and GET /v1/models (issue 20): a synced machine's model list holds its combos, aliases
// and the provider node's models its combos and aliases name (OmniRoute pushes nodes without their
// model lists), and not the `antigravity/*` aliases OmniRoute seeds, which the edge cannot serve.
// Those are reported unservable, with the target named, in the machine's status, and not counted as
// served. Every id the list shows answers a chat call: the list is truthful.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, capturedPush, enroll } from "../support/sync_client.mjs";

const UPSTREAM_KEY = "sk-mock-upstream-test-key"; // the key the captured connection carries
let gw, mock, e, omni, body, list;

before(async () => {
  gw = await startGateway({ assets: false });
  mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY, scripted: false });
  e = await enroll(gw, "models laptop");
  omni = capturedPush(mock.url);
  body = JSON.parse(omni.raw);
  const node = body.providerNodes[0].id; // openai-compatible-chat-<uuid>, prefix `mock`
  body.combos = [
    { name: "coder", strategy: "priority", models: [`${node}/qwen3-coder`, { kind: "model", providerId: node, model: "gpt-4o-mini", weight: 1 }] },
    { name: "gem", models: ["antigravity/gemini-3-pro-preview"] },
  ];
  body.modelAliases = { ...body.modelAliases, quick: `${node}/llama-fast` };
  const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "POST", body);
  assert.equal(r.status, 200, r.text);
  list = (await sdk().models.list()).data;
});
after(async () => {
  await gw?.dispose();
  await mock?.close();
});

const sdk = () => new OpenAI({ apiKey: body.apiKeys[0].key, baseURL: `${gw.url}/${omni.machineId}/v1`, maxRetries: 0 });
const seeded = () => Object.keys(JSON.parse(omni.raw).modelAliases); // the six antigravity/* aliases

test("the synced machine's list holds its combo, its alias and the node models they name, not what it cannot serve", async () => {
  const byId = Object.fromEntries(list.map((m) => [m.id, m]));
  assert.deepEqual([byId.coder?.owned_by, byId.coder?.kind], ["combo", "chat"]);
  assert.deepEqual([byId.quick?.owned_by, byId.quick?.kind], ["alias", "chat"]);
  for (const id of ["mock/qwen3-coder", "mock/gpt-4o-mini", "mock/llama-fast"]) {
    assert.deepEqual([byId[id]?.owned_by, byId[id]?.kind], ["mock", "chat"], id);
  }
  assert.equal(seeded().length, 6);
  for (const id of [...seeded(), "gem", "antigravity/gemini-3-pro-preview"]) assert.ok(!byId[id], `${id} is not servable`);
  assert.equal(new Set(list.map((m) => m.id)).size, list.length, "no duplicates");
  assert.equal(list.length, 5, JSON.stringify(list.map((m) => m.id)));
});

test("every listed id answers a chat call", async () => {
  for (const m of list) {
    const before = mock.requests.length;
    const out = await sdk().chat.completions.create({ model: m.id, messages: [{ role: "user", content: `hi ${m.id}` }] });
    assert.match(out.choices[0].message.content, /hi/, m.id);
    assert.equal(mock.requests.length, before + 1, m.id);
  }
  // What is left out gets the 404 a client expects, naming the target it cannot reach.
  await assert.rejects(
    sdk().chat.completions.create({ model: "gemini-3-pro-high", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 404 && e.code === "model_not_found" && /antigravity/.test(e.message),
  );
});

test("the status lists the seeded aliases and the combo as unservable with the target named, and does not count them", async () => {
  const machines = await gw.admin("GET", "/api/sync/machines");
  const m = machines.json.data.find((x) => x.machine_id === omni.machineId);
  const unservable = Object.fromEntries(m.unservable.map((u) => [`${u.kind}:${u.id}`, u.reason]));
  for (const alias of seeded()) {
    const target = body.modelAliases[alias];
    assert.match(unservable[`alias:${alias}`] ?? "", new RegExp(`\`${target.replaceAll(".", "\\.")}\`: \`antigravity\` is not a provider`), alias);
  }
  assert.match(unservable["combo:gem"] ?? "", /antigravity\/gemini-3-pro-preview/);
  assert.equal(m.unservable.length, 7, JSON.stringify(m.unservable));
  assert.deepEqual([m.synced.aliases, m.served.aliases], [7, 1]);
  assert.deepEqual([m.synced.combos, m.served.combos], [2, 1]);
  // The machine's record still answers them back as pushed.
  const back = await call(`${e.cloud_url}/sync/${omni.machineId}`, "GET");
  assert.deepEqual(back.json.data.modelAliases, body.modelAliases);
  assert.deepEqual(back.json.data.combos, body.combos);
  const got = await call(`${gw.url}/${omni.machineId}/v1/models/health`, "GET", undefined, { authorization: `Bearer ${body.apiKeys[0].key}` });
  assert.deepEqual(got.json.data.map((h) => h.id).sort(), list.map((m) => m.id).sort(), "health covers the same ids");
  assert.ok(got.json.data.every((h) => h.available), JSON.stringify(got.json.data));
});
