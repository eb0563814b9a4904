// Bad input gets a clear 4xx in OpenAI's error shape — never a 500, a hang or a panic.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

const t = gatewayWithOpenAI();

async function post(path, body, headers = { authorization: `Bearer ${t.key}` }) {
  const res = await fetch(`${t.gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { assert.fail(`not JSON (${res.status}): ${text.slice(0, 200)}`); }
  return { status: res.status, json, headers: res.headers };
}

function assertOpenAIError(r, status, { param, code, message } = {}) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const e = r.json.error;
  assert.deepEqual(Object.keys(e).sort(), ["code", "message", "param", "type"]);
  assert.equal(typeof e.message, "string");
  if (param !== undefined) assert.equal(e.param, param);
  if (code !== undefined) assert.equal(e.code, code);
  if (message) assert.match(e.message, message);
}

const msg = [{ role: "user", content: "x" }];

test("malformed JSON", async () => {
  assertOpenAIError(await post("/v1/chat/completions", "{\"model\": "), 400, { message: /not valid JSON/ });
});

test("a body that is not an object", async () => {
  assertOpenAIError(await post("/v1/chat/completions", "[]"), 400, { message: /JSON object/ });
});

test("missing or empty model", async () => {
  assertOpenAIError(await post("/v1/chat/completions", JSON.stringify({ messages: msg })), 400, { param: "model" });
  assertOpenAIError(await post("/v1/chat/completions", JSON.stringify({ model: " ", messages: msg })), 400, { param: "model" });
});

test("missing or empty messages", async () => {
  assertOpenAIError(await post("/v1/chat/completions", JSON.stringify({ model: "openai/gpt-4o" })), 400, { param: "messages" });
  assertOpenAIError(await post("/v1/chat/completions", JSON.stringify({ model: "openai/gpt-4o", messages: [] })), 400, { param: "messages" });
});

test("unknown model and known provider without a connection", async () => {
  assertOpenAIError(await post("/v1/chat/completions", JSON.stringify({ model: "no-such-model", messages: msg })), 404,
    { param: "model", code: "model_not_found" });
  assertOpenAIError(await post("/v1/chat/completions", JSON.stringify({ model: "groq/llama-3.3-70b-versatile", messages: msg })), 404,
    { code: "model_not_found", message: /No active `groq` connection/ });
  assert.equal(t.upstream.requests.length, 0, "nothing reached the upstream");
});

test("missing and invalid API keys", async () => {
  const body = JSON.stringify({ model: "openai/gpt-4o", messages: msg });
  assertOpenAIError(await post("/v1/chat/completions", body, {}), 401, { code: "invalid_api_key", message: /Missing API key/ });
  assertOpenAIError(await post("/v1/chat/completions", body, { authorization: "Bearer sk-oe-not-a-real-key" }), 401,
    { code: "invalid_api_key", message: /Invalid API key/ });
  assertOpenAIError(await post("/v1/chat/completions", body, { "x-api-key": "wrong" }), 401, { code: "invalid_api_key" });
  const models = await fetch(`${t.gw.url}/v1/models`);
  assert.equal(models.status, 401);
});

test("x-api-key works as well as Bearer", async () => {
  const r = await post("/v1/chat/completions", JSON.stringify({ model: "openai/gpt-4o", messages: msg }), { "x-api-key": t.key });
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].message.content, "echo: x");
});

// An oversized body is refused without being read to the end, so the server may close that
// connection: these requests use a connection of their own (agent: false) rather than the shared pool.
function postOnFreshConnection(path, chunks, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${t.gw.url}${path}`, { method: "POST", agent: false, headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json", ...headers } }, (res) => {
      let data = "";
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(data), headers: res.headers }));
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

test("oversized bodies are refused with 413, by Content-Length and while reading a chunked upload", async () => {
  const limit = 4096;
  assert.equal((await t.gw.admin("PATCH", "/api/settings", { max_request_bytes: limit })).status, 200);
  try {
    const big = JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content: "x".repeat(limit) }] });
    assertOpenAIError(await postOnFreshConnection("/v1/chat/completions", [big], { "content-length": Buffer.byteLength(big) }), 413,
      { code: "request_too_large" });
    // A chunked upload has no Content-Length: the limit is enforced as the bytes arrive.
    const chunks = Array.from({ length: 8 }, (_, i) => big.slice(i * 1024, (i + 1) * 1024));
    const r = await postOnFreshConnection("/v1/chat/completions", chunks, { "transfer-encoding": "chunked" });
    assertOpenAIError(r, 413, { code: "request_too_large" });
  } finally {
    await t.gw.admin("PATCH", "/api/settings", { max_request_bytes: 16777216 });
  }
});

test("wrong method and unknown /v1 endpoint", async () => {
  const get = await fetch(`${t.gw.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${t.key}` } });
  assert.equal(get.status, 405);
  assert.ok((await get.json()).error.message);
  const unknown = await post("/v1/nothing-here", "{}");
  assertOpenAIError(unknown, 404);
});

test("/v1/v1 is normalised and a tenant prefix must match the key's tenant", async () => {
  const body = JSON.stringify({ model: "openai/gpt-4o", messages: msg });
  assert.equal((await post("/v1/v1/chat/completions", body)).status, 200);
  assert.equal((await post("/default/v1/chat/completions", body)).status, 200);
  assertOpenAIError(await post("/someone-else/v1/chat/completions", body), 401);
});

test("health is public; CORS preflight is answered", async () => {
  const h = await fetch(`${t.gw.url}/health`);
  assert.equal(h.status, 200);
  assert.equal((await h.json()).status, "ok");
  const pre = await fetch(`${t.gw.url}/v1/chat/completions`, { method: "OPTIONS" });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "*");
});

test("every /v1 answer carries the CORS headers and its request id: whole, streamed, refused", async () => {
  for (const [body, status] of [
    [{ model: "openai/gpt-4o", messages: msg }, 200],
    [{ model: "openai/gpt-4o", messages: msg, stream: true }, 200],
    [{ model: "no-such/model", messages: msg }, 404],
  ]) {
    const r = await fetch(`${t.gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.key}` },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, status, text);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    assert.match(r.headers.get("access-control-expose-headers"), /x-request-id/);
    if (status === 200) assert.match(r.headers.get("x-request-id") ?? "", /\S/);
  }
});

// A client's model id is bounded (256 bytes, no control characters) wherever it comes from, and
// refused in the client's own error shape; nothing it sent grows a response header.
const HUGE_MODEL = "openai/" + "m".repeat(100 * 1024);

function assertBoundedHeaders(headers) {
  for (const [name, value] of headers) assert.ok(value.length <= 1024, `header ${name} is ${value.length} bytes`);
}

test("a 100 KB model id is refused in each client's error shape", async () => {
  const upstreamCalls = t.upstream.requests.length;
  const cases = [
    ["/v1/chat/completions", { model: HUGE_MODEL, messages: msg }, (j) => {
      assert.deepEqual(Object.keys(j.error).sort(), ["code", "message", "param", "type"]);
      assert.equal(j.error.param, "model");
      assert.equal(j.error.code, "invalid_model");
    }],
    ["/v1/responses", { model: HUGE_MODEL, input: "x" }, (j) => {
      assert.equal(j.error.param, "model");
      assert.equal(j.error.code, "invalid_model");
    }],
    ["/v1/messages", { model: HUGE_MODEL, max_tokens: 5, messages: msg }, (j) => {
      assert.equal(j.type, "error");
      assert.equal(j.error.type, "invalid_request_error");
    }],
  ];
  for (const [path, body, check] of cases) {
    const r = await post(path, JSON.stringify(body));
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.json).slice(0, 300)}`);
    check(r.json);
    assert.ok(JSON.stringify(r.json).length < 1024, `${path}: the error does not repeat the model`);
    assertBoundedHeaders(r.headers);
  }
  assert.equal(t.upstream.requests.length, upstreamCalls, "nothing reached the upstream");
});

test("an oversized or unprintable model in the Gemini URL is refused in Gemini's error shape", async () => {
  const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "x" }] }] });
  // Cloudflare's edge refuses URLs over 16 KB itself; the local runtime passes 100 KB on to the worker.
  for (const model of [HUGE_MODEL, "openai%2Fgpt-4o%0D%0Ax-injected:%201"]) {
    const r = await post(`/v1beta/models/${model}:generateContent`, body, { "x-goog-api-key": t.key });
    assert.equal(r.status, 400, JSON.stringify(r.json).slice(0, 300));
    assert.deepEqual(Object.keys(r.json.error).sort(), ["code", "message", "status"]);
    assert.equal(r.json.error.status, "INVALID_ARGUMENT");
    assert.match(r.json.error.message, /at most 256 bytes/);
    assert.equal(r.headers.get("x-injected"), null);
    assertBoundedHeaders(r.headers);
  }
});

test("the longest accepted model id gives bounded, valid response headers", async () => {
  const model = "openai/" + "m".repeat(249);
  const r = await post("/v1/chat/completions", JSON.stringify({ model, messages: msg }));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.headers.get("x-omniroute-model"), "m".repeat(249));
  assertBoundedHeaders(r.headers);
  const wide = await post("/v1/chat/completions", JSON.stringify({ model: "openai/模型-ü", messages: msg }));
  assert.equal(wide.status, 200, JSON.stringify(wide.json));
  assert.equal(wide.headers.get("x-omniroute-model"), encodeURIComponent("模型-ü"));
});
