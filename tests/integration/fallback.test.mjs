// Never stop coding: when an account or a provider fails, the request goes on to the next account or
// target within the same request, the client never sees the failure, and the gateway remembers it
// (cooldowns, circuit breakers) in the Durable Object. A client's own bad request is never retried.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
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

test("a stream that dies before its first byte falls back; after it, the client's stream ends with an error", async () => {
  mocks.broken.setFailAs("drop-after-headers");
  const stream = await client.chat.completions.create({ model: "openai/gpt-4o", messages, stream: true });
  let text = "";
  for await (const c of stream) text += c.choices[0]?.delta?.content ?? "";
  assert.equal(text, "echo: keep going", "the healthy account took over; the client saw nothing of the failure");

  await gw.admin("DELETE", "/api/cooldowns");
  mocks.broken.setFailAs("drop-after-first-chunk");
  const cut = await client.chat.completions.create({ model: "openai/gpt-4o", messages, stream: true });
  let partial = "";
  await assert.rejects(async () => {
    for await (const c of cut) partial += c.choices[0]?.delta?.content ?? "";
  }, (e) => {
    assert.match(String(e.message), /mid-stream/);
    return true;
  });
  assert.equal(partial, "partial ", "bytes already sent stay sent: no fallback after the first byte");
});

test("an unreadable 2xx answer is one more failed attempt when it must be translated", async () => {
  mocks.broken.setFailAs("garbage-200");
  const anthropic = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
  const m = await anthropic.messages.create({ model: "openai/gpt-4o", max_tokens: 50, messages });
  assert.equal(m.content[0].text, "echo: keep going");
});

test("a combo falls back across formats: an overloaded Anthropic target, then Gemini", async () => {
  const created = await gw.admin("POST", "/api/combos", {
    name: "coding", strategy: "priority", targets: [{ model: "anthropic/overloaded" }, { model: "gemini/chat-model" }],
  });
  assert.equal(created.status, 201, created.text);
  const { data, response } = await client.chat.completions.create({ model: "coding", messages }).withResponse();
  assert.equal(data.choices[0].message.content, "echo: keep going");
  assert.equal(response.headers.get("x-omniroute-provider"), "gemini");
  assert.equal(response.headers.get("x-omniroute-attempts"), "2");
  assert.equal(data.model, "coding", "the client sees the name it asked for");
  const list = (await gw.admin("GET", "/api/combos")).json.data;
  assert.ok(list.some((c) => c.name === "coding"));
  // Bad combos are refused with the field at fault.
  for (const bad of [{ name: "x/y", targets: [{ model: "a" }] }, { name: "empty", targets: [] }, { name: "openai", targets: [{ model: "a" }] }]) {
    assert.equal((await gw.admin("POST", "/api/combos", bad)).status, 400, JSON.stringify(bad));
  }
});

test("aliases (exact and wildcard) and fallback chains route requests", async () => {
  assert.equal((await gw.admin("POST", "/api/aliases", { pattern: "my-*", target: "coding" })).status, 201);
  assert.equal((await gw.admin("POST", "/api/aliases", { pattern: "my-fast", target: "openai/gpt-4o" })).status, 201);
  const viaWildcard = await client.chat.completions.create({ model: "my-anything", messages }).withResponse();
  assert.equal(viaWildcard.response.headers.get("x-omniroute-provider"), "gemini", "my-* → the combo");
  const exact = await client.chat.completions.create({ model: "my-fast", messages }).withResponse();
  assert.equal(exact.response.headers.get("x-omniroute-provider"), "openai", "the exact alias beats the pattern");

  assert.equal((await gw.admin("POST", "/api/fallback-chains", { model: "deepseek/server-error", chain: ["gemini/chat-model"] })).status, 201);
  const chained = await client.chat.completions.create({ model: "deepseek/server-error", messages }).withResponse();
  assert.equal(chained.response.headers.get("x-omniroute-provider"), "gemini");
  assert.equal((await gw.admin("DELETE", "/api/fallback-chains?model=deepseek%2Fserver-error")).status, 200);
  assert.equal((await gw.admin("DELETE", "/api/aliases?pattern=my-*")).status, 200);
  assert.equal((await gw.admin("DELETE", "/api/aliases?pattern=my-*")).status, 404);
});

test("the circuit breaker opens after repeated failures and a half-open probe closes it", async () => {
  await gw.admin("PATCH", "/api/settings", { breaker_failure_threshold: 2, breaker_reset_ms: 1000 });
  const flaky = await startMockOpenAI({ apiKey: "sk-flaky", failAs: "server-error" });
  // Two accounts of the provider, both failing: one request records two failures for the provider.
  const c1 = await gw.addConnection({ provider: "mistral", api_key: "sk-flaky", base_url: flaky.url, priority: 1 });
  const c2 = await gw.addConnection({ provider: "mistral", api_key: "sk-flaky", base_url: flaky.url, priority: 2 });
  try {
    await assert.rejects(client.chat.completions.create({ model: "mistral/m", messages }), { status: 502 });
    assert.equal(flaky.requests.length, 2, "both accounts were tried");
    const calls = flaky.requests.length;
    await assert.rejects(client.chat.completions.create({ model: "mistral/m", messages }), (e) => {
      assert.equal(e.status, 503);
      assert.equal(e.code, "circuit_open");
      assert.ok(Number(e.headers.get("retry-after")) >= 1);
      return true;
    });
    assert.equal(flaky.requests.length, calls, "an open breaker sends nothing upstream");
    const health = (await gw.admin("GET", "/api/health")).json;
    assert.equal(health.breakers.mistral.state, "open", "the breaker is recorded in the Durable Object");

    flaky.setFailAs(null); // the provider recovers
    // Past the breaker's reset time and the accounts' first backoff step (3 s).
    await new Promise((r) => setTimeout(r, 3200));
    const r = await client.chat.completions.create({ model: "mistral/m", messages });
    assert.equal(r.choices[0].message.content, "echo: keep going", "the half-open probe went through");
    for (let i = 0; i < 50; i++) { // the success reaches the object in the background
      if ((await gw.admin("GET", "/api/health")).json.breakers.mistral?.state === "closed") break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal((await gw.admin("GET", "/api/health")).json.breakers.mistral.state, "closed");
  } finally {
    await gw.admin("DELETE", `/api/providers/${c1.id}`);
    await gw.admin("DELETE", `/api/providers/${c2.id}`);
    await gw.admin("PATCH", "/api/settings", { breaker_failure_threshold: 12, breaker_reset_ms: 30000 });
    await flaky.close();
  }
});

test("round-robin spreads requests over accounts with a sticky limit", async () => {
  const a = await startMockOpenAI({ apiKey: "sk-rr", scripted: false });
  const b = await startMockOpenAI({ apiKey: "sk-rr", scripted: false });
  const ca = await gw.addConnection({ provider: "xai", name: "a", api_key: "sk-rr", base_url: a.url, priority: 1 });
  const cb = await gw.addConnection({ provider: "xai", name: "b", api_key: "sk-rr", base_url: b.url, priority: 2 });
  await gw.admin("PATCH", "/api/settings", { account_strategy: "round_robin", sticky_limit: 2 });
  try {
    for (let i = 0; i < 8; i++) await client.chat.completions.create({ model: "xai/grok-4", messages });
    assert.equal(a.requests.length, 4);
    assert.equal(b.requests.length, 4);
  } finally {
    await gw.admin("PATCH", "/api/settings", { account_strategy: "priority", sticky_limit: 3 });
    await gw.admin("DELETE", `/api/providers/${ca.id}`);
    await gw.admin("DELETE", `/api/providers/${cb.id}`);
    await a.close();
    await b.close();
  }
});

test("a combo retries transient failures after failing over (max_retries)", async () => {
  const flaky = await startMockOpenAI({ apiKey: "sk-retry", failAs: ["server-error", null] }); // fails every other call
  const conn = await gw.addConnection({ provider: "nvidia", api_key: "sk-retry", base_url: flaky.url });
  await gw.admin("POST", "/api/combos", { name: "retrying", targets: [{ model: "nvidia/m" }], config: { max_retries: 1 } });
  await gw.admin("POST", "/api/combos", { name: "no-retry", targets: [{ model: "nvidia/m" }], config: { max_retries: 0 } });
  try {
    const { data, response } = await client.chat.completions.create({ model: "retrying", messages }).withResponse();
    assert.equal(data.choices[0].message.content, "echo: keep going");
    assert.equal(response.headers.get("x-omniroute-attempts"), "2");
    await gw.admin("DELETE", "/api/cooldowns");
    await assert.rejects(client.chat.completions.create({ model: "no-retry", messages }), { status: 502 });
  } finally {
    await gw.admin("DELETE", `/api/providers/${conn.id}`);
    await flaky.close();
  }
});

test("least-used sends each request to the connection this isolate used least", async () => {
  const a = await startMockOpenAI({ apiKey: "sk-lu", scripted: false });
  const b = await startMockOpenAI({ apiKey: "sk-lu", scripted: false });
  const ca = await gw.addConnection({ provider: "cerebras", name: "a", api_key: "sk-lu", base_url: a.url, priority: 1 });
  const cb = await gw.addConnection({ provider: "cerebras", name: "b", api_key: "sk-lu", base_url: b.url, priority: 1 });
  await gw.admin("PATCH", "/api/settings", { account_strategy: "least_used" });
  try {
    for (let i = 0; i < 6; i++) await client.chat.completions.create({ model: "cerebras/llama-3.3-70b", messages });
    assert.deepEqual([a.requests.length, b.requests.length], [3, 3]);
  } finally {
    await gw.admin("PATCH", "/api/settings", { account_strategy: "priority" });
    await gw.admin("DELETE", `/api/providers/${ca.id}`);
    await gw.admin("DELETE", `/api/providers/${cb.id}`);
    await a.close();
    await b.close();
  }
});

test("fault run: many requests, mostly faulty accounts, one healthy target — every request succeeds", async () => {
  const faults = [["rate-limited", "server-error"], ["quota", "drop"], ["overloaded", "server-error", "rate-limited"]];
  const faulty = [];
  const added = [];
  for (const [i, cycle] of faults.entries()) {
    const m = await startMockOpenAI({ apiKey: `sk-f${i}`, failAs: cycle });
    faulty.push(m);
    added.push(await gw.addConnection({ provider: "together", name: `faulty-${i}`, api_key: `sk-f${i}`, base_url: m.url, priority: i }));
  }
  const healthy = await startMockOpenAI({ apiKey: "sk-ok", scripted: false });
  added.push(await gw.addConnection({ provider: "fireworks", name: "healthy", api_key: "sk-ok", base_url: healthy.url }));
  await gw.admin("POST", "/api/combos", { name: "resilient", targets: [{ model: "together/m" }, { model: "fireworks/m" }] });
  try {
    // Six waves of ten concurrent requests: within a wave every request plans before any failure
    // is known; later waves find the faulty accounts cooling down.
    const N = 60;
    const attempts = [];
    const results = [];
    for (let wave = 0; wave < 6; wave++) {
      results.push(...await Promise.all(Array.from({ length: 10 }, async (_, j) => {
        const i = wave * 10 + j;
        const { data, response } = await client.chat.completions.create({ model: "resilient", messages: [{ role: "user", content: `r${i}` }] }).withResponse();
        attempts.push(Number(response.headers.get("x-omniroute-attempts")));
        return data.choices[0].message.content;
      })));
    }
    assert.equal(results.filter((t, i) => t === `echo: r${i}`).length, N, "every request succeeded");
    const faultyCalls = faulty.reduce((n, m) => n + m.requests.length, 0);
    console.log(`fault run: ${N} requests, all succeeded; upstream calls to faulty accounts ${faultyCalls}, to the healthy one ${healthy.requests.length}; attempts per request max ${Math.max(...attempts)}, mean ${(attempts.reduce((a, b) => a + b, 0) / N).toFixed(2)}`);
    assert.ok(faultyCalls < N * faults.length, "cooldowns kept the faulty accounts from being asked every time");
  } finally {
    for (const c of added) await gw.admin("DELETE", `/api/providers/${c.id}`);
    for (const m of [...faulty, healthy]) await m.close();
  }
});

test("combo strategies: weighted, cost-optimized and random order the targets", async () => {
  const cheap = await startMockOpenAI({ apiKey: "sk-s1", scripted: false });
  const dear = await startMockOpenAI({ apiKey: "sk-s2", scripted: false });
  const c1 = await gw.addConnection({ provider: "deepseek", name: "cheap", api_key: "sk-s1", base_url: cheap.url, priority: 0 });
  const c2 = await gw.addConnection({ provider: "openai", name: "dear", api_key: "sk-s2", base_url: dear.url, priority: 0 });
  const targets = [{ model: "openai/gpt-4o", weight: 0 }, { model: "deepseek/deepseek-chat", weight: 5 }];
  const provider = async (model) => (await client.chat.completions.create({ model, messages }).withResponse()).response.headers.get("x-omniroute-provider");
  try {
    await gw.admin("POST", "/api/combos", { name: "by-weight", strategy: "weighted", targets });
    await gw.admin("POST", "/api/combos", { name: "by-cost", strategy: "cost_optimized", targets: [targets[0], { model: "deepseek/deepseek-chat" }] });
    await gw.admin("POST", "/api/combos", { name: "by-chance", strategy: "random", targets: [{ model: "openai/gpt-4o" }, { model: "deepseek/deepseek-chat" }] });
    for (let i = 0; i < 5; i++) assert.equal(await provider("by-weight"), "deepseek", "a weight-0 target never goes first");
    for (let i = 0; i < 3; i++) assert.equal(await provider("by-cost"), "deepseek", "the cheaper model goes first");
    const seen = new Set();
    for (let i = 0; i < 24 && seen.size < 2; i++) seen.add(await provider("by-chance"));
    assert.equal(seen.size, 2, "random spreads over both targets");
  } finally {
    for (const c of [c1, c2]) await gw.admin("DELETE", `/api/providers/${c.id}`);
    for (const name of ["by-weight", "by-cost", "by-chance"]) await gw.admin("DELETE", `/api/combos/${name}`);
    await cheap.close();
    await dear.close();
  }
});

test("p2c prefers the healthier account", async () => {
  const sick = await startMockOpenAI({ apiKey: "sk-p", failAs: "server-error" });
  const well = await startMockOpenAI({ apiKey: "sk-p", scripted: false });
  const cs = await gw.addConnection({ provider: "hyperbolic", name: "sick", api_key: "sk-p", base_url: sick.url, priority: 1 });
  const cw = await gw.addConnection({ provider: "hyperbolic", name: "well", api_key: "sk-p", base_url: well.url, priority: 1 });
  await gw.admin("PATCH", "/api/settings", { account_strategy: "p2c" });
  try {
    // Make the sick account fail once (whichever goes first, the request still succeeds) …
    // (p2c picks between equally healthy accounts at random: up to 30 tries, not 4, which missed 1 run in 16.)
    for (let i = 0; i < 30 && sick.requests.length === 0; i++) await client.chat.completions.create({ model: "hyperbolic/m", messages });
    assert.ok(sick.requests.length >= 1);
    // … then, once its cooldown is over, its raised backoff level keeps it behind the healthy one.
    await new Promise((r) => setTimeout(r, 3200));
    const before = sick.requests.length;
    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: "hyperbolic/m", messages });
    assert.equal(sick.requests.length, before, "the healthier account went first every time");
  } finally {
    await gw.admin("PATCH", "/api/settings", { account_strategy: "priority" });
    for (const c of [cs, cw]) await gw.admin("DELETE", `/api/providers/${c.id}`);
    await sick.close();
    await well.close();
  }
});
