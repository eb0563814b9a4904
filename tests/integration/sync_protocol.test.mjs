// Cloud sync, the protocol as unmodified clients speak it: the captured OmniRoute 3.7.9 push and a
// 9router-style push go to {CLOUD_URL}/sync/{machineId}; the answers are the shape the clients read
// and are signed; GET gives back what was pushed; verify works in both forms; the official openai SDK
// reaches a mock upstream with a synced key through /{machineId}/v1, {CLOUD_URL}/{machineId}/v1 and
// /v1; DELETE removes it all.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, capturedPush, enroll, signatureValid, withoutEdgeFields, withoutSecrets } from "../support/sync_client.mjs";

const UPSTREAM_KEY = "sk-mock-upstream-test-key"; // the key the captured connection carries
let gw, mock, e, omni, pushed;

before(async () => {
  gw = await startGateway();
  mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY, scripted: false });
  e = await enroll(gw, "captured laptop");
  omni = capturedPush(mock.url);
  pushed = JSON.parse(omni.raw);
});
after(async () => {
  await gw?.dispose();
  await mock?.close();
});

const sdk = (baseURL, apiKey) => new OpenAI({ apiKey, baseURL, maxRetries: 0 });
const syncedKey = () => pushed.apiKeys[0].key;

test("the captured OmniRoute push is accepted, answered in the client's shape and signed", async () => {
  assert.match(e.cloud_url, /\/cloud\/oes_[A-Za-z0-9_-]{43}$/);
  const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "POST", omni.raw);
  assert.equal(r.status, 200, r.text);
  assert.ok(signatureValid(e.signing_secret, r), "X-Cloud-Sig = hex(HMAC-SHA256(secret, raw body))");
  assert.ok(!signatureValid("another-secret", r));
  assert.equal(r.json.success, true);
  const conn = pushed.providers[0];
  assert.deepEqual(r.json.changes, { updated: [conn.id], fromWorker: [] });
  assert.deepEqual(Object.keys(r.json.data.providers), [conn.id], "providers keyed by connection id");
  assert.deepEqual(r.json.data.modelAliases, pushed.modelAliases);
  assert.deepEqual(r.json.data.combos, []);
  assert.ok(!Number.isNaN(Date.parse(r.json.data.updatedAt)));
  assert.ok(!r.text.includes(UPSTREAM_KEY) && !r.text.includes(syncedKey()), "no secret comes back by default");
});

test("verify answers for a synced key in both forms, and refuses others", async () => {
  const auth = { authorization: `Bearer ${syncedKey()}` };
  for (const url of [`${e.cloud_url}/${omni.machineId}/v1/verify`, `${gw.url}/${omni.machineId}/v1/verify`, `${gw.url}/v1/verify`]) {
    const r = await call(url, "GET", undefined, auth);
    assert.equal(r.status, 200, `${url}: ${r.text}`);
    assert.deepEqual(r.json, { valid: true, machineId: omni.machineId, providersCount: 1 });
  }
  const wrong = await call(`${gw.url}/${omni.machineId}/v1/verify`, "GET", undefined, { authorization: "Bearer sk-b149085260680511-000000-00000000" });
  assert.equal(wrong.status, 401);
});

test("the openai SDK reaches the synced provider node with a synced key, through every path", async () => {
  for (const base of [`${gw.url}/${omni.machineId}/v1`, `${e.cloud_url}/${omni.machineId}/v1`, `${gw.url}/v1`]) {
    const before = mock.requests.length;
    const out = await sdk(base, syncedKey()).chat.completions.create({ model: "mock/gpt-4o-mini", messages: [{ role: "user", content: `hi via ${base}` }] });
    assert.match(out.choices[0].message.content, /hi via/);
    const sent = mock.requests.slice(before);
    assert.equal(sent.length, 1, base);
    assert.equal(sent[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`, "the synced connection's own key went upstream");
    assert.equal(sent[0].body.model, "gpt-4o-mini", "the node prefix is the model prefix");
  }
  const stream = await sdk(`${gw.url}/${omni.machineId}/v1`, syncedKey()).chat.completions.create({ model: "mock/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "streamed" }] });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  assert.match(text, /streamed/);
  const models = await sdk(`${gw.url}/${omni.machineId}/v1`, syncedKey()).models.list();
  assert.ok(models.data.length >= 0);
});

test("GET gives back what was pushed, credentials left out", async () => {
  const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "GET");
  assert.equal(r.status, 200, r.text);
  assert.ok(signatureValid(e.signing_secret, r));
  const d = r.json.data;
  const conn = pushed.providers[0];
  assert.deepEqual(withoutEdgeFields(d.providers[conn.id]), withoutSecrets(conn));
  assert.deepEqual(d.providerNodes, pushed.providerNodes);
  assert.deepEqual(d.modelAliases, pushed.modelAliases);
  assert.deepEqual(d.settings, pushed.settings);
  assert.equal(d.version, pushed.version);
  assert.deepEqual(d.apiKeys.map(withoutEdgeFields), pushed.apiKeys.map((k) => withoutSecrets(k)));
  assert.equal(d.apiKeys[0].keyHint, `…${syncedKey().slice(-4)}`);
});

test("an enrollment that allows secrets gets the exact push back", async () => {
  const open = await enroll(gw, "trusted", { return_secrets: true });
  const machine = "a1b2c3d4e5f60718";
  const body = JSON.parse(omni.raw.replaceAll(omni.machineId, machine));
  const r = await call(`${open.cloud_url}/sync/${machine}`, "POST", body);
  assert.equal(r.status, 200, r.text);
  const got = await call(`${open.cloud_url}/sync/${machine}`, "GET");
  const d = got.json.data;
  assert.deepEqual(withoutEdgeFields(d.providers[body.providers[0].id]), body.providers[0]);
  assert.deepEqual(d.apiKeys, body.apiKeys);
  assert.deepEqual({ ...d, providers: undefined, updatedAt: undefined }, { ...body, providers: undefined, updatedAt: undefined });
});

test("a 9router-style push: built-in providers, an OAuth account kept but not served, string combos", async () => {
  const machine = "9r0u7e4000000001";
  const key = `sk-${machine}-abc123-deadbeef`;
  const body = {
    providers: [
      { id: "conn-openai", provider: "openai", authType: "apikey", name: "work", priority: 1, isActive: true, apiKey: UPSTREAM_KEY,
        providerSpecificData: { baseUrl: mock.url }, updatedAt: "2026-01-01T00:00:00.000Z" },
      { id: "conn-claude", provider: "claude", authType: "oauth", name: "me@example.com", isActive: true, accessToken: "at-secret",
        refreshToken: "rt-secret", expiresAt: "2026-12-01T00:00:00.000Z", updatedAt: "2026-01-01T00:00:00.000Z" },
    ],
    modelAliases: { fast: "openai/gpt-4o-mini" },
    combos: [{ name: "duo", models: ["openai/duo-first", { kind: "model", provider: "openai", model: "duo-second", weight: 1 }] }],
    apiKeys: [{ id: "key-1", name: "Default Key", key, machineId: machine }],
  };
  const e9 = await enroll(gw, "9router box");
  const r = await call(`${e9.cloud_url}/sync/${machine}`, "POST", body);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.changes.updated, ["conn-openai", "conn-claude"]);
  // The OAuth account comes back unchanged (without its tokens; `updatedAt` is the edge's, as in
  // 9router) and is reported as not served.
  assert.deepEqual(withoutEdgeFields(r.json.data.providers["conn-claude"]), withoutEdgeFields(withoutSecrets(body.providers[1])));
  const machines = await gw.admin("GET", "/api/sync/machines");
  const m = machines.json.data.find((x) => x.machine_id === machine);
  assert.deepEqual(m.unservable.map((u) => [u.kind, u.id]), [["connection", "conn-claude"]]);
  assert.match(m.unservable[0].reason, /oauth/);
  assert.equal(m.synced.connections, 2);
  assert.equal(m.served.connections, 1);
  assert.equal(m.enrollment_name, "9router box");
  // The combo and the alias work through /v1 with the synced key.
  const client = sdk(`${gw.url}/v1`, key);
  const before = mock.requests.length;
  await client.chat.completions.create({ model: "duo", messages: [{ role: "user", content: "combo" }] });
  await client.chat.completions.create({ model: "fast", messages: [{ role: "user", content: "alias" }] });
  assert.deepEqual(mock.requests.slice(before).map((q) => q.body.model), ["duo-first", "gpt-4o-mini"]);
});

test("a cooldown the edge learnt comes back in the next push's answer (fromWorker)", async () => {
  const scripted = await startMockOpenAI({ apiKey: UPSTREAM_KEY, scripted: true });
  try {
    const machine = "c001d0e000000001";
    const raw = capturedPush(scripted.url).raw.replaceAll(omni.machineId, machine);
    const body = JSON.parse(raw);
    const ec = await enroll(gw, "cooling");
    assert.equal((await call(`${ec.cloud_url}/sync/${machine}`, "POST", raw)).status, 200);
    const limited = await call(`${gw.url}/${machine}/v1/chat/completions`, "POST",
      { model: "mock/rate-limited", messages: [{ role: "user", content: "x" }] }, { authorization: `Bearer ${body.apiKeys[0].key}` });
    assert.equal(limited.status, 429, limited.text);
    // The cooldown reaches the shared resilience state in the background: push until it shows.
    const id = body.providers[0].id;
    let answer;
    for (let i = 0; i < 20; i++) {
      answer = await call(`${ec.cloud_url}/sync/${machine}`, "POST", raw);
      if (answer.json?.changes?.fromWorker?.includes(id)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json.changes.fromWorker, [id]);
    const conn = answer.json.data.providers[id];
    assert.equal(conn.status, "unavailable");
    assert.ok(Date.parse(conn.rateLimitedUntil) > Date.now(), conn.rateLimitedUntil);
    assert.ok(signatureValid(ec.signing_secret, answer));
  } finally {
    await scripted.close();
  }
});

test("a push without credentials keeps the stored ones", async () => {
  const stripped = JSON.parse(omni.raw);
  for (const p of stripped.providers) { delete p.apiKey; delete p.providerSpecificData; }
  for (const k of stripped.apiKeys) delete k.key;
  const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "POST", stripped);
  assert.equal(r.status, 200, r.text);
  const out = await sdk(`${gw.url}/${omni.machineId}/v1`, syncedKey()).chat.completions.create({ model: "mock/gpt-4o-mini", messages: [{ role: "user", content: "still" }] });
  assert.match(out.choices[0].message.content, /still/);
});

test("the header form works for new clients", async () => {
  const h = await enroll(gw, "new client");
  const machine = "feedfacecafe0001";
  const r = await call(`${gw.url}/sync/${machine}`, "POST", { providers: [] }, { "x-sync-token": h.token });
  assert.equal(r.status, 200, r.text);
  assert.ok(signatureValid(h.signing_secret, r));
  const bearer = await call(`${gw.url}/sync/${machine}`, "GET", undefined, { authorization: `Bearer ${h.token}` });
  assert.equal(bearer.status, 200);
});

test("DELETE removes the machine: its data, its keys, its status", async () => {
  const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "DELETE");
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { success: true, message: "Data deleted successfully" });
  assert.ok(signatureValid(e.signing_secret, r));
  const gone = await call(`${e.cloud_url}/sync/${omni.machineId}`, "GET");
  assert.equal(gone.status, 404);
  assert.ok(signatureValid(e.signing_secret, gone), "errors are signed too");
  assert.equal((await call(`${gw.url}/v1/verify`, "GET", undefined, { authorization: `Bearer ${syncedKey()}` })).status, 401);
  const machines = await gw.admin("GET", "/api/sync/machines");
  assert.ok(!machines.json.data.some((m) => m.machine_id === omni.machineId));
  // The same CLOUD_URL syncs the machine again.
  const again = await call(`${e.cloud_url}/sync/${omni.machineId}`, "POST", omni.raw);
  assert.equal(again.status, 200, again.text);
});
