// User-defined providers (OpenAI- or Anthropic-compatible endpoints) and custom model ids: routed,
// translated and listed like built-in providers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, client, lab, openai;

before(async () => {
  gw = await startGateway();
  lab = await startMockAnthropic();
  openai = await startMockOpenAI({ scripted: false });
  client = new OpenAI({ apiKey: await gw.createKey("nodes"), baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => {
  await gw?.dispose();
  await lab?.close();
  await openai?.close();
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
