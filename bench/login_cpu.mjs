// CPU of one password sign-in in workerd (issue 21, item 17: the Free plan allows 10 ms CPU per
// request). Signs in `--n` times per round, alternating for `--rounds`, and reads the workerd
// process's CPU (/proc/<pid>/stat, like bench/ab.mjs) around each batch:
// - `hash`: an operator signing in with its password, whose stored PBKDF2 hash the server checks
//   (100 000 iterations);
// - `proof`: the same operator with a proof (the PBKDF2 output, derived here once as the browser
//   would: the server only hashes and compares it, docs/auth.md);
// - `params`: `POST /api/auth/login/params`, which a dashboard sign-in asks first;
// - `secret`: the owner with ADMIN_SECRET (no hash set: a constant-time compare, no KDF), the same
//   request otherwise (limiter, D1 session, cookie); `hash` − `secret` is the KDF's share.
// Also a plain JS worker that only runs WebCrypto PBKDF2 (100 000 iterations, as the gateway does)
// per request, against one that only answers: the runtime's native PBKDF2 alone.
// Usage: node bench/login_cpu.mjs [--builds dirA,dirB (copies of build/; default build/)] [--n 20] [--rounds 5]
// The process CPU includes the Durable Object and D1 work of the same request (on Cloudflare those
// are billed to the object and the database, not to the Worker's request).
import { Miniflare } from "miniflare";
import { execFile } from "node:child_process";
import { pbkdf2Sync } from "node:crypto";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { startGateway, ADMIN_SECRET, ROOT } from "../tests/support/gateway.mjs";

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const N = Number(arg("n", 20));
const ROUNDS = Number(arg("rounds", 5));
const BUILDS = arg("builds", path.join(ROOT, "build")).split(",").filter(Boolean);
const exec = promisify(execFile);
const CLK_TCK = Number((await exec("getconf", ["CLK_TCK"])).stdout.trim()) || 100;

async function pidOfPort(url) {
  const { stdout } = await exec("ss", ["-Hltnp", `sport = :${new URL(url).port}`]);
  return Number(stdout.match(/pid=(\d+)/)[1]);
}
function cpuMs(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** CPU ms per call of `send` (sequential, so one request at a time is measured). */
async function perCall(pid, send) {
  const before = cpuMs(pid);
  for (let i = 0; i < N; i++) await send(i);
  return (cpuMs(pid) - before) / N;
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (a) => `${median(a).toFixed(1)} (min ${Math.min(...a).toFixed(1)}, max ${Math.max(...a).toFixed(1)})`;
let report = `| target | CPU ms per request, median of ${ROUNDS} rounds of ${N} |\n|---|---:|\n`;

// The runtime alone: WebCrypto PBKDF2 per request, against a worker that only answers.
const kdfWorker = `export default { async fetch() {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("a sign-in password"), "PBKDF2", false, ["deriveBits"]);
  await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(16), iterations: 100000 }, key, 256);
  return new Response("{}");
} };`;
for (const [name, script] of [["js: answer only", `export default { fetch() { return new Response("{}"); } };`], ["js: WebCrypto PBKDF2 100k", kdfWorker]]) {
  const mf = new Miniflare({ script, modules: true, compatibilityDate: "2026-05-01", host: "127.0.0.1", port: 0 });
  const url = (await mf.ready).toString();
  const pid = await pidOfPort(url);
  for (let i = 0; i < 5; i++) await (await fetch(url)).text();
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await perCall(pid, async () => (await fetch(url)).text()));
  report += `| ${name} | ${fmt(runs)} |\n`;
  await mf.dispose();
}

for (const build of BUILDS) {
  process.env.OE_BUILD = build;
  const gw = await startGateway({ assets: false, scanReport: false });
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('bench-t', 'bench', 0)").run();
  const password = "bench-operator-password";
  const made = await gw.admin("POST", "/api/auth/operators", { tenant: "bench-t", name: "bench-ops", password });
  if (made.status !== 201) throw new Error(`operator: ${made.status} ${made.text}`);
  const post = (route, body, i) => fetch(`${gw.url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `198.18.${i % 250}.${(i >> 8) + 1}` },
    body: JSON.stringify(body),
  }).then(async (r) => { if (r.status !== 200) throw new Error(`${route}: ${r.status} ${await r.text()}`); return r.json(); });
  const signIn = (body, i) => post("/api/auth/login", body, i);
  const params = await post("/api/auth/login/params", { name: "bench-ops" }, 0);
  const kinds = {
    hash: (i) => signIn({ name: "bench-ops", password }, i),
    secret: (i) => signIn({ password: ADMIN_SECRET }, i),
  };
  if (params.scheme === "pbkdf2-sha256-c") { // a build that takes proofs
    const proof = pbkdf2Sync(password, Buffer.from(params.salt, "base64url"), params.iterations, 32, "sha256").toString("base64url");
    kinds.proof = (i) => signIn({ name: "bench-ops", proof }, i);
    kinds.params = (i) => post("/api/auth/login/params", { name: "bench-ops" }, i);
  }
  const pid = await pidOfPort(gw.url);
  for (const send of Object.values(kinds)) for (let i = 0; i < 5; i++) await send(i);
  const runs = Object.fromEntries([...Object.keys(kinds), "diff", "proofDiff"].map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = Object.keys(kinds);
    if (r % 2) order.reverse();
    const got = {};
    for (const k of order) got[k] = await perCall(pid, kinds[k]);
    for (const k of order) runs[k].push(got[k]);
    runs.diff.push(got.hash - got.secret);
    if (kinds.proof) runs.proofDiff.push(got.proof - got.secret);
  }
  const label = path.basename(path.resolve(build));
  report += `| ${label}: sign-in with a password, checking a stored hash | ${fmt(runs.hash)} |\n`;
  if (kinds.proof) report += `| ${label}: sign-in with a proof | ${fmt(runs.proof)} |\n`;
  report += `| ${label}: sign-in with ADMIN_SECRET (no KDF) | ${fmt(runs.secret)} |\n`;
  report += `| ${label}: the hash check's share (paired difference) | ${fmt(runs.diff)} |\n`;
  if (kinds.proof) {
    report += `| ${label}: the proof check's share (paired difference) | ${fmt(runs.proofDiff)} |\n`;
    report += `| ${label}: login params (asked before a dashboard sign-in) | ${fmt(runs.params)} |\n`;
  }
  await gw.dispose();
}
const { stdout: cpu } = await exec("sh", ["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]);
report = `## login_cpu ${new Date().toISOString()} (${cpu.trim()})\n\n${report}`;
console.log(report);
fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
fs.appendFileSync(path.join(ROOT, "bench/results/login_cpu.md"), `${report}\n`);
