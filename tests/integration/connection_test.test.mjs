// A connection's live test (POST /api/providers/{id}/test): one tiny call through that account in
// its provider's own format, answering whether it works and, if not, why, without touching
// routing, limits or the request log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";

let gw, openai, anthropic;

before(async () => {
  openai = await startMockOpenAI();
  anthropic = await startMockAnthropic();
  gw = await startGateway({ assets: false });
});
after(async () => { await gw?.dispose(); await openai?.close(); await anthropic?.close(); });

test("a working account answers ok, in its provider's own format, and is not logged as a request", async () => {
  const conn = await gw.connect("openai", openai);
  const calls = openai.requests.length;
  const r = await gw.admin("POST", `/api/providers/${conn.id}/test`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.status, 200);
  assert.equal(r.json.provider, "openai");
  assert.ok(r.json.latency_ms >= 0);
  assert.equal(r.json.error, null);
  assert.equal(openai.requests.length, calls + 1);
  const sent = openai.requests.at(-1);
  assert.equal(sent.path, "/v1/chat/completions");
  assert.equal(sent.body.model, r.json.model);

  const claude = await gw.connect("anthropic", anthropic);
  const a = await gw.admin("POST", `/api/providers/${claude.id}/test`, { model: "claude-sonnet-4-5" });
  assert.equal(a.status, 200, a.text);
  assert.deepEqual([a.json.ok, a.json.model], [true, "claude-sonnet-4-5"]);
  assert.equal(anthropic.requests.at(-1).path, "/v1/messages");

  await new Promise((res) => setTimeout(res, 300));
  const logs = await gw.admin("GET", "/api/logs");
  assert.equal(logs.json.data.length, 0, "a test call is not a client's request");
});

test("a refused credential is reported with the upstream's reason, not as an error of the call", async () => {
  const conn = await gw.addConnection({ provider: "openai", name: "wrong", api_key: "sk-not-the-right-key-123", base_url: openai.url });
  const r = await gw.admin("POST", `/api/providers/${conn.id}/test`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.ok, r.json.status, r.json.error.code], [false, 401, "upstream_auth_failed"]);
  assert.match(r.json.error.message, /Incorrect API key/);
  assert.ok(!r.text.includes("sk-not-the-right-key-123"), "the credential is never echoed");
});

test("an unreachable upstream, an unknown connection and a bad body", async () => {
  const conn = await gw.addConnection({ provider: "openai", name: "down", api_key: "sk-whatever-000000", base_url: "http://127.0.0.1:9/v1" });
  const down = await gw.admin("POST", `/api/providers/${conn.id}/test`);
  assert.equal(down.status, 200, down.text);
  assert.deepEqual([down.json.ok, down.json.status], [false, null]);
  assert.ok(down.json.error.message.length > 0);
  assert.equal((await gw.admin("POST", "/api/providers/conn_nope/test")).status, 404);
  const typo = await gw.admin("POST", `/api/providers/${conn.id}/test`, { modle: "x" });
  assert.equal(typo.status, 400);
});
