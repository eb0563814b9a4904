// Configuration backups (docs/backup.md) and MASTER_KEY rotation (docs/secrets.md): export without
// and with secrets, import all or nothing with an automatic backup, restore, tenant scoping, and a
// gateway restarted over the same data under a new MASTER_KEY.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway, ADMIN_SECRET } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, enroll, signatureValid } from "../support/sync_client.mjs";

const PASSPHRASE = "correct horse battery staple";
let gw, upstream, key;

const chat = (g, apiKey, model = "openai/gpt-4o-mini") => fetch(`${g.url}/v1/chat/completions`, {
  method: "POST",
  headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
  body: JSON.stringify({ model, messages: [{ role: "user", content: "backup" }] }),
});

async function ok(r, status = 200) {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res;
}

/** A configuration with something in every section, the connection pointing at the mock. */
async function buildConfig(g) {
  await g.connect("openai", upstream, { name: "main", priority: 5, limits: { max_concurrent: 4 } });
  const k = await ok(g.admin("POST", "/api/keys", { name: "ci", limits: { requests_per_minute: 100 }, access: { scopes: { models: ["openai/*", "coding", "fast"] } } }), 201);
  await ok(g.admin("POST", "/api/provider-nodes", { id: "mylab", format: "openai", base_url: upstream.url, models: ["qwen"] }), 201);
  await ok(g.admin("POST", "/api/combos", { name: "coding", targets: [{ model: "openai/gpt-4o" }, { model: "mylab/qwen", weight: 2 }] }), 201);
  await ok(g.admin("POST", "/api/aliases", { pattern: "fast", target: "openai/gpt-4o-mini" }), 201);
  await ok(g.admin("POST", "/api/aliases", { pattern: "gpt-*", target: "coding" }), 201);
  await ok(g.admin("POST", "/api/fallback-chains", { model: "openai/gpt-4o", chain: ["openai/gpt-4o-mini"] }), 201);
  await ok(g.admin("POST", "/api/provider-models", { provider: "openai", models: ["my-finetune"] }), 201);
  await ok(g.admin("PUT", "/api/pricing", { prices: [{ provider: "openai", model: "my-finetune", input: 1.25, output: 5.1, reasoning: 7 }] }));
  await ok(g.admin("PATCH", "/api/settings", { sticky_limit: 7, log_retention_days: 60 }));
  return k.json.key;
}

const exportText = async (g = gw, q = "") => (await ok(g.admin("GET", `/api/backup/export${q}`))).text;
const exportSealed = async (g = gw) => (await ok(g.admin("POST", "/api/backup/export", { passphrase: PASSPHRASE }))).json;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway({ assets: false });
  key = await buildConfig(gw);
  assert.equal((await chat(gw, key)).status, 200);
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

test("an export without secrets holds every section and no secret", async () => {
  const text = await exportText();
  const archive = JSON.parse(text);
  assert.deepEqual([archive.format, archive.version, archive.tenant, archive.secrets], ["omniroute-edge/backup", 1, "default", null]);
  const c = archive.config;
  assert.deepEqual([c.connections.length, c.api_keys.length, c.combos.length, c.aliases.length, c.fallback_chains.length,
    c.provider_nodes.length, c.provider_models.length, c.prices.length], [1, 1, 1, 2, 1, 1, 1, 1]);
  assert.equal(c.settings.sticky_limit, 7);
  assert.deepEqual(c.api_keys[0].access.scopes.models, ["openai/*", "coding", "fast"]);
  assert.deepEqual(c.aliases.map((a) => a.pattern), ["fast", "gpt-*"], "aliases in definition order");
  for (const secret of [upstream.apiKey, key, key.slice(6)]) assert.ok(!text.includes(secret), "no secret in the archive");
  assert.ok(!text.includes("api_key_enc") && !text.includes("key_hash"));
  const db = await gw.mf.getD1Database("DB");
  const { key_hash } = await db.prepare("SELECT key_hash FROM api_keys").first();
  assert.ok(!text.includes(key_hash), "no key hash either");
  // Secrets never go in a URL.
  assert.equal((await gw.admin("GET", "/api/backup/export?secrets=true")).status, 400);
  const sealed = JSON.stringify(await exportSealed());
  assert.ok(!sealed.includes(upstream.apiKey) && !sealed.includes(key_hash));
  assert.equal((await gw.admin("POST", "/api/backup/export", { passphrase: "short" })).status, 400);
});

test("export → import → export is identical, with and without secrets, and keys keep working", async () => {
  const first = await exportText();
  const plain = await ok(gw.admin("POST", "/api/backup/import", first));
  assert.equal(plain.json.backup_id.startsWith("bak_"), true);
  assert.deepEqual([plain.json.connections_without_credentials, plain.json.keys_without_secret], [[], []], "same ids keep their own");
  assert.equal(await exportText(), first);
  assert.equal((await chat(gw, key)).status, 200);

  const sealed = await exportSealed();
  await ok(gw.admin("POST", "/api/backup/import", { archive: sealed, passphrase: PASSPHRASE }));
  assert.equal(await exportText(), first);
  assert.deepEqual((await exportSealed()).config, JSON.parse(first).config);
  const r = await chat(gw, key, "fast");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("x-omniroute-model"), /^gpt-4o-mini/, "the alias came back with the import");
});

test("with a passphrase, the archive brings a fresh gateway up with the same keys", async () => {
  const sealed = await exportSealed();
  const fresh = await startGateway({ assets: false });
  try {
    assert.equal((await chat(fresh, key)).status, 401);
    const r = await ok(fresh.admin("POST", "/api/backup/import", { archive: sealed, passphrase: PASSPHRASE }));
    assert.deepEqual(r.json.imported.connections, 1);
    const answer = await chat(fresh, key);
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.equal(await exportText(fresh), await exportText());
  } finally {
    await fresh.dispose();
  }
});

test("without secrets, a fresh gateway gets the configuration with inactive connections and keys to rotate", async () => {
  const fresh = await startGateway({ assets: false });
  try {
    const r = await ok(fresh.admin("POST", "/api/backup/import", await exportText()));
    assert.equal(r.json.connections_without_credentials.length, 1);
    assert.equal(r.json.keys_without_secret.length, 1);
    assert.equal((await chat(fresh, key)).status, 401);
    const [conn] = (await fresh.admin("GET", "/api/providers")).json.data;
    assert.equal(conn.is_active, false);
    const rotated = await ok(fresh.admin("POST", `/api/keys/${r.json.keys_without_secret[0]}/rotate`));
    await ok(fresh.admin("PATCH", `/api/providers/${conn.id}`, { api_key: upstream.apiKey, is_active: true }));
    assert.equal((await chat(fresh, rotated.json.key)).status, 200);
  } finally {
    await fresh.dispose();
  }
});

test("an invalid archive or a wrong passphrase is refused and changes nothing", async () => {
  const before = await exportText();
  const base = JSON.parse(before);
  const sealed = await exportSealed();
  const edit = (f) => { const a = structuredClone(base); f(a); return a; };
  const cases = [
    [edit((a) => { a.version = 2; }), "version"],
    [edit((a) => { a.format = "other"; }), "format"],
    [edit((a) => { a.config.combos[0].targets[0].wieght = 1; }), "config.combos[0].targets[0].wieght"],
    [edit((a) => { a.config.connections.push(a.config.connections[0]); }), "config.connections[1]"],
    [edit((a) => { a.config.aliases[0].target = a.config.aliases[0].pattern; }), "config.aliases[0].target"],
    [edit((a) => { a.config.provider_nodes[0].id = "openai"; }), "config.provider_nodes[0].id"],
    [edit((a) => { a.config.prices[0].price.input = -1; }), "config.prices[0].input"],
    [sealed, "passphrase"],
    [{ archive: sealed, passphrase: "wrong passphrase, long enough" }, "passphrase"],
    [{ archive: { ...sealed, secrets: { ...sealed.secrets, data: sealed.secrets.data.slice(0, -4) + "AAAA" } }, passphrase: PASSPHRASE }, "passphrase"],
    [{ archive: { ...sealed, tenant: "elsewhere" }, passphrase: PASSPHRASE }, "passphrase"],
  ];
  for (const [body, param] of cases) {
    const r = await gw.admin("POST", "/api/backup/import", body);
    assert.equal(r.status, 400, `${param}: ${r.text}`);
    assert.equal(r.json.error.param, param, r.text);
  }
  const wrong = await gw.admin("POST", "/api/backup/import", { archive: sealed, passphrase: "wrong passphrase, long enough" });
  assert.equal(wrong.json.error.code, "wrong_passphrase");
  assert.equal((await gw.admin("POST", "/api/backup/import", "not json")).status, 400);
  assert.equal((await gw.admin("POST", "/api/backup/import", "x".repeat(5 * 1024 * 1024))).status, 413);
  assert.equal(await exportText(), before, "nothing changed");
});

test("every import keeps an automatic backup of what it replaced, restorable", async () => {
  const original = await exportText();
  const changed = JSON.parse(original);
  changed.config.aliases = changed.config.aliases.filter((a) => a.pattern !== "fast");
  changed.config.settings.sticky_limit = 9;
  const imported = await ok(gw.admin("POST", "/api/backup/import", changed));
  assert.notEqual(await exportText(), original);
  assert.equal((await chat(gw, key, "fast")).status, 404, "the alias is gone");

  const list = await ok(gw.admin("GET", "/api/backup/backups"));
  const entry = list.json.data.find((b) => b.id === imported.json.backup_id);
  assert.deepEqual([entry.reason, entry.has_secrets], ["import", true]);
  assert.equal(list.json.data[0].id, entry.id, "newest first");
  const db = await gw.mf.getD1Database("DB");
  const rows = JSON.stringify(await db.prepare("SELECT * FROM config_backups").all());
  assert.ok(!rows.includes(upstream.apiKey), "a backup's secrets are encrypted at rest");

  const restored = await ok(gw.admin("POST", `/api/backup/backups/${entry.id}/restore`));
  assert.equal(await exportText(), original);
  assert.equal((await chat(gw, key, "fast")).status, 200);
  const again = await ok(gw.admin("GET", "/api/backup/backups"));
  assert.equal(again.json.data.find((b) => b.id === restored.json.backup_id).reason, "restore");
  assert.equal((await gw.admin("POST", "/api/backup/backups/bak_nope/restore")).status, 404);
});

/** Signs in an operator of `tenant` and returns a management call as it (from client address `ip`). */
async function operatorOf(tenant, name, ip = "192.0.2.77") {
  const password = "operator-password-1";
  await ok(gw.admin("POST", "/api/auth/operators", { tenant, name, password }), 201);
  const login = await fetch(`${gw.url}/api/auth/login`, {
    method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify({ name, password }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get("set-cookie").split(";")[0];
  return (method, path, body) => fetch(`${gw.url}${path}`, {
    method, headers: { cookie, origin: gw.url, "content-type": "application/json", "cf-connecting-ip": ip }, body: body && JSON.stringify(body),
  });
}

/** A management call as the owner's script from client address `ip`. */
async function ownerFrom(ip, method, path, body) {
  const res = await fetch(`${gw.url}${path}`, {
    method, headers: { authorization: `Bearer ${ADMIN_SECRET}`, "cf-connecting-ip": ip, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

test("an import or restore changes instance settings only as the owner, and never locks the caller out", async () => {
  const as = await operatorOf("default", "default-ops");
  const before = await exportText();
  // An operator of the default tenant: the instance-wide settings are the owner's.
  for (const [setting, value] of [["cors_origins", ["https://evil.example"]], ["admin_ip_block", ["198.51.100.0/24"]], ["admin_ip_allow", ["192.0.2.77"]]]) {
    const archive = JSON.parse(before);
    archive.config.settings[setting] = value;
    const refused = await as("POST", "/api/backup/import", archive);
    const body = await refused.json();
    assert.equal(refused.status, 403, JSON.stringify(body));
    assert.deepEqual([body.error.code, body.error.param], ["owner_only", `config.settings.${setting}`]);
    assert.equal(await exportText(), before, `${setting}: nothing changed`);
  }
  // The tenant's own settings stay the operator's to import.
  const own = JSON.parse(before);
  own.config.settings.sticky_limit = 6;
  assert.equal((await as("POST", "/api/backup/import", own)).status, 200);

  // The owner: an archive whose management lists refuse the caller's own address is refused.
  const me = "198.51.100.7";
  const lockout = JSON.parse(before);
  lockout.config.settings.admin_ip_allow = ["203.0.113.0/24"];
  const refused = await ownerFrom(me, "POST", "/api/backup/import", lockout);
  assert.equal(refused.status, 400, refused.text);
  assert.deepEqual([refused.json.error.code, refused.json.error.param], ["would_lock_out", "config.settings.admin_ip_allow"]);
  assert.equal((await ownerFrom("203.0.113.5", "GET", "/api/keys")).status, 200, "the lists stayed open");

  // A restore goes through the same check: an automatic backup holding a list that admits `me` only.
  assert.equal((await ownerFrom(me, "PATCH", "/api/settings", { admin_ip_allow: ["198.51.100.0/24"] })).status, 200);
  const open = JSON.parse(await (await ownerFrom(me, "GET", "/api/backup/export")).text);
  assert.deepEqual(open.config.settings.admin_ip_allow, ["198.51.100.0/24"]);
  open.config.settings.admin_ip_allow = [];
  const reopened = await ownerFrom(me, "POST", "/api/backup/import", open);
  assert.equal(reopened.status, 200, reopened.text);
  const backupId = reopened.json.backup_id;
  const elsewhere = await ownerFrom("203.0.113.5", "POST", `/api/backup/backups/${backupId}/restore`);
  assert.equal(elsewhere.status, 400, elsewhere.text);
  assert.equal(elsewhere.json.error.code, "would_lock_out");
  const byOperator = await as("POST", `/api/backup/backups/${backupId}/restore`);
  assert.equal(byOperator.status, 403);
  assert.equal((await byOperator.json()).error.code, "owner_only");
  assert.equal((await ownerFrom("203.0.113.5", "GET", "/api/keys")).status, 200, "nothing was restored");
  assert.equal((await gw.admin("PATCH", "/api/settings", { sticky_limit: 7 })).status, 200);
  assert.equal(await exportText(), before);
});

test("an operator reaches only its own tenant's backups; ids of another tenant conflict", async () => {
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('other', 'other', 0)").run();
  const password = "operator-password-1";
  await ok(gw.admin("POST", "/api/auth/operators", { tenant: "other", name: "other-ops", password }), 201);
  const login = await fetch(`${gw.url}/api/auth/login`, {
    method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.77" },
    body: JSON.stringify({ name: "other-ops", password }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get("set-cookie").split(";")[0];
  const as = (method, path, body) => fetch(`${gw.url}${path}`, {
    method, headers: { cookie, origin: gw.url, "content-type": "application/json" }, body: body && JSON.stringify(body),
  });
  const before = await exportText();
  assert.equal((await as("GET", "/api/backup/export?tenant=default")).status, 403);
  assert.equal((await as("POST", "/api/backup/import?tenant=default", JSON.parse(before))).status, 403);
  assert.equal((await as("GET", "/api/backup/backups?tenant=default")).status, 403);
  assert.equal((await as("POST", "/api/backup/rekey")).status, 403);
  const own = await as("GET", "/api/backup/export");
  assert.equal(own.status, 200);
  assert.equal((await own.json()).tenant, "other");
  // The default tenant's archive into tenant `other`: its ids are taken on this deployment.
  const conflict = await as("POST", "/api/backup/import", JSON.parse(before));
  assert.equal(conflict.status, 409);
  const refused = (await conflict.json()).error;
  assert.equal(refused.code, "id_conflict");
  assert.ok(!refused.message.includes("default"), `the other tenant is not named: ${refused.message}`);
  // With its secrets too: the archive's own entry is named, and nothing of the other tenant.
  const sealed = (await ok(gw.admin("POST", "/api/backup/export", { passphrase: PASSPHRASE }))).json;
  const withSecrets = await as("POST", "/api/backup/import", { archive: sealed, passphrase: PASSPHRASE });
  assert.equal(withSecrets.status, 409);
  const message = (await withSecrets.json()).error.message;
  assert.ok(!message.includes("default"), message);
  const ids = [...sealed.config.connections, ...sealed.config.api_keys].map((x) => x.id);
  assert.ok(ids.some((id) => message.includes(`\`${id}\``)), `the archive's own entry is named: ${message}`);
  assert.equal(await exportText(), before);
});

test("MASTER_KEY rotation: the previous key decrypts and finds keys until rekey, then is not needed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "oe-rekey-"));
  const A = "rotation-old-master-key-0123456789";
  const B = "rotation-new-master-key-9876543210";
  try {
    const first = await startGateway({ persistDir: dir, assets: false, bindings: { MASTER_KEY: A } });
    let oldKey, hashBefore, enrollment;
    const pull = async () => {
      const r = await call(`${enrollment.cloud_url}/sync/rotation-machine`, "GET");
      assert.equal(r.status, 200, r.text);
      assert.ok(signatureValid(enrollment.signing_secret, r), "signed with the enrollment's secret");
    };
    try {
      oldKey = await buildConfig(first);
      enrollment = await enroll(first, "rotation");
      const pushed = await call(`${enrollment.cloud_url}/sync/rotation-machine`, "POST", { providers: [] });
      assert.equal(pushed.status, 200, pushed.text);
      assert.equal((await chat(first, oldKey)).status, 200);
      await ok(first.admin("POST", "/api/backup/import", await exportText(first))); // a backup with secrets
      hashBefore = (await (await first.mf.getD1Database("DB")).prepare("SELECT key_hash FROM api_keys").first()).key_hash;
    } finally {
      await first.dispose();
    }

    const second = await startGateway({ persistDir: dir, assets: false, bindings: { MASTER_KEY: B, MASTER_KEY_PREVIOUS: A } });
    try {
      const r = await chat(second, oldKey);
      assert.equal(r.status, 200, await r.clone().text());
      const hashAfter = (await (await second.mf.getD1Database("DB")).prepare("SELECT key_hash FROM api_keys").first()).key_hash;
      assert.notEqual(hashAfter, hashBefore, "the key is stored under the new key's hash on first use");
      enrollment.cloud_url = enrollment.cloud_url.replace(/^http:\/\/[^/]+/, second.url);
      await pull(); // the enrollment's token was hashed, and its secret sealed, under the old key
      const rekey = await ok(second.admin("POST", "/api/backup/rekey"));
      assert.deepEqual(rekey.json.failed, []);
      assert.equal(rekey.json.reencrypted, 4, "the connection, the backup's secrets, the enrollment's and the machine's");
      const again = await ok(second.admin("POST", "/api/backup/rekey"));
      assert.deepEqual([again.json.reencrypted, again.json.already_current], [0, rekey.json.reencrypted + rekey.json.already_current]);
    } finally {
      await second.dispose();
    }

    const third = await startGateway({ persistDir: dir, assets: false, bindings: { MASTER_KEY: B } });
    try {
      assert.equal((await chat(third, oldKey)).status, 200);
      enrollment.cloud_url = enrollment.cloud_url.replace(/^http:\/\/[^/]+/, third.url);
      await pull();
      const [backup] = (await ok(third.admin("GET", "/api/backup/backups"))).json.data;
      await ok(third.admin("POST", `/api/backup/backups/${backup.id}/restore`));
      assert.equal((await chat(third, oldKey)).status, 200);
      const rekey = await ok(third.admin("POST", "/api/backup/rekey"));
      assert.deepEqual([rekey.json.reencrypted, rekey.json.failed, rekey.json.previous_key_set], [0, [], false]);
    } finally {
      await third.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
