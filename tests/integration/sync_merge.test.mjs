// Cloud sync never loses a user's data: each client's own merge (tests/support/sync_merges.mjs:
// OmniRoute 3.7.9, 3.8 with and without OMNIROUTE_CLOUD_SYNC_SECRETS, 9router) is applied to the
// gateway's actual answers over repeated pushes, with and without `return_secrets`. The client's rows
// must stay exactly as they were, except where the edge changed something on purpose (a cooldown it
// learnt), and then only the fields that say so; no token is ever replaced with nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, enroll, signatureValid } from "../support/sync_client.mjs";
import { CLIENTS } from "../support/sync_merges.mjs";

const UPSTREAM_KEY = "sk-upstream-merge-test";
let gw, mock;

before(async () => {
  gw = await startGateway();
  mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY, scripted: true });
});
after(async () => {
  await gw?.dispose();
  await mock?.close();
});

/** Local rows as OmniRoute keeps them (every merged column present, unset ones null). */
function localRows() {
  return [
    {
      id: "conn-claude", provider: "claude", authType: "oauth", name: "me@example.com", email: "me@example.com", priority: 1,
      isActive: true, accessToken: "sk-ant-oat01-local-access", refreshToken: "sk-ant-ort01-local-refresh",
      expiresAt: "2026-12-31T00:00:00.000Z", expiresIn: 28800, tokenType: "Bearer", scope: "user:inference",
      providerSpecificData: { subscriptionType: "max" }, testStatus: "active", lastError: "an earlier local error",
      lastErrorAt: "2026-11-01T10:00:00.000Z", errorCode: 500, rateLimitedUntil: null, updatedAt: "2026-11-20T10:00:00.000Z",
    },
    {
      id: "conn-api", provider: "openai", authType: "apikey", name: "work", priority: 2, isActive: true, apiKey: UPSTREAM_KEY,
      accessToken: null, refreshToken: null, expiresAt: null, expiresIn: null, providerSpecificData: { baseUrl: mock.url },
      testStatus: "active", lastError: null, lastErrorAt: null, errorCode: null, rateLimitedUntil: null,
      updatedAt: "2026-11-21T10:00:00.000Z",
    },
  ];
}

let machines = 0;
/** A fresh machine of `client` under a new enrollment: push() sends its rows and merges the answer. */
async function machine(clientName, returnSecrets) {
  const client = CLIENTS[clientName];
  const id = `4e7e${String(++machines).padStart(12, "0")}`;
  const key = `sk-${id}-abc123-0badc0de`;
  const e = await enroll(gw, `${clientName} ${returnSecrets}`, { return_secrets: returnSecrets });
  const rows = localRows();
  const push = async () => {
    const body = { providers: client.push(rows), modelAliases: {}, combos: [], apiKeys: [{ id: "key-1", name: "Default Key", key, isActive: true }] };
    const r = await call(`${e.cloud_url}/sync/${id}`, "POST", body);
    assert.equal(r.status, 200, r.text);
    assert.ok(signatureValid(e.signing_secret, r));
    client.merge(rows, r.json.data.providers);
    return r;
  };
  return { id, key, rows, push };
}

const CASES = Object.keys(CLIENTS).flatMap((c) => [false, true].map((s) => [c, s]));

for (const [clientName, returnSecrets] of CASES) {
  test(`${clientName}${returnSecrets ? ", return_secrets" : ""}: repeated pushes leave every local row exactly as it was`, async () => {
    const m = await machine(clientName, returnSecrets);
    const before = structuredClone(m.rows);
    for (let i = 0; i < 3; i++) {
      await m.push();
      assert.deepEqual(m.rows, before, `after push ${i + 1}`);
    }
  });
}

const COOLDOWN_FIELDS = ["testStatus", "lastError", "lastErrorAt", "errorCode", "rateLimitedUntil", "updatedAt"];

for (const [clientName, returnSecrets] of CASES) {
  test(`${clientName}${returnSecrets ? ", return_secrets" : ""}: a cooldown the edge learnt changes only the fields that report it, and no token`, async () => {
    const m = await machine(clientName, returnSecrets);
    const before = structuredClone(m.rows);
    await m.push();
    const limited = await call(`${gw.url}/${m.id}/v1/chat/completions`, "POST",
      { model: "openai/rate-limited", messages: [{ role: "user", content: "x" }] }, { authorization: `Bearer ${m.key}` });
    assert.equal(limited.status, 429, limited.text);
    // The cooldown reaches the shared resilience state in the background: push until it shows.
    let r;
    for (let i = 0; i < 40; i++) {
      r = await m.push();
      if (r.json.changes.fromWorker.includes("conn-api")) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.deepEqual(r.json.changes.fromWorker, ["conn-api"]);
    await m.push(); // and once more while it lasts
    const [claude, api] = m.rows;
    assert.deepEqual(claude, before[0], "the other connection is untouched");
    const unchanged = (row) => Object.fromEntries(Object.entries(row).filter(([k]) => !COOLDOWN_FIELDS.includes(k)));
    assert.deepEqual(unchanged(api), unchanged(before[1]), "tokens, key and settings are untouched");
    if (returnSecrets) {
      assert.equal(api.testStatus, "unavailable");
      assert.ok(Date.parse(api.rateLimitedUntil) > Date.now(), api.rateLimitedUntil);
      assert.equal(api.errorCode, 429);
      assert.match(api.lastError, /rate_limited/);
    } else {
      assert.deepEqual(api, before[1], "an enrollment without secrets cannot be told: no merge at all");
    }
  });
}
