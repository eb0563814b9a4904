// Gateway key lifecycle (issue 10): scopes (models and providers as glob patterns) with a 403 in the
// client's format and a filtered /v1/models, a combo that serves from its allowed targets, the
// enabled flag, expiry, and rotation (a new secret, the same id and settings).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";

let gw, openaiUp, anthropicUp;

before(async () => {
  openaiUp = await startMockOpenAI();
  anthropicUp = await startMockAnthropic();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", openaiUp);
  await gw.connect("anthropic", anthropicUp);
  const combo = await gw.admin("POST", "/api/combos", { name: "pair", targets: [{ model: "openai/gpt-4o-mini" }, { model: "anthropic/claude-sonnet-4-5" }] });
  assert.equal(combo.status, 201, combo.text);
});
after(async () => { await gw?.dispose(); await openaiUp?.close(); await anthropicUp?.close(); });

async function key(body) {
  const r = await gw.admin("POST", "/api/keys", body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}
const chat = (k, model) => new OpenAI({ apiKey: k, baseURL: `${gw.url}/v1`, maxRetries: 0 })
  .chat.completions.create({ model, messages: [{ role: "user", content: "scoped" }] }).withResponse();

test("model scopes: allowed models work, others get 403 in the client's format, /v1/models lists only them", async () => {
  const k = (await key({ name: "openai-only", access: { scopes: { models: ["openai/*"] } } })).key;
  assert.equal((await chat(k, "openai/gpt-4o-mini")).response.status, 200);
  const calls = anthropicUp.requests.length;
  await assert.rejects(chat(k, "anthropic/claude-sonnet-4-5"), (e) => e.status === 403 && e.code === "model_not_allowed" && e.param === "model");
  const messages = new Anthropic({ apiKey: k, baseURL: gw.url, maxRetries: 0 });
  await assert.rejects(
    messages.messages.create({ model: "anthropic/claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 403 && e.error?.error?.type === "permission_error",
  );
  assert.equal(anthropicUp.requests.length, calls, "no upstream call");
  const list = await (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k}` } })).json();
  assert.ok(list.data.length > 0);
  assert.ok(list.data.every((m) => m.id.startsWith("openai/")), JSON.stringify(list.data.slice(0, 3)));
});

test("provider scopes: a combo serves from its allowed targets only", async () => {
  const k = (await key({ name: "anthropic-only", access: { scopes: { providers: ["anthropic"] } } })).key;
  const before = openaiUp.requests.length;
  const r = await chat(k, "pair");
  assert.equal(r.response.headers.get("x-omniroute-provider"), "anthropic");
  assert.equal(openaiUp.requests.length, before, "the OpenAI target was skipped, not tried");
  await assert.rejects(chat(k, "openai/gpt-4o-mini"), (e) => e.status === 403 && e.code === "provider_not_allowed");
});

test("disabling, expiry and rotation", async () => {
  const created = await key({ name: "life", limits: { requests_per_minute: 100 } });
  const { id } = created;
  assert.equal((await chat(created.key, "openai/gpt-4o-mini")).response.status, 200);

  assert.equal((await gw.admin("PATCH", `/api/keys/${id}`, { access: { enabled: false } })).status, 200);
  await assert.rejects(chat(created.key, "openai/gpt-4o-mini"), (e) => e.status === 401 && e.code === "key_disabled");
  assert.equal((await gw.admin("PATCH", `/api/keys/${id}`, { access: { expires_at: Date.now() + 1500 } })).status, 200);
  assert.equal((await chat(created.key, "openai/gpt-4o-mini")).response.status, 200, "enabled again, until it expires");
  await new Promise((r) => setTimeout(r, 1600));
  await assert.rejects(chat(created.key, "openai/gpt-4o-mini"), (e) => e.status === 401 && e.code === "key_expired");
  assert.equal((await gw.admin("PATCH", `/api/keys/${id}`, { access: {} })).status, 200);

  const rotated = await gw.admin("POST", `/api/keys/${id}/rotate`);
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(rotated.json.id, id);
  assert.notEqual(rotated.json.key, created.key);
  assert.equal((await chat(rotated.json.key, "openai/gpt-4o-mini")).response.status, 200);
  await assert.rejects(chat(created.key, "openai/gpt-4o-mini"), (e) => e.status === 401);
  const listed = (await gw.admin("GET", "/api/keys")).json.data.find((k) => k.id === id);
  assert.equal(listed.key_prefix, rotated.json.key_prefix);
  assert.equal(listed.limits.requests_per_minute, 100, "same settings");
  assert.equal(JSON.stringify(listed).includes(rotated.json.key), false, "the secret is never listed");
  assert.equal((await gw.admin("POST", "/api/keys/key_nope/rotate")).status, 404);
});

test("bad access input is refused, naming the field", async () => {
  const r = await gw.admin("POST", "/api/keys", { name: "bad", access: { scopes: { models: [""] } } });
  assert.equal(r.status, 400);
  assert.match(r.text, /scopes\.models/);
  assert.equal((await gw.admin("POST", "/api/keys", { name: "bad", access: { scope: {} } })).status, 400);
});

test("connection scopes, schedules and a daily request limit for gateway keys", async () => {
  const second = await startMockOpenAI();
  try {
    const conn = await gw.connect("openai", second, { priority: 50 });
    const pinned = (await key({ name: "pinned", access: { scopes: { connections: [conn.id] } } })).key;
    const [a, b] = [openaiUp.requests.length, second.requests.length];
    assert.equal((await chat(pinned, "openai/gpt-4o-mini")).response.status, 200);
    assert.deepEqual([openaiUp.requests.length - a, second.requests.length - b], [0, 1], "only its connection served it");
    await assert.rejects(chat(pinned, "anthropic/claude-sonnet-4-5"), (e) => e.status === 403 && e.code === "connection_not_allowed");

    const today = new Date().getUTCDay();
    const schedule = (days, time_zone = "UTC") => ({ days, from: "00:00", until: "24:00", time_zone });
    const closed = (await key({ name: "closed", access: { schedule: schedule([(today + 1) % 7]) } })).key;
    await assert.rejects(chat(closed, "openai/gpt-4o-mini"), (e) => e.status === 403 && e.code === "outside_schedule");
    const open = (await key({ name: "open", access: { schedule: schedule([today]) } })).key;
    assert.equal((await chat(open, "openai/gpt-4o-mini")).response.status, 200);
    const mars = await gw.admin("POST", "/api/keys", { name: "mars", access: { schedule: schedule([today], "Mars/Olympus") } });
    assert.equal(mars.status, 400);
    assert.equal(mars.json.error.param, "schedule.time_zone");

    const daily = await key({ name: "daily", limits: { requests_per_day: 1 } });
    assert.equal((await chat(daily.key, "openai/gpt-4o-mini")).response.status, 200);
    await assert.rejects(chat(daily.key, "openai/gpt-4o-mini"), (e) => e.status === 429 && /per day/.test(e.message));
    const usage = await gw.admin("GET", `/api/keys/${daily.id}/usage`);
    assert.equal(usage.json.usage.requests_today, 1);
  } finally {
    await second.close();
  }
});
