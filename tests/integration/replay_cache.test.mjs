// The response cache (issue 8): a deterministic request (temperature 0) asked again is answered from
// the cache, in every client format (official SDKs), whole and streamed: the upstream is called
// once, the client gets the same answer, and the log marks it a hit costing nothing. The bypass
// header skips the cache; GET /api/stats counts hits, misses and bypasses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { clientsFor } from "../support/clients.mjs";

let gw, key, upstream, anthropic;
let seq = 0;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", upstream);
  key = await gw.createKey("cache");
});
after(async () => { await gw?.dispose(); await upstream?.close(); await anthropic?.close(); });

/** Runs `client` with its own request id (and extra headers); returns the id and the SDK's result. */
async function run(client, opts, headers = {}) {
  const id = `cache-${client}-${++seq}`;
  const result = await clientsFor(gw.url, key, { headers: { "x-request-id": id, ...headers } })[client].run("openai/gpt-4o-mini", opts);
  return { id, result };
}

async function record(id) {
  for (let i = 0; i < 200; i++) {
    const r = await gw.admin("GET", `/api/logs/${encodeURIComponent(id)}`);
    if (r.status === 200) return r.json;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail(`no log record for ${id}`);
}

/** Asks again until the answer comes from the cache (it is stored in the background after the
 *  miss's last byte): the first request that makes no upstream call. */
async function untilHit(client, opts) {
  for (let i = 0; i < 50; i++) {
    const calls = upstream.requests.length;
    const r = await run(client, opts);
    if (upstream.requests.length === calls) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail("no cache hit within 2.5 s");
}

const CLIENTS = ["openai-chat", "openai-responses", "anthropic", "gemini"];

for (const client of CLIENTS) {
  for (const stream of [false, true]) {
    test(`${client} ${stream ? "streamed" : "whole"}: miss, then hit, then bypass`, async () => {
      const opts = { stream, temperature: 0, prompt: `cache me ${client} ${stream}` };
      const calls = upstream.requests.length;
      const miss = await run(client, opts);
      assert.equal(upstream.requests.length, calls + 1);
      const hit = await untilHit(client, opts);
      assert.deepEqual(hit.result, miss.result, "the same answer, through the SDK's own parsing");
      assert.match(miss.result.text, /cache me/);
      const before = upstream.requests.length;
      const bypass = await run(client, opts, { "x-omniroute-no-cache": "true" });
      assert.equal(upstream.requests.length, before + 1, "bypass calls upstream");
      assert.deepEqual(bypass.result.text, miss.result.text);

      const [m, h, b] = [await record(miss.id), await record(hit.id), await record(bypass.id)];
      assert.equal(m.cache, "miss");
      assert.equal(h.cache, "hit");
      assert.equal(b.cache, "bypass");
      assert.ok(m.cost_usd > 0, "the miss is priced");
      assert.equal(h.cost_usd, 0, "a hit costs nothing");
      assert.equal(h.attempts, 0);
      assert.deepEqual(h.tokens, m.tokens, "a hit is metered with the tokens of the answer it serves");
      assert.equal(h.provider, "openai");
      assert.equal(h.streamed, stream);
    });
  }
}

test("headers: MISS then HIT with the cost saved; a warm request is not cached unless forced", async () => {
  const post = (body, headers = {}) => fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const body = { model: "openai/gpt-4o-mini", temperature: 0, messages: [{ role: "user", content: "headers please" }] };
  const first = await post(body);
  const firstText = await first.text();
  assert.equal(first.headers.get("x-omniroute-cache"), "MISS");
  let second;
  for (let i = 0; i < 50; i++) {
    second = await post(body);
    if (second.headers.get("x-omniroute-cache") === "HIT") break;
    await second.text();
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(second.headers.get("x-omniroute-cache"), "HIT");
  assert.equal(await second.text(), firstText, "byte for byte");
  assert.ok(Number(second.headers.get("x-omniroute-cost-saved")) > 0);
  assert.equal(second.headers.get("x-omniroute-provider"), "openai");
  assert.notEqual(second.headers.get("x-request-id"), first.headers.get("x-request-id"), "a replay has its own request id");
  // Key order and whitespace do not make another request.
  const reordered = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: `{ "messages": [{"content": "headers please", "role": "user"}],\n "temperature": 0.0, "model": "openai/gpt-4o-mini" }`,
  });
  await reordered.text();
  assert.equal(reordered.headers.get("x-omniroute-cache"), "HIT");

  const warm = { ...body, temperature: 0.8 };
  const w = await post(warm);
  await w.text();
  assert.equal(w.headers.get("x-omniroute-cache"), null, "not deterministic: the cache does not apply");
  const forced = await post(warm, { "x-omniroute-cache": "force" });
  await forced.text();
  assert.equal(forced.headers.get("x-omniroute-cache"), "MISS");
});

test("a cached answer made outside the asking key's scopes is a miss: the key is served within them, not refused", async () => {
  anthropic = await startMockAnthropic();
  const claude = await gw.connect("anthropic", anthropic);
  const openai = (await gw.admin("GET", "/api/providers")).json.data.find((c) => c.provider === "openai");
  const combo = await gw.admin("POST", "/api/combos", { name: "duo", targets: [{ model: "anthropic/claude-sonnet-4-5" }, { model: "openai/gpt-4o-mini" }] });
  assert.equal(combo.status, 201, combo.text);
  const keyWith = async (name, scopes) => (await gw.admin("POST", "/api/keys", { name, access: { scopes } })).json.key;
  const post = (k) => fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST", headers: { authorization: `Bearer ${k}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "duo", temperature: 0, messages: [{ role: "user", content: "scoped cache" }] }),
  }).then(async (r) => ({ status: r.status, cache: r.headers.get("x-omniroute-cache"), provider: r.headers.get("x-omniroute-provider"), text: await r.text() }));
  // Key A caches Anthropic's answer.
  assert.equal((await post(key)).provider, "anthropic");
  let hit;
  for (let i = 0; i < 50 && hit?.cache !== "HIT"; i++) {
    hit = await post(key);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual([hit.cache, hit.provider], ["HIT", "anthropic"]);
  const calls = upstream.requests.length;
  // Key B may use OpenAI only; key C only the OpenAI connection (and never Anthropic's).
  const b = await post(await keyWith("openai only", { providers: ["openai"] }));
  assert.deepEqual([b.status, b.cache, b.provider], [200, "MISS", "openai"], b.text);
  const c = await post(await keyWith("connection only", { connections: [openai.id, `!${claude.id}`] }));
  assert.equal(c.status, 200, c.text);
  assert.equal(c.provider, "openai");
  assert.ok(upstream.requests.length > calls, "OpenAI served them");
});

test("GET /api/stats counts hits, misses and bypasses; the setting turns the cache off", async () => {
  // 8 client cases (a miss, a hit, a bypass each) and the headers test (2 hits, 2 misses); the
  // log is written in the background, so the counts may take a moment to land.
  let stats;
  for (let i = 0; i < 40; i++) {
    stats = (await gw.admin("GET", "/api/stats")).json.response_cache;
    if (stats.hit >= 10) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(stats.hit >= 10 && stats.miss >= 10 && stats.bypass >= 8, JSON.stringify(stats));
  assert.ok(stats.hit_ratio > 0 && stats.hit_ratio < 1);
  assert.equal((await gw.admin("PATCH", "/api/settings", { response_cache_ttl_secs: 10 })).status, 400, "KV keeps at least 60 s");
  assert.equal((await gw.admin("PATCH", "/api/settings", { response_cache: false })).status, 200);
  const calls = upstream.requests.length;
  const opts = { temperature: 0, prompt: "cache me openai-chat false" };
  await run("openai-chat", opts);
  await run("openai-chat", opts);
  assert.equal(upstream.requests.length, calls + 2, "off: every request calls upstream");
  assert.equal((await gw.admin("PATCH", "/api/settings", { response_cache: true })).status, 200);
});
