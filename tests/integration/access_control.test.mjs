// Instance-wide access control (issue 10): management IP lists (the sign-in included; owner only;
// no one locks themselves out), CORS origins for /v1 (refused origins get a 403 in the client's
// format and no CORS headers; allowed ones are echoed), the management API never cross-origin, and
// 405 answers that name the methods a path takes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, ADMIN_SECRET } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, key, upstream;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", upstream);
  key = await gw.createKey("cors");
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

/** A management call as the owner's script from client address `ip`. */
async function adminFrom(ip, method, path, body) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_SECRET}`, "cf-connecting-ip": ip, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

const chat = (headers = {}, path = "/v1/chat/completions", body = { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) =>
  fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

test("management IP lists refuse other addresses everywhere under /api, the sign-in included", async () => {
  const me = "198.51.100.7";
  const lockout = await adminFrom(me, "PATCH", "/api/settings", { admin_ip_allow: ["203.0.113.0/24"] });
  assert.equal(lockout.status, 400);
  assert.equal(lockout.json.error.code, "would_lock_out");
  const set = await adminFrom(me, "PATCH", "/api/settings", { admin_ip_allow: ["198.51.100.0/24", "2001:db8::/32"], admin_ip_block: ["198.51.100.66"] });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  try {
    assert.equal((await adminFrom("2001:db8::9", "GET", "/api/keys")).status, 200);
    for (const ip of ["203.0.113.5", "198.51.100.66"]) {
      const refused = await adminFrom(ip, "GET", "/api/keys");
      assert.equal(refused.status, 403, ip);
      assert.equal(refused.json.error.code, "ip_not_allowed");
      const login = await fetch(`${gw.url}/api/auth/login`, {
        method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": ip }, body: JSON.stringify({ password: ADMIN_SECRET }),
      });
      assert.equal(login.status, 403, "the sign-in is refused before the password is checked");
      assert.equal(login.headers.get("set-cookie"), null);
    }
    // /v1 has its own lists: the management lists do not touch it.
    assert.equal((await chat({ "cf-connecting-ip": "203.0.113.5" })).status, 200);
  } finally {
    const open = await adminFrom(me, "PATCH", "/api/settings", { admin_ip_allow: [], admin_ip_block: [] });
    assert.equal(open.status, 200);
  }
  assert.equal((await adminFrom("203.0.113.5", "GET", "/api/keys")).status, 200);
});

test("instance settings are the owner's, in the default tenant only", async () => {
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('other', 'other', 0)").run();
  const elsewhere = await gw.admin("PATCH", "/api/settings?tenant=other", { cors_origins: ["https://a.example"] });
  assert.equal(elsewhere.status, 400);
  assert.equal(elsewhere.json.error.param, "cors_origins");
  const password = "operator-password-1";
  assert.equal((await gw.admin("POST", "/api/auth/operators", { tenant: "default", name: "ops", password })).status, 201);
  const login = await fetch(`${gw.url}/api/auth/login`, {
    method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.40" }, body: JSON.stringify({ name: "ops", password }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get("set-cookie").split(";")[0];
  const patch = (body) => fetch(`${gw.url}/api/settings`, {
    method: "PATCH", headers: { cookie, origin: gw.url, "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const refused = await patch({ admin_ip_block: ["10.0.0.0/8"] });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.param, "admin_ip_block");
  assert.equal((await patch({ sticky_limit: 4 })).status, 200, "an operator still edits the tenant's own settings");
  const bad = await gw.admin("PATCH", "/api/settings", { cors_origins: ["https://a.example/path"] });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /a\.example\/path/);
});

test("by default any web origin may call /v1; a list admits its origins only, in each client's format", async () => {
  const open = await chat({ origin: "https://anything.example" });
  assert.equal(open.status, 200);
  assert.equal(open.headers.get("access-control-allow-origin"), "*");
  const set = await gw.admin("PATCH", "/api/settings", { cors_origins: ["https://app.example.com", "https://*.corp.example"] });
  assert.equal(set.status, 200, set.text);
  try {
    const calls = upstream.requests.length;
    for (const origin of ["https://app.example.com", "https://team.corp.example"]) {
      const ok = await chat({ origin });
      assert.equal(ok.status, 200, origin);
      assert.equal(ok.headers.get("access-control-allow-origin"), origin);
      assert.match(ok.headers.get("vary") ?? "", /Origin/);
      await ok.text();
      const streamed = await chat({ origin }, "/v1/chat/completions", { model: "openai/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] });
      assert.equal(streamed.headers.get("access-control-allow-origin"), origin, "streams too");
      await streamed.text();
    }
    const refused = await chat({ origin: "https://evil.example" });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    assert.equal((await refused.json()).error.code, "cors_origin_refused");
    const anthropic = await chat({ origin: "https://evil.example" }, "/v1/messages", { model: "openai/gpt-4o-mini", max_tokens: 5, messages: [{ role: "user", content: "x" }] });
    assert.equal(anthropic.status, 403);
    const a = await anthropic.json();
    assert.deepEqual([a.type, a.error.type], ["error", "permission_error"]);
    const gemini = await chat({ origin: "https://evil.example" }, "/v1beta/models/openai%2Fgpt-4o-mini:generateContent", { contents: [{ parts: [{ text: "x" }] }] });
    assert.equal(gemini.status, 403);
    assert.equal((await gemini.json()).error.status, "PERMISSION_DENIED");
    assert.equal(upstream.requests.length, calls + 4, "refused origins make no upstream call");
    // Clients that are not browsers send no Origin and are not affected.
    assert.equal((await chat()).status, 200);

    const preflight = (origin, path = "/v1/chat/completions") => fetch(`${gw.url}${path}`, {
      method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    const yes = await preflight("https://app.example.com");
    assert.equal(yes.status, 204);
    assert.equal(yes.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.match(yes.headers.get("access-control-allow-headers"), /authorization/);
    const no = await preflight("https://evil.example");
    assert.equal(no.status, 403);
    assert.equal(no.headers.get("access-control-allow-origin"), null);
  } finally {
    assert.equal((await gw.admin("PATCH", "/api/settings", { cors_origins: ["*"] })).status, 200);
  }
});

test("the management API never answers cross-origin", async () => {
  const pre = await fetch(`${gw.url}/api/keys`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
  assert.equal(pre.status, 403);
  assert.equal(pre.headers.get("access-control-allow-origin"), null);
  const read = await fetch(`${gw.url}/api/keys`, { headers: { authorization: `Bearer ${ADMIN_SECRET}`, origin: "https://evil.example" } });
  assert.equal(read.status, 200);
  assert.equal(read.headers.get("access-control-allow-origin"), null, "a browser on another site cannot read the answer");
});

test("a known path with another method is a 405 that names the methods it takes", async () => {
  for (const [method, path, allow] of [["PUT", "/api/keys", "GET, POST"], ["GET", "/api/keys/key_x", "PATCH, DELETE"], ["POST", "/api/settings", "GET, PATCH"], ["PATCH", "/api/sync/machines", "GET"]]) {
    const r = await gw.admin(method, path, method === "GET" ? undefined : {});
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
  }
  assert.equal((await gw.admin("GET", "/api/nothing-here")).status, 404);
});
