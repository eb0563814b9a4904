// Responses over a WebSocket (issue 12): `GET /v1/responses` upgraded, each `response.create` run
// through the same pipeline as `POST /v1/responses`, each stream event one message. Driven by the
// openai SDK's own helper (`ResponsesWS`), by the `ws` package for what the SDK cannot send, and by
// Codex CLI with its built-in OpenAI provider, which uses this mode first and falls back to POST
// only after retrying the upgrade.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { ResponsesWS } from "openai/resources/responses/ws";
import { WebSocket } from "ws";
import { startGateway, ROOT } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";
import { startTapProxy } from "../support/tap_proxy.mjs";

let gw, chat, anthropic, gemini, key, client;
const sockets = [];
const weather = { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false };

before(async () => {
  chat = await startMockOpenAI();
  anthropic = await startMockAnthropic();
  gemini = await startMockGemini({ scripted: false });
  gw = await startGateway({ assets: false });
  await gw.connect("openai", chat);
  await gw.connect("anthropic", anthropic);
  await gw.connect("gemini", gemini);
  key = (await gw.admin("POST", "/api/keys", { name: "ws" })).json;
  client = new OpenAI({ apiKey: key.key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
after(async () => {
  for (const s of sockets) s.close();
  await gw?.dispose();
  for (const m of [chat, anthropic, gemini]) await m?.close();
});

/** A ResponsesWS of `c` (it queues what is sent before the socket opens); its `error` events are
 *  collected, not thrown. */
function connect(c = client) {
  const ws = new ResponsesWS(c);
  ws.errors = [];
  ws.on("error", (e) => ws.errors.push(e));
  sockets.push(ws);
  return ws;
}

/** Sends `send()`, then collects events until the answer's terminal event or an `error`. */
function exchange(ws, send) {
  return new Promise((resolve) => {
    const events = [];
    const onEvent = (e) => {
      events.push(e);
      if (["response.completed", "response.incomplete", "response.failed", "error"].includes(e.type)) {
        ws.off("event", onEvent);
        resolve({ events, response: e.response, error: e.type === "error" ? e : null });
      }
    };
    ws.on("event", onEvent);
    send();
  });
}
const turn = (ws, params) => exchange(ws, () => ws.send({ type: "response.create", ...params }));
const texts = (content) => (typeof content === "string" ? content : content.map((p) => p.text ?? "").join(""));
const outputText = (r) => r.output.filter((o) => o.type === "message").flatMap((o) => o.content).map((c) => c.text).join("");

test("several turns on one socket continue each other (store: false), served by Chat and Anthropic upstreams", async () => {
  const ws = connect();
  const calls = chat.requests.length;
  // Prewarm: answered at once, no model call, and continuable.
  const pre = await turn(ws, { model: "openai/m", generate: false, store: false, input: [{ role: "developer", content: "You are terse." }] });
  assert.deepEqual(pre.events.map((e) => e.type), ["response.created", "response.completed"]);
  assert.deepEqual(pre.response.output, []);
  assert.equal(chat.requests.length, calls, "a prewarm calls no model");

  const t1 = await turn(ws, { model: "openai/m", previous_response_id: pre.response.id, store: false, input: "My name is Ada." });
  assert.equal(t1.error, null);
  assert.equal(outputText(t1.response), "echo: My name is Ada.");
  const types = t1.events.map((e) => e.type);
  assert.equal(types[0], "response.created");
  assert.ok(types.includes("response.output_text.delta"));
  const seq = t1.events.map((e) => e.sequence_number);
  assert.deepEqual(seq, [...seq].sort((x, y) => x - y), "events arrive in order, one message each");
  assert.ok(t1.events.filter((e) => e.response).every((e) => e.response.id === t1.response.id));
  let sent = chat.requests.at(-1).body;
  assert.deepEqual(sent.messages.map((m) => [m.role, texts(m.content)]), [["system", "You are terse."], ["user", "My name is Ada."]]);

  const t2 = await turn(ws, { model: "anthropic/m", previous_response_id: t1.response.id, store: false, input: "And my name?" });
  sent = anthropic.requests.at(-1).body;
  assert.equal(texts(sent.system), "You are terse.");
  assert.deepEqual(sent.messages.map((m) => [m.role, texts(m.content)]),
    [["user", "My name is Ada."], ["assistant", "echo: My name is Ada."], ["user", "And my name?"]]);
  assert.match(outputText(t2.response), /And my name\?/);

  // Not stored for the key (`store: false`): only this connection knows them.
  assert.equal((await fetch(`${gw.url}/v1/responses/${t1.response.id}`, { headers: { authorization: `Bearer ${key.key}` } })).status, 404);
  const other = connect();
  const lost = await turn(other, { model: "openai/m", previous_response_id: t1.response.id, input: "x" });
  assert.equal(lost.error.error.code, "previous_response_not_found");

  // One usage record per generating turn, like POST.
  let logs;
  for (let i = 0; i < 50; i++) {
    logs = (await gw.admin("GET", `/api/logs?key=${key.id}&limit=50`)).json.data;
    if (logs.filter((l) => l.status === 200).length >= 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(logs.filter((l) => l.status === 200).map((l) => [l.endpoint, l.provider, l.streamed]).reverse(),
    [["/v1/responses", "openai", true], ["/v1/responses", "anthropic", true]]);
});

test("tool calls continue across turns and formats on one socket", async () => {
  const ws = connect();
  const t1 = await turn(ws, { model: "anthropic/tool-call", store: false, tools: [weather], input: "Weather in Paris?" });
  const call = t1.response.output.find((o) => o.type === "function_call");
  assert.equal(call.name, "get_weather");
  assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
  assert.ok(t1.events.some((e) => e.type === "response.function_call_arguments.delta"));
  const t2 = await turn(ws, {
    model: "openai/tool-call", previous_response_id: t1.response.id, store: false, tools: [weather],
    input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
  });
  assert.equal(outputText(t2.response), "weather: sunny");
  const messages = chat.requests.at(-1).body.messages;
  assert.equal(messages[1].tool_calls[0].id, call.call_id);
  assert.deepEqual([messages[2].role, messages[2].content], ["tool", "sunny"]);
});

test("a rejected message is an error event and the socket stays open for the next", async () => {
  const ws = connect();
  let r = await exchange(ws, () => ws.sendRaw("not json"));
  assert.equal(r.error.status, 400);
  assert.match(r.error.error.message, /not valid JSON/);
  r = await exchange(ws, () => ws.sendRaw(JSON.stringify({ type: "response.bogus" })));
  assert.deepEqual([r.error.status, r.error.error.param], [400, "type"]);
  r = await turn(ws, { input: "no model" });
  assert.deepEqual([r.error.status, r.error.error.param], [400, "model"]);
  r = await turn(ws, { model: "openai/m", previous_response_id: "resp_missing", input: "x" });
  assert.deepEqual(r.error, { type: "error", status: 404, error: { type: "invalid_request_error", code: "previous_response_not_found",
    message: "Previous response with id 'resp_missing' not found.", param: "previous_response_id" } });
  r = await turn(ws, { model: "openai/server-error", input: "x" });
  assert.equal(r.error.status, 502, "an upstream failure is an error event too");
  assert.equal(ws.errors.length, 5, "the SDK raised each as an error");
  // Still open: a valid turn, on a named lane, is answered with the lane on every event.
  r = await turn(ws, { model: "openai/m", input: "still here?", stream_id: "lane-7" });
  assert.equal(outputText(r.response), "echo: still here?");
  assert.ok(r.events.every((e) => e.stream_id === "lane-7"));
});

test("store: true turns are kept for the key: retrieved, continued over HTTP and from another socket", async () => {
  const ws = connect();
  const t1 = await turn(ws, { model: "openai/m", input: "Remember blue." });
  const got = await client.responses.retrieve(t1.response.id);
  assert.equal(got.output_text, "echo: Remember blue.");
  const http = await client.responses.create({ model: "openai/m", previous_response_id: t1.response.id, input: "Which colour?" });
  assert.equal(chat.requests.at(-1).body.messages.length, 3);
  const again = connect();
  const t2 = await turn(again, { model: "openai/m", previous_response_id: http.id, input: "Sure?" });
  assert.equal(t2.error, null);
  assert.equal(chat.requests.at(-1).body.messages.length, 5);

  // Another key's socket does not see them; a wrong key cannot upgrade.
  const otherKey = await gw.createKey("other");
  const foreign = connect(new OpenAI({ apiKey: otherKey, baseURL: `${gw.url}/v1`, maxRetries: 0 }));
  const r = await turn(foreign, { model: "openai/m", previous_response_id: t1.response.id, input: "x" });
  assert.equal(r.error.status, 404);
  const status = await new Promise((resolve) => {
    const raw = new WebSocket(`${gw.url.replace("http", "ws")}/v1/responses`, { headers: { authorization: "Bearer sk-oe-wrong" } });
    raw.on("unexpected-response", (_, res) => resolve(res.statusCode));
    raw.on("open", () => resolve(101));
    raw.on("error", () => {});
  });
  assert.equal(status, 401);
});

/** Runs Codex CLI through `tap` once, with its built-in OpenAI provider (WebSocket first) or with a
 *  custom provider (POST only). Returns its output and wall time. */
async function codex(tap, model, { builtin }) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "oe-codex-ws-"));
  try {
    const provider = builtin
      ? [`openai_base_url = "${tap.url}/v1"`]
      : ['model_provider = "gw"', "", "[model_providers.gw]", 'name = "gw"', `base_url = "${tap.url}/v1"`, 'wire_api = "responses"', 'env_key = "CODEX_API_KEY"'];
    fs.writeFileSync(path.join(home, "config.toml"), [
      'approval_policy = "never"', ...provider, "",
      "[analytics]", "enabled = false", "",
      "[features]", "plugins = false", "remote_plugin = false", "apps = false", "unbounded_connection_retries = false", "",
    ].join("\n"));
    const args = ["exec", "--skip-git-repo-check", "--sandbox", "read-only", "--ephemeral", "--color", "never", "-m", model, "Say hello to the gateway"];
    const started = Date.now();
    const stdout = await new Promise((resolve, reject) => {
      const child = execFile(path.join(ROOT, "node_modules/.bin/codex"), args, {
        cwd: home, timeout: 90_000,
        env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: home, CODEX_API_KEY: key.key, DISABLE_TELEMETRY: "1" },
      }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)));
      child.stdin.end();
    });
    return { stdout, ms: Date.now() - started };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

for (const [upstream, mock] of [["anthropic", () => anthropic], ["gemini", () => gemini]]) {
  test(`Codex CLI's built-in provider completes a turn over the WebSocket against a mock ${upstream} upstream, without upgrade retries`, async () => {
    const tap = await startTapProxy(gw.url);
    try {
      const before = mock().requests.length;
      const ws = await codex(tap, `${upstream}/agent-model`, { builtin: true });
      assert.match(ws.stdout, /echo: [\s\S]*Say hello to the gateway/);
      const upgrades = tap.log.filter((e) => e.kind === "upgrade");
      assert.equal(upgrades.length, 1, "one upgrade, accepted at once");
      assert.equal(upgrades[0].status, 101);
      assert.ok(!tap.log.some((e) => e.kind === "http" && e.method === "POST"), "no fallback to POST");
      const [prewarm, first] = upgrades[0].messages;
      assert.equal(prewarm.generate, false);
      assert.equal(first.type, "response.create");
      assert.ok(first.previous_response_id, "the turn continued the prewarm");
      assert.equal(mock().requests.length - before, 1, "one model call: the prewarm made none");

      // The same prompt over plain HTTP (a custom provider: POST only), for the wall time. Each way
      // runs twice and counts its faster run: a first run pays for cold caches.
      tap.log.length = 0;
      const post = await codex(tap, `${upstream}/agent-model`, { builtin: false });
      assert.match(post.stdout, /echo: [\s\S]*Say hello to the gateway/);
      assert.ok(tap.log.some((e) => e.kind === "http" && e.method === "POST" && e.path === "/v1/responses"));
      const wsMs = Math.min(ws.ms, (await codex(tap, `${upstream}/agent-model`, { builtin: true })).ms);
      const postMs = Math.min(post.ms, (await codex(tap, `${upstream}/agent-model`, { builtin: false })).ms);
      console.log(`codex against ${upstream}: WebSocket ${wsMs} ms, HTTP ${postMs} ms`);
      // Without WebSocket support the upgrade retries alone took ~6 s; now it is a run like POST's.
      assert.ok(wsMs < postMs + 2_000, `WebSocket ${wsMs} ms vs HTTP ${postMs} ms`);
    } finally {
      await tap.close();
    }
  });
}

/** A raw socket with `k`: `turn(params)` sends a response.create and resolves with its terminal
 *  event (or the error event); `closed` resolves with the close code. */
async function rawSocket(k) {
  const raw = new WebSocket(`${gw.url.replace("http", "ws")}/v1/responses`, { headers: { authorization: `Bearer ${k}` } });
  sockets.push(raw);
  const closed = new Promise((resolve) => raw.on("close", (code) => resolve(code)));
  await new Promise((resolve, reject) => { raw.on("open", resolve); raw.on("error", reject); });
  const turn = (params) => new Promise((resolve) => {
    const onMessage = (data) => {
      const e = JSON.parse(data.toString());
      if (["response.completed", "response.failed", "error"].includes(e.type)) { raw.off("message", onMessage); resolve(e); }
    };
    raw.on("message", onMessage);
    raw.send(JSON.stringify({ type: "response.create", ...params }));
  });
  return { turn, closed };
}

test("a socket does not outlive its key: revoked, disabled, re-scoped or rotated, the next turn is refused and the socket closed", async () => {
  const changes = {
    revoked: [(id) => gw.admin("DELETE", `/api/keys/${id}`), "key_revoked"],
    disabled: [(id) => gw.admin("PATCH", `/api/keys/${id}`, { access: { enabled: false } }), "key_disabled"],
    rescoped: [(id) => gw.admin("PATCH", `/api/keys/${id}`, { access: { scopes: { providers: ["anthropic"] } } }), "key_changed"],
    rotated: [(id) => gw.admin("POST", `/api/keys/${id}/rotate`), "key_revoked"],
  };
  for (const [name, [change, code]] of Object.entries(changes)) {
    const k = (await gw.admin("POST", "/api/keys", { name })).json;
    const ws = await rawSocket(k.key);
    const first = await ws.turn({ model: "openai/m", input: "before" });
    assert.equal(first.type, "response.completed", `${name}: ${JSON.stringify(first)}`);
    const changed = await change(k.id);
    assert.ok(changed.status < 300, changed.text);
    const calls = chat.requests.length;
    const refused = await ws.turn({ model: "openai/m", input: "after" });
    assert.equal(refused.type, "error", `${name}: ${JSON.stringify(refused)}`);
    assert.deepEqual([refused.status, refused.error.code], [401, code], name);
    assert.equal(await ws.closed, 1008, `${name}: the socket is closed`);
    assert.equal(chat.requests.length, calls, `${name}: no upstream call`);
  }
});

test("a key revoked elsewhere ends the socket within the config cache's freshness, as it does HTTP", async () => {
  const k = (await gw.admin("POST", "/api/keys", { name: "elsewhere" })).json;
  const ws = await rawSocket(k.key);
  assert.equal((await ws.turn({ model: "openai/m", input: "before" })).type, "response.completed");
  // As another isolate's revocation reaches this one: D1 and KV change, this isolate's memory does not.
  const db = await gw.mf.getD1Database("DB");
  const { key_hash } = await db.prepare("SELECT key_hash FROM api_keys WHERE id = ?").bind(k.id).first();
  await db.prepare("UPDATE api_keys SET revoked_at = 1 WHERE id = ?").bind(k.id).run();
  await (await gw.mf.getKVNamespace("CONFIG_CACHE")).delete(`cfg/v1/key/${key_hash}`);
  await new Promise((r) => setTimeout(r, 10_500));
  const calls = chat.requests.length;
  const refused = await ws.turn({ model: "openai/m", input: "after" });
  assert.deepEqual([refused.type, refused.status, refused.error?.code], ["error", 401, "key_revoked"]);
  assert.equal(await ws.closed, 1008);
  assert.equal(chat.requests.length, calls, "no upstream call");
  const http = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } });
  assert.equal(http.status, 401, "HTTP refuses it too");
});
