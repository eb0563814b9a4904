// The dashboard is served by the same worker, as static assets (built from dashboard/src into
// dashboard/dist by scripts/build.sh), next to the API. Its behaviour in a browser is tested in
// tests/browser/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startGateway, ROOT } from "../support/gateway.mjs";

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.dispose(); });

const get = async (p) => (await fetch(`${gw.url}${p}`)).text();
/** Every script of the built dashboard (the entry and its chunks), as the gateway serves them. */
async function allScripts() {
  const dist = path.join(ROOT, "dashboard/dist");
  const files = fs.readdirSync(dist, { recursive: true }).filter((f) => f.endsWith(".js"));
  assert.ok(files.includes("app.js"));
  return (await Promise.all(files.map((f) => get(`/${f.split(path.sep).join("/")}`)))).join("\n");
}

test("the dashboard page and its assets are served at the root", async () => {
  const page = await fetch(`${gw.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  const html = await page.text();
  assert.match(html, /<title>omniroute-edge<\/title>/);
  for (const [asset, type] of [["/app.js", /javascript/], ["/app.css", /text\/css/]]) {
    const r = await fetch(`${gw.url}${asset}`);
    assert.equal(r.status, 200, asset);
    assert.match(r.headers.get("content-type"), type, asset);
    assert.ok(html.includes(asset), `${asset} is referenced by the page`);
  }
});

test("the dashboard cannot be framed and runs only its own scripts and styles", async () => {
  for (const p of ["/", "/index.html", "/app.js", "/app.css"]) {
    const r = await fetch(`${gw.url}${p}`);
    await r.arrayBuffer();
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get("x-frame-options"), "DENY", p);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff", p);
    const csp = Object.fromEntries((r.headers.get("content-security-policy") ?? "").split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v.join(" ")]));
    assert.equal(csp["frame-ancestors"], "'none'", p);
    assert.equal(csp["script-src"], "'self'", p);
    assert.equal(csp["style-src"], "'self'", p);
    assert.equal(csp["default-src"], "'self'", p);
  }
  assert.equal((await fetch(`${gw.url}/_headers`)).status, 404, "the rules file is not an asset");
});

test("the dashboard's own calls are the admin API, which stays closed without the secret", async () => {
  const js = await allScripts();
  for (const route of ["/api/providers", "/api/keys", "/api/settings", "/api/cooldowns", "/api/stats", "/api/health", "/api/quotas", "/api/combos", "/api/aliases",
    "/api/fallback-chains", "/api/provider-nodes", "/api/provider-models", "/api/usage", "/api/logs", "/api/pricing", "/api/translate"]) {
    assert.ok(js.includes(route), route);
    assert.equal((await fetch(`${gw.url}${route}`)).status, 401, route);
  }
  // A request's detail and the pricing writes are closed too, whatever the method.
  for (const [method, route] of [["GET", "/api/logs/some-request-id"], ["PUT", "/api/pricing"], ["DELETE", "/api/pricing?provider=openai&model=gpt-4o"], ["POST", "/api/translate"]]) {
    assert.equal((await fetch(`${gw.url}${route}`, { method })).status, 401, `${method} ${route}`);
  }
});

test("the dashboard signs in with a password and keeps no credential where scripts can read it", async () => {
  const js = await allScripts();
  for (const route of ["/api/auth/login", "/api/auth/logout", "/api/auth/me", "/api/auth/password"]) assert.ok(js.includes(route), route);
  // The session is an HttpOnly cookie: no cookie read, nothing in session storage, and local storage
  // holds only the two preferences (each written under a literal name).
  assert.doesNotMatch(js, /sessionStorage|document\.cookie/);
  const writes = [...js.matchAll(/localStorage\.setItem\(([^,]*),/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(writes)].sort(), ['"oe.lang"', '"oe.theme"']);
  // The one door to /api builds no Authorization header (only /v1 calls carry a gateway key).
  assert.doesNotMatch(fs.readFileSync(path.join(ROOT, "dashboard/src/api.ts"), "utf8"), /authorization/i);
});

test("every setting of the API is edited by the settings page", async () => {
  const src = fs.readFileSync(path.join(ROOT, "dashboard/src/pages/settings.tsx"), "utf8");
  const edited = [...src.matchAll(/\["(\w+)", en\(/g)].map((m) => m[1]);
  const settings = (await gw.admin("GET", "/api/settings")).json;
  assert.deepEqual([...edited].sort(), Object.keys(settings).sort(), "the groups edit exactly the settings there are");
});
