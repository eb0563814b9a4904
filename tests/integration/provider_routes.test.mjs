// Provider routes and model health (issue 12): `/v1/providers/{provider}/…` serves the same endpoints
// pinned to one provider (a bare model name gets its prefix, another provider's model is a 400), and
// `GET /v1/models/health` says per model and combo whether a request could be served now.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";

let gw, key, openai, anthropic;

before(async () => {
  openai = await startMockOpenAI();
  anthropic = await startMockAnthropic();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", openai);
  await gw.connect("anthropic", anthropic);
  assert.equal((await gw.admin("POST", "/api/combos", { name: "pair", targets: [{ model: "openai/gpt-4o-mini" }, { model: "anthropic/claude-sonnet-4-5" }] })).status, 201);
  key = await gw.createKey("routes");
});
after(async () => { await gw?.dispose(); await openai?.close(); await anthropic?.close(); });

test("a provider route prefixes a bare model name and serves it from that provider", async () => {
  const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1/providers/anthropic/v1`, maxRetries: 0 });
  const r = await client.chat.completions.create({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "pinned" }] }).withResponse();
  assert.equal(r.response.headers.get("x-omniroute-provider"), "anthropic");
  assert.match(r.data.choices[0].message.content, /pinned/);
  assert.equal(anthropic.requests.length, 1);
  // Without the `/v1` of an SDK base URL too, and from an Anthropic client.
  const messages = new Anthropic({ apiKey: key, baseURL: `${gw.url}/v1/providers/openai`, maxRetries: 0 });
  const m = await messages.messages.create({ model: "gpt-4o-mini", max_tokens: 50, messages: [{ role: "user", content: "via openai" }] });
  assert.match(m.content[0].text, /via openai/);
  assert.equal(openai.requests.at(-1).body.model, "gpt-4o-mini");
});

test("another provider's model is refused with 400, an unknown provider with 404, in the client's format", async () => {
  const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1/providers/openai/v1`, maxRetries: 0 });
  const calls = openai.requests.length + anthropic.requests.length;
  await assert.rejects(
    client.chat.completions.create({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 400 && e.code === "model_provider_mismatch" && e.param === "model",
  );
  const messages = new Anthropic({ apiKey: key, baseURL: `${gw.url}/v1/providers/nope`, maxRetries: 0 });
  await assert.rejects(
    messages.messages.create({ model: "x", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 404 && e.error?.type === "error" && e.error?.error?.type === "not_found_error",
  );
  assert.equal(openai.requests.length + anthropic.requests.length, calls, "no upstream call");
});

test("GET /v1/providers/{p}/v1/models lists only that provider's models", async () => {
  const list = await (await fetch(`${gw.url}/v1/providers/anthropic/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json();
  assert.ok(list.data.length > 0);
  assert.ok(list.data.every((m) => m.id.startsWith("anthropic/")), JSON.stringify(list.data.slice(0, 3)));
});

test("GET /v1/models/health: a failing provider's models become unavailable with when to retry; the combo still serves", async () => {
  const health = async () => (await (await fetch(`${gw.url}/v1/models/health`, { headers: { authorization: `Bearer ${key}` } })).json()).data;
  let h = await health();
  const byId = (list, id) => list.find((m) => m.id === id);
  assert.equal(byId(h, "openai/gpt-4o-mini").available, true);
  assert.equal(byId(h, "pair").kind, "combo");
  assert.equal(byId(h, "pair").ready_connections, 2);

  // The OpenAI account answers gpt-4o-mini with a 429 + Retry-After: 7, so it cools down for it.
  openai.setFailAs("rate-limited");
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] }),
  });
  await r.text();
  openai.setFailAs(null);
  assert.equal(r.status, 429);
  h = await health();
  const limited = byId(h, "openai/gpt-4o-mini");
  assert.equal(limited.available, false, JSON.stringify(limited));
  assert.equal(limited.reason, "cooling_down");
  assert.ok(limited.retry_after_secs >= 1 && limited.retry_after_secs <= 7, JSON.stringify(limited));
  assert.equal(byId(h, "anthropic/claude-sonnet-4-5").available, true);
  assert.equal(byId(h, "pair").available, true);
  assert.equal(byId(h, "pair").ready_connections, 1, "only the Anthropic target is ready");
  const pinned = (await (await fetch(`${gw.url}/v1/providers/anthropic/v1/models/health`, { headers: { authorization: `Bearer ${key}` } })).json()).data;
  assert.ok(pinned.every((m) => m.id.startsWith("anthropic/")));
  assert.equal((await fetch(`${gw.url}/v1/models/health`)).status, 401, "needs a key");
});
