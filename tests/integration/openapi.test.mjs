// The OpenAPI document (docs/openapi.json) against the running worker: every documented operation
// exists (never 404 "no such route" nor 405), refuses callers without credentials with a 401 in its
// format's error shape, lets in whom `x-access` says, and answers with statuses and bodies the
// document describes. The native tests (src/manage/openapi.rs) keep the document equal to the route
// tables; these keep it true of the worker.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { WebSocket } from "ws";
import { startGateway, ROOT, ADMIN_SECRET } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";
import { startMockCohere } from "../support/mock_cohere.mjs";

const DOC = JSON.parse(fs.readFileSync(path.join(ROOT, "docs/openapi.json"), "utf8"));
const METHODS = ["get", "put", "post", "patch", "delete"];
/** What a path parameter is given when no object of that id exists. */
const MISSING = "zz-missing-1";

let gw;
before(async () => { gw = await startGateway({ assets: false }); });
after(async () => { await gw?.dispose(); });

/** Documented operations under any of `prefixes`, as {method, template, op}. */
function operations(prefixes) {
  return Object.entries(DOC.paths)
    .filter(([p]) => prefixes.some((x) => p.startsWith(x)))
    .flatMap(([template, item]) => METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), template, op: item[m] })));
}
const concrete = (template, value = MISSING) => template.replace(/\{[^}]+\}/g, value);
const hasBody = (method) => !["GET", "DELETE"].includes(method);

function deref(node) {
  while (node?.$ref) node = node.$ref.slice(2).split("/").reduce((n, k) => n?.[k], DOC);
  return node;
}

/** The problems of `value` against a JSON Schema of the document (the keywords it uses). */
function problems(schema, value, at = "$") {
  schema = deref(schema);
  if (!schema) return [`${at}: no schema`];
  const out = [];
  for (const s of schema.allOf ?? []) out.push(...problems(s, value, at));
  if (schema.oneOf && !schema.oneOf.some((s) => problems(s, value, at).length === 0)) out.push(`${at}: matches no oneOf`);
  if ("const" in schema && value !== schema.const) out.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${schema.enum}`);
  if (schema.type) {
    const kind = value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
    const types = [schema.type].flat();
    if (!types.includes(kind) && !(kind === "integer" && types.includes("number"))) return [...out, `${at}: ${kind} where ${types} is documented`];
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...problems(schema.items, v, `${at}[${i}]`)));
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const k of schema.required ?? []) if (!(k in value)) out.push(`${at}: missing ${k}`);
    for (const [k, v] of Object.entries(value)) {
      const prop = schema.properties?.[k];
      if (prop) out.push(...problems(prop, v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}: undocumented ${k}`);
      else if (typeof schema.additionalProperties === "object") out.push(...problems(schema.additionalProperties, v, `${at}.${k}`));
    }
  }
  return out;
}

/** Asserts that `r` (from `op`) has a documented status and, for JSON, the documented body. */
function assertDocumented(label, op, r) {
  const response = deref(op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`]);
  assert.ok(response, `${label}: status ${r.status} is not documented (${r.text.slice(0, 300)})`);
  const schema = response.content?.["application/json"]?.schema;
  if (schema && r.json !== null) assert.deepEqual(problems(schema, r.json), [], `${label} → ${r.status}: ${r.text.slice(0, 500)}`);
}

async function send(method, p, { headers = {}, body } = {}) {
  const res = await fetch(`${gw.url}${p}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

test("GET /api/openapi.json without credentials is this document", async () => {
  const r = await send("GET", "/api/openapi.json");
  assert.equal(r.status, 200, r.text.slice(0, 200));
  assert.deepEqual(r.json, DOC);
});

test("a documented /api path answers other methods with a 405 whose Allow lists the documented ones", async () => {
  for (const [template, item] of Object.entries(DOC.paths).filter(([p]) => p.startsWith("/api/"))) {
    const documented = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    for (const method of METHODS.map((m) => m.toUpperCase()).filter((m) => !documented.includes(m))) {
      const r = await gw.admin(method, concrete(template), hasBody(method) ? {} : undefined);
      assert.equal(r.status, 405, `${method} ${template} → ${r.status} ${r.text}`);
      assert.deepEqual(r.headers.get("allow")?.split(/,\s*/).sort(), [...documented].sort(), `${method} ${template}`);
    }
  }
});

test("every documented /api operation refuses a caller without credentials with a 401; public ones answer", async () => {
  for (const { method, template, op } of operations(["/api/"])) {
    const label = `${method} ${template}`;
    const r = await send(method, concrete(template), hasBody(method) ? { body: {} } : {});
    if (op["x-access"] === "public") {
      assert.ok(![401, 404, 405].includes(r.status), `${label} → ${r.status} ${r.text}`);
    } else {
      assert.equal(r.status, 401, `${label} → ${r.text}`);
    }
    assertDocumented(label, op, r);
  }
});

/** Creates one object of each kind through its documented operation, the body checked against the
 *  documented request schema first (what the document offers, the gateway accepts). */
async function seed() {
  const made = {};
  const create = async (method, template, body) => {
    const op = DOC.paths[template][method.toLowerCase()];
    assert.deepEqual(problems(op.requestBody.content["application/json"].schema, body), [], `${method} ${template} body`);
    const r = await gw.admin(method, template, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${template} → ${r.status} ${r.text}`);
    assertDocumented(`${method} ${template}`, op, r);
    return r.json;
  };
  made.connection = await create("POST", "/api/providers", { provider: "openai", api_key: "sk-doc-123456", base_url: "http://127.0.0.1:9", priority: 5, limits: { max_concurrent: 2, window: { hours: 5, requests: 100 } } });
  made.key = await create("POST", "/api/keys", { name: "doc", limits: { usd_per_day: 1.5, requests_per_minute: 60 }, access: { expires_at: Date.now() + 86_400_000, scopes: { models: ["openai/*"] } } });
  await create("POST", "/api/combos", { name: "doc-combo", strategy: "weighted", targets: [{ model: "openai/gpt-4o", weight: 2 }, { model: "openai/gpt-4o-mini" }], config: { max_retries: 2 } });
  await create("POST", "/api/aliases", { pattern: "doc-*", target: "openai/gpt-4o" });
  await create("POST", "/api/fallback-chains", { model: "openai/gpt-4o", chain: ["openai/gpt-4o-mini"] });
  await create("POST", "/api/provider-nodes", { id: "doclab", name: "Doc lab", format: "openai", base_url: "http://127.0.0.1:9/v1", headers: { "x-team": "docs" }, models: ["m1"] });
  await create("POST", "/api/provider-models", { provider: "openai", models: ["gpt-doc"] });
  await create("PUT", "/api/pricing", { prices: [{ provider: "openai", model: "gpt-doc", input: 1, output: 2, cached_input: 0.5 }] });
  await create("PATCH", "/api/settings", { log_retention_days: 14, account_strategy: "round-robin" });
  await create("POST", "/api/auth/operators", { tenant: "default", name: "doc-op", password: "a-long-password-1" });
  await create("POST", "/api/sync/enrollments", { name: "doc machine" });
  return made;
}

test("with the admin secret every documented /api operation exists and answers as documented", async () => {
  const made = await seed();
  for (const { method, template, op } of operations(["/api/"])) {
    if (template === "/api/openapi.json") continue;
    const label = `${method} ${template}`;
    // Harmless input: an empty body (a validation error or a no-op), a missing object's id.
    const r = await gw.admin(method, concrete(template), hasBody(method) ? {} : undefined);
    assert.notEqual(r.status, 405, `${label}: ${r.text}`);
    if (r.status === 404) {
      // "No such object" names the id it was given; "no such route" does not exist here.
      const message = r.json?.error?.message ?? "";
      assert.ok(template.includes("{") && message.includes(`\`${MISSING}\``) && !/route/i.test(message), `${label} → 404 ${message}`);
    }
    assert.ok(r.status < 500, `${label} → ${r.status} ${r.text}`);
    assertDocumented(label, op, r);
  }
  // The same operations on objects that exist.
  const id = made.key.id;
  for (const [method, template, body] of [
    ["GET", "/api/keys/{id}/usage"],
    ["PATCH", "/api/keys/{id}", { name: "doc renamed" }],
    ["POST", "/api/keys/{id}/rotate"],
  ]) {
    const r = await gw.admin(method, concrete(template, id), body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${template} → ${r.status} ${r.text}`);
    assertDocumented(`${method} ${template}`, DOC.paths[template][method.toLowerCase()], r);
  }
  const patched = await gw.admin("PATCH", `/api/providers/${made.connection.id}`, { base_url: null, is_active: false });
  assertDocumented("PATCH /api/providers/{id}", DOC.paths["/api/providers/{id}"].patch, patched);
  assert.equal(patched.status, 200);
});

test("x-access holds for a tenant operator: owner routes are 403 owner_only, tenant routes let it in", async () => {
  const operator = { tenant: "default", name: "doc-reader", password: "another-long-password" };
  const created = await gw.admin("POST", "/api/auth/operators", operator);
  assert.equal(created.status, 201, created.text);
  const login = DOC.paths["/api/auth/login"].post;
  const signedIn = await send("POST", "/api/auth/login", { body: { name: operator.name, password: operator.password } });
  assert.equal(signedIn.status, 200, signedIn.text);
  assertDocumented("POST /api/auth/login", login, signedIn);
  const cookie = signedIn.headers.get("set-cookie").split(";")[0];
  // Same-origin, as the dashboard's own requests are (the CSRF check).
  const headers = { cookie, "sec-fetch-site": "same-origin" };
  const ops = operations(["/api/"]).filter(({ op, template }) => op["x-access"] !== "public" && template !== "/api/auth/logout");
  for (const { method, template, op } of ops) {
    const label = `${method} ${template} as an operator`;
    const r = await send(method, concrete(template), { headers, ...(hasBody(method) ? { body: {} } : {}) });
    assert.notEqual(r.status, 401, `${label}: ${r.text}`);
    if (op["x-access"] === "owner") assert.equal(r.json?.error?.code, "owner_only", `${label} → ${r.status} ${r.text}`);
    else assert.notEqual(r.status, 403, `${label}: ${r.text}`);
    assertDocumented(label, op, r);
  }
});

test("every management route refuses a forged, expired or other-tenant credential", async () => {
  const protectedOps = operations(["/api/"]).filter(({ op }) => op["x-access"] !== "public");
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES ('machine-b', 'b', 0)").run();
  const operator = { tenant: "machine-b", name: "b-ops", password: "yet-another-long-password" };
  assert.equal((await gw.admin("POST", "/api/auth/operators", operator)).status, 201);
  const signIn = async (body) => {
    const r = await send("POST", "/api/auth/login", { body });
    assert.equal(r.status, 200, r.text);
    return r.headers.get("set-cookie").split(";")[0];
  };
  const owner = await signIn({ password: ADMIN_SECRET });
  const [name, token] = owner.split("=");
  const [v, id, exp, mac] = token.split(".");
  const forged = [`${name}=${v}.${id}.${Number(exp) + 1000}.${mac}`, `${name}=${v}.${"B".repeat(id.length)}.${exp}.${mac}`, `${name}=v1.x.1.y`];
  // Every session so far ends now (as if its 12 hours had passed); the operator's is signed in after.
  const expired = owner;
  await db.prepare("UPDATE auth_sessions SET expires_at = 1").run();
  const other = await signIn({ name: operator.name, password: operator.password });
  const sameSite = { "sec-fetch-site": "same-origin" };
  for (const { method, template } of protectedOps) {
    const path = concrete(template);
    const body = hasBody(method) ? { body: {} } : {};
    for (const cookie of [...forged, expired]) {
      const r = await send(method, path, { headers: { cookie, ...sameSite }, ...body });
      assert.equal(r.status, 401, `${method} ${template} with ${cookie.slice(0, 30)}…: ${r.text}`);
    }
    const wrongSecret = await send(method, path, { headers: { authorization: "Bearer not-the-admin-secret" }, ...body });
    assert.equal(wrongSecret.status, 401, `${method} ${template} with a wrong bearer`);
    const elsewhere = await send(method, `${path}${path.includes("?") ? "&" : "?"}tenant=default`, { headers: { cookie: other, ...sameSite }, ...body });
    assert.equal(elsewhere.status, 403, `${method} ${template} by another tenant's operator: ${elsewhere.text}`);
    assert.ok(["tenant_forbidden", "owner_only"].includes(elsewhere.json?.error?.code), `${method} ${template}: ${elsewhere.text}`);
  }
  // The operator's own tenant stays open to it.
  assert.equal((await send("GET", "/api/keys?tenant=machine-b", { headers: { cookie: other } })).status, 200);
});

test("GET /health answers as documented", async () => {
  const r = await send("GET", "/health");
  assert.equal(r.status, 200);
  assertDocumented("GET /health", DOC.paths["/health"].get, r);
});

test("every documented /v1 operation refuses a request without a key with a 401 in its format's error shape", async () => {
  for (const { method, template, op } of operations(["/v1/", "/v1beta/"])) {
    if (method === "GET" && template === "/v1/responses") continue; // the WebSocket upgrade: below
    const label = `${method} ${template}`;
    const r = await send(method, concrete(template), hasBody(method) ? { body: {} } : {});
    assert.equal(r.status, 401, `${label} → ${r.text}`);
    assertDocumented(label, op, r);
  }
});

test("with a key, the JSON /v1 operations answer as documented (mock upstreams of each format)", async () => {
  const mocks = { openai: await startMockOpenAI(), anthropic: await startMockAnthropic(), gemini: await startMockGemini(), cohere: await startMockCohere() };
  try {
    for (const [provider, m] of Object.entries(mocks)) await gw.connect(provider, m);
    const key = await gw.createKey("v1-doc");
    const user = [{ role: "user", content: "hello" }];
    const calls = [
      ["POST", "/v1/chat/completions", { model: "openai/gpt-4o-mini", messages: user }],
      ["POST", "/v1/messages", { model: "anthropic/claude-sonnet-4-5", max_tokens: 20, messages: user }],
      ["POST", "/v1/messages/count_tokens", { model: "anthropic/claude-sonnet-4-5", messages: user }],
      ["POST", "/v1/responses", { model: "openai/gpt-4o-mini", input: "hello" }],
      ["POST", "/v1beta/models/{model}:generateContent", { contents: [{ role: "user", parts: [{ text: "hello" }] }] }, "gemini-2.5-flash"],
      ["POST", "/v1/models/{model}:generateContent", { contents: [{ role: "user", parts: [{ text: "hello" }] }] }, "gemini/gemini-2.5-flash"],
      ["POST", "/v1/embeddings", { model: "openai/text-embedding-3-small", input: ["a", "b"] }],
      ["POST", "/v1/images/generations", { model: "openai/dall-e-3", prompt: "a cat" }],
      ["POST", "/v1/moderations", { input: "hello" }],
      ["POST", "/v1/rerank", { model: "cohere/rerank-v3.5", query: "cats", documents: ["a cat", "a dog"] }],
      ["GET", "/v1/models"],
      ["GET", "/v1/models/health"],
      ["GET", "/v1/verify"],
    ];
    let stored;
    for (const [method, template, body, param] of calls) {
      const op = DOC.paths[template][method.toLowerCase()];
      if (body) assert.deepEqual(problems(op.requestBody.content["application/json"].schema, body), [], `${template} body`);
      const r = await send(method, param ? concrete(template, param) : template, { headers: { authorization: `Bearer ${key}` }, body });
      assert.equal(r.status, 200, `${method} ${template}: ${r.text}`);
      assertDocumented(`${method} ${template}`, op, r);
      if (template === "/v1/responses") stored = r.json.id;
    }
    // A stored response, read and deleted; then it is a 404 in OpenAI's shape.
    for (const [method, status] of [["GET", 200], ["DELETE", 200], ["GET", 404]]) {
      const r = await send(method, `/v1/responses/${stored}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(r.status, status, `${method} /v1/responses/{id}: ${r.text}`);
      assertDocumented(`${method} /v1/responses/{id}`, DOC.paths["/v1/responses/{id}"][method.toLowerCase()], r);
    }
  } finally {
    for (const m of Object.values(mocks)) await m.close();
  }
});

test("the Responses WebSocket upgrade without a key is a 401 in OpenAI's error shape", async () => {
  const r = await new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gw.url.replace("http", "ws")}/v1/responses`);
    ws.on("unexpected-response", (_, res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode, text, json: JSON.parse(text) }));
    });
    ws.on("open", () => { ws.close(); reject(new Error("upgraded without a key")); });
    ws.on("error", () => {});
  });
  assert.equal(r.status, 401);
  assertDocumented("GET /v1/responses (upgrade)", DOC.paths["/v1/responses"].get, r);
});
