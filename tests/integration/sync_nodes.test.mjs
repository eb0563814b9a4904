// Cloud sync serves a machine's provider nodes whatever API they speak: an OmniRoute Responses-API
// node (`apiType: "responses"`) and an OpenAI-compatible node with its own `chatPath`. The official
// openai and Anthropic SDKs call them through /{machineId} with the machine's synced key; each
// upstream gets the request at its own path, in its own wire format, with the connection's key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockResponses } from "../support/mock_responses.mjs";
import { call, enroll } from "../support/sync_client.mjs";

const MACHINE = "5e7d0de500000001";
const KEY = `sk-${MACHINE}-nodes1-0badc0de`;
const RESP_NODE = "openai-compatible-responses-7f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const CHAT_NODE = "openai-compatible-chat-0e1d2c3b-4a59-4687-9a0b-c1d2e3f4a5b6";
// A Zhipu-style API: the base URL and a chat path of its own below it.
const CHAT_PATH = "/v4/chat/completions";
let gw, resp, chat, e;

before(async () => {
  gw = await startGateway();
  resp = await startMockResponses({ apiKey: "sk-mock-responses-node-key" });
  chat = await startMockOpenAI({ apiKey: "sk-mock-chat-path-node-key", scripted: false, chatPath: `/api/paas${CHAT_PATH}` });
  e = await enroll(gw, "nodes laptop");
  const body = {
    providers: [
      { id: "conn-resp", provider: RESP_NODE, authType: "apikey", name: "responses lab", priority: 1, isActive: true, apiKey: resp.apiKey },
      { id: "conn-chat", provider: CHAT_NODE, authType: "apikey", name: "paas", priority: 1, isActive: true, apiKey: chat.apiKey },
    ],
    providerNodes: [
      { id: RESP_NODE, type: "openai-compatible", name: "Responses lab", prefix: "rlab", apiType: "responses",
        baseUrl: resp.url, chatPath: null, modelsPath: null },
      { id: CHAT_NODE, type: "openai-compatible", name: "PaaS", prefix: "paas", apiType: "chat",
        baseUrl: `${new URL(chat.url).origin}/api/paas`, chatPath: CHAT_PATH, modelsPath: null },
    ],
    modelAliases: {},
    combos: [],
    apiKeys: [{ id: "key-1", name: "Default Key", key: KEY, machineId: MACHINE, isActive: true }],
  };
  const r = await call(`${e.cloud_url}/sync/${MACHINE}`, "POST", body);
  assert.equal(r.status, 200, r.text);
});
after(async () => {
  await gw?.dispose();
  await resp?.close();
  await chat?.close();
});

const openai = () => new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/${MACHINE}/v1`, maxRetries: 0 });
const anthropic = () => new Anthropic({ apiKey: KEY, baseURL: `${gw.url}/${MACHINE}`, maxRetries: 0 });

/** Runs `fn` and returns what `mock` received meanwhile. */
async function sentDuring(mock, fn) {
  const before = mock.requests.length;
  const out = await fn();
  return { out, sent: mock.requests.slice(before) };
}

test("both nodes and their connections are served: nothing is reported unservable", async () => {
  const r = await gw.admin("GET", "/api/sync/machines");
  assert.equal(r.status, 200, r.text);
  const m = r.json.data.find((x) => x.machine_id === MACHINE);
  assert.deepEqual(m.unservable, []);
  assert.deepEqual(m.served, { connections: 2, provider_nodes: 2, combos: 0, aliases: 0, api_keys: 1 });
});

test("Chat Completions calls reach the Responses node as Responses requests, streamed or not", async () => {
  const { out, sent } = await sentDuring(resp, () =>
    openai().chat.completions.create({ model: "rlab/gpt-5-mini", messages: [{ role: "user", content: "hello responses node" }] }));
  assert.equal(out.choices[0].message.content, "echo: hello responses node");
  assert.equal(sent.length, 1);
  assert.equal(sent[0].path, "/v1/responses");
  assert.equal(sent[0].headers.authorization, `Bearer ${resp.apiKey}`, "the synced connection's key");
  assert.equal(sent[0].body.model, "gpt-5-mini", "the node prefix is the model prefix, not sent upstream");
  assert.equal(sent[0].body.messages, undefined);
  assert.equal(JSON.stringify(sent[0].body.input).includes("hello responses node"), true, "the conversation is Responses `input`");

  const streamed = await sentDuring(resp, async () => {
    let text = "";
    const stream = await openai().chat.completions.create({ model: "rlab/gpt-5-mini", stream: true, messages: [{ role: "user", content: "streamed reply" }] });
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return text;
  });
  assert.equal(streamed.out, "echo: streamed reply");
  assert.equal(streamed.sent.length, 1);
  assert.equal(streamed.sent[0].path, "/v1/responses");
  assert.equal(streamed.sent[0].body.stream, true);
  assert.equal(streamed.sent[0].headers.authorization, `Bearer ${resp.apiKey}`);
});

test("Anthropic Messages and Responses clients reach the Responses node too", async () => {
  const { out, sent } = await sentDuring(resp, () =>
    anthropic().messages.create({ model: "rlab/gpt-5-mini", max_tokens: 64, messages: [{ role: "user", content: "hello from claude" }] }));
  assert.equal(out.content[0].text, "echo: hello from claude");
  assert.equal(sent.length, 1);
  assert.deepEqual([sent[0].path, sent[0].body.model, sent[0].headers.authorization], ["/v1/responses", "gpt-5-mini", `Bearer ${resp.apiKey}`]);
  assert.equal(sent[0].body.messages, undefined, "translated to the Responses format");

  const same = await sentDuring(resp, () => openai().responses.create({ model: "rlab/gpt-5-mini", input: "same format" }));
  assert.equal(same.out.output_text, "echo: same format");
  assert.deepEqual([same.sent[0].path, same.sent[0].body.model, same.sent[0].body.input], ["/v1/responses", "gpt-5-mini", "same format"]);
});

test("the node with its own chat path is called at that path, from every client", async () => {
  const plain = await sentDuring(chat, () =>
    openai().chat.completions.create({ model: "paas/glm-4.6", messages: [{ role: "user", content: "own path" }] }));
  assert.match(plain.out.choices[0].message.content, /own path/);

  const streamed = await sentDuring(chat, async () => {
    let text = "";
    const stream = await openai().chat.completions.create({ model: "paas/glm-4.6", stream: true, messages: [{ role: "user", content: "own path streamed" }] });
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return text;
  });
  assert.match(streamed.out, /own path streamed/);

  const messages = await sentDuring(chat, () =>
    anthropic().messages.create({ model: "paas/glm-4.6", max_tokens: 64, messages: [{ role: "user", content: "own path from claude" }] }));
  assert.match(messages.out.content[0].text, /own path from claude/);

  const sent = [...plain.sent, ...streamed.sent, ...messages.sent];
  assert.equal(sent.length, 3);
  for (const q of sent) {
    assert.equal(q.path, `/api/paas${CHAT_PATH}`, "base URL + the node's chat path");
    assert.equal(q.headers.authorization, `Bearer ${chat.apiKey}`);
    assert.equal(q.body.model, "glm-4.6");
    assert.ok(Array.isArray(q.body.messages), "Chat Completions on the wire");
  }
  assert.equal(sent[1].body.stream, true);
});
