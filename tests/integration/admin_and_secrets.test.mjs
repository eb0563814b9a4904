// The admin API: auth, validation, and that secrets are never stored or shown in plaintext.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, upstream;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway();
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

test("the admin API requires the admin secret", async () => {
  for (const [method, path] of [["GET", "/api/providers"], ["POST", "/api/keys"], ["GET", "/api/settings"], ["GET", "/api/stats"]]) {
    const none = await fetch(`${gw.url}${path}`, { method });
    assert.equal(none.status, 401, `${method} ${path}`);
    const wrong = await gw.admin(method, path, method === "POST" ? { name: "x" } : undefined, { secret: "nope" });
    assert.equal(wrong.status, 401, `${method} ${path}`);
  }
});

test("a gateway API key is not an admin secret", async () => {
  const key = await gw.createKey("not-admin");
  const r = await gw.admin("GET", "/api/providers", undefined, { secret: key });
  assert.equal(r.status, 401);
});

test("provider credentials are encrypted at rest and never returned", async () => {
  const secret = "sk-live-provider-SECRET-value-1234";
  const created = await gw.addConnection({ provider: "openai", api_key: secret, base_url: upstream.url, name: "main" });
  assert.equal(created.api_key_hint, "…1234");
  assert.ok(!JSON.stringify(created).includes(secret));
  const listed = await gw.admin("GET", "/api/providers");
  assert.ok(!listed.text.includes(secret));
  assert.ok(!listed.text.includes("api_key_enc"));

  const db = await gw.mf.getD1Database("DB");
  const row = await db.prepare("SELECT api_key_enc FROM provider_connections WHERE id = ?").bind(created.id).first();
  assert.match(row.api_key_enc, /^v1\./);
  assert.ok(!row.api_key_enc.includes(secret));
  const dump = JSON.stringify(await db.prepare("SELECT * FROM provider_connections").all());
  assert.ok(!dump.includes(secret), "no column holds the plaintext");

  const kv = await gw.mf.getKVNamespace("CONFIG_CACHE");
  const snap = await kv.get("cfg/v1/tenant/default");
  assert.ok(snap && !snap.includes(secret), "the KV snapshot holds only ciphertext");
  await gw.admin("DELETE", `/api/providers/${created.id}`);
});

test("gateway API keys are shown once and stored only as an HMAC", async () => {
  const r = await gw.admin("POST", "/api/keys", { name: "ci" });
  assert.equal(r.status, 201);
  const key = r.json.key;
  assert.match(key, /^sk-oe-[A-Za-z0-9_-]{43}$/);
  const listed = await gw.admin("GET", "/api/keys");
  assert.ok(!listed.text.includes(key));
  assert.ok(listed.json.data.some((k) => k.id === r.json.id && key.startsWith(k.key_prefix)));
  const db = await gw.mf.getD1Database("DB");
  const rows = JSON.stringify(await db.prepare("SELECT * FROM api_keys").all());
  assert.ok(!rows.includes(key));
  const stored = await db.prepare("SELECT key_hash FROM api_keys WHERE id = ?").bind(r.json.id).first();
  assert.match(stored.key_hash, /^[0-9a-f]{64}$/);
});

test("a revoked key stops working at once", async () => {
  const conn = await gw.connect("openai", upstream);
  const r = await gw.admin("POST", "/api/keys", { name: "short-lived" });
  const call = () => fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${r.json.key}` } });
  assert.equal((await call()).status, 200);
  assert.equal((await gw.admin("DELETE", `/api/keys/${r.json.id}`)).status, 200);
  assert.equal((await call()).status, 401);
  assert.equal((await gw.admin("DELETE", `/api/keys/${r.json.id}`)).status, 404, "revoking twice is a 404");
  await gw.admin("DELETE", `/api/providers/${conn.id}`);
});

test("connection input is validated; private base URLs need ALLOW_PRIVATE_UPSTREAMS", async () => {
  const bad = [
    [{ provider: "nope", api_key: "k" }, "provider"],
    [{ provider: "openai", api_key: "" }, "api_key"],
    [{ provider: "openai", api_key: "k", base_url: "ftp://x" }, "base_url"],
    [{ provider: "openai", api_key: "k", priority: -5 }, "priority"],
  ];
  for (const [body, param] of bad) {
    const r = await gw.admin("POST", "/api/providers", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.param, param);
  }
  const notJson = await gw.admin("POST", "/api/providers", "{oops");
  assert.equal(notJson.status, 400);

  const strict = await startGateway({ bindings: { ALLOW_PRIVATE_UPSTREAMS: "false" } });
  try {
    const r = await strict.admin("POST", "/api/providers", { provider: "openai", api_key: "k", base_url: upstream.url });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /private/);
    const ok = await strict.admin("POST", "/api/providers", { provider: "openai", api_key: "k", base_url: "https://api.example.com/v1" });
    assert.equal(ok.status, 201);
  } finally {
    await strict.dispose();
  }
});

test("connections can be updated, deactivated and deleted", async () => {
  const key = await gw.createKey();
  const c = await gw.addConnection({ provider: "openai", api_key: "sk-wrong", base_url: upstream.url });
  const chat = () => fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal((await chat()).status, 502, "wrong upstream key");
  const fixed = await gw.admin("PATCH", `/api/providers/${c.id}`, { api_key: upstream.apiKey });
  assert.equal(fixed.status, 200);
  assert.equal(fixed.json.api_key_hint, "…test");
  assert.equal((await chat()).status, 200, "the new key is used at once");
  assert.equal((await gw.admin("PATCH", `/api/providers/${c.id}`, { is_active: false })).status, 200);
  assert.equal((await chat()).status, 404, "inactive connections are not used");
  assert.equal((await gw.admin("PATCH", `/api/providers/${c.id}`, { priority: 1e9 })).status, 400);
  assert.equal((await gw.admin("DELETE", `/api/providers/${c.id}`)).status, 200);
  assert.equal((await gw.admin("DELETE", `/api/providers/${c.id}`)).status, 404);
  assert.equal((await gw.admin("PATCH", `/api/providers/${c.id}`, { name: "x" })).status, 404);
});

test("settings are validated and unknown tenants refused", async () => {
  assert.equal((await gw.admin("PATCH", "/api/settings", { nope: 1 })).status, 400);
  assert.equal((await gw.admin("PATCH", "/api/settings", { upstream_timeout_ms: 5 })).status, 400);
  const s = await gw.admin("GET", "/api/settings");
  assert.equal(s.json.upstream_timeout_ms, 120000);
  assert.equal((await gw.admin("GET", "/api/providers?tenant=ghost")).status, 404);
  assert.equal((await gw.admin("GET", "/api/providers?tenant=bad%20id")).status, 400);
});

test("the provider catalog lists built-in providers", async () => {
  const r = await gw.admin("GET", "/api/providers/catalog");
  const ids = r.json.data.map((p) => p.id);
  for (const id of ["openai", "deepseek", "groq", "openrouter", "mistral"]) assert.ok(ids.includes(id), id);
});
