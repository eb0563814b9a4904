// A key's stored access and limits outlive the code that wrote them. Fields a newer version added are
// ignored and the rest still applies; a value that does not decode at all refuses the key (401
// `key_unreadable`), never serves it as an open key. A key entry in KV that does not decode is rebuilt
// from D1. Rows and entries are written here directly, as another version (or damage) would leave them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

const t = gatewayWithOpenAI();

const stats = async () => (await t.gw.admin("GET", "/api/stats")).json.config_cache;
const chat = (key, model = "openai/gpt-4o-mini") => fetch(`${t.gw.url}/v1/chat/completions`, {
  method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
}).then(async (r) => ({ status: r.status, body: await r.json() }));

const keys = {};
const ids = {};
const hashOf = async (id) =>
  (await (await t.gw.mf.getD1Database("DB")).prepare("SELECT key_hash FROM api_keys WHERE id = ?").bind(id).first()).key_hash;
const scoped = { scopes: { models: ["openai/gpt-4o-mini"] } };

test("stored keys of another version: setup", async () => {
  for (const name of ["newer", "damaged", "damaged_limits", "kv_garbled", "kv_newer"]) {
    const r = await t.gw.admin("POST", "/api/keys", { name, access: scoped });
    assert.equal(r.status, 201, r.text);
    [keys[name], ids[name]] = [r.json.key, r.json.id];
    assert.equal((await chat(keys[name], "openai/gpt-4o")).status, 403, "scoped before the change");
  }
  const db = await t.gw.mf.getD1Database("DB");
  const kv = await t.gw.mf.getKVNamespace("CONFIG_CACHE");
  const setColumn = async (name, column, value) => {
    await db.prepare(`UPDATE api_keys SET ${column} = ? WHERE id = ?`).bind(value, ids[name]).run();
    await kv.delete(`cfg/v1/key/${await hashOf(ids[name])}`);
  };
  // As a newer version would write it: fields this one does not know, at every level.
  await setColumn("newer", "access", JSON.stringify({
    enabled: true, ip_allow: ["10.0.0.0/8"], scopes: { models: ["openai/gpt-4o-mini"], regions: ["eu"] },
  }));
  await setColumn("damaged", "access", '{"scopes": {"models": "openai/gpt-4o-mini"');
  await setColumn("damaged_limits", "limits", JSON.stringify({ requests_per_minute: "many" }));
  const garbled = `cfg/v1/key/${await hashOf(ids.kv_garbled)}`;
  await kv.put(garbled, '{"tenant": "default", "key_id": ');
  const newer = `cfg/v1/key/${await hashOf(ids.kv_newer)}`;
  const entry = JSON.parse(await kv.get(newer));
  Object.assign(entry, { new_top_level: 1 });
  Object.assign(entry.access, { new_access_field: true });
  Object.assign(entry.access.scopes, { regions: ["eu"] });
  await kv.put(newer, JSON.stringify(entry));
  // Wait out the isolate's freshness window, so the next requests read KV and D1.
  await new Promise((r) => setTimeout(r, 10_500));
});

test("an access row with fields a newer version added still applies its scopes", async () => {
  assert.equal((await chat(keys.newer)).status, 200);
  const outside = await chat(keys.newer, "openai/gpt-4o");
  assert.equal(outside.status, 403, JSON.stringify(outside.body));
  assert.equal(outside.body.error.code, "model_not_allowed");
});

test("an access or limits value that does not decode refuses the key: 401 key_unreadable, never an open key", async () => {
  for (const name of ["damaged", "damaged_limits"]) {
    for (const model of ["openai/gpt-4o-mini", "openai/gpt-4o"]) {
      const r = await chat(keys[name], model);
      assert.equal(r.status, 401, `${name} ${model}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, "key_unreadable");
    }
  }
  const listed = (await t.gw.admin("GET", "/api/keys")).json.data.find((k) => k.id === ids.damaged);
  assert.equal(listed.access.unreadable, true, "the listing shows why the key is refused");
  assert.equal(listed.access.enabled, false);
  // Setting its access again is how an administrator brings it back.
  const fixed = await t.gw.admin("PATCH", `/api/keys/${ids.damaged}`, { access: scoped });
  assert.equal(fixed.status, 200, fixed.text);
  assert.equal((await chat(keys.damaged)).status, 200);
  assert.equal((await chat(keys.damaged, "openai/gpt-4o")).status, 403);
});

test("a key entry in KV that does not decode is rebuilt from D1 and rewritten", async () => {
  const before = await stats();
  const r = await chat(keys.kv_garbled);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await chat(keys.kv_garbled, "openai/gpt-4o")).status, 403, "with its scopes from D1");
  const after = await stats();
  assert.equal(after.key_kv_unreadable - before.key_kv_unreadable, 1);
  assert.equal(after.key_d1_loads - before.key_d1_loads, 1);
  const kv = await t.gw.mf.getKVNamespace("CONFIG_CACHE");
  const rewritten = JSON.parse(await kv.get(`cfg/v1/key/${await hashOf(ids.kv_garbled)}`));
  assert.equal(rewritten.key_id, ids.kv_garbled);
});

test("a key entry in KV with fields a newer version added is used as it is", async () => {
  const before = await stats();
  assert.equal((await chat(keys.kv_newer)).status, 200);
  const outside = await chat(keys.kv_newer, "openai/gpt-4o");
  assert.equal(outside.status, 403, JSON.stringify(outside.body));
  const after = await stats();
  assert.equal(after.key_d1_loads - before.key_d1_loads, 0, "no rebuild");
});
