// Metering across formats: every client format (official SDKs) × every upstream format, whole and
// streamed, leaves exactly one log record whose tokens are what the mock upstream reported (in its
// own format), priced at the tenant's prices. Also: a fallback is one record, refusals are recorded,
// price edits apply to the next request, and logged bodies are redacted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";
import { startMockResponses } from "../support/mock_responses.mjs";
import { clientsFor } from "../support/clients.mjs";

const UPSTREAMS = {
  openai: startMockOpenAI,
  "openai-responses": startMockResponses,
  anthropic: startMockAnthropic,
  gemini: startMockGemini,
};
const CLIENTS = { "openai-chat": "openai_chat", "openai-responses": "openai_responses", anthropic: "anthropic", gemini: "gemini" };
const PROMPT = "count these tokens please";

/** The usage each mock reports for a plain text answer `text`, in the gateway's terms (`input`
 *  includes cached tokens): see the usage blocks of tests/support/mock_*.mjs. The text mocks count
 *  one output token per word. */
const words = (text) => text.split(/(?<= )/).length;
const MOCK_USAGE = {
  openai: () => ({ input: 11, output: 7, cached: 0, reasoning: 0 }),
  "openai-responses": (text) => ({ input: 20, output: words(text), cached: 0, reasoning: 0 }),
  anthropic: (text) => ({ input: 12 + 8, output: words(text), cached: 8, reasoning: 0 }),
  gemini: (text) => ({ input: 20, output: words(text), cached: 0, reasoning: 0 }),
};
/** The same for the `thinking` script: reasoning "Let me think about 2+2." then "The answer is 4.". */
const REASONING = "Let me think about 2+2.", ANSWER = "The answer is 4.";
const MOCK_THINKING_USAGE = {
  openai: { input: 11, output: 7 + 9, cached: 0, reasoning: 9 },
  "openai-responses": { input: 20, output: 64 + words(ANSWER), cached: 0, reasoning: 64 },
  anthropic: { input: 12 + 8, output: words(REASONING) + words(ANSWER), cached: 8, reasoning: words(REASONING) },
  gemini: { input: 20, output: 9 + words(ANSWER), cached: 0, reasoning: 9 },
};

let gw, key, prices;
const mocks = {};
const sent = []; // every request id this file sent a generation request with
let seq = 0;
const newId = (what) => { const id = `mm-${what}-${++seq}`; sent.push(id); return id; };

before(async () => {
  gw = await startGateway();
  for (const [provider, start] of Object.entries(UPSTREAMS)) {
    mocks[provider] = await start();
    await gw.addConnection({ provider, api_key: mocks[provider].apiKey, base_url: mocks[provider].url });
  }
  key = await gw.createKey("meter");
  prices = (await gw.admin("GET", "/api/pricing")).json.data;
});
after(async () => {
  await gw?.dispose();
  for (const m of Object.values(mocks)) await m.close();
});

/** Runs `client`'s SDK with its own X-Request-Id; returns the id and the SDK's result. */
async function viaSdk(client, model, opts, what = client) {
  const id = newId(what);
  const result = await clientsFor(gw.url, key, { headers: { "x-request-id": id } })[client].run(model, opts);
  return { id, result };
}

/** The request's log record, once the background write has landed. */
async function record(id) {
  for (let i = 0; i < 200; i++) {
    const r = await gw.admin("GET", `/api/logs/${encodeURIComponent(id)}`);
    if (r.status === 200) return r.json;
    assert.equal(r.status, 404, r.text);
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail(`no log record for ${id}`);
}

/** USD for the record's tokens at a price row of /api/pricing (cost.rs: each part priced once). */
function expectedCost(t, row) {
  if (!row) return 0;
  const cachedPrice = row.cached_input ?? row.input;
  const reasoningPrice = row.reasoning ?? row.output;
  return ((t.input - t.cached) * row.input + t.cached * cachedPrice + (t.output - t.reasoning) * row.output + t.reasoning * reasoningPrice) / 1e6;
}
const assertCost = (rec, row) => {
  const want = expectedCost(rec.tokens, row);
  assert.ok(Math.abs(rec.cost_usd - want) < 1e-12, `cost ${rec.cost_usd}, expected ${want} (${JSON.stringify(row)})`);
};

/** The price row the gateway uses for a provider's model (openai-responses shares OpenAI's rows). */
const priceRow = (list, provider, model) =>
  list.find((r) => r.provider === (provider === "openai-responses" ? "openai" : provider) && r.model === model);
/** A model with a built-in price, so the matrix checks a real cost. */
const pricedModel = (provider) => priceRow(prices, provider, prices.find((r) => r.provider === (provider === "openai-responses" ? "openai" : provider)).model).model;

const tokensOf = (rec) => ({ input: rec.tokens.input, output: rec.tokens.output, cached: rec.tokens.cached, reasoning: rec.tokens.reasoning });

for (const [client, clientFormat] of Object.entries(CLIENTS)) {
  test(`${client} client: one exact record per upstream format, whole and streamed`, async () => {
    const cells = Object.keys(UPSTREAMS).flatMap((upstream) => [false, true].map((stream) => ({ upstream, stream })));
    await Promise.all(cells.map(async ({ upstream, stream }) => {
      const model = pricedModel(upstream);
      const cell = `${client} ← ${upstream} stream=${stream}`;
      // An OpenAI Chat client asks for the stream's usage chunk, as metered clients do (see below).
      const { id, result } = await viaSdk(client, `${upstream}/${model}`, { stream, usage: true, prompt: PROMPT });
      assert.equal(result.text, `echo: ${PROMPT}`, cell);
      const rec = await record(id);
      assert.deepEqual(tokensOf(rec), MOCK_USAGE[upstream](result.text), `${cell}: ${JSON.stringify(rec.tokens)}`);
      assert.equal(rec.tokens.estimated, false, cell);
      assert.deepEqual(
        [rec.client_format, rec.provider, rec.upstream_model, rec.streamed, rec.status, rec.attempts, rec.error_code ?? null],
        [clientFormat, upstream, model, stream, 200, 1, null], cell);
      assert.match(rec.connection, /^conn_/, cell);
      assertCost(rec, priceRow(prices, upstream, model));
      assert.ok(rec.cost_usd > 0, `${cell}: a priced model costs something`);
      assert.ok(Number.isInteger(rec.latency_ms) && rec.latency_ms >= 0, `${cell}: latency ${rec.latency_ms}`);
      assert.ok(Number.isInteger(rec.ttfb_ms) && rec.ttfb_ms >= 0 && rec.ttfb_ms <= rec.latency_ms, `${cell}: ttfb ${rec.ttfb_ms}`);
    }));
  });
}

const rawChatStream = async (id, extra) => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-request-id": id },
    body: JSON.stringify({ model: "openai/gpt-4o", stream: true, messages: [{ role: "user", content: PROMPT }], ...extra }),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-request-id"), id, "the client's id is echoed");
  const chunks = (await r.text()).split("\n").filter((l) => l.startsWith("data: {")).map((l) => JSON.parse(l.slice(6)));
  return { chunks, rec: await record(id) };
};

test("a same-format stream, piped through as it comes, is metered with the upstream's usage", async () => {
  const { chunks, rec } = await rawChatStream(newId("piped"), { stream_options: { include_usage: true } });
  const usage = chunks.find((c) => c.usage)?.usage;
  assert.deepEqual([usage?.prompt_tokens, usage?.completion_tokens], [11, 7], "the mock's usage reached the client unchanged");
  assert.deepEqual(tokensOf(rec), MOCK_USAGE.openai(), JSON.stringify(rec.tokens));
  assert.deepEqual([rec.streamed, rec.status, rec.tokens.estimated], [true, 200, false]);
  assertCost(rec, priceRow(prices, "openai", "gpt-4o"));
});

test("a same-format stream without usage (the client did not ask for it) is metered as an estimate, marked so", async () => {
  // The body is relayed untouched, so the upstream is not asked for usage either.
  const { chunks, rec } = await rawChatStream(newId("piped-no-usage"), {});
  assert.equal(chunks.filter((c) => c.usage).length, 0, "no usage chunk the client did not ask for");
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), `echo: ${PROMPT}`);
  assert.deepEqual([rec.tokens.estimated, rec.streamed, rec.status], [true, true, 200]);
  assert.ok(rec.tokens.input > 0 && rec.tokens.output > 0, JSON.stringify(rec.tokens));
  assertCost(rec, priceRow(prices, "openai", "gpt-4o"));
});

test("a long piped stream (hundreds of KB, cut at arbitrary offsets) is metered from its start and end", async () => {
  // The tap reads a long stream's first piece and its last 16 KB, and counts the events in between.
  const prompt = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(" ");
  const messages = [{ role: "user", content: prompt }];
  const withUsage = await rawChatStream(newId("piped-long"), { messages, stream_options: { include_usage: true } });
  assert.equal(withUsage.chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), `echo: ${prompt}`, "relayed whole");
  assert.deepEqual(tokensOf(withUsage.rec), MOCK_USAGE.openai(), "the usage at the stream's end was read");
  assert.deepEqual([withUsage.rec.tokens.estimated, withUsage.rec.error_code ?? null], [false, null]);
  const noUsage = await rawChatStream(newId("piped-long-estimate"), { messages });
  const rec = noUsage.rec;
  assert.deepEqual([rec.tokens.estimated, rec.status, rec.error_code ?? null], [true, 200, null], "finished: not taken for a cut");
  // One token per text event: 3 001 words (with "echo: "), give or take the events at the seams.
  assert.ok(Math.abs(rec.tokens.output - 3001) <= 10, `estimated output ${rec.tokens.output}`);
});

test("a failed attempt then a success is one record naming the connection that answered", async () => {
  const broken = await startMockOpenAI({ apiKey: "sk-broken", failAs: ["server-error", "rate-limited"] });
  const healthy = await startMockOpenAI({ apiKey: "sk-healthy", scripted: false });
  mocks.broken = broken; mocks.healthy = healthy;
  await gw.addConnection({ provider: "deepseek", name: "broken", api_key: "sk-broken", base_url: broken.url, priority: 1 });
  const good = await gw.addConnection({ provider: "deepseek", name: "healthy", api_key: "sk-healthy", base_url: healthy.url, priority: 2 });
  for (const [fault, stream] of [["server-error", false], ["rate-limited", true]]) {
    await gw.admin("DELETE", "/api/cooldowns");
    const { id, result } = await viaSdk("openai-chat", "deepseek/deepseek-chat", { stream, usage: true, prompt: PROMPT }, `fallback-${fault}`);
    assert.equal(result.text, `echo: ${PROMPT}`);
    const rec = await record(id);
    assert.deepEqual([rec.attempts, rec.status, rec.provider, rec.connection, rec.upstream_model, rec.streamed],
      [2, 200, "deepseek", good.id, "deepseek-chat", stream], `${fault}: ${JSON.stringify(rec)}`);
    assert.deepEqual(tokensOf(rec), MOCK_USAGE.openai(), fault);
    assertCost(rec, priceRow(prices, "deepseek", "deepseek-chat"));
  }
  assert.equal(broken.requests.length, 2, "the broken account was tried each time");
});

test("a price edit changes the cost of the next request", async () => {
  // `thinking` has no built-in price; its answers report cached (Anthropic) and reasoning tokens, so
  // every part of a price is used.
  const cases = [["openai-chat", "openai"], ["anthropic", "anthropic"], ["openai-responses", "openai-responses"], ["gemini", "gemini"]];
  const run = (client, upstream) => viaSdk(client, `${upstream}/thinking`, { thinking: true, prompt: "2+2?" }, `price-${upstream}`).then(({ id }) => record(id));
  for (const [client, upstream] of cases) {
    const unpriced = await run(client, upstream);
    assert.equal(unpriced.cost_usd, 0, `${upstream}: no price, no cost`);
    assert.deepEqual(tokensOf(unpriced), MOCK_THINKING_USAGE[upstream], upstream);
  }
  for (const price of [{ input: 2, output: 8, cached_input: 0.5, reasoning: 12 }, { input: 3, output: 5 }]) {
    const put = await gw.admin("PUT", "/api/pricing", { prices: cases.map(([, provider]) => ({ provider, model: "thinking", ...price })) });
    assert.equal(put.status, 200, put.text);
    const rows = (await gw.admin("GET", "/api/pricing")).json.data;
    for (const [client, upstream] of cases) {
      const rec = await run(client, upstream);
      const row = priceRow(rows, upstream, "thinking");
      assert.equal(row.input, price.input);
      assert.deepEqual(tokensOf(rec), MOCK_THINKING_USAGE[upstream], upstream);
      assertCost(rec, row);
      assert.ok(rec.cost_usd > 0);
    }
  }
});

test("refused requests are one record each, with their status and no attempt", async () => {
  const post = (path, body, id) => fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "x-api-key": key, "x-goog-api-key": key, "content-type": "application/json", "anthropic-version": "2023-06-01", "x-request-id": id },
    body,
  }).then(async (r) => { await r.arrayBuffer(); return r.status; });
  const cases = [
    ["/v1/chat/completions", JSON.stringify({ model: "nope/unknown-model", messages: [{ role: "user", content: "hi" }] }), 404, "openai_chat"],
    ["/v1/chat/completions", "{not json", 400, "openai_chat"],
    ["/v1/responses", "{not json", 400, "openai_responses"],
    ["/v1/messages", JSON.stringify({ model: "nope/unknown-model", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }), 404, "anthropic"],
    ["/v1/messages", "[1, 2", 400, "anthropic"],
    ["/v1beta/models/gemini-2.5-flash:generateContent", "{\"contents\": ", 400, "gemini"],
  ];
  await Promise.all(cases.map(async ([path, body, status, format], i) => {
    const id = newId(`refused-${i}`);
    assert.equal(await post(path, body, id), status, `${path} ${body}`);
    const rec = await record(id);
    // Nothing reached an upstream: no tokens, no cost.
    assert.deepEqual([rec.status, rec.attempts, rec.client_format, rec.provider, rec.tokens.input, rec.tokens.output, rec.tokens.estimated, rec.cost_usd],
      [status, 0, format, "", 0, 0, false, 0], `${path} ${body}`);
    assert.ok(rec.error_code, "a refusal names its error");
  }));
});

test("with log_bodies on, a record shows both bodies, with a provider key and a sync token in the prompt redacted", async () => {
  const secret = "sk-proj-Zx81Qa2Lm9Wc4Rt7Yb3N";
  // A cloud-sync enrollment token (`oes_` + 43 base64url characters), here one without a digit.
  const token = `oes_${"QwErTyUiOp_-".repeat(3)}AsDfGhJ`;
  assert.equal((await gw.admin("PATCH", "/api/settings", { log_bodies: true })).status, 200);
  try {
    const { id, result } = await viaSdk("anthropic", "openai/gpt-4o", { prompt: `my key is ${secret} and ${token} ok` }, "bodies");
    assert.equal(result.text, `echo: my key is ${secret} and ${token} ok`, "the upstream got the prompt as sent");
    const rec = await record(id);
    assert.equal(typeof rec.request_body, "string", JSON.stringify(rec));
    assert.equal(typeof rec.response_body, "string", JSON.stringify(rec));
    for (const body of [rec.request_body, rec.response_body]) {
      assert.ok(!body.includes(secret) && !body.includes(secret.slice(8)), body);
      assert.ok(!body.includes(token.slice(4, 24)), body);
      assert.match(body, /my key is \S+ and \S+ ok/, "the rest of the text is kept");
    }
    assert.match(rec.request_body, /"max_tokens"/, "the request as the client sent it");
    assert.match(rec.response_body, /echo: my key is/, "the answer as the client received it");
  } finally {
    await gw.admin("PATCH", "/api/settings", { log_bodies: false });
  }
  const { id } = await viaSdk("openai-chat", "openai/gpt-4o", { prompt: "no bodies now" }, "no-bodies");
  const rec = await record(id);
  assert.deepEqual([rec.request_body, rec.response_body], [undefined, undefined]);
});

test("every request sent above left exactly one record", async () => {
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would land in the background too
  const db = await gw.mf.getD1Database("DB");
  const rows = (await db.prepare("SELECT request_id, COUNT(*) AS n FROM request_log GROUP BY request_id").all()).results;
  const counts = new Map(rows.map((r) => [r.request_id, r.n]));
  assert.deepEqual(sent.filter((id) => counts.get(id) !== 1).map((id) => [id, counts.get(id) ?? 0]), []);
  assert.equal(rows.reduce((n, r) => n + r.n, 0), sent.length, "and nothing else was recorded");
});
