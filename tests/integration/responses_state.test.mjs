// Stored responses over HTTP (issue 12): `previous_response_id` continues a conversation the gateway
// kept, whichever upstream format served each turn (mock OpenAI Chat and mock Anthropic here);
// GET and DELETE /v1/responses/{id}; another key's id is the API's own 404; the store survives a
// runtime restart and holds only ciphertext. Driven by the official OpenAI SDK.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";

let gw, chat, anthropic, keyA, keyB, a, b;
const weather = { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false };

before(async () => {
  chat = await startMockOpenAI();
  anthropic = await startMockAnthropic();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", chat);
  await gw.connect("anthropic", anthropic);
  keyA = await gw.createKey("a");
  keyB = await gw.createKey("b");
  a = new OpenAI({ apiKey: keyA, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  b = new OpenAI({ apiKey: keyB, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => { await gw?.dispose(); await chat?.close(); await anthropic?.close(); });

const texts = (content) => (typeof content === "string" ? content : content.map((p) => p.text ?? "").join(""));
const raw = (key, method, p, body) => fetch(`${gw.url}${p}`, {
  method,
  headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
  body: body && JSON.stringify(body),
}).then(async (r) => ({ status: r.status, json: await r.json() }));

test("previous_response_id continues a conversation across requests, turns served by Chat and Anthropic upstreams", async () => {
  const r1 = await a.responses.create({ model: "openai/m1", input: "My name is Ada." });
  assert.match(r1.output_text, /My name is Ada/);
  const r2 = await a.responses.create({ model: "anthropic/claude-x", previous_response_id: r1.id, input: "What is my name?" });
  const sent = anthropic.requests.at(-1).body;
  assert.deepEqual(sent.messages.map((m) => m.role), ["user", "assistant", "user"]);
  assert.equal(texts(sent.messages[0].content), "My name is Ada.");
  assert.equal(texts(sent.messages[1].content), r1.output_text, "turn 1's answer, as the client got it");
  assert.equal(texts(sent.messages[2].content), "What is my name?");
  assert.ok(!("previous_response_id" in sent));

  // Turn 3, streamed from the Chat upstream: the SDK's stream helper accepts it, and the upstream
  // got all five turns.
  const r3 = await a.responses.stream({ model: "openai/m1", previous_response_id: r2.id, input: "Thanks." }).finalResponse();
  assert.equal(r3.status, "completed");
  const messages = chat.requests.at(-1).body.messages;
  assert.deepEqual(messages.map((m) => m.role), ["user", "assistant", "user", "assistant", "user"]);
  assert.equal(texts(messages[3].content), r2.output_text);

  // Each response is stored as its client got it, saying what it continued.
  const got = await a.responses.retrieve(r3.id);
  assert.equal(got.id, r3.id);
  assert.equal(got.previous_response_id, r2.id);
  assert.equal(got.output_text, r3.output_text);
  assert.equal(got.store, true);
});

test("tool calls continue across turns: the call is stored, the next turn sends only its output", async () => {
  const r1 = await a.responses.create({ model: "anthropic/tool-call", input: "Weather in Paris?", tools: [weather] });
  const call = r1.output.find((o) => o.type === "function_call");
  assert.equal(call.name, "get_weather");
  const r2 = await a.responses.create({
    model: "openai/tool-call", previous_response_id: r1.id, tools: [weather],
    input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
  });
  assert.equal(r2.output_text, "weather: sunny", "the Chat upstream saw the Anthropic turn's call and its result");
  const messages = chat.requests.at(-1).body.messages;
  assert.equal(messages[1].tool_calls[0].id, call.call_id);
  assert.equal(messages[2].role, "tool");
});

test("another key's id, a deleted one and an unknown one get the API's 404", async () => {
  const r1 = await a.responses.create({ model: "openai/m1", input: "secret of key A" });
  const notFound = (id) => ({ error: { message: `Previous response with id '${id}' not found.`, type: "invalid_request_error",
    param: "previous_response_id", code: "previous_response_not_found" } });
  const before = chat.requests.length;
  let r = await raw(keyB, "POST", "/v1/responses", { model: "openai/m1", previous_response_id: r1.id, input: "hi" });
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, notFound(r1.id));
  assert.equal(chat.requests.length, before, "no upstream call");
  r = await raw(keyB, "GET", `/v1/responses/${r1.id}`);
  assert.equal(r.status, 404);
  assert.equal(r.json.error.message, `Response with id '${r1.id}' not found.`);
  assert.equal((await raw(keyB, "DELETE", `/v1/responses/${r1.id}`)).status, 404, "B cannot delete A's");

  // The SDK raises its NotFoundError with the code.
  await assert.rejects(b.responses.create({ model: "openai/m1", previous_response_id: "resp_unknown", input: "x" }),
    (e) => e.status === 404 && e.code === "previous_response_not_found" && e.param === "previous_response_id");

  // Deleted: gone for GET, for continuing, and for a second DELETE.
  r = await raw(keyA, "DELETE", `/v1/responses/${r1.id}`);
  assert.deepEqual(r, { status: 200, json: { id: r1.id, object: "response", deleted: true } });
  assert.equal((await raw(keyA, "GET", `/v1/responses/${r1.id}`)).status, 404);
  r = await raw(keyA, "POST", "/v1/responses", { model: "openai/m1", previous_response_id: r1.id, input: "hi" });
  assert.deepEqual(r.json, notFound(r1.id));
  assert.equal((await raw(keyA, "DELETE", `/v1/responses/${r1.id}`)).status, 404);

  // `store: false` keeps nothing; a bad id type is a 400 naming the field.
  const unstored = await a.responses.create({ model: "openai/m1", input: "ephemeral", store: false });
  assert.equal((await raw(keyA, "GET", `/v1/responses/${unstored.id}`)).status, 404);
  r = await raw(keyA, "POST", "/v1/responses", { model: "openai/m1", previous_response_id: 42, input: "x" });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, "previous_response_id");
  // The refused continuation left a usage record with its code.
  let logs;
  for (let i = 0; i < 50; i++) {
    logs = (await gw.admin("GET", "/api/logs?limit=50")).json.data;
    if (logs.some((l) => l.error_code === "previous_response_not_found")) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(logs.some((l) => l.error_code === "previous_response_not_found" && l.status === 404 && l.attempts === 0));
});

test("stored responses survive a runtime restart, and their storage holds only ciphertext", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oe-responses-"));
  try {
    const first = await startGateway({ persistDir: dir, assets: false });
    await first.connect("openai", chat);
    const key = await first.createKey("restart");
    const marker = `marker-${Date.now()}-zebra`;
    const r1 = await new OpenAI({ apiKey: key, baseURL: `${first.url}/v1`, maxRetries: 0 })
      .responses.create({ model: "openai/m1", input: `Remember ${marker}` });
    await first.dispose();

    const files = fs.readdirSync(path.join(dir, "do"), { recursive: true }).map((f) => path.join(dir, "do", f)).filter((f) => fs.statSync(f).isFile());
    assert.ok(files.length > 0);
    for (const f of files) assert.ok(!fs.readFileSync(f).includes(marker), `plaintext in ${f}`);

    const second = await startGateway({ persistDir: dir, assets: false });
    try {
      const client = new OpenAI({ apiKey: key, baseURL: `${second.url}/v1`, maxRetries: 0 });
      await client.responses.create({ model: "openai/m1", previous_response_id: r1.id, input: "What did I ask you to remember?" });
      const messages = chat.requests.at(-1).body.messages;
      assert.equal(texts(messages[0].content), `Remember ${marker}`);
      assert.equal(messages.length, 3);
      assert.equal((await client.responses.retrieve(r1.id)).id, r1.id);
    } finally {
      await second.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
