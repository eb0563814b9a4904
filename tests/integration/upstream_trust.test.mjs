// What the gateway does not take from an upstream on trust: a redirect is never followed (it would
// carry the credential and the prompt to another origin), and the client gets a clear error in its
// own format instead.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { readRaw, startMockServer } from "../support/mock_server.mjs";

let gw, key, elsewhere, redirector;
const messages = [{ role: "user", content: "the secret plan" }];

before(async () => {
  // Another loopback origin: it records whatever reaches it, and would answer it.
  elsewhere = await startMockServer({ apiKey: "unused", basePath: "/v1" }, async (req, res, { requests }) => {
    requests.push({ path: req.url, headers: req.headers, body: (await readRaw(req)).toString() });
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  // The provider: answers every call with a redirect to `elsewhere` (307 keeps the method and body).
  redirector = await startMockServer({ apiKey: "sk-redirected-key-0123456789abcdef", basePath: "/v1" }, async (req, res, { requests }) => {
    requests.push({ path: req.url });
    await readRaw(req);
    const status = req.url.includes("messages") ? 308 : 307;
    res.writeHead(status, { location: `${new URL(elsewhere.url).origin}${req.url}` });
    res.end();
  });
  gw = await startGateway({ assets: false });
  await gw.connect("openai", redirector);
  await gw.connect("anthropic", redirector);
  key = await gw.createKey("trust");
});
after(async () => { await gw?.dispose(); await elsewhere?.close(); await redirector?.close(); });

test("an upstream redirect is not followed: the other origin gets nothing, the OpenAI client a clear 502", async () => {
  const openai = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  const before = redirector.requests.length;
  const err = await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages }).catch((e) => e);
  assert.ok(err instanceof OpenAI.APIError, String(err));
  assert.equal(err.status, 502);
  assert.equal(err.code, "upstream_redirect");
  assert.match(err.message, /307/);
  assert.match(err.message, /follows no upstream redirects/);
  assert.equal(redirector.requests.length - before, 1, "asked once, not retried");
  assert.deepEqual(elsewhere.requests, [], "no key, no prompt at the other origin");
});

test("an upstream redirect is not followed for the Anthropic client either (x-api-key stays home)", async () => {
  const anthropic = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
  const err = await anthropic.messages.create({ model: "anthropic/claude-sonnet-4-5", max_tokens: 16, messages }).catch((e) => e);
  assert.ok(err instanceof Anthropic.APIError, String(err));
  assert.equal(err.status, 502);
  assert.equal(err.error?.type, "error");
  assert.equal(err.error?.error?.type, "api_error");
  assert.match(err.error?.error?.message, /308.*follows no upstream redirects/);
  assert.deepEqual(elsewhere.requests, []);
});

test("a connection's test reports the redirect as what it is, not as refused credentials", async () => {
  const conns = (await gw.admin("GET", "/api/providers")).json.data;
  const conn = conns.find((c) => c.provider === "openai");
  const r = await gw.admin("POST", `/api/providers/${conn.id}/test`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.ok, r.json.status, r.json.error?.code], [false, 307, "upstream_redirect"]);
  assert.deepEqual(elsewhere.requests, []);
});
