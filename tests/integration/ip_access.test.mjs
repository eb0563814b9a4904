// IP allow and block lists for /v1 (issue 10): a tenant's keys work only from the client addresses
// its settings allow (CF-Connecting-IP, CIDR ranges, IPv4 and IPv6); a refused request gets a 403 in
// the client's own format and makes no upstream call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { WebSocket } from "ws";

let gw, key, upstream;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", upstream);
  key = await gw.createKey("ip");
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

const chat = (ip, path = "/v1/chat/completions", body = { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) =>
  fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(ip ? { "cf-connecting-ip": ip } : {}) },
    body: JSON.stringify(body),
  });

test("an allow list admits its ranges only; a block list wins over it", async () => {
  const set = await gw.admin("PATCH", "/api/settings", { v1_ip_allow: ["203.0.113.0/24", "2001:db8::/32"], v1_ip_block: ["203.0.113.66"] });
  assert.equal(set.status, 200, set.text);
  const calls = upstream.requests.length;
  assert.equal((await chat("203.0.113.9")).status, 200);
  assert.equal((await chat("2001:db8:5::1")).status, 200);
  const refused = await chat("198.51.100.1");
  assert.equal(refused.status, 403);
  const err = await refused.json();
  assert.equal(err.error.code, "ip_not_allowed");
  assert.equal((await chat("203.0.113.66")).status, 403, "blocked inside the allowed range");
  const anthropic = await chat("198.51.100.1", "/v1/messages", { model: "openai/gpt-4o-mini", max_tokens: 5, messages: [{ role: "user", content: "x" }] });
  assert.equal(anthropic.status, 403);
  const a = await anthropic.json();
  assert.equal(a.type, "error");
  assert.equal(a.error.type, "permission_error");
  assert.equal(upstream.requests.length, calls + 2, "refused requests make no upstream call");
  const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": "198.51.100.1" } });
  assert.equal(models.status, 403);
});

test("malformed entries are refused when set, naming the entry; empty lists open /v1 again", async () => {
  const bad = await gw.admin("PATCH", "/api/settings", { v1_ip_block: ["10.0.0/8"] });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /10\.0\.0\/8/);
  assert.equal((await gw.admin("PATCH", "/api/settings", { v1_ip_allow: [], v1_ip_block: [] })).status, 200);
  assert.equal((await chat("198.51.100.1")).status, 200);
});

test("the Responses WebSocket, stored responses and /v1/verify follow the lists too, each turn again", async () => {
  const headers = (ip) => ({ authorization: `Bearer ${key}`, "cf-connecting-ip": ip });
  assert.equal((await gw.admin("PATCH", "/api/settings", { v1_ip_allow: ["203.0.113.0/24"], v1_ip_block: [] })).status, 200);
  const upgrade = (ip) => new Promise((resolve) => {
    const raw = new WebSocket(`${gw.url.replace("http", "ws")}/v1/responses`, { headers: headers(ip) });
    raw.on("unexpected-response", (_, res) => resolve({ status: res.statusCode }));
    raw.on("open", () => resolve({ status: 101, raw }));
    raw.on("error", () => {});
  });
  assert.equal((await upgrade("198.51.100.1")).status, 403);
  for (const path of ["/v1/responses/resp_none", "/v1/verify"]) {
    const r = await fetch(`${gw.url}${path}`, { headers: headers("198.51.100.1") });
    assert.equal(r.status, 403, path);
    assert.equal((await r.json()).error.code, "ip_not_allowed", path);
  }
  // A socket opened from an allowed address: a turn after the list stops admitting it is refused.
  const { status, raw } = await upgrade("203.0.113.9");
  assert.equal(status, 101);
  const turn = () => new Promise((resolve) => {
    const onMessage = (data) => {
      const e = JSON.parse(data.toString());
      if (["response.completed", "response.failed", "error"].includes(e.type)) { raw.off("message", onMessage); resolve(e); }
    };
    raw.on("message", onMessage);
    raw.send(JSON.stringify({ type: "response.create", model: "openai/gpt-4o-mini", input: "hi" }));
  });
  assert.equal((await turn()).type, "response.completed");
  assert.equal((await gw.admin("PATCH", "/api/settings", { v1_ip_block: ["203.0.113.9"] })).status, 200);
  const calls = upstream.requests.length;
  const refused = await turn();
  assert.deepEqual([refused.type, refused.status, refused.error.code], ["error", 403, "ip_not_allowed"]);
  assert.equal(upstream.requests.length, calls, "no upstream call");
  raw.close();
  assert.equal((await gw.admin("PATCH", "/api/settings", { v1_ip_allow: [], v1_ip_block: [] })).status, 200);
});
