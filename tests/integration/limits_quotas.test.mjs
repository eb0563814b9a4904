// Quota windows from upstream headers (issue 8): an answer saying an account has no requests left
// steers the next request to another account, the account comes back after its reset, and
// GET /api/quotas shows the window with its countdown. An account with little left (under 10%) goes
// after the accounts with more.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, first, second, key, firstId;

before(async () => {
  first = await startMockOpenAI({ apiKey: "sk-first" });
  second = await startMockOpenAI({ apiKey: "sk-second", scripted: false });
  gw = await startGateway({ assets: false });
  firstId = (await gw.connect("openai", first, { priority: 1 })).id;
  await gw.connect("openai", second, { priority: 2 });
  key = await gw.createKey();
});
after(async () => { await gw?.dispose(); await first?.close(); await second?.close(); });

const chat = async (model = "openai/quota-last") => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
  await r.text();
  assert.equal(r.status, 200);
  return r.headers.get("x-omniroute-connection");
};

test("quota headers steer the next request to another account until the window resets", async () => {
  assert.equal(await chat(), firstId, "the preferred account serves, and says it has 0 requests left for 2 s");
  assert.notEqual(await chat(), firstId, "skipped while exhausted: no failed call to find out");
  assert.equal(first.requests.length, 1);

  let quotas;
  for (let i = 0; i < 50; i++) { // shared with the object in the background
    quotas = (await gw.admin("GET", "/api/quotas")).json.data;
    if (quotas.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const q = quotas.find((x) => x.connection === firstId);
  assert.equal(q.requests.remaining, 0);
  assert.equal(q.requests.limit, 5);
  assert.ok(q.requests.resets_in_ms > 0 && q.requests.resets_in_ms <= 2000, JSON.stringify(q));
  assert.equal(q.exhausted_until, q.requests.reset_at);

  await new Promise((r) => setTimeout(r, 2100));
  assert.equal(await chat(), firstId, "back after its reset");
  assert.equal(first.requests.length, 2);
});

test("a window configured by hand: its allowance spent, the account is skipped and shown as such", async () => {
  const r = await gw.admin("PATCH", `/api/providers/${firstId}`, { limits: { window: { hours: 5, requests: 2 } } });
  assert.equal(r.status, 200, r.text);
  const served = [];
  for (let i = 0; i < 3; i++) {
    const a = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    await a.text();
    served.push(a.headers.get("x-omniroute-connection") === firstId);
  }
  assert.deepEqual(served, [true, true, false]);
  const q = (await gw.admin("GET", "/api/quotas")).json.data.find((x) => x.source === "configured" && x.connection === firstId);
  assert.equal(q.hours, 5);
  assert.equal(q.requests.limit, 2);
  assert.equal(q.requests.remaining, 0);
  assert.ok(q.requests.resets_in_ms > 4.9 * 3600_000 && q.requests.resets_in_ms <= 5 * 3600_000, JSON.stringify(q));
  assert.equal((await gw.admin("PATCH", `/api/providers/${firstId}`, { limits: { window: { hours: 5 } } })).status, 400);
});

test("an account running low goes after one with quota left, until its window resets or the other runs lower", async () => {
  // Their own provider, so the accounts above do not take part. Both answer `quota-low` with a
  // 2-second window of 100 requests: `low` says 5 are left, `roomy` 50.
  const low = await startMockOpenAI({ apiKey: "sk-low", requestsLeft: 5 });
  const roomy = await startMockOpenAI({ apiKey: "sk-roomy", requestsLeft: 50 });
  try {
    const lowId = (await gw.connect("groq", low, { priority: 1 })).id;
    const roomyId = (await gw.connect("groq", roomy, { priority: 2 })).id;
    const names = { [lowId]: "low", [roomyId]: "roomy" };
    const served = async () => names[await chat("groq/quota-low")];

    assert.equal(await served(), "low", "nothing known yet: priority");
    assert.equal(await served(), "roomy", "`low` has 5% left: the account with quota left serves");
    assert.equal(await served(), "roomy");
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await served(), "low", "its window has reset: priority again");
    roomy.setRequestsLeft(2);
    assert.equal(await served(), "roomy", "`low` is at 5% again, `roomy` unknown since its reset");
    assert.equal(await served(), "low", "`roomy` has 2% left now, `low` more");
    assert.deepEqual([low.requests.length, roomy.requests.length], [3, 3], "every request was served by one call");
  } finally {
    await low.close();
    await roomy.close();
  }
});
