// Upstream Retry-After is honoured: after a 429 the connection+model cools down — other connections
// take the traffic, or the client gets an immediate 429 — and the state lives in a Durable Object.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, upstream, client;
const messages = [{ role: "user", content: "hi" }];

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway();
  await gw.connect("openai", upstream, { name: "primary", priority: 1 });
  client = new OpenAI({ apiKey: await gw.createKey(), baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

const upstreamCalls = (model) => upstream.requests.filter((r) => r.body?.model === model).length;

test("after a 429 the gateway answers 429 itself until Retry-After has passed", async () => {
  await assert.rejects(client.chat.completions.create({ model: "openai/rate-limited", messages }), { status: 429 });
  assert.equal(upstreamCalls("rate-limited"), 1);
  await assert.rejects(client.chat.completions.create({ model: "openai/rate-limited", messages }), (e) => {
    assert.equal(e.status, 429);
    assert.equal(e.code, "cooling_down");
    const wait = Number(e.headers.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 7, `retry-after ${wait}`);
    return true;
  });
  assert.equal(upstreamCalls("rate-limited"), 1, "the cooling upstream was not called again");
  // Other models on the same account are unaffected.
  const ok = await client.chat.completions.create({ model: "openai/gpt-4o", messages });
  assert.equal(ok.choices[0].message.content, "echo: hi");
});

test("the cooldown is recorded in the Durable Object and can be reset by the admin", async () => {
  let list;
  for (let i = 0; i < 50; i++) { // the report is written in the background
    list = (await gw.admin("GET", "/api/cooldowns")).json.data;
    if (list.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(list.length, 1);
  assert.match(list[0].scope, /^conn_[0-9a-f]+:rate-limited$/);
  assert.ok(list[0].until_ms > Date.now());
  assert.equal(list[0].reason, "rate_limited");

  assert.equal((await gw.admin("DELETE", "/api/cooldowns")).status, 200);
  assert.deepEqual((await gw.admin("GET", "/api/cooldowns")).json.data, []);
  await assert.rejects(client.chat.completions.create({ model: "openai/rate-limited", messages }), { status: 429 });
  assert.equal(upstreamCalls("rate-limited"), 2, "after the reset the upstream is tried again");
});

test("a second connection takes the traffic while the first cools down", async () => {
  const other = await startMockOpenAI({ apiKey: "sk-second", scripted: false });
  try {
    await gw.connect("openai", other, { name: "backup", priority: 2 });
    const r = await client.chat.completions.create({ model: "openai/rate-limited", messages }).withResponse().catch((e) => e);
    // The primary is cooling from the previous test, so the backup answers directly.
    assert.equal(r.data?.choices?.[0]?.message?.content, "echo: hi", String(r.message));
    assert.equal(other.requests.length, 1);
  } finally {
    await other.close();
  }
});

test("the admin API reads and resets single scopes in the object", async () => {
  // Seed the shared object directly, as another isolate's report would.
  const ns = await gw.mf.getDurableObjectNamespace("RESILIENCE");
  const stub = ns.get(ns.idFromName("default"));
  const at = Date.now();
  const event = { kind: "failure", provider: "openai", connection: "conn_x", model: "some-model", reason: "rate_limited",
    cooldown: { scope: "account_model", fixed_ms: 60_000 }, breaker: false, at };
  const res = await stub.fetch("https://x/events", {
    method: "POST", body: JSON.stringify({ events: [event], breaker_failure_threshold: 12, breaker_reset_ms: 30000 }),
  });
  assert.equal(res.status, 204);
  const list = (await gw.admin("GET", "/api/cooldowns")).json.data;
  assert.ok(list.some((c) => c.scope === "conn_x:some-model" && c.until_ms === at + 60_000));
  assert.equal((await gw.admin("DELETE", "/api/cooldowns?scope=conn_x%3Asome-model")).status, 200);
  assert.ok(!(await gw.admin("GET", "/api/cooldowns")).json.data.some((c) => c.scope === "conn_x:some-model"));
});

test("cooldowns survive a restart of the runtime, and a fresh isolate picks them up without waiting", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oe-persist-"));
  const up = await startMockOpenAI({ apiKey: "sk-persist" });
  try {
    let first = await startGateway({ persistDir: dir });
    await first.connect("openai", up);
    const key = await first.createKey();
    const c1 = new OpenAI({ apiKey: key, baseURL: `${first.url}/v1`, maxRetries: 0 });
    await assert.rejects(c1.chat.completions.create({ model: "openai/rate-limited", messages }), { status: 429 });
    for (let i = 0; i < 50 && !(await first.admin("GET", "/api/cooldowns")).json.data.length; i++) await new Promise((r) => setTimeout(r, 20));
    await first.dispose();

    const second = await startGateway({ persistDir: dir });
    try {
      const list = (await second.admin("GET", "/api/cooldowns")).json.data;
      assert.equal(list.length, 1, "the cooldown was persisted by the object");
      const c2 = new OpenAI({ apiKey: key, baseURL: `${second.url}/v1`, maxRetries: 0 });
      // The new isolate's first request does not wait for the object; its background refresh brings
      // the cooldown in, after which the gateway answers for the cooling upstream itself.
      await c2.chat.completions.create({ model: "openai/gpt-4o", messages });
      const callsBefore = up.requests.filter((r) => r.body?.model === "rate-limited").length;
      let code;
      for (let i = 0; i < 50 && code !== "cooling_down"; i++) {
        code = await c2.chat.completions.create({ model: "openai/rate-limited", messages }).catch((e) => e.code);
        if (code !== "cooling_down") await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(code, "cooling_down");
      assert.ok(up.requests.filter((r) => r.body?.model === "rate-limited").length - callsBefore <= 1);
    } finally {
      await second.dispose();
    }
  } finally {
    await up.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
