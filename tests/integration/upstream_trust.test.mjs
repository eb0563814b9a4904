// What the gateway does not take from an upstream on trust (docs/security.md): a redirect is never
// followed (it would carry the credential and the prompt to another origin), and the client gets a
// clear error in its own format instead; an error text that echoes the connection's credential leaves
// the gateway without it. What the gateway does pass on (its safe headers) arrives as the upstream
// sent it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { readRaw, startMockServer } from "../support/mock_server.mjs";

let gw, key, elsewhere, redirector, echo, charset;
const messages = [{ role: "user", content: "the secret plan" }];
const ECHOED = { deepseek: "sk-echoed0123456789abcdefghijklmnop", groq: "plain-credential-of-no-known-shape" };

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
  // A provider that refuses every key and repeats it in its 401, as some do.
  echo = await startMockServer({ apiKey: "unused", basePath: "/v1" }, async (req, res) => {
    await readRaw(req);
    const given = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${given}. Check your key.`, type: "invalid_request_error", code: "invalid_api_key" } }));
  });
  // A provider whose content types carry a charset parameter (a space after the `;`).
  charset = await startMockServer({ apiKey: "sk-charset-0123456789abcdef", basePath: "/v1" }, async (req, res, { requests }) => {
    const body = JSON.parse((await readRaw(req)).toString());
    requests.push({ path: req.url });
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      const chunk = (delta, finish) => ({ id: "c1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] });
      res.write(`data: ${JSON.stringify(chunk({ role: "assistant", content: "hi" }, null))}\n\n`);
      res.write(`data: ${JSON.stringify(chunk({}, "stop"))}\n\ndata: [DONE]\n\n`);
      return res.end();
    }
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify({ id: "c1", object: "chat.completion", created: 1, model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage }));
  });
  gw = await startGateway({ assets: false });
  await gw.connect("mistral", charset);
  await gw.connect("openai", redirector);
  await gw.connect("anthropic", redirector);
  // A key-shaped credential, and one of no known shape (only the connection's own value says it is one).
  await gw.addConnection({ provider: "deepseek", api_key: ECHOED.deepseek, base_url: echo.url });
  await gw.addConnection({ provider: "groq", api_key: ECHOED.groq, base_url: echo.url });
  key = await gw.createKey("trust");
});
after(async () => { await gw?.dispose(); await elsewhere?.close(); await redirector?.close(); await echo?.close(); await charset?.close(); });

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

test("an upstream error that echoes the credential reaches the client without it", async () => {
  const openai = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  for (const [provider, model] of [["deepseek", "deepseek-chat"], ["groq", "llama-3.1-8b-instant"]]) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `${provider}/${model}`, messages }),
    });
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /Incorrect API key provided: \[REDACTED\]/);
    assert.ok(!text.includes(ECHOED[provider]), text);
    await gw.admin("DELETE", "/api/cooldowns"); // the refused key parked its connection
    const err = await openai.chat.completions.create({ model: `${provider}/${model}`, messages }).catch((e) => e);
    assert.equal(err.code, "upstream_auth_failed");
    assert.ok(!err.message.includes(ECHOED[provider]), err.message);
  }
});

test("a connection's test shows the upstream's reason without the echoed credential", async () => {
  const conns = (await gw.admin("GET", "/api/providers")).json.data;
  for (const provider of ["deepseek", "groq"]) {
    const conn = conns.find((c) => c.provider === provider);
    const r = await gw.admin("POST", `/api/providers/${conn.id}/test`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.ok, r.json.status, r.json.error?.code], [false, 401, "upstream_auth_failed"]);
    assert.match(r.json.error.message, /Incorrect API key provided: \[REDACTED\]/);
    assert.ok(!r.text.includes(ECHOED[provider]), r.text);
  }
});

test("an upstream's content type with parameters arrives intact, answered and from the cache", async () => {
  for (const [stream, type] of [[false, "application/json; charset=utf-8"], [true, "text/event-stream; charset=utf-8"]]) {
    const ask = () => fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mistral/mistral-small-latest", messages, temperature: 0, stream }),
    });
    const first = await ask();
    await first.text();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("content-type"), type);
    let hit;
    for (let i = 0; i < 50 && hit?.headers.get("x-omniroute-cache") !== "HIT"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      hit = await ask();
      await hit.text();
    }
    assert.equal(hit.headers.get("x-omniroute-cache"), "HIT", "a cache hit within 2.5 s");
    assert.equal(hit.headers.get("content-type"), type);
  }
});
