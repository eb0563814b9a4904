// What the upstream receives, and how each client's errors look: the details a translating gateway
// gets wrong first.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";

let gw, key, openai, anthropic, gemini;
const mocks = {};

before(async () => {
  gw = await startGateway();
  for (const [provider, start] of [["openai", startMockOpenAI], ["anthropic", startMockAnthropic], ["gemini", startMockGemini]]) {
    mocks[provider] = await start();
    await gw.addConnection({ provider, api_key: mocks[provider].apiKey, base_url: mocks[provider].url });
  }
  key = await gw.createKey("details");
  openai = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
  gemini = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gw.url, apiVersion: "v1beta" } });
});
after(async () => {
  await gw?.dispose();
  for (const m of Object.values(mocks)) await m.close();
});

const last = (p) => mocks[p].requests.at(-1).body;

test("a tool call and its result make a second turn in every direction", async () => {
  // OpenAI client → Anthropic upstream: tool messages become tool_result blocks after the tool_use turn.
  const r = await openai.chat.completions.create({
    model: "anthropic/tool-call",
    messages: [
      { role: "developer", content: "Use tools." },
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ],
    tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
  });
  assert.equal(r.choices[0].message.content, "weather: sunny");
  const sent = last("anthropic");
  assert.equal(sent.system, "Use tools.", "developer → system");
  assert.deepEqual(sent.messages.map((m) => m.role), ["user", "assistant", "user"]);
  assert.equal(sent.messages[1].content.find((b) => b.type === "tool_use").id, "call_1");
  assert.deepEqual(sent.messages[2].content[0], { type: "tool_result", tool_use_id: "call_1", content: "sunny" });

  // Anthropic client → Gemini upstream: the functionResponse is named after the call (Gemini has no ids).
  const m = await anthropic.messages.create({
    model: "gemini/tool-call",
    max_tokens: 100,
    tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } }, additionalProperties: false, $schema: "http://json-schema.org/draft-07/schema#" } }],
    messages: [
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "rainy" }] },
    ],
  });
  assert.equal(m.content[0].text, "weather: rainy");
  const g = last("gemini");
  const response = g.contents.at(-1).parts[0].functionResponse;
  assert.equal(response.name, "get_weather");
  assert.equal(g.contents[1].parts[0].thoughtSignature, "skip_thought_signature_validator", "replayed calls from another model get the documented escape hatch");
  const params = g.tools[0].functionDeclarations[0].parameters;
  assert.equal(params.additionalProperties, undefined, "JSON Schema is cleaned for Gemini");
  assert.equal(params.$schema, undefined);

  // Gemini client → OpenAI upstream: ids are synthesised and matched.
  const gr = await gemini.models.generateContent({
    model: "openai/tool-call",
    contents: [
      { role: "user", parts: [{ text: "weather in Paris?" }] },
      { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
      { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { content: "foggy" } } }] },
    ],
    config: { tools: [{ functionDeclarations: [{ name: "get_weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } }] }] },
  });
  assert.equal(gr.text, "weather: foggy");
  const o = last("openai");
  const callId = o.messages.find((x) => x.role === "assistant").tool_calls[0].id;
  assert.ok(callId);
  assert.equal(o.messages.find((x) => x.role === "tool").tool_call_id, callId);
});

test("orphaned tool results are dropped and missing ones filled before a strict upstream sees them", async () => {
  await openai.chat.completions.create({
    model: "anthropic/chat-model",
    messages: [
      { role: "tool", tool_call_id: "ghost", content: "left over" },
      { role: "user", content: "hi" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_9", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "user", content: "never mind" },
    ],
  });
  const sent = last("anthropic");
  const blocks = sent.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
  assert.ok(!blocks.some((b) => b.tool_use_id === "ghost"));
  assert.ok(blocks.some((b) => b.type === "tool_result" && b.tool_use_id === "call_9" && b.is_error));
});

test("same-format traffic passes through untouched apart from the model", async () => {
  const body = {
    model: "anthropic/chat-model", max_tokens: 50, system: [{ type: "text", text: "sys", cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: "hello" }], metadata: { user_id: "u1" }, top_k: 5,
  };
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(last("anthropic"), { ...body, model: "chat-model" });
  assert.equal(mocks.anthropic.requests.at(-1).headers["anthropic-version"], "2023-06-01");
  assert.equal(mocks.anthropic.requests.at(-1).headers["anthropic-beta"], "context-management-2025-06-27", "beta flags travel with the body");
});

test("bad input gets each client's own error shape and status", async () => {
  const post = (path, body, headers = {}) => fetch(`${gw.url}${path}`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json", ...headers }, body });
  const a = await post("/v1/messages", "{nope");
  assert.equal(a.status, 400);
  const aj = await a.json();
  assert.equal(aj.type, "error");
  assert.equal(aj.error.type, "invalid_request_error");

  // An id the key never stored: the API's own 404 (docs/responses.md).
  const r = await post("/v1/responses", JSON.stringify({ model: "openai/x", input: "hi", previous_response_id: "resp_1" }));
  assert.equal(r.status, 404);
  const rj = await r.json();
  assert.deepEqual([rj.error.param, rj.error.code], ["previous_response_id", "previous_response_not_found"]);

  const g = await post("/v1beta/models/nope-model:generateContent", JSON.stringify({ contents: [{ role: "user", parts: [{ text: "x" }] }] }));
  assert.equal(g.status, 404);
  const gj = await g.json();
  assert.equal(gj.error.code, 404);
  assert.equal(gj.error.status, "NOT_FOUND");

  const unauth = await fetch(`${gw.url}/v1/messages`, { method: "POST", body: "{}" });
  assert.equal(unauth.status, 401);
  assert.equal((await unauth.json()).error.type, "authentication_error");

  await assert.rejects(anthropic.messages.create({ model: "anthropic/overloaded", max_tokens: 10, messages: [{ role: "user", content: "x" }] }), (e) => {
    assert.ok(e.status >= 500, String(e.status));
    return true;
  });
  await assert.rejects(gemini.models.generateContent({ model: "anthropic/rate-limited", contents: "x" }), (e) => {
    assert.equal(e.status, 429);
    return true;
  });
});

test("count_tokens estimates from the request", async () => {
  const small = await anthropic.messages.countTokens({ model: "anthropic/x", messages: [{ role: "user", content: "hi" }] });
  const big = await anthropic.messages.countTokens({ model: "anthropic/x", system: "x".repeat(8000), messages: [{ role: "user", content: "hi" }] });
  assert.ok(small.input_tokens >= 1);
  assert.ok(big.input_tokens >= small.input_tokens + 1500, `${small.input_tokens} → ${big.input_tokens}`);
});

test("a local OmniRoute's per-instance prefix works for every endpoint", async () => {
  const scoped = new Anthropic({ apiKey: key, baseURL: `${gw.url}/default`, maxRetries: 0 });
  const m = await scoped.messages.create({ model: "openai/chat-model", max_tokens: 20, messages: [{ role: "user", content: "via prefix" }] });
  assert.equal(m.content[0].text, "echo: via prefix");
  const other = new Anthropic({ apiKey: key, baseURL: `${gw.url}/someone-else`, maxRetries: 0 });
  await assert.rejects(other.messages.create({ model: "openai/chat-model", max_tokens: 20, messages: [{ role: "user", content: "x" }] }), { status: 401 });
  const g = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: `${gw.url}/default`, apiVersion: "v1beta" } });
  assert.equal((await g.models.generateContent({ model: "openai/chat-model", contents: "gem" })).text, "echo: gem");
});

test("Gemini clients on the v1 path and with ?key= are served too", async () => {
  const res = await fetch(`${gw.url}/v1/models/openai/chat-model:generateContent?key=${key}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ parts: [{ text: "v1 path" }] }] }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).candidates[0].content.parts[0].text, "echo: v1 path");
});

test("translated streams are relayed as they arrive, not buffered", async () => {
  const stream = anthropic.messages.stream({ model: "openai/gated-stream", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
  const events = stream[Symbol.asyncIterator]();
  // The OpenAI upstream has sent its first chunk and waits at its gate; the Anthropic client must
  // already hold the translated `message_start`, or this read would never complete.
  const first = await events.next();
  assert.equal(first.value.type, "message_start");
  assert.equal(mocks.openai.waitingAtGate(), 1);
  mocks.openai.release();
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, "echo: hi");
});
