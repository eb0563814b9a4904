// Per-key limits (issue 8): requests per minute and USD budgets, held by the key's KeyLedger Durable
// Object, which every request of a limited key awaits. Counted at the mock upstream: a refused request
// never reaches it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, upstream;

before(async () => {
  upstream = await startMockOpenAI({ scripted: false });
  gw = await startGateway({ assets: false });
  await gw.connect("openai", upstream);
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

async function limitedKey(limits, g = gw) {
  const r = await g.admin("POST", "/api/keys", { name: "limited", limits });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

const chat = (url, key, content = "hi") => fetch(`${url}/v1/chat/completions`, {
  method: "POST",
  headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content }] }),
});

/** The key's usage once every settlement (sent in the background) has reached its ledger. */
async function settledUsage(id) {
  let usage;
  for (let i = 0; i < 100; i++) {
    usage = (await gw.admin("GET", `/api/keys/${id}/usage`)).json.usage;
    if (usage.usd_reserved === 0) return usage;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`reservations never settled: ${JSON.stringify(usage)}`);
}

test("50 parallel requests against a key limited to 10 per minute: exactly 10 reach the upstream", async () => {
  const key = await limitedKey({ requests_per_minute: 10 });
  const before = upstream.requests.length;
  const answers = await Promise.all(Array.from({ length: 50 }, () => chat(gw.url, key.key)));
  const statuses = answers.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(","));
  assert.equal(statuses.filter((s) => s === 429).length, 40);
  assert.equal(upstream.requests.length - before, 10, "refused requests made no upstream call");
  const refused = answers.find((r) => r.status === 429);
  const retry = Number(refused.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);
  const body = await refused.json();
  assert.equal(body.error.code, "rate_limit_exceeded");
  await Promise.all(answers.map((r) => r.bodyUsed || r.text()));

  // In the Messages format the refusal is Anthropic's envelope.
  const msg = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/gpt-4o", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(msg.status, 429);
  const m = await msg.json();
  assert.equal(m.type, "error");
  assert.equal(m.error.type, "rate_limit_error");

  // Every request left one usage record, the refused ones with their code and no attempt.
  let logs;
  for (let i = 0; i < 100; i++) {
    logs = (await gw.admin("GET", `/api/logs?key=${key.id}&limit=100`)).json?.data ?? [];
    if (logs.length >= 51) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const mine = logs.filter((l) => l.key_id === key.id);
  assert.equal(mine.length, 51);
  assert.equal(mine.filter((l) => l.error_code === "rate_limit_exceeded" && l.attempts === 0).length, 41);
});

test("a budget is never exceeded beyond the requests in flight when it was reached", async () => {
  // gpt-4o: $2.50 / $10 per 1M tokens; the mock reports 11 + 7 tokens: $0.0000975 a request.
  const perRequest = (11 * 2.5 + 7 * 10) / 1e6;
  const budget = 0.0004;
  const key = await limitedKey({ usd_per_day: budget });
  const before = upstream.requests.length;
  const wave = 5;
  let ok = 0, exhausted;
  for (let i = 0; i < 8; i++) {
    const answers = await Promise.all(Array.from({ length: wave }, () => chat(gw.url, key.key)));
    for (const r of answers) {
      if (r.status === 200) ok++;
      else {
        assert.equal(r.status, 429);
        exhausted = await r.json();
      }
      if (!r.bodyUsed) await r.text();
    }
  }
  assert.equal(upstream.requests.length - before, ok);
  const usage = await settledUsage(key.id);
  assert.ok(Math.abs(usage.usd_today - ok * perRequest) < 1e-9, `${usage.usd_today} vs ${ok} requests`);
  // Admission stops once settled + reserved spend reaches the budget; what overshoots is at most the
  // requests in flight then: one wave plus the previous wave's settlements still on their way.
  assert.ok(ok >= Math.floor(budget / perRequest), `only ${ok} admitted`);
  assert.ok(usage.usd_today <= budget + 2 * wave * perRequest, `spent ${usage.usd_today}`);
  assert.equal(exhausted.error.code, "budget_exhausted");
  const tomorrow = new Date(Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000).toISOString();
  assert.ok(exhausted.error.message.includes(tomorrow), exhausted.error.message);
});

test("limits are validated, listed, and changed with PATCH at once", async () => {
  let r = await gw.admin("POST", "/api/keys", { name: "x", limits: { requests_per_minute: 0 } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, "limits.requests_per_minute");
  r = await gw.admin("POST", "/api/keys", { name: "x", limits: { usd_per_dya: 1 } });
  assert.equal(r.status, 400);

  const key = await limitedKey({ requests_per_minute: 1 });
  assert.equal((await chat(gw.url, key.key)).status, 200);
  assert.equal((await chat(gw.url, key.key)).status, 429);
  const listed = (await gw.admin("GET", "/api/keys")).json.data.find((k) => k.id === key.id);
  assert.equal(listed.limits.requests_per_minute, 1);

  r = await gw.admin("PATCH", `/api/keys/${key.id}`, { limits: { requests_per_minute: 100 } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await chat(gw.url, key.key)).status, 200, "the new limit applies to the next request");
  r = await gw.admin("PATCH", `/api/keys/${key.id}`, { limits: {} });
  assert.equal(r.json.limits.requests_per_minute, null);
  assert.equal((await gw.admin("PATCH", "/api/keys/key_nope", { name: "y" })).status, 404);
});

test("a key's ledger survives a restart of the runtime", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oe-limits-"));
  try {
    const first = await startGateway({ persistDir: dir, assets: false });
    await first.connect("openai", upstream);
    const key = (await first.admin("POST", "/api/keys", { name: "p", limits: { requests_per_minute: 2 } })).json;
    assert.equal((await chat(first.url, key.key)).status, 200);
    assert.equal((await chat(first.url, key.key)).status, 200);
    await first.dispose();

    const second = await startGateway({ persistDir: dir, assets: false });
    try {
      const r = await chat(second.url, key.key);
      assert.equal(r.status, 429, "the two admissions of the last minute were persisted");
    } finally {
      await second.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
