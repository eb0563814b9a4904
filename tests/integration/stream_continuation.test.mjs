// Mid-stream continuation (opt-in): a stream whose upstream dies after its first byte continues from
// the next target inside the same client stream, so the client gets one complete answer. Measured
// here as a streaming fault storm: a combo of faulty targets (some die mid-stream) and a healthy
// one, the same requests with continuation off and on.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, client;
const mocks = [];

before(async () => {
  gw = await startGateway();
  const key = await gw.createKey("continuation");
  client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => {
  await gw?.dispose();
  for (const m of mocks) await m.close();
});

async function mock(options, provider, name) {
  const m = await startMockOpenAI(options);
  mocks.push(m);
  await gw.addConnection({ provider, name, api_key: options.apiKey, base_url: m.url });
  return m;
}

/** Streams `model`; the text, the finish reason, and whether the stream ended in an error. */
async function stream(model, content) {
  let text = "";
  let finish = null;
  try {
    const s = await client.chat.completions.create({ model, messages: [{ role: "user", content }], stream: true });
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    return { text, finish, error: null };
  } catch (e) {
    return { text, finish, error: String(e.message) };
  }
}

test("a stream cut after its first byte continues from the next target as one answer", async () => {
  const cut = await mock({ apiKey: "sk-cut", failAs: "drop-after-first-chunk" }, "together", "cut");
  const healthy = await mock({ apiKey: "sk-ok", scripted: false }, "fireworks", "healthy");
  await gw.admin("POST", "/api/combos", { name: "off", targets: [{ model: "together/m" }, { model: "fireworks/m" }] });
  await gw.admin("POST", "/api/combos", { name: "on", targets: [{ model: "together/m" }, { model: "fireworks/m" }], config: { continue_streams: true } });

  const without = await stream("off", "tell me");
  assert.match(without.error ?? "", /mid-stream/, "off by default: the cut stream ends in an error");

  await gw.admin("DELETE", "/api/cooldowns");
  const calls = healthy.requests.length;
  const r = await stream("on", "tell me");
  assert.equal(r.error, null);
  assert.equal(r.finish, "stop");
  assert.ok(r.text.startsWith("partial "), r.text);
  assert.ok(r.text.length > "partial ".length, "the continuation's text follows");
  const asked = healthy.requests.slice(calls).at(-1).body;
  const last = asked.messages.at(-2);
  assert.deepEqual([last.role, last.content], ["assistant", "partial "], "the partial answer is sent along");
  assert.ok(cut.requests.length >= 2);
});

test("fault storm: streaming through faulty targets, continuation turns mid-stream deaths into complete answers", async () => {
  // Each faulty target fails in turn in several ways; one of them is dying after the first chunk.
  const faults = [
    ["server-error", "drop-after-first-chunk", "rate-limited", "overloaded"],
    ["quota", "server-error", "drop-after-first-chunk"],
    ["drop", "overloaded", "drop-after-first-chunk", "server-error"],
  ];
  for (const [i, cycle] of faults.entries()) await mock({ apiKey: `sk-f${i}`, failAs: cycle }, ["mistral", "cerebras", "nebius"][i], `faulty-${i}`);
  await mock({ apiKey: "sk-h", scripted: false }, "hyperbolic", "healthy");
  const targets = [{ model: "mistral/m" }, { model: "cerebras/m" }, { model: "nebius/m" }, { model: "hyperbolic/m" }];
  const N = 100;
  const run = async (name) => {
    let errors = 0;
    for (let wave = 0; wave < N / 10; wave++) {
      await gw.admin("DELETE", "/api/cooldowns"); // keep the faulty targets in play: the worst case
      const results = await Promise.all(Array.from({ length: 10 }, (_, j) => stream(name, `r${wave * 10 + j}`)));
      errors += results.filter((r) => r.error || r.finish !== "stop").length;
    }
    return errors;
  };
  await gw.admin("POST", "/api/combos", { name: "storm-off", targets });
  await gw.admin("POST", "/api/combos", { name: "storm-on", targets, config: { continue_streams: true } });
  const off = await run("storm-off");
  const on = await run("storm-on");
  console.log(`streaming fault storm, ${N} requests each: ended in an error without continuation ${off}, with ${on}`);
  assert.ok(off > 0, "the storm does kill streams after their first byte");
  // One continuation per request (the default): a continuation that lands on a target dying again
  // still ends in an error, so "fewer" is the promise, not "none".
  assert.ok(on * 2 <= off, `continuation rescues most of them (${on} vs ${off})`);
});
