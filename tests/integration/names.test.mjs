// Names people read (issue 21, item 9): control and invisible formatting characters (NUL, the bidi
// override U+202E, zero-width spaces) are refused in key, connection, provider-node and alias names,
// naming the character; operator names are one name whatever their case.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, upstream;

before(async () => {
  upstream = await startMockOpenAI();
  gw = await startGateway({ assets: false });
});
after(async () => { await gw?.dispose(); await upstream?.close(); });

const HIDDEN = [["\u0000", "U+0000"], ["\u202E", "U+202E"], ["\u200B", "U+200B"], ["\u2066", "U+2066"]];

function refused(r, param, code) {
  assert.equal(r.status, 400, r.text);
  assert.deepEqual([r.json.error.code, r.json.error.param], ["invalid_characters", param]);
  assert.match(r.json.error.message, new RegExp(code.replace("+", "\\+")));
}

test("keys, connections, provider nodes and aliases refuse control and bidi characters in their names", async () => {
  for (const [c, code] of HIDDEN) {
    refused(await gw.admin("POST", "/api/keys", { name: `ci${c}key` }), "name", code);
    refused(await gw.admin("POST", "/api/providers", { provider: "openai", api_key: upstream.apiKey, base_url: upstream.url, name: `main${c}` }), "name", code);
    refused(await gw.admin("POST", "/api/provider-nodes", { id: "lab", name: `Lab${c}`, format: "openai", base_url: upstream.url, models: ["m"] }), "name", code);
    refused(await gw.admin("POST", "/api/aliases", { pattern: `fast${c}`, target: "openai/gpt-4o-mini" }), "pattern", code);
    refused(await gw.admin("POST", "/api/aliases", { pattern: "fast", target: `openai/gpt${c}-4o` }), "target", code);
  }
  for (const path of ["/api/keys", "/api/providers", "/api/provider-nodes", "/api/aliases"]) {
    assert.deepEqual((await gw.admin("GET", path)).json.data, [], `${path}: nothing was stored`);
  }
  // Names in any script (and emoji) are names.
  assert.equal((await gw.admin("POST", "/api/keys", { name: "Clé 生产 🚀" })).status, 201);
});

test("operator names differing only in case are one name: the second is refused, and either case signs in", async () => {
  const password = "operator-password-1";
  assert.equal((await gw.admin("POST", "/api/auth/operators", { tenant: "default", name: "ops", password })).status, 201);
  for (const name of ["Ops", "OPS"]) {
    const r = await gw.admin("POST", "/api/auth/operators", { tenant: "default", name, password: "another-password-2" });
    assert.equal(r.status, 409, `${name}: ${r.text}`);
    assert.equal(r.json.error.param, "name");
  }
  assert.deepEqual((await gw.admin("GET", "/api/auth/operators")).json.data.map((o) => o.name), ["ops"]);
  const login = await fetch(`${gw.url}/api/auth/login`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "OPS", password }),
  });
  assert.equal(login.status, 200, await login.text());
  const wrong = await fetch(`${gw.url}/api/auth/login`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Ops", password: "another-password-2" }),
  });
  assert.equal(wrong.status, 401, "the refused operator's password is no one's");
});
