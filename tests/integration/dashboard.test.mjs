// The dashboard is served by the same worker, as static assets, next to the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";

let gw;
before(async () => { gw = await startGateway(); });
after(async () => { await gw?.dispose(); });

test("the dashboard page and its assets are served at the root", async () => {
  const page = await fetch(`${gw.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type"), /text\/html/);
  const html = await page.text();
  assert.match(html, /<title>omniroute-edge<\/title>/);
  for (const asset of ["/app.js", "/style.css"]) {
    const r = await fetch(`${gw.url}${asset}`);
    assert.equal(r.status, 200, asset);
    assert.ok(html.includes(asset), `${asset} is referenced by the page`);
  }
});

test("the dashboard's own calls are the admin API, which stays closed without the secret", async () => {
  const js = await (await fetch(`${gw.url}/app.js`)).text();
  for (const route of ["/api/providers", "/api/keys", "/api/settings", "/api/cooldowns", "/api/stats", "/api/health", "/api/combos", "/api/aliases", "/api/fallback-chains", "/api/provider-nodes",
    "/api/usage", "/api/logs", "/api/pricing"]) {
    assert.ok(js.includes(route), route);
    assert.equal((await fetch(`${gw.url}${route}`)).status, 401, route);
  }
  // A request's detail and the pricing writes are closed too, whatever the method.
  for (const [method, route] of [["GET", "/api/logs/some-request-id"], ["PUT", "/api/pricing"], ["DELETE", "/api/pricing?provider=openai&model=gpt-4o"]]) {
    assert.equal((await fetch(`${gw.url}${route}`, { method })).status, 401, `${method} ${route}`);
  }
});

test("the dashboard signs in with a password and keeps no credential where scripts can read it", async () => {
  const js = await (await fetch(`${gw.url}/app.js`)).text();
  for (const route of ["/api/auth/login", "/api/auth/logout", "/api/auth/me", "/api/auth/password"]) assert.ok(js.includes(route), route);
  // The session is an HttpOnly cookie: nothing stored by the page, no bearer header built from it.
  assert.doesNotMatch(js, /sessionStorage|localStorage|document\.cookie|\bauthorization:/);
});

test("the dashboard inserts data as text and finds every element it uses on the page", async () => {
  const [html, js] = await Promise.all(["/", "/app.js"].map(async (p) => (await fetch(`${gw.url}${p}`)).text()));
  // Request logs carry client-controlled text (models, bodies): nothing may be parsed as HTML.
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment/);
  const ids = new Set([...html.matchAll(/\bid="([\w-]+)"/g)].map((m) => m[1]));
  const used = new Set([...js.matchAll(/\$\(["'`]#([\w-]+)/g)].map((m) => m[1]));
  assert.ok(used.has("usage-totals") && used.has("log-rows") && used.has("prices"), "the scan sees the new tabs");
  for (const id of used) assert.ok(ids.has(id), `#${id} is used by app.js but missing from the page`);
  // Each tab button shows a section of the same id, and app.js has a loader keyed by it.
  for (const [, tab] of html.matchAll(/data-tab="([\w-]+)"/g)) {
    assert.ok(ids.has(tab), `section #${tab}`);
    assert.match(js, new RegExp(`\\b${tab}: load\\w+`), `loader for ${tab}`);
  }
});

test("every field of the settings form is a setting of the API, of the matching type", async () => {
  const html = await (await fetch(`${gw.url}/`)).text();
  const form = html.match(/<form id="settings-form"[\s\S]*?<\/form>/)[0];
  const fields = [...form.matchAll(/<input name="(\w+)" type="(\w+)"/g)].map(([, name, type]) => [name, type]);
  const settings = (await gw.admin("GET", "/api/settings")).json;
  for (const name of ["log_retention_days", "log_bodies", "log_body_max_bytes"]) {
    assert.ok(fields.some(([n]) => n === name), `the form edits ${name}`);
  }
  for (const [name, type] of fields) {
    assert.ok(name in settings, `${name} is a setting`);
    assert.equal(type, typeof settings[name] === "boolean" ? "checkbox" : "number", name);
  }
});
