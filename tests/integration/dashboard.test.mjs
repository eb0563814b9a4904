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
  for (const route of ["/api/providers", "/api/keys", "/api/settings", "/api/cooldowns", "/api/stats", "/api/health", "/api/combos", "/api/aliases", "/api/fallback-chains", "/api/provider-nodes"]) {
    assert.ok(js.includes(route), route);
    assert.equal((await fetch(`${gw.url}${route}`)).status, 401, route);
  }
});
