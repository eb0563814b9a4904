// Idempotency-Key (issue 8): duplicates of a request within the window get the first request's
// answer, and concurrent duplicates make one upstream call between them; whole answers come back
// as they were, streams as the same event sequence. Another body under a used key is refused in the
// client's format; a failed first request frees the key; the key's state survives a restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, key, upstream;

before(async () => {
  upstream = await startMockOpenAI({ slowMs: 400 });
  gw = await startGateway({ assets: false });
  await gw.connect("openai", upstream);
  key = await gw.createKey("idem");
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

const post = (base, path, body, headers = {}) => fetch(`${base}${path}`, {
  method: "POST",
  headers: { authorization: `Bearer ${key}`, "x-api-key": key, "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
const chat = (body, idem, headers = {}) => post(gw.url, "/v1/chat/completions", body, { "idempotency-key": idem, ...headers });
const callsFor = (model) => upstream.requests.filter((r) => r.body?.model === model).length;

test("10 concurrent duplicates of a whole request: one upstream call, 10 equal answers", async () => {
  const body = { model: "openai/slow", messages: [{ role: "user", content: "pay once" }] };
  const answers = await Promise.all(Array.from({ length: 10 }, () => chat(body, "order-1")));
  const texts = await Promise.all(answers.map((r) => r.text()));
  assert.deepEqual(answers.map((r) => r.status), Array(10).fill(200));
  assert.equal(callsFor("slow"), 1, "one upstream call");
  assert.equal(new Set(texts).size, 1, "10 equal answers");
  assert.match(texts[0], /pay once/);
  assert.equal(answers.filter((r) => r.headers.get("x-omniroute-idempotent") === "true").length, 9);
});

test("10 concurrent duplicates of a stream: one upstream call, the same event sequence 10 times", async () => {
  const body = { model: "openai/gated-stream", stream: true, messages: [{ role: "user", content: "stream once" }] };
  const pending = Array.from({ length: 10 }, () => chat(body, "stream-1"));
  for (let i = 0; i < 100 && callsFor("gated-stream") === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200)); // the duplicates are waiting on the key
  upstream.release();
  const answers = await Promise.all(pending);
  const texts = await Promise.all(answers.map((r) => r.text()));
  assert.equal(callsFor("gated-stream"), 1);
  assert.equal(new Set(texts).size, 1);
  assert.match(texts[0], /"content":"stream "/);
  assert.match(texts[0], /data: \[DONE\]\n\n$/);
  assert.ok(answers.every((r) => r.headers.get("content-type").startsWith("text/event-stream")));
});

test("another body under a used key is refused in the client's own format", async () => {
  const body = { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "first" }] };
  assert.equal((await chat(body, "reuse-1")).status, 200);
  const calls = upstream.requests.length;
  const other = await chat({ ...body, messages: [{ role: "user", content: "second" }] }, "reuse-1");
  assert.equal(other.status, 422);
  const err = await other.json();
  assert.equal(err.error.code, "idempotency_key_reused");
  assert.equal(err.error.type, "invalid_request_error");
  const anthropic = await post(gw.url, "/v1/messages", { model: "openai/gpt-4o-mini", max_tokens: 50, messages: [{ role: "user", content: "x" }] }, { "idempotency-key": "reuse-1" });
  assert.equal(anthropic.status, 422);
  const a = await anthropic.json();
  assert.equal(a.type, "error");
  assert.equal(a.error.type, "invalid_request_error");
  assert.equal(upstream.requests.length, calls, "no upstream call");
  // The same key from another gateway key is another request.
  const otherKey = await gw.createKey("idem-2");
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${otherKey}`, "content-type": "application/json", "idempotency-key": "reuse-1" },
    body: JSON.stringify({ ...body, messages: [{ role: "user", content: "second" }] }),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-omniroute-idempotent"), null);
});

test("a failed first request frees its key: the retry calls upstream", async () => {
  const body = { model: "openai/bad-param", messages: [{ role: "user", content: "fail" }] };
  const first = await chat(body, "fail-1");
  assert.equal(first.status, 400);
  const retry = await chat(body, "fail-1");
  assert.equal(retry.status, 400);
  assert.equal(retry.headers.get("x-omniroute-idempotent"), null);
  assert.equal(callsFor("bad-param"), 2, "an error is not replayed");
});

test("past the window the key starts a new request", async () => {
  assert.equal((await gw.admin("PATCH", "/api/settings", { idempotency_window_ms: 300 })).status, 200);
  const body = { model: "openai/window-test", messages: [{ role: "user", content: "w" }] };
  await (await chat(body, "window-1")).text();
  let replayed;
  for (let i = 0; i < 20; i++) { // settled in the background
    const r = await chat(body, "window-1");
    await r.text();
    replayed = r.headers.get("x-omniroute-idempotent");
    if (replayed) break;
  }
  assert.equal(replayed, "true");
  const before = callsFor("window-test");
  await new Promise((r) => setTimeout(r, 350));
  const r = await chat(body, "window-1");
  await r.text();
  assert.equal(r.headers.get("x-omniroute-idempotent"), null);
  assert.equal(callsFor("window-test"), before + 1);
  assert.equal((await gw.admin("PATCH", "/api/settings", { idempotency_window_ms: 5000 })).status, 200);
});

test("a key's answer survives a runtime restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "oe-idem-"));
  try {
    let first = await startGateway({ persistDir: dir, assets: false });
    await first.connect("openai", upstream);
    const k = await first.createKey("restart");
    assert.equal((await first.admin("PATCH", "/api/settings", { idempotency_window_ms: 60000 })).status, 200);
    const send = (g) => fetch(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${k}`, "content-type": "application/json", "idempotency-key": "restart-1" },
      body: JSON.stringify({ model: "openai/restart-test", messages: [{ role: "user", content: "r" }] }),
    });
    const a = await send(first);
    const text = await a.text();
    for (let i = 0; i < 20; i++) { // wait until the answer is settled in the object
      const r = await send(first);
      await r.text();
      if (r.headers.get("x-omniroute-idempotent")) break;
    }
    await first.dispose();
    const second = await startGateway({ persistDir: dir, assets: false });
    try {
      const calls = callsFor("restart-test");
      const b = await send(second);
      assert.equal(await b.text(), text);
      assert.equal(b.headers.get("x-omniroute-idempotent"), "true");
      assert.equal(callsFor("restart-test"), calls);
    } finally {
      await second.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
