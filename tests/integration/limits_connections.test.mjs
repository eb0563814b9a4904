// Per-connection limits (issue 8): a connection's concurrency cap holds across parallel requests,
// the requests over it go to the next account, and the account takes traffic again once its slots
// are given back. Counted at the mock upstreams.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, capped, spare, key, capId;

before(async () => {
  capped = await startMockOpenAI({ apiKey: "sk-capped", slowMs: 400 });
  spare = await startMockOpenAI({ apiKey: "sk-spare", scripted: false });
  gw = await startGateway({ assets: false });
  const c = await gw.connect("openai", capped, { name: "capped", priority: 1, limits: { max_concurrent: 2 } });
  capId = c.id;
  assert.equal(c.limits.max_concurrent, 2);
  await gw.connect("openai", spare, { name: "spare", priority: 2 });
  key = await gw.createKey();
});
after(async () => { await gw?.dispose(); await capped?.close(); await spare?.close(); });

const chat = (model) => fetch(`${gw.url}/v1/chat/completions`, {
  method: "POST",
  headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
});

test("a connection's concurrency cap holds; the overflow goes to the next account", async () => {
  const answers = await Promise.all(Array.from({ length: 6 }, () => chat("openai/slow")));
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  const by = answers.map((r) => r.headers.get("x-omniroute-connection"));
  assert.equal(by.filter((c) => c === capId).length, 2, by.join(","));
  assert.equal(capped.requests.length, 2, "never more than 2 at once, so 2 of 6 parallel requests");
  assert.equal(spare.requests.length, 4);
  await Promise.all(answers.map((r) => r.text()));

  // Slots are given back when each request ends (in the background): the account serves again.
  let served;
  for (let i = 0; i < 50 && served !== capId; i++) {
    const r = await chat("openai/gpt-4o");
    served = r.headers.get("x-omniroute-connection");
    await r.text();
  }
  assert.equal(served, capId);
});

test("limits are validated and changed with PATCH; a minimum gap sends the next request elsewhere", async () => {
  let r = await gw.admin("POST", "/api/providers", { provider: "openai", api_key: "k", limits: { max_concurent: 1 } });
  assert.equal(r.status, 400);
  r = await gw.admin("PATCH", `/api/providers/${capId}`, { limits: { max_concurrent: 0 } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, "limits.max_concurrent");
  r = await gw.admin("PATCH", `/api/providers/${capId}`, { limits: { min_gap_ms: 1500 } });
  assert.equal(r.status, 200, r.text);
  await new Promise((res) => setTimeout(res, 1600)); // past the gap since the last request of the test above
  const first = await chat("openai/gpt-4o");
  const second = await chat("openai/gpt-4o");
  assert.equal(first.headers.get("x-omniroute-connection"), capId);
  assert.notEqual(second.headers.get("x-omniroute-connection"), capId, "within the gap: the next account");
  assert.equal((await gw.admin("PATCH", "/api/settings", { connection_wait_ms: 30001 })).status, 400);
  assert.equal((await gw.admin("PATCH", "/api/settings", { connection_wait_ms: 200 })).status, 200);
});
