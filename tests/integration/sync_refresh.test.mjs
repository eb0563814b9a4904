// Who refreshes a synced subscription account (docs/cloud-sync.md, "Who refreshes a synced account"),
// against a scripted rotating token endpoint (tests/support/mock_oauth_tokens.mjs): with
// `return_secrets` the edge refreshes ahead of expiry (hourly cron) and the next push's answer brings
// the new tokens, which the client's own merge takes and which work; without it the edge never
// refreshes, says the laptop does, and the laptop's token keeps working. A failed refresh changes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startTokenEndpoint } from "../support/mock_oauth_tokens.mjs";
import { call, enroll, signatureValid } from "../support/sync_client.mjs";
import { CLIENTS } from "../support/sync_merges.mjs";

let gw, tokens;

before(async () => {
  tokens = await startTokenEndpoint({ expiresIn: 8 * 3600 });
  gw = await startGateway({ bindings: { OAUTH_TOKEN_URLS: JSON.stringify({ codex: tokens.url }) } });
});
after(async () => {
  await gw?.dispose();
  await tokens?.close();
});

/** A Codex login in OmniRoute's database whose access token expires in `minutes`. */
function codexRow(login, minutes) {
  return {
    id: "conn-codex", provider: "codex", authType: "oauth", name: "me@example.com", email: "me@example.com", priority: 1, isActive: true,
    accessToken: login.accessToken, refreshToken: login.refreshToken, expiresAt: new Date(Date.now() + minutes * 60_000).toISOString(),
    expiresIn: 864000, providerSpecificData: { chatgptAccountId: "acct-1", planType: "pro" }, testStatus: "active", lastError: null,
    lastErrorAt: null, errorCode: null, rateLimitedUntil: null, updatedAt: new Date(Date.now() - 3_600_000).toISOString(),
  };
}

let machines = 0;
async function machine(clientName, returnSecrets, row) {
  const client = CLIENTS[clientName];
  const id = `5e1f${String(++machines).padStart(12, "0")}`;
  const e = await enroll(gw, `refresh ${clientName} ${returnSecrets}`, { return_secrets: returnSecrets });
  const rows = [row];
  const push = async () => {
    const r = await call(`${e.cloud_url}/sync/${id}`, "POST", { providers: client.push(rows), modelAliases: {}, combos: [], apiKeys: [] });
    assert.equal(r.status, 200, r.text);
    assert.ok(signatureValid(e.signing_secret, r));
    client.merge(rows, r.json.data.providers);
    return r;
  };
  const account = async () => (await gw.admin("GET", "/api/sync/machines")).json.data.find((m) => m.machine_id === id).accounts[0];
  return { id, rows, push, account };
}

const TAKE_TOKENS = ["OmniRoute 3.7.9", "OmniRoute 3.8 with OMNIROUTE_CLOUD_SYNC_SECRETS=true", "9router"];

for (const clientName of TAKE_TOKENS) {
  test(`${clientName}, return_secrets: the edge refreshes a rotating account ahead of expiry, and the client ends up with the new tokens, which work`, async () => {
    const login = tokens.login();
    const m = await machine(clientName, true, codexRow(login, 30));
    const before = structuredClone(m.rows);
    await m.push();
    assert.deepEqual(m.rows, before, "nothing to tell yet");
    assert.equal((await m.account()).refreshed_by, "edge");
    const calls = tokens.requests.length;
    await gw.scheduled();
    const sent = tokens.requests.slice(calls);
    assert.equal(sent.length, 1, "one refresh");
    assert.deepEqual(sent[0].form, { grant_type: "refresh_token", refresh_token: login.refreshToken, client_id: "app_EMoamEEZ73f0CkXaXp7hrann" });
    assert.equal(tokens.works(login.refreshToken), false, "the laptop's refresh token is spent now");
    // The client pushes its stale copy: the edge's tokens win and come back to it.
    const r = await m.push();
    assert.deepEqual(r.json.changes.fromWorker, ["conn-codex"]);
    const [row] = m.rows;
    assert.notEqual(row.accessToken, login.accessToken);
    assert.ok(tokens.works(row.refreshToken), "the client's refresh token is the live one");
    assert.ok(Date.parse(row.expiresAt) > Date.parse(before[0].expiresAt) + 6 * 3600_000, row.expiresAt);
    const same = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => !["accessToken", "refreshToken", "expiresAt", "expiresIn", "updatedAt"].includes(k)));
    assert.deepEqual(same(row), same(before[0]), "nothing else changed");
    assert.equal((await m.account()).expires_at, Date.parse(row.expiresAt));
    // From now on the client pushes the new tokens: nothing more to tell, nothing refreshed again.
    const now = structuredClone(m.rows);
    await m.push();
    assert.deepEqual(m.rows, now);
    await gw.scheduled();
    assert.equal(tokens.requests.length, calls + 1, "not due again for hours");
  });
}

test("without return_secrets the laptop refreshes: the edge never calls the token endpoint, says so, and the laptop's token keeps working", async () => {
  const login = tokens.login();
  const m = await machine("OmniRoute 3.7.9", false, codexRow(login, 30));
  const before = structuredClone(m.rows);
  await m.push();
  const calls = tokens.requests.length;
  await gw.scheduled();
  assert.equal(tokens.requests.length, calls, "no refresh at the edge");
  assert.ok(tokens.works(login.refreshToken));
  const account = await m.account();
  assert.equal(account.refreshed_by, "laptop");
  assert.equal(account.expires_at, Date.parse(before[0].expiresAt), "usable at the edge only until then");
  await m.push();
  assert.deepEqual(m.rows, before);
});

test("a refresh the token endpoint refuses changes nothing the client has", async () => {
  const m = await machine("OmniRoute 3.7.9", true, codexRow({ accessToken: "at-never-issued-0001", refreshToken: "rt-never-issued-0001" }, 10));
  const before = structuredClone(m.rows);
  await m.push();
  const calls = tokens.requests.length;
  await gw.scheduled();
  assert.equal(tokens.requests.length, calls + 1, "tried once");
  const r = await m.push();
  assert.deepEqual(r.json.changes.fromWorker, []);
  assert.deepEqual(m.rows, before);
});
