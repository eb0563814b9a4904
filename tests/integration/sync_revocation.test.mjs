// Revocation made at the edge sticks: a synced key revoked by the operator does not come back with the
// machine's next push (nor after the machine is deleted and pushes again), is answered back as revoked,
// and a revoked secret from any tenant never becomes usable through a push. A synced key cannot be
// rotated at the edge (the machine owns it). A revoked enrollment's client is told so, in a signed
// answer: its disable (DELETE) succeeds, its pushes get a 401 that says why.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, enroll, signatureValid } from "../support/sync_client.mjs";

const UPSTREAM_KEY = "sk-upstream-revocation";
let gw, mock;

before(async () => {
  gw = await startGateway();
  mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY, scripted: false });
});
after(async () => {
  await gw?.dispose();
  await mock?.close();
});

function body(keys) {
  return {
    providers: [{ id: "conn-1", provider: "openai", authType: "apikey", name: "work", isActive: true, apiKey: UPSTREAM_KEY, providerSpecificData: { baseUrl: mock.url } }],
    modelAliases: {},
    combos: [],
    apiKeys: keys.map(([id, key]) => ({ id, name: id, key, isActive: true })),
  };
}

async function chat(machine, key) {
  const sdk = new OpenAI({ apiKey: key, baseURL: `${gw.url}/${machine}/v1`, maxRetries: 0 });
  try {
    await sdk.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    return 200;
  } catch (e) {
    return e.status;
  }
}

test("a key the operator revoked stays revoked through the machine's pushes, and is answered back as revoked", async () => {
  const M = "7e0c000000000001";
  const [kept, revoked] = [`sk-${M}-aaaaaa-11111111`, `sk-${M}-bbbbbb-22222222`];
  const e = await enroll(gw, "revocations");
  const push = () => call(`${e.cloud_url}/sync/${M}`, "POST", body([["key-kept", kept], ["key-revoked", revoked]]));
  assert.equal((await push()).status, 200);
  assert.equal(await chat(M, revoked), 200);
  const r = await gw.admin("DELETE", `/api/keys/${M}.key-revoked?tenant=${M}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(await chat(M, revoked), 401);
  for (let i = 0; i < 2; i++) {
    const answer = await push();
    assert.equal(answer.status, 200, answer.text);
    assert.ok(signatureValid(e.signing_secret, answer));
    const back = answer.json.data.apiKeys.find((k) => k.id === "key-revoked");
    assert.equal(back.isActive, false);
    assert.ok(Date.parse(back.revokedAt) <= Date.now(), back.revokedAt);
    assert.equal(answer.json.data.apiKeys.find((k) => k.id === "key-kept").isActive, true);
    assert.equal(await chat(M, revoked), 401, `after push ${i + 1}`);
    assert.equal(await chat(M, kept), 200);
  }
  const status = (await gw.admin("GET", "/api/sync/machines")).json.data.find((m) => m.machine_id === M);
  const why = status.unservable.find((u) => u.id === "key-revoked");
  assert.match(why.reason, /revoked at the edge/);
  assert.equal(status.served.api_keys, 1);
  const listed = (await gw.admin("GET", `/api/keys?tenant=${M}`)).json.data.find((k) => k.id === `${M}.key-revoked`);
  assert.ok(listed?.revoked_at, "still listed as revoked");
  // The machine disables sync (its data is deleted) and enables it again: still revoked.
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "DELETE")).status, 200);
  assert.equal((await push()).status, 200);
  assert.equal(await chat(M, revoked), 401, "after the machine's data was deleted and pushed again");
  assert.equal(await chat(M, kept), 200);
});

test("a secret revoked in another tenant never becomes usable through a push, under any id", async () => {
  const own = await gw.admin("POST", "/api/keys", { name: "the gateway's own" });
  assert.equal(own.status, 201, own.text);
  assert.equal((await gw.admin("DELETE", `/api/keys/${own.json.id}`)).status, 200);
  const M = "7e0c000000000002";
  const e = await enroll(gw, "reuse");
  const r = await call(`${e.cloud_url}/sync/${M}`, "POST", body([["key-reused", own.json.key]]));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.data.apiKeys[0].isActive, false);
  assert.equal(await chat(M, own.json.key), 401);
});

test("a synced key is rotated by its machine, not at the edge", async () => {
  const M = "7e0c000000000003";
  const key = `sk-${M}-cccccc-33333333`;
  const e = await enroll(gw, "rotation");
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "POST", body([["key-1", key]]))).status, 200);
  const r = await gw.admin("POST", `/api/keys/${M}.key-1/rotate?tenant=${M}`);
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error.code, "synced_key");
  assert.equal(await chat(M, key), 200, "the key still works");
});

test("a revoked enrollment's client is told so in a signed answer: disabling succeeds, pushing gets a 401 that says why", async () => {
  const M = "7e0c000000000004";
  const e = await enroll(gw, "to revoke");
  assert.equal((await call(`${e.cloud_url}/sync/${M}`, "POST", body([]))).status, 200);
  assert.equal((await gw.admin("DELETE", `/api/sync/enrollments/${e.id}`)).status, 200);
  const pushed = await call(`${e.cloud_url}/sync/${M}`, "POST", body([]));
  assert.equal(pushed.status, 401);
  assert.equal(pushed.json.code, "enrollment_revoked");
  assert.match(pushed.json.error, /revoked/);
  assert.ok(signatureValid(e.signing_secret, pushed), "signed, so a client that checks signatures shows the reason");
  const disabled = await call(`${e.cloud_url}/sync/${M}`, "DELETE");
  assert.equal(disabled.status, 200, disabled.text);
  assert.equal(disabled.json.success, true);
  assert.ok(signatureValid(e.signing_secret, disabled));
  // Another machine id under the revoked token, or a token never issued: a plain 401.
  assert.equal((await call(`${e.cloud_url}/sync/7e0c000000000099`, "DELETE")).status, 401);
  const forged = e.cloud_url.replace(/oes_.{4}/, "oes_AAAA");
  assert.equal((await call(`${forged}/sync/${M}`, "DELETE")).status, 401);
});
