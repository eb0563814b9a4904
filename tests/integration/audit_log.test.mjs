// The audit log (issue 10): every management action (who, what, on which tenant, outcome, when,
// from where) and every sign-in attempt is recorded and readable with GET /api/audit, newest
// first and paged; reads are not recorded, and no secret is ever in it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, ADMIN_SECRET } from "../support/gateway.mjs";

let gw;
before(async () => { gw = await startGateway({ assets: false }); });
after(async () => { await gw?.dispose(); });

const call = (method, path, body, headers = {}) => fetch(`${gw.url}${path}`, {
  method,
  headers: { authorization: `Bearer ${ADMIN_SECRET}`, "content-type": "application/json", "cf-connecting-ip": "198.51.100.7", ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});

test("actions and sign-in attempts are recorded with who, what, outcome and address; reads are not", async () => {
  const created = await (await call("POST", "/api/keys", { name: "audited" })).json();
  assert.equal((await call("PATCH", "/api/settings", { log_retention_days: 7 })).status, 200);
  assert.equal((await call("PATCH", "/api/settings", { log_retention_days: 0 })).status, 400);
  assert.equal((await call("DELETE", `/api/keys/${created.id}`)).status, 200);
  await call("GET", "/api/keys");
  const failed = await fetch(`${gw.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: gw.url, "cf-connecting-ip": "203.0.113.5" },
    body: JSON.stringify({ password: "not the password" }),
  });
  assert.equal(failed.status, 401);

  const r = await call("GET", "/api/audit");
  assert.equal(r.status, 200);
  const { data } = await r.json();
  const rows = data.map((e) => `${e.method} ${e.path} ${e.status} ${e.actor}/${e.via} ${e.ip}`);
  assert.deepEqual(rows.slice(0, 5), [
    "POST /api/auth/login 401 /login 203.0.113.5",
    `DELETE /api/keys/${created.id} 200 owner/secret 198.51.100.7`,
    "PATCH /api/settings 400 owner/secret 198.51.100.7",
    "PATCH /api/settings 200 owner/secret 198.51.100.7",
    "POST /api/keys 201 owner/secret 198.51.100.7",
  ]);
  assert.ok(!data.some((e) => e.method === "GET"), "reads are not recorded");
  assert.ok(data.every((e) => e.tenant_id === "default" && e.at > 0));
  const text = JSON.stringify(data);
  assert.ok(!text.includes(created.key) && !text.includes(ADMIN_SECRET) && !text.includes("not the password"), "no secret");
});

test("the log pages backwards and needs auth", async () => {
  for (let i = 0; i < 3; i++) await call("PATCH", "/api/settings", { sticky_limit: 3 + i });
  const all = (await (await call("GET", "/api/audit")).json()).data;
  const pages = [];
  let after = null;
  do {
    const page = await (await call("GET", `/api/audit?limit=2${after ? `&after=${after}` : ""}`)).json();
    pages.push(...page.data);
    after = page.next;
  } while (after);
  assert.deepEqual(pages.map((e) => e.id), all.map((e) => e.id), "pages of 2 give every row once, in order");
  assert.equal((await call("GET", "/api/audit?limit=x")).status, 400);
  assert.equal((await call("GET", "/api/audit?after=x")).status, 400);
  assert.equal((await fetch(`${gw.url}/api/audit`)).status, 401);
});

test("a sign-in is recorded with who signed in and as what, in the log of the tenant it belongs to", async () => {
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('machine-audit', 'laptop', 0)").run();
  const password = "operator-password-9";
  assert.equal((await call("POST", "/api/auth/operators", { tenant: "machine-audit", name: "audit-ops", password })).status, 201);
  const signIn = (body, ip) => fetch(`${gw.url}/api/auth/login`, {
    method: "POST", headers: { "content-type": "application/json", origin: gw.url, "cf-connecting-ip": ip }, body: JSON.stringify(body),
  });
  const asOperator = await signIn({ name: "audit-ops", password }, "203.0.113.21");
  assert.equal(asOperator.status, 200);
  assert.equal((await signIn({ password: ADMIN_SECRET }, "203.0.113.22")).status, 200);

  const logins = async (tenant) => (await (await call("GET", `/api/audit?tenant=${tenant}`)).json()).data
    .filter((e) => e.path === "/api/auth/login")
    .map((e) => `${e.status} ${e.actor}/${e.role}/${e.via} ${e.tenant_id} ${e.ip}`);
  assert.deepEqual(await logins("machine-audit"), ["200 audit-ops/operator/login machine-audit 203.0.113.21"]);
  const own = await logins("default");
  assert.equal(own[0], "200 owner/owner/login default 203.0.113.22");
  assert.ok(!own.some((r) => r.includes("203.0.113.21")), "the operator's sign-in is not in the default tenant's log");
  // The operator reads its own sign-in in its tenant's log.
  const cookie = (asOperator.headers.get("set-cookie") ?? "").split(";")[0];
  const mine = await (await fetch(`${gw.url}/api/audit`, { headers: { cookie } })).json();
  assert.ok(mine.data.some((e) => e.path === "/api/auth/login" && e.actor === "audit-ops" && e.role === "operator"));
});
