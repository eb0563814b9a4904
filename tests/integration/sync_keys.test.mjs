// Cloud sync, restricted keys (issue 20): a machine pushes OmniRoute keys with allowedModels (naming
// its provider node by id), allowedCombos, allowedConnections, per-minute and per-day request limits,
// access schedules, isActive false, expiresAt, and fields the edge cannot enforce. The official SDKs
// then see what OmniRoute would answer: the allowed model works and another gets 403, the combo is
// callable, the pinned connection serves, the limits give 429 after N, a key outside its schedule
// gets 403 in the client's format, an inactive or expired key 401; the status names only the keys
// with restrictions the edge cannot enforce.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, enroll } from "../support/sync_client.mjs";

const UPSTREAM_KEY = "sk-mock-upstream-test-key";
const MACHINE = "5c4ed0e500000001";
const NODE = "openai-compatible-chat-7b1e2c44-0d5e-4c1f-9a57-3b9d7f0c2a11";
let gw, alpha, first, second, e;

/** The local weekday (0 = Sunday) in an IANA zone now, as OmniRoute computes it. */
const weekdayIn = (tz) =>
  ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(new Intl.DateTimeFormat("en-US", { timeZone: tz, weekday: "short" }).format(new Date()));
const schedule = (tz, days) => ({ enabled: true, from: "00:00", until: "24:00", days, tz });
const allDays = [0, 1, 2, 3, 4, 5, 6];

/** An OmniRoute 3.7.9 key as it pushes it (the captured shape), with `extra` fields. */
const key = (id, extra = {}) => ({
  id, name: id, key: `sk-${MACHINE}-${id}-00000000`, machineId: MACHINE, allowedModels: [], allowedConnections: [],
  noLog: false, autoResolve: false, isActive: true, accessSchedule: null, maxRequestsPerDay: null, maxRequestsPerMinute: null,
  maxSessions: 0, ...extra,
});

const KEYS = {
  scoped: key("scoped", { allowedModels: [`${NODE}/*`] }),
  combos: key("combos", { allowedCombos: ["duo"] }),
  pinned: key("pinned", { allowedConnections: ["conn-second"] }),
  rpm: key("rpm", { maxRequestsPerMinute: 2 }),
  rpd: key("rpd", { maxRequestsPerDay: 2 }),
  // Every day but today in Tokyo: outside its schedule whatever the hour.
  closed: key("closed", { accessSchedule: schedule("Asia/Tokyo", allDays.filter((d) => d !== weekdayIn("Asia/Tokyo"))) }),
  open: key("open", { accessSchedule: schedule("America/New_York", allDays) }),
  inactive: key("inactive", { isActive: false }),
  expired: key("expired", { expiresAt: "2020-01-01T00:00:00.000Z" }),
  sessions: key("sessions", { maxSessions: 3 }),
  mars: key("mars", { accessSchedule: schedule("Mars/Olympus", allDays) }),
};

before(async () => {
  gw = await startGateway({ assets: false });
  [alpha, first, second] = await Promise.all([1, 2, 3].map(() => startMockOpenAI({ apiKey: UPSTREAM_KEY, scripted: false })));
  e = await enroll(gw, "restricted keys");
  const body = {
    providers: [
      { id: "conn-alpha", provider: NODE, authType: "apikey", name: "alpha", priority: 1, isActive: true, apiKey: UPSTREAM_KEY },
      { id: "conn-first", provider: "openai", authType: "apikey", name: "first", priority: 1, isActive: true, apiKey: UPSTREAM_KEY,
        providerSpecificData: { baseUrl: first.url } },
      { id: "conn-second", provider: "openai", authType: "apikey", name: "second", priority: 2, isActive: true, apiKey: UPSTREAM_KEY,
        providerSpecificData: { baseUrl: second.url } },
    ],
    providerNodes: [{ id: NODE, type: "openai-compatible", name: "Alpha", prefix: "alpha", apiType: "chat", baseUrl: alpha.url, chatPath: null, modelsPath: null }],
    modelAliases: {},
    combos: [{ name: "duo", models: [`${NODE}/duo-model`] }, { name: "solo", models: ["openai/solo-model"] }],
    apiKeys: Object.values(KEYS),
  };
  const r = await call(`${e.cloud_url}/sync/${MACHINE}`, "POST", body);
  assert.equal(r.status, 200, r.text);
});
after(async () => {
  await gw?.dispose();
  await Promise.all([alpha, first, second].map((m) => m?.close()));
});

const sdk = (k) => new OpenAI({ apiKey: k.key, baseURL: `${gw.url}/${MACHINE}/v1`, maxRetries: 0 });
const ask = (k, model) => sdk(k).chat.completions.create({ model, messages: [{ role: "user", content: `to ${model}` }] });

/** The SDK's error for a call that must fail. */
async function refused(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("the call succeeded");
}

test("the status names only the keys whose restrictions the edge cannot enforce", async () => {
  const machines = await gw.admin("GET", "/api/sync/machines");
  const m = machines.json.data.find((x) => x.machine_id === MACHINE);
  assert.deepEqual(m.unservable.map((u) => [u.kind, u.id]), [["api_key", "sessions"], ["api_key", "mars"]]);
  assert.match(m.unservable[0].reason, /maxSessions/);
  assert.match(m.unservable[1].reason, /Mars\/Olympus/);
  assert.equal(m.served.api_keys, Object.keys(KEYS).length - 2);
  for (const k of [KEYS.sessions, KEYS.mars]) assert.equal((await refused(ask(k, "alpha/gpt-4o-mini"))).status, 401);
});

test("a model-scoped key works for its allowed models (its node renamed to the prefix) and gets 403 for another", async () => {
  const before = alpha.requests.length;
  const out = await ask(KEYS.scoped, "alpha/gpt-4o-mini");
  assert.match(out.choices[0].message.content, /to alpha\/gpt-4o-mini/);
  assert.equal(alpha.requests.slice(before)[0].body.model, "gpt-4o-mini");
  const err = await refused(ask(KEYS.scoped, "openai/gpt-4o-mini"));
  assert.equal(err.status, 403);
  assert.equal(err.error?.code, "model_not_allowed");
  const models = await sdk(KEYS.scoped).models.list();
  assert.ok(models.data.every((m) => m.id.startsWith("alpha")), JSON.stringify(models.data.map((m) => m.id)));
});

test("an allowedCombos key calls its combo, not the other, and other models as before", async () => {
  const before = alpha.requests.length;
  await ask(KEYS.combos, "duo");
  assert.equal(alpha.requests.slice(before)[0].body.model, "duo-model");
  const err = await refused(ask(KEYS.combos, "solo"));
  assert.equal(err.status, 403);
  assert.equal(err.error?.code, "model_not_allowed");
  await ask(KEYS.combos, "openai/gpt-4o-mini");
});

test("allowedConnections routes only to that connection", async () => {
  const [a, b] = [first.requests.length, second.requests.length];
  await ask(KEYS.open, "openai/gpt-4o-mini");
  assert.equal(first.requests.length, a + 1, "an unpinned key goes to the preferred connection");
  await ask(KEYS.pinned, "openai/gpt-4o-mini");
  await ask(KEYS.pinned, "openai/gpt-4o-mini");
  assert.equal(first.requests.length, a + 1, "the pinned key never reaches the other connection");
  assert.equal(second.requests.length, b + 2);
  const err = await refused(ask(KEYS.pinned, "alpha/gpt-4o-mini"));
  assert.equal(err.status, 403);
  assert.equal(err.error?.code, "connection_not_allowed");
});

test("maxRequestsPerMinute and maxRequestsPerDay give 429 after N", async () => {
  for (const [k, why] of [[KEYS.rpm, /per minute/], [KEYS.rpd, /per day/]]) {
    await ask(k, "alpha/gpt-4o-mini");
    await ask(k, "alpha/gpt-4o-mini");
    const err = await refused(ask(k, "alpha/gpt-4o-mini"));
    assert.equal(err.status, 429, k.id);
    assert.equal(err.error?.code, "rate_limit_exceeded");
    assert.match(err.error?.message, why);
    assert.ok(Number(err.headers.get("retry-after")) > 0);
  }
});

test("a key outside its schedule gets 403 in the client's format; one inside works", async () => {
  const err = await refused(ask(KEYS.closed, "alpha/gpt-4o-mini"));
  assert.equal(err.status, 403);
  assert.equal(err.error?.code, "outside_schedule");
  assert.match(err.error?.message, /Asia\/Tokyo/);
  const anthropic = new Anthropic({ apiKey: KEYS.closed.key, baseURL: `${gw.url}/${MACHINE}`, maxRetries: 0 });
  const aerr = await refused(anthropic.messages.create({ model: "alpha/gpt-4o-mini", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }));
  assert.ok(aerr instanceof Anthropic.PermissionDeniedError, String(aerr));
  assert.equal(aerr.error?.type, "error");
  assert.equal(aerr.error?.error?.type, "permission_error");
  assert.match(aerr.error?.error?.message, /may be used only/);
  const out = await ask(KEYS.open, "alpha/gpt-4o-mini");
  assert.match(out.choices[0].message.content, /to alpha/);
});

test("an inactive or expired key gets 401", async () => {
  for (const [k, code] of [[KEYS.inactive, "key_disabled"], [KEYS.expired, "key_expired"]]) {
    const err = await refused(ask(k, "alpha/gpt-4o-mini"));
    assert.equal(err.status, 401, k.id);
    assert.equal(err.error?.code, code);
  }
});
