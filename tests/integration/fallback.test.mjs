// Never stop coding: when an account or a provider fails, the request goes on to the next account or
// target within the same request, the client never sees the failure, and the gateway remembers it
// (cooldowns, circuit breakers) in the Durable Object. A client's own bad request is never retried.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";

let gw, client, key;
const mocks = {};
const conns = {};
const messages = [{ role: "user", content: "keep going" }];

before(async () => {
  gw = await startGateway();
  mocks.broken = await startMockOpenAI({ apiKey: "sk-broken", failAs: "server-error" });
  mocks.healthy = await startMockOpenAI({ apiKey: "sk-healthy", scripted: false });
  mocks.scripted = await startMockOpenAI({ apiKey: "sk-scripted" });
  mocks.anthropic = await startMockAnthropic();
  mocks.gemini = await startMockGemini({ scripted: false });
  conns.broken = await gw.addConnection({ provider: "openai", name: "broken", api_key: "sk-broken", base_url: mocks.broken.url, priority: 1 });
  conns.healthy = await gw.addConnection({ provider: "openai", name: "healthy", api_key: "sk-healthy", base_url: mocks.healthy.url, priority: 2 });
  await gw.addConnection({ provider: "deepseek", name: "scripted", api_key: "sk-scripted", base_url: mocks.scripted.url });
  await gw.addConnection({ provider: "anthropic", api_key: mocks.anthropic.apiKey, base_url: mocks.anthropic.url });
  await gw.addConnection({ provider: "gemini", api_key: mocks.gemini.apiKey, base_url: mocks.gemini.url });
  key = await gw.createKey("fallback");
  client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => {
  await gw?.dispose();
  for (const m of Object.values(mocks)) await m.close();
});
beforeEach(async () => {
  await gw.admin("DELETE", "/api/cooldowns");
  mocks.broken.setFailAs("server-error");
});

const calls = (m) => mocks[m].requests.length;

test("a failing account is skipped: the next connection answers within the same request", async () => {
  const [b, h] = [calls("broken"), calls("healthy")];
  const { data, response } = await client.chat.completions.create({ model: "openai/gpt-4o", messages }).withResponse();
  assert.equal(data.choices[0].message.content, "echo: keep going");
  assert.equal(calls("broken") - b, 1);
  assert.equal(calls("healthy") - h, 1);
  assert.equal(response.headers.get("x-omniroute-connection"), conns.healthy.id);
  assert.equal(response.headers.get("x-omniroute-attempts"), "2");
});

test("rate limits, exhausted quotas, dropped connections and timeouts all move to the next account", async () => {
  await gw.admin("PATCH", "/api/settings", { upstream_timeout_ms: 1000 });
  try {
    for (const fault of ["rate-limited", "quota", "drop", "slow", "overloaded"]) {
      await gw.admin("DELETE", "/api/cooldowns");
      mocks.broken.setFailAs(fault);
      const r = await client.chat.completions.create({ model: "openai/gpt-4o", messages });
      assert.equal(r.choices[0].message.content, "echo: keep going", fault);
    }
  } finally {
    await gw.admin("PATCH", "/api/settings", { upstream_timeout_ms: 120000 });
  }
});

test("a failed account cools down: later requests go straight to the healthy one", async () => {
  mocks.broken.setFailAs("rate-limited");
  await client.chat.completions.create({ model: "openai/gpt-4o", messages });
  const b = calls("broken");
  for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: "openai/gpt-4o", messages });
  assert.equal(calls("broken"), b, "the cooling account was not asked again");
});

test("a client's own bad request is answered, never retried on other accounts", async () => {
  const before = mocks.scripted.requests.length;
  await assert.rejects(client.chat.completions.create({ model: "deepseek/bad-param", messages }), (e) => {
    assert.equal(e.status, 400);
    return true;
  });
  assert.equal(mocks.scripted.requests.length - before, 1);
});

test("streaming requests fall back too, before the first byte reaches the client", async () => {
  const stream = await client.chat.completions.create({ model: "openai/gpt-4o", messages, stream: true });
  let text = "";
  for await (const c of stream) text += c.choices[0]?.delta?.content ?? "";
  assert.equal(text, "echo: keep going");
});
