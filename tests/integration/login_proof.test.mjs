// Signing in with a proof (docs/auth.md, "the browser does the slow part"): the client asks
// `POST /api/auth/login/params` for the account's salt and count, derives PBKDF2 itself and sends the
// output as `proof`; the gateway stores only SHA-256 of it (`pbkdf2-sha256-c`). Rows of the earlier
// scheme refuse proofs, sign in by password and are re-stored in the new scheme on the way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, pbkdf2Sync } from "node:crypto";
import { startGateway, ADMIN_SECRET } from "../support/gateway.mjs";

let gw;
let db;
before(async () => {
  gw = await startGateway({ assets: false });
  db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('machine-p', 'proofs', 0)").run();
});
after(async () => { await gw?.dispose(); });

async function post(path, body, ip = "192.0.2.1") {
  const res = await fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json(), cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] };
}
const params = (name, ip) => post("/api/auth/login/params", name ? { name } : {}, ip);
const signIn = (body, ip) => post("/api/auth/login", body, ip);
/** What the dashboard derives: PBKDF2-SHA256 of the password under the account's parameters. */
const proofOf = (password, p) => pbkdf2Sync(password, Buffer.from(p.salt, "base64url"), p.iterations, 32, "sha256").toString("base64url");
const sha256 = (b64url) => createHash("sha256").update(Buffer.from(b64url, "base64url")).digest("base64url");
const storedHash = async (name) => (await db.prepare("SELECT password_hash FROM auth_logins WHERE name = ?1").bind(name).first()).password_hash;

async function operator(name, password) {
  const made = await gw.admin("POST", "/api/auth/operators", { tenant: "machine-p", name, password });
  assert.equal(made.status, 201, made.text);
  return made.json.id;
}

test("an operator signs in with a proof derived from its password; storage holds only the proof's SHA-256", async () => {
  const password = "proof-operator-password-1";
  await operator("proof-ops", password);
  const p = await params("proof-ops");
  assert.equal(p.status, 200, JSON.stringify(p.json));
  assert.equal(p.json.scheme, "pbkdf2-sha256-c");
  assert.equal(p.json.iterations, 100000);
  assert.match(p.json.salt, /^[\w-]{22}$/);
  assert.deepEqual((await params("PROOF-OPS")).json, p.json, "names match without case, as at sign-in");
  const proof = proofOf(password, p.json);
  const stored = await storedHash("proof-ops");
  assert.equal(stored, `pbkdf2-sha256-c$100000$${p.json.salt}$${sha256(proof)}`);
  assert.ok(!stored.includes(proof), "the stored value is not the proof");

  const r = await signIn({ name: "proof-ops", proof }, "192.0.2.10");
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual([r.json.principal.role, r.json.principal.name, r.json.principal.tenant], ["operator", "proof-ops", "machine-p"]);
  const keys = await fetch(`${gw.url}/api/keys`, { headers: { cookie: r.cookie } });
  assert.equal(keys.status, 200, "the session cookie works like a password sign-in's");
  // The stored value does not sign in as a proof; the password still signs in.
  assert.equal((await signIn({ name: "proof-ops", proof: stored.split("$")[3] }, "192.0.2.10")).status, 401);
  assert.equal((await signIn({ name: "proof-ops", password }, "192.0.2.10")).status, 200);
  const audit = await db.prepare("SELECT actor, status FROM audit_log WHERE path = '/api/auth/login' ORDER BY id DESC LIMIT 3").all();
  assert.deepEqual(audit.results.map((e) => e.status), [200, 401, 200], "audited like password sign-ins");
});

test("a wrong proof is a failed attempt: counted, then refused with 429", async () => {
  const password = "proof-operator-password-2";
  await operator("limit-proof", password);
  const p = (await params("limit-proof")).json;
  const ip = "198.51.100.70";
  for (let i = 0; i < 10; i++) {
    const r = await signIn({ name: "limit-proof", proof: proofOf(`guess-${i}`, p) }, ip);
    assert.equal(r.status, 401, `attempt ${i + 1}`);
    assert.deepEqual([r.json.error.code, r.json.error.param], ["wrong_password", "proof"]);
    assert.match(r.json.error.message, new RegExp(`${9 - i} more failed attempt`));
  }
  const r = await signIn({ name: "limit-proof", proof: proofOf(password, p) }, ip);
  assert.equal(r.status, 429, "a right proof after the limit waits too");
  assert.equal(r.json.error.code, "login_rate_limited");
  assert.equal((await signIn({ name: "limit-proof", proof: proofOf(password, p) }, "198.51.100.71")).status, 200);
});

test("the parameters of an unknown name look like a real account's and are stable", async () => {
  await operator("real-ops", "proof-operator-password-3");
  const real = (await params("real-ops")).json;
  const ghost = await params("ghost-ops");
  assert.equal(ghost.status, 200);
  assert.deepEqual(Object.keys(ghost.json).sort(), Object.keys(real).sort());
  assert.deepEqual([ghost.json.scheme, ghost.json.iterations], [real.scheme, real.iterations]);
  assert.match(ghost.json.salt, /^[\w-]{22}$/);
  assert.deepEqual((await params("ghost-ops", "192.0.2.99")).json, ghost.json, "the same on every ask, from anywhere");
  assert.deepEqual((await params("GHOST-OPS")).json, ghost.json);
  assert.notEqual((await params("ghost-ops-2")).json.salt, ghost.json.salt, "each name its own");
  const r = await signIn({ name: "ghost-ops", proof: proofOf("anything-at-all", ghost.json) }, "192.0.2.11");
  assert.deepEqual([r.status, r.json.error.code], [401, "wrong_password"]);
  assert.equal((await params("has space")).status, 400);
});

test("a row of the earlier scheme refuses a proof, signs in by password, and is then re-stored in the -c scheme", async () => {
  const password = "old-scheme-password-1";
  const salt = Buffer.alloc(16, 5).toString("base64url");
  const old = pbkdf2Sync(password, Buffer.from(salt, "base64url"), 100000, 32, "sha256").toString("base64url");
  await db.prepare("INSERT INTO auth_logins (id, name, role, tenant_id, password_hash, created_at, updated_at) VALUES ('op_old', 'old-ops', 'operator', 'machine-p', ?1, 0, 0)")
    .bind(`pbkdf2-sha256$100000$${salt}$${old}`).run();
  const p = (await params("old-ops")).json;
  assert.deepEqual(p, { scheme: "pbkdf2-sha256", iterations: 100000, salt }, "tells the client to send the password");
  const proof = proofOf(password, p);
  assert.equal(proof, old, "the old row's hash is the proof itself: so no proof may sign in against it");
  const refused = await signIn({ name: "old-ops", proof }, "192.0.2.12");
  assert.deepEqual([refused.status, refused.json.error.code], [401, "wrong_password"]);
  assert.equal((await storedHash("old-ops")).split("$")[0], "pbkdf2-sha256", "a refused proof changes nothing");

  assert.equal((await signIn({ name: "old-ops", password }, "192.0.2.12")).status, 200);
  assert.equal(await storedHash("old-ops"), `pbkdf2-sha256-c$100000$${salt}$${sha256(proof)}`, "same salt and count, new scheme");
  assert.deepEqual((await params("old-ops")).json, { scheme: "pbkdf2-sha256-c", iterations: 100000, salt });
  assert.equal((await signIn({ name: "old-ops", proof }, "192.0.2.12")).status, 200);
  assert.equal((await signIn({ name: "old-ops", password }, "192.0.2.12")).status, 200);
});

test("the owner with ADMIN_SECRET is told plain; after a password change it signs in with a proof", async () => {
  assert.deepEqual((await params()).json, { scheme: "plain" });
  const anyProof = Buffer.alloc(32, 1).toString("base64url");
  assert.equal((await signIn({ proof: anyProof }, "192.0.2.13")).status, 401, "ADMIN_SECRET has no proof");
  const r = await signIn({ password: ADMIN_SECRET }, "192.0.2.13");
  assert.equal(r.status, 200);
  const changed = await fetch(`${gw.url}/api/auth/password`, {
    method: "POST",
    headers: { cookie: r.cookie, origin: gw.url, "content-type": "application/json" },
    body: JSON.stringify({ current: ADMIN_SECRET, new: "the-owners-new-password" }),
  });
  assert.equal(changed.status, 200);
  const p = (await params()).json;
  assert.equal(p.scheme, "pbkdf2-sha256-c");
  const owner = await signIn({ proof: proofOf("the-owners-new-password", p) }, "192.0.2.13");
  assert.equal(owner.status, 200);
  assert.equal(owner.json.principal.role, "owner");
});

test("a sign-in gives the password or a proof, not both, and a proof is 32 bytes of base64url", async () => {
  const proof = Buffer.alloc(32, 2).toString("base64url");
  for (const body of [{ password: "x", proof }, {}, { proof: proof.slice(0, 40) }, { proof: "not base64!" }, { proof: Buffer.alloc(33).toString("base64url") }]) {
    const r = await signIn(body, "192.0.2.14");
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.type, "invalid_request_error");
  }
});
