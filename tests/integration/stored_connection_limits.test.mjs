// A connection's stored limits outlive the code that wrote them. Fields a newer version added are
// ignored and the rest still applies; a value that does not decode keeps the connection out of
// routing (never served as unlimited): requests go to the next account, and one it alone could
// serve gets 503 `connection_unreadable`, as /v1/models/health says. Rows are written here directly
// into D1, as another version (or damage) would leave them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, damagedUp, spareUp, key, damaged, spare;

before(async () => {
  damagedUp = await startMockOpenAI({ apiKey: "sk-damaged", scripted: false });
  spareUp = await startMockOpenAI({ apiKey: "sk-spare", scripted: false });
  gw = await startGateway({ assets: false });
  damaged = (await gw.connect("openai", damagedUp, { name: "damaged", priority: 1, limits: { requests_per_minute: 1000 } })).id;
  spare = (await gw.connect("openai", spareUp, { name: "spare", priority: 2 })).id;
  key = await gw.createKey();
});
after(async () => { await gw?.dispose(); await damagedUp?.close(); await spareUp?.close(); });

const chat = () => fetch(`${gw.url}/v1/chat/completions`, {
  method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
}).then(async (r) => ({ status: r.status, body: await r.json(), by: r.headers.get("x-omniroute-connection") }));
const listed = async (id) => (await gw.admin("GET", "/api/providers")).json.data.find((c) => c.id === id);

/** Writes a connection's stored limits as `text`, and waits until requests read them from D1. */
async function storeLimits(id, text) {
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("UPDATE provider_connections SET limits = ? WHERE id = ?").bind(text, id).run();
  await (await gw.mf.getKVNamespace("CONFIG_CACHE")).delete("cfg/v1/tenant/default");
  await new Promise((r) => setTimeout(r, 10_500));
}

test("a connection whose stored limits do not decode is not used, never served as unlimited", async () => {
  assert.equal((await chat()).by, damaged, "the preferred account serves before the damage");
  await storeLimits(damaged, '{"requests_per_minute": "many"}');
  const before = damagedUp.requests.length;
  for (let i = 0; i < 3; i++) {
    const r = await chat();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.by, spare);
  }
  assert.equal(damagedUp.requests.length, before, "no request reached the damaged account");
  assert.deepEqual((await listed(damaged)).limits, { requests_per_minute: null, min_gap_ms: null, max_concurrent: null, window: null, unreadable: true });

  // Alone, it serves nothing, and says why; another change of it keeps it out.
  assert.equal((await gw.admin("PATCH", `/api/providers/${spare}`, { is_active: false })).status, 200);
  assert.equal((await gw.admin("PATCH", `/api/providers/${damaged}`, { name: "still-damaged" })).status, 200);
  const alone = await chat();
  assert.equal(alone.status, 503, JSON.stringify(alone.body));
  assert.equal(alone.body.error.code, "connection_unreadable");
  assert.match(alone.body.error.message, new RegExp(damaged));
  const health = (await (await fetch(`${gw.url}/v1/models/health`, { headers: { authorization: `Bearer ${key}` } })).json()).data;
  const mini = health.find((h) => h.id === "openai/gpt-4o-mini");
  assert.deepEqual([mini.available, mini.reason], [false, "connection_unreadable"]);
  assert.equal(damagedUp.requests.length, before);
  const asInput = await gw.admin("PATCH", `/api/providers/${damaged}`, { limits: { unreadable: true } });
  assert.equal(asInput.status, 400);
  assert.equal(asInput.json.error.param, "limits.unreadable");

  // Setting its limits again brings it back.
  const repaired = await gw.admin("PATCH", `/api/providers/${damaged}`, { limits: { max_concurrent: 4 } });
  assert.equal(repaired.status, 200, repaired.text);
  assert.equal(repaired.json.limits.unreadable, undefined);
  assert.equal((await chat()).by, damaged);
});

test("limits a newer version wrote, with fields this one does not know, still apply", async () => {
  await storeLimits(damaged, JSON.stringify({ max_concurrent: 3, burst: 9, window: { hours: 5, requests: 100, reset: "rolling" } }));
  const r = await chat();
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.by, damaged);
  const limits = (await listed(damaged)).limits;
  assert.deepEqual([limits.max_concurrent, limits.window.hours, limits.window.requests, limits.unreadable], [3, 5, 100, undefined]);
});
