// Cloud sync's security model: nothing is read, written or deleted without an enrollment the
// operator issued; an enrollment serves one machine; each machine is its own tenant (its keys reach
// only its providers, other keys get 401/404 on its paths); bad bodies change nothing; a revoked
// enrollment or an expired machine stops working; 20 concurrent pushes leave exactly one of them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, enroll, signatureValid, withoutEdgeFields, withoutSecrets } from "../support/sync_client.mjs";

let gw, mockA, mockB, gatewayKey;
let a, b; // enrollments
const A = "aaaa000000000001";
const B = "bbbb000000000002";
const keyA = `sk-${A}-aaaaaa-11111111`;
const keyB = `sk-${B}-bbbbbb-22222222`;

function body(machine, key, mock, extra = {}) {
  return {
    providers: [{ id: `conn-${machine}`, provider: `openai-compatible-chat-${machine}`, authType: "apikey", name: "up", isActive: true, apiKey: mock.apiKey }],
    providerNodes: [{ id: `openai-compatible-chat-${machine}`, type: "openai-compatible", name: "Up", prefix: `up${machine.slice(0, 4)}`, apiType: "chat", baseUrl: mock.url, chatPath: null, modelsPath: null }],
    modelAliases: {},
    combos: [],
    apiKeys: [{ id: `key-${machine}`, name: "k", key, machineId: machine, allowedModels: [], isActive: true }],
    settings: {},
    ...extra,
  };
}

const chat = (url, key, model) =>
  call(`${url}/chat/completions`, "POST", { model, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });

before(async () => {
  gw = await startGateway();
  mockA = await startMockOpenAI({ apiKey: "sk-upstream-a", scripted: false });
  mockB = await startMockOpenAI({ apiKey: "sk-upstream-b", scripted: false });
  gatewayKey = await gw.createKey("the gateway's own");
  a = await enroll(gw, "machine A");
  b = await enroll(gw, "machine B");
  for (const [e, m, k, mock] of [[a, A, keyA, mockA], [b, B, keyB, mockB]]) {
    const r = await call(`${e.cloud_url}/sync/${m}`, "POST", body(m, k, mock));
    assert.equal(r.status, 200, r.text);
  }
});
after(async () => {
  await gw?.dispose();
  await mockA?.close();
  await mockB?.close();
});

test("without an enrollment, or with a wrong one, /sync refuses and changes nothing", async () => {
  const forged = `oes_${crypto.randomBytes(32).toString("base64url")}`;
  for (const [url, headers] of [
    [`${gw.url}/sync/${A}`, {}],
    [`${gw.url}/sync/${A}`, { "x-sync-token": forged }],
    [`${gw.url}/cloud/${forged}/sync/${A}`, {}],
    [`${gw.url}/cloud/not-a-token/sync/${A}`, {}],
    [`${gw.url}/sync/${A}`, { authorization: `Bearer ${gatewayKey}` }],
  ]) {
    for (const method of ["GET", "POST", "DELETE"]) {
      const r = await call(url, method, method === "POST" ? { providers: [] } : undefined, headers);
      assert.equal(r.status, 401, `${method} ${url}: ${r.text}`);
      assert.equal(r.json.success, false);
      assert.ok(!r.text.includes("sk-upstream"));
    }
  }
  const still = await call(`${a.cloud_url}/sync/${A}`, "GET");
  assert.equal(Object.keys(still.json.data.providers).length, 1, "A is untouched");
  assert.equal((await chat(`${gw.url}/${A}/v1`, keyA, `up${A.slice(0, 4)}/m`)).status, 200);
});

test("an enrollment is bound to its machine: another machine id is refused, signed", async () => {
  for (const method of ["GET", "POST", "DELETE"]) {
    const r = await call(`${a.cloud_url}/sync/${B}`, method, method === "POST" ? body(B, keyB, mockB) : undefined);
    assert.equal(r.status, 403, `${method}: ${r.text}`);
    assert.ok(signatureValid(a.signing_secret, r));
  }
  // Another enrollment cannot take a machine that is already enrolled.
  const c = await enroll(gw, "intruder");
  const r = await call(`${c.cloud_url}/sync/${A}`, "POST", { providers: [] });
  assert.equal(r.status, 409, r.text);
  const got = await call(`${b.cloud_url}/sync/${B}`, "GET");
  assert.equal(got.json.data.providers[`conn-${B}`].name, "up", "B is untouched");
});

test("each machine is its own tenant", async () => {
  const modelA = `up${A.slice(0, 4)}/m`;
  const modelB = `up${B.slice(0, 4)}/m`;
  // Its own key on its own paths.
  assert.equal((await chat(`${gw.url}/${A}/v1`, keyA, modelA)).status, 200);
  assert.equal((await chat(`${a.cloud_url}/${A}/v1`, keyA, modelA)).status, 200);
  // A synced key on another machine's path.
  assert.equal((await chat(`${gw.url}/${B}/v1`, keyA, modelB)).status, 401);
  assert.equal((await call(`${gw.url}/${B}/v1/verify`, "GET", undefined, { authorization: `Bearer ${keyA}` })).status, 401);
  // Another machine's path under A's enrollment is not found; B's key is no good there either.
  assert.equal((await chat(`${a.cloud_url}/${B}/v1`, keyB, modelB)).status, 404);
  assert.equal((await chat(`${a.cloud_url}/${A}/v1`, keyB, modelA)).status, 401);
  // The gateway's own key on a machine's path.
  assert.equal((await chat(`${gw.url}/${A}/v1`, gatewayKey, modelA)).status, 401);
  assert.equal((await call(`${gw.url}/${A}/v1/verify`, "GET", undefined, { authorization: `Bearer ${gatewayKey}` })).status, 401);
  // Through /v1 a synced key reaches its own machine's providers only.
  const before = mockB.requests.length;
  const cross = await chat(`${gw.url}/v1`, keyA, modelB);
  assert.ok(cross.status >= 400 && cross.status < 500, cross.text);
  assert.equal(mockB.requests.length, before, "B's upstream never saw A's request");
  // The gateway's own tenant is not reachable with a synced key.
  const own = await call(`${gw.url}/v1/models`, "GET", undefined, { authorization: `Bearer ${keyA}` });
  assert.equal(own.status, 200);
  // And machine ids that are the gateway's own names cannot be enrolled.
  const d = await enroll(gw, "names");
  assert.equal((await call(`${d.cloud_url}/sync/default`, "POST", { providers: [] })).status, 400);
});

test("malformed or oversized bodies get a clear 4xx and change nothing", async () => {
  const before = (await call(`${a.cloud_url}/sync/${A}`, "GET")).json.data;
  for (const [raw, status, code] of [
    ["{not json", 400, "invalid_json"],
    [JSON.stringify({ modelAliases: {} }), 400, "missing_providers"],
    [JSON.stringify({ providers: [{ id: "x" }] }), 400, "invalid_sync_body"],
    [JSON.stringify({ providers: [], apiKeys: [{ id: "k", key: keyB }] }), 409, "key_in_use"],
    [JSON.stringify({ providers: [], pad: "x".repeat(1024 * 1024) }), 413, "request_too_large"],
  ]) {
    const r = await call(`${a.cloud_url}/sync/${A}`, "POST", raw);
    assert.equal(r.status, status, r.text.slice(0, 300));
    assert.equal(r.json.code, code);
    assert.ok(signatureValid(a.signing_secret, r));
  }
  const after = (await call(`${a.cloud_url}/sync/${A}`, "GET")).json.data;
  assert.deepEqual(after, before);
  assert.equal((await chat(`${gw.url}/${A}/v1`, keyA, `up${A.slice(0, 4)}/m`)).status, 200);
});

test("20 concurrent pushes with different contents leave exactly one of them", async () => {
  const bodies = Array.from({ length: 20 }, (_, i) => {
    const b = body(A, keyA, mockA, { modelAliases: { pick: `up${A.slice(0, 4)}/model-${i}` }, combos: [{ name: `combo-${i}`, models: [`up${A.slice(0, 4)}/c-${i}`] }] });
    b.providers[0].name = `name-${i}`;
    b.providers[0].priority = i;
    return b;
  });
  const answers = await Promise.all(bodies.map((bd) => call(`${a.cloud_url}/sync/${A}`, "POST", bd)));
  for (const r of answers) assert.equal(r.status, 200, r.text);
  const final = (await call(`${a.cloud_url}/sync/${A}`, "GET")).json.data;
  const i = bodies.findIndex((bd) => bd.providers[0].name === final.providers[`conn-${A}`].name);
  assert.ok(i >= 0, "the final state is one of the pushes");
  const want = bodies[i];
  assert.deepEqual(withoutEdgeFields(final.providers[`conn-${A}`]), withoutSecrets(want.providers[0]));
  assert.deepEqual(final.modelAliases, want.modelAliases);
  assert.deepEqual(final.combos, want.combos);
  // What is served is that same push: its combo and alias exist, no other push's.
  const db = await gw.mf.getD1Database("DB");
  const combos = (await db.prepare("SELECT name FROM combos WHERE tenant_id = ?1").bind(A).all()).results.map((r) => r.name);
  assert.deepEqual(combos, [`combo-${i}`]);
  const alias = await db.prepare("SELECT target FROM model_aliases WHERE tenant_id = ?1").bind(A).first();
  assert.equal(alias.target, want.modelAliases.pick);
  const conn = await db.prepare("SELECT name, priority FROM provider_connections WHERE tenant_id = ?1").bind(A).first();
  assert.deepEqual({ ...conn }, { name: `name-${i}`, priority: i });
});

test("a revoked enrollment stops working at once: sync, verify and its machine's keys", async () => {
  const e = await enroll(gw, "to revoke");
  const M = "cccc000000000003";
  const keyC = `sk-${M}-cccccc-33333333`;
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "POST", body(M, keyC, mockA))).status, 200);
  assert.equal((await chat(`${gw.url}/${M}/v1`, keyC, `up${M.slice(0, 4)}/m`)).status, 200);
  const listed = await gw.admin("GET", "/api/sync/enrollments");
  const row = listed.json.data.find((x) => x.id === e.id);
  assert.equal(row.machine_id, M);
  assert.ok(!JSON.stringify(listed.json).includes(e.token) && !JSON.stringify(listed.json).includes(e.signing_secret));
  const r = await gw.admin("DELETE", `/api/sync/enrollments/${e.id}`);
  assert.equal(r.status, 200, r.text);
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "POST", body(M, keyC, mockA))).status, 401);
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "GET")).status, 401);
  assert.equal((await chat(`${gw.url}/${M}/v1`, keyC, `up${M.slice(0, 4)}/m`)).status, 401);
  assert.equal((await chat(`${gw.url}/v1`, keyC, `up${M.slice(0, 4)}/m`)).status, 401);
  assert.equal((await call(`${e.cloud_url}/${M}/v1/verify`, "GET", undefined, { authorization: `Bearer ${keyC}` })).status, 401);
  const machines = await gw.admin("GET", "/api/sync/machines");
  assert.ok(!machines.json.data.some((m) => m.machine_id === M));
  assert.equal((await gw.admin("DELETE", `/api/sync/enrollments/${e.id}`)).status, 404, "revoked once");
});

test("a machine idle past the expiry is deleted by the hourly cron; its enrollment can sync again", async () => {
  const e = await enroll(gw, "sleepy");
  const M = "dddd000000000004";
  const keyD = `sk-${M}-dddddd-44444444`;
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "POST", body(M, keyD, mockA))).status, 200);
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("UPDATE sync_machines SET last_sync_at = ?1 WHERE machine_id = ?2").bind(Date.now() - 31 * 86_400_000, M).run();
  await gw.scheduled();
  const machines = await gw.admin("GET", "/api/sync/machines");
  assert.ok(!machines.json.data.some((m) => m.machine_id === M), "expired");
  assert.ok(machines.json.data.some((m) => m.machine_id === A), "a machine that synced recently stays");
  assert.equal((await chat(`${gw.url}/${M}/v1`, keyD, `up${M.slice(0, 4)}/m`)).status, 401);
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "POST", body(M, keyD, mockA))).status, 200);
});

test("a client that asked before its first push is served right after it (no stale 'not bound' memory)", async () => {
  const C = "cccc000000000003";
  const keyC = `sk-${C}-cccccc-33333333`;
  const c = await enroll(gw, "machine C");
  const early = await call(`${c.cloud_url}/${C}/v1/verify`, "GET", undefined, { authorization: `Bearer ${keyC}` });
  assert.equal(early.status, 401, early.text);
  const pushed = await call(`${c.cloud_url}/sync/${C}`, "POST", body(C, keyC, mockA));
  assert.equal(pushed.status, 200, pushed.text);
  const now = await call(`${c.cloud_url}/${C}/v1/verify`, "GET", undefined, { authorization: `Bearer ${keyC}` });
  assert.deepEqual([now.status, now.json?.machineId], [200, C], now.text);
});
