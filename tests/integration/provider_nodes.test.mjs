// User-defined providers (OpenAI Chat-, OpenAI Responses- or Anthropic-compatible endpoints, at the
// format's path or their own) and custom model ids: routed, translated and listed like built-ins.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockResponses } from "../support/mock_responses.mjs";

let gw, client, lab, openai, responses, paas;

before(async () => {
  gw = await startGateway();
  lab = await startMockAnthropic();
  openai = await startMockOpenAI({ scripted: false });
  responses = await startMockResponses();
  paas = await startMockOpenAI({ scripted: false, chatPath: "/api/paas/v4/chat/completions" });
  client = new OpenAI({ apiKey: await gw.createKey("nodes"), baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => {
  await gw?.dispose();
  await lab?.close();
  await openai?.close();
  await responses?.close();
  await paas?.close();
});

const messages = [{ role: "user", content: "hello node" }];

test("a provider node is routed by its prefix, in its own format, with its headers", async () => {
  const node = await gw.admin("POST", "/api/provider-nodes", {
    id: "MyLab", name: "My lab", format: "anthropic", base_url: lab.url, headers: { "x-team": "blue" }, models: ["big-model"],
  });
  assert.equal(node.status, 201, node.text);
  assert.equal(node.json.id, "mylab");
  const conn = await gw.admin("POST", "/api/providers", { provider: "mylab", api_key: lab.apiKey });
  assert.equal(conn.status, 201, conn.text);

  const { data, response } = await client.chat.completions.create({ model: "mylab/big-model", messages }).withResponse();
  assert.equal(data.choices[0].message.content, "echo: hello node", "an OpenAI client, translated to the node's Anthropic format");
  assert.equal(response.headers.get("x-omniroute-provider"), "mylab");
  const seen = lab.requests.at(-1);
  assert.equal(seen.headers["x-team"], "blue");
  assert.equal(seen.headers["x-api-key"], lab.apiKey);
  assert.equal(seen.body.model, "big-model");

  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes("mylab/big-model"), ids.join(","));
  const catalog = (await gw.admin("GET", "/api/models/catalog")).json.data;
  assert.ok(catalog.some((p) => p.provider === "mylab" && p.format === "anthropic"));
});

test("provider nodes are validated", async () => {
  for (const [bad, param] of [
    [{ id: "openai", format: "openai", base_url: "https://x.example.com" }, "id"],
    [{ id: "a/b", format: "openai", base_url: "https://x.example.com" }, "id"],
    [{ id: "ok", format: "openai", base_url: "ftp://x" }, "base_url"],
    [{ id: "ok", format: "openai", base_url: "https://x.example.com", headers: { authorization: "Bearer x" } }, "headers"],
  ]) {
    const r = await gw.admin("POST", "/api/provider-nodes", bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.json.error.param, param);
  }
  assert.equal((await gw.admin("POST", "/api/provider-nodes", { id: "x", format: "grpc", base_url: "https://x.example.com" })).status, 400);
});

test("a node may speak the Responses API, or take chat requests at a path of its own", async () => {
  const rlab = await gw.admin("POST", "/api/provider-nodes", { id: "rlab", format: "openai_responses", base_url: responses.url });
  assert.equal(rlab.status, 201, rlab.text);
  assert.equal(rlab.json.chat_path, undefined);
  const conns = [await gw.addConnection({ provider: "rlab", api_key: responses.apiKey })];
  const data = await client.chat.completions.create({ model: "rlab/gpt-5", messages });
  assert.equal(data.choices[0].message.content, "echo: hello node");
  const seen = responses.requests.at(-1);
  assert.deepEqual([seen.path, seen.headers.authorization, seen.body.model], ["/v1/responses", `Bearer ${responses.apiKey}`, "gpt-5"]);
  assert.ok(seen.body.input && !seen.body.messages, "the Responses wire format");

  const own = await gw.admin("POST", "/api/provider-nodes", {
    id: "paas", format: "openai", base_url: `${new URL(paas.url).origin}/api/paas`, chat_path: "/v4/chat/completions",
  });
  assert.equal(own.status, 201, own.text);
  assert.equal(own.json.chat_path, "/v4/chat/completions");
  conns.push(await gw.addConnection({ provider: "paas", api_key: paas.apiKey }));
  const out = await client.chat.completions.create({ model: "paas/glm-4.6", messages });
  assert.equal(out.choices[0].message.content, "echo: hello node");
  assert.deepEqual([paas.requests.at(-1).path, paas.requests.at(-1).body.model], ["/api/paas/v4/chat/completions", "glm-4.6"]);
  const listed = (await gw.admin("GET", "/api/provider-nodes")).json.data;
  assert.equal(listed.find((n) => n.id === "paas").chat_path, "/v4/chat/completions");

  const plain = await gw.admin("POST", "/api/provider-nodes", { id: "plain", format: "anthropic", base_url: lab.url, chat_path: "/messages" });
  assert.equal(plain.status, 201, plain.text);
  assert.equal(plain.json.chat_path, undefined, "the format's own path is no custom path");
  for (const bad of ["chat", "/a/../admin", "/v4?x=1", "/v4#f", "/a b", "/%2e%2e/admin", `/${"a".repeat(200)}`]) {
    const r = await gw.admin("POST", "/api/provider-nodes", { id: "bad", format: "openai", base_url: lab.url, chat_path: bad });
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.error.param, "chat_path", bad);
  }
  for (const c of conns) assert.equal((await gw.admin("DELETE", `/api/providers/${c.id}`)).status, 200);
  for (const id of ["rlab", "paas", "plain"]) assert.equal((await gw.admin("DELETE", `/api/provider-nodes/${id}`)).status, 200);
});

test("custom model ids are listed and resolve bare names", async () => {
  await gw.connect("openai", openai);
  const r = await gw.admin("POST", "/api/provider-models", { provider: "openai", models: ["gpt-9-preview"] });
  assert.equal(r.status, 201, r.text);
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes("openai/gpt-9-preview"));
  assert.ok(ids.includes("openai/gpt-4o"), "built-in models stay listed");
  const { response } = await client.chat.completions.create({ model: "gpt-9-preview", messages }).withResponse();
  assert.equal(response.headers.get("x-omniroute-provider"), "openai");
  assert.equal(openai.requests.at(-1).body.model, "gpt-9-preview");
  assert.equal((await gw.admin("POST", "/api/provider-models", { provider: "nope", models: ["m"] })).status, 400);
  assert.equal((await gw.admin("DELETE", "/api/provider-models/openai")).status, 200);
  assert.equal((await gw.admin("DELETE", "/api/provider-nodes/mylab")).status, 200);
  assert.equal((await gw.admin("DELETE", "/api/provider-nodes/mylab")).status, 404);
});
