// Stored settings outlive the code that wrote them. Settings a newer version added are ignored and
// the rest still applies; a guard whose stored value does not decode (an address list, the CORS
// origins, the system prompt, the body bound) refuses what it guards (403 `settings_unreadable`)
// instead of taking its open default, until an administrator sets it again. A damaged management
// list still lets the owner's ADMIN_SECRET through, so it can be repaired. Rows are written here
// directly into D1, as another version (or damage) would leave them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

const t = gatewayWithOpenAI();
let cookie;

// A refusal may come before the body is read, and the runtime may then reset a reused connection
// (UND_ERR_SOCKET or ECONNRESET before any answer): such a request is sent again on a new one.
const send = (url, init) => fetch(url, init).catch((e) =>
  (["UND_ERR_SOCKET", "ECONNRESET"].includes(e.cause?.code) ? fetch(url, init) : Promise.reject(e)));
const chat = (headers = {}) => send(`${t.gw.url}/v1/chat/completions`, {
  method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json", ...headers },
  body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
}).then(async (r) => ({ status: r.status, body: await r.json(), headers: r.headers }));
const signIn = () => send(`${t.gw.url}/api/auth/login`, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "ops-stored", password: "operator-password-1" }),
});
const asOperator = () => send(`${t.gw.url}/api/settings`, { headers: { cookie } });

/** Writes the default tenant's stored settings as `edit` leaves them, and waits until requests read them. */
async function storeSettings(edit) {
  const db = await t.gw.mf.getD1Database("DB");
  const row = await db.prepare("SELECT value FROM settings WHERE tenant_id = 'default'").first();
  const value = row ? JSON.parse(row.value) : {};
  await db.prepare("INSERT INTO settings (tenant_id, value, updated_at) VALUES ('default', ?1, 0) ON CONFLICT (tenant_id) DO UPDATE SET value = excluded.value")
    .bind(edit(value)).run();
  await (await t.gw.mf.getKVNamespace("CONFIG_CACHE")).delete("cfg/v1/tenant/default");
  // Wait out the isolate's freshness window, so the next requests read D1.
  await new Promise((r) => setTimeout(r, 10_500));
}

test("stored settings: setup (an operator signed in, settings saved once)", async () => {
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { sticky_limit: 3 })).status, 200);
  const ops = await t.gw.admin("POST", "/api/auth/operators", { tenant: "default", name: "ops-stored", password: "operator-password-1" });
  assert.equal(ops.status, 201, ops.text);
  const login = await signIn();
  assert.equal(login.status, 200);
  cookie = login.headers.get("set-cookie").split(";")[0];
  assert.equal((await asOperator()).status, 200);
});

test("damaged address lists and origins refuse what they guard, not open it; ADMIN_SECRET repairs them", async () => {
  await storeSettings((v) => JSON.stringify({
    ...v, v1_ip_allow: "203.0.113.0/24", admin_ip_allow: { ranges: ["203.0.113.0/24"] }, cors_origins: "https://app.example",
  }));
  const calls = t.upstream.requests.length;
  const v1 = await chat({ "cf-connecting-ip": "198.51.100.1" });
  assert.equal(v1.status, 403, JSON.stringify(v1.body));
  assert.equal(v1.body.error.code, "settings_unreadable");
  assert.match(v1.body.error.message, /`v1_ip_allow`/);
  const browser = await chat({ origin: "https://anything.example" });
  assert.equal(browser.status, 403);
  assert.equal(browser.body.error.code, "cors_origin_refused");
  assert.equal(browser.headers.get("access-control-allow-origin"), null);
  assert.equal(t.upstream.requests.length, calls, "refused requests make no upstream call");
  // The management API: sessions and sign-ins refused, the owner's secret still let through.
  const session = await asOperator();
  assert.equal(session.status, 403);
  assert.equal((await session.json()).error.code, "settings_unreadable");
  assert.equal((await signIn()).status, 403);
  const shown = await t.gw.admin("GET", "/api/settings");
  assert.equal(shown.status, 200, shown.text);
  assert.deepEqual(shown.json.unreadable, ["admin_ip_allow", "cors_origins", "v1_ip_allow"]);
  // Another setting's change keeps them refused; setting them again clears each.
  const other = await t.gw.admin("PATCH", "/api/settings", { sticky_limit: 4 });
  assert.equal(other.status, 200, other.text);
  assert.deepEqual(other.json.unreadable, ["admin_ip_allow", "cors_origins", "v1_ip_allow"]);
  assert.equal((await chat()).body.error.code, "settings_unreadable");
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { unreadable: [] })).json.error.param, "unreadable");
  const repaired = await t.gw.admin("PATCH", "/api/settings", { v1_ip_allow: [], admin_ip_allow: [], cors_origins: ["*"] });
  assert.equal(repaired.status, 200, repaired.text);
  assert.equal(repaired.json.unreadable, undefined);
  assert.equal((await chat({ origin: "https://anything.example" })).status, 200);
  assert.equal((await asOperator()).status, 200);
});

test("a damaged system prompt or block list refuses the tenant's keys", async () => {
  await storeSettings((v) => JSON.stringify({ ...v, system_prompt: { text: "Never reveal the codename." }, v1_ip_block: 7 }));
  const v1 = await chat();
  assert.equal(v1.status, 403, JSON.stringify(v1.body));
  assert.equal(v1.body.error.code, "settings_unreadable");
  assert.match(v1.body.error.message, /`system_prompt`, `v1_ip_block`/);
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { system_prompt: "", v1_ip_block: [] })).status, 200);
  assert.equal((await chat()).status, 200);
});

test("settings a newer version wrote, with fields this one does not know, still apply", async () => {
  await storeSettings((v) => JSON.stringify({
    ...v, v1_ip_block: ["198.51.100.7"], v1_ip_geo: { allow: ["EU"] }, admin_mfa: { required: true },
  }));
  assert.equal((await chat({ "cf-connecting-ip": "203.0.113.9" })).status, 200);
  const blocked = await chat({ "cf-connecting-ip": "198.51.100.7" });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body.error.code, "ip_not_allowed");
  assert.equal((await asOperator()).status, 200);
  assert.equal((await t.gw.admin("GET", "/api/settings")).json.unreadable, undefined);
});

test("an archive exported while a guard could not be read keeps it refused when imported", async () => {
  // The export reads D1, so the damage need not reach the request path first.
  const db = await t.gw.mf.getD1Database("DB");
  const { value } = await db.prepare("SELECT value FROM settings WHERE tenant_id = 'default'").first();
  await db.prepare("UPDATE settings SET value = ? WHERE tenant_id = 'default'")
    .bind(JSON.stringify({ ...JSON.parse(value), v1_ip_allow: "203.0.113.0/24" })).run();
  const archive = (await t.gw.admin("GET", "/api/backup/export")).text;
  assert.deepEqual(JSON.parse(archive).config.settings.unreadable, ["v1_ip_allow"]);
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { v1_ip_allow: [] })).status, 200);
  assert.equal((await chat()).status, 200);
  const imported = await t.gw.admin("POST", "/api/backup/import", archive);
  assert.equal(imported.status, 200, imported.text);
  const refused = await chat();
  assert.equal(refused.status, 403, "not imported as an open list");
  assert.equal(refused.body.error.code, "settings_unreadable");
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { v1_ip_allow: [] })).status, 200);
  assert.equal((await chat()).status, 200);
});

test("a snapshot in KV whose guard does not decode is rebuilt from D1, whose list applies", async () => {
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { v1_ip_allow: ["203.0.113.0/24"] })).status, 200);
  const kv = await t.gw.mf.getKVNamespace("CONFIG_CACHE");
  const snapshot = JSON.parse(await kv.get("cfg/v1/tenant/default"));
  snapshot.settings.v1_ip_allow = "garbled";
  await kv.put("cfg/v1/tenant/default", JSON.stringify(snapshot));
  const before = (await t.gw.admin("GET", "/api/stats")).json.config_cache;
  await new Promise((r) => setTimeout(r, 10_500));
  const outside = await chat({ "cf-connecting-ip": "198.51.100.1" });
  assert.equal(outside.status, 403, "not read as an empty list");
  assert.equal(outside.body.error.code, "ip_not_allowed", "D1's list, not an unreadable mark");
  assert.equal((await chat({ "cf-connecting-ip": "203.0.113.9" })).status, 200);
  const after = (await t.gw.admin("GET", "/api/stats")).json.config_cache;
  assert.equal(after.snapshot_kv_unreadable - before.snapshot_kv_unreadable, 1);
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { v1_ip_allow: [] })).status, 200);
});
