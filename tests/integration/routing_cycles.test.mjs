// Combo cycles and alias loops (issue 21, item 8) are refused when saved, naming the cycle, on every
// write path: the admin API, a backup's import and an automatic backup's restore. A sync push is not
// refused (OmniRoute accepts it): its cyclic combos and aliases are left out and reported unservable,
// naming the cycle.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, capturedPush, enroll } from "../support/sync_client.mjs";

let gw, upstream;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", upstream);
  assert.equal((await gw.admin("POST", "/api/combos", { name: "b", targets: [{ model: "openai/gpt-4o" }] })).status, 201);
  assert.equal((await gw.admin("POST", "/api/combos", { name: "a", targets: [{ model: "b" }] })).status, 201);
  assert.equal((await gw.admin("POST", "/api/aliases", { pattern: "fast", target: "quick" })).status, 201);
  assert.equal((await gw.admin("POST", "/api/aliases", { pattern: "quick", target: "openai/gpt-4o-mini" })).status, 201);
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

const exportText = async () => (await gw.admin("GET", "/api/backup/export")).text;

test("the admin API refuses a combo that closes a cycle, naming it, and keeps the combos as they were", async () => {
  const before = await gw.admin("GET", "/api/combos");
  const r = await gw.admin("POST", "/api/combos", { name: "b", targets: [{ model: "openai/gpt-4o" }, { model: "a" }] });
  assert.equal(r.status, 400, r.text);
  assert.deepEqual([r.json.error.code, r.json.error.param], ["combo_cycle", "targets"]);
  assert.match(r.json.error.message, /b -> a -> b/);
  assert.deepEqual((await gw.admin("GET", "/api/combos")).json, before.json);
});

test("the admin API refuses an alias that leads back to its own name, naming the loop", async () => {
  const r = await gw.admin("POST", "/api/aliases", { pattern: "quick", target: "fast" });
  assert.equal(r.status, 400, r.text);
  assert.deepEqual([r.json.error.code, r.json.error.param], ["alias_loop", "target"]);
  assert.match(r.json.error.message, /fast -> quick -> fast/);
  // A pattern mapping its own matches onto one of them is where resolution stops, not a loop.
  assert.equal((await gw.admin("POST", "/api/aliases", { pattern: "gpt-4o*", target: "openai/gpt-4o-mini" })).status, 201);
  const served = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${await gw.createKey("loops")}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(served.status, 200, "fast -> quick -> openai/gpt-4o-mini still serves");
  assert.equal(upstream.requests.at(-1).body.model, "gpt-4o-mini");
  assert.equal((await gw.admin("DELETE", "/api/aliases?pattern=gpt-4o*")).status, 200);
});

test("an import or a restore whose combos or aliases cycle is refused, naming it, and changes nothing", async () => {
  const before = await exportText();
  const combos = JSON.parse(before);
  combos.config.combos.find((c) => c.name === "b").targets.push({ model: "a", weight: 1 });
  const r = await gw.admin("POST", "/api/backup/import", combos);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, "combo_cycle");
  assert.match(r.json.error.param, /^config\.combos\[\d\]\.targets$/);
  assert.match(r.json.error.message, /a -> b -> a/);
  const aliases = JSON.parse(before);
  aliases.config.aliases.find((a) => a.pattern === "quick").target = "fast";
  const l = await gw.admin("POST", "/api/backup/import", aliases);
  assert.equal(l.status, 400, l.text);
  assert.equal(l.json.error.code, "alias_loop");
  assert.match(l.json.error.message, /fast -> quick -> fast/);
  assert.equal(await exportText(), before);

  // An automatic backup kept by an earlier version, holding a cycle: its restore is refused too.
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT INTO config_backups (id, tenant_id, created_at, reason, archive, secrets_enc) VALUES (?1, 'default', 1, 'import', ?2, NULL)")
    .bind("bak_cycle", JSON.stringify(combos)).run();
  const restored = await gw.admin("POST", "/api/backup/backups/bak_cycle/restore");
  assert.equal(restored.status, 400, restored.text);
  assert.equal(restored.json.error.code, "combo_cycle");
  assert.equal(await exportText(), before);
});

test("a sync push with a combo cycle and an alias loop is taken; those are left out and reported unservable, naming the cycle", async () => {
  const mock = await startMockOpenAI({ apiKey: "sk-mock-upstream-test-key", scripted: false });
  try {
    const e = await enroll(gw, "cycles laptop");
    const omni = capturedPush(mock.url);
    const body = JSON.parse(omni.raw);
    body.combos = [
      { name: "ping", models: [{ kind: "combo-ref", comboName: "pong" }] },
      { name: "pong", models: [{ kind: "combo-ref", comboName: "ping" }] },
    ];
    body.modelAliases = { "loop-a": "loop-b", "loop-b": "loop-a" };
    const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "POST", body);
    assert.equal(r.status, 200, r.text);
    const m = (await gw.admin("GET", "/api/sync/machines")).json.data.find((x) => x.machine_id === omni.machineId);
    const why = Object.fromEntries(m.unservable.map((u) => [`${u.kind}:${u.id}`, u.reason]));
    for (const id of ["combo:ping", "combo:pong"]) assert.match(why[id] ?? "", /cycle: ping -> pong -> ping/, id);
    for (const id of ["alias:loop-a", "alias:loop-b"]) assert.match(why[id] ?? "", /loop-a -> loop-b -> loop-a/, id);
    assert.deepEqual([m.served.combos, m.served.aliases], [0, 0]);
    // The machine's record still answers them back as pushed.
    const back = await call(`${e.cloud_url}/sync/${omni.machineId}`, "GET");
    assert.deepEqual(back.json.data.combos, body.combos);
    assert.deepEqual(back.json.data.modelAliases, body.modelAliases);
  } finally {
    await mock.close();
  }
});
