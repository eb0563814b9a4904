// Runs the built worker (build/index.js + wasm) in workerd through Miniflare, with real local D1, KV
// and static assets, and the migrations from migrations/ applied. `npm test` builds the worker first.
import { Miniflare } from "miniflare";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { noteSecret, scan, watchGateway } from "./secret_scan.mjs";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ADMIN_SECRET = "test-admin-secret";

/** Splits a migration file into statements (comments dropped; statements end with `;` at line end). */
export function migrationStatements(sql) {
  return sql
    .split("\n")
    .filter((l) => !l.trim().startsWith("--"))
    .join("\n")
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Applies each migration file once, in order, tracking them like wrangler does (`d1_migrations`). */
export async function applyMigrations(db) {
  await db.prepare("CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TEXT DEFAULT CURRENT_TIMESTAMP)").run();
  const done = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((r) => r.name));
  const dir = path.join(ROOT, "migrations");
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    if (done.has(file)) continue;
    const stmts = migrationStatements(fs.readFileSync(path.join(dir, file), "utf8"));
    await db.batch([...stmts.map((s) => db.prepare(s)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(file)]);
  }
}

/** `persistDir`: keep D1, KV and Durable Object storage there (to restart on the same state).
 *  `assets: false` leaves out the dashboard (and Miniflare's asset router in front of the worker). */
/** `options`: more Miniflare options (e.g. `inspectorPort` for bench/profile.mjs). */
/** Storage always goes to disk (a temporary directory without `persistDir`), so that the secret
 *  scan can read every byte of it when the gateway is disposed (`secret_scan.mjs`). */
/** `scanReport: false`: the scan still runs at dispose but writes no report (the scan's own tests). */
export async function startGateway({ bindings = {}, persistDir, assets = true, options = {}, scanReport = true } = {}) {
  const ownDir = persistDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), "oe-gw-"));
  const dir = persistDir ?? ownDir;
  const persist = { d1Persist: path.join(dir, "d1"), kvPersist: path.join(dir, "kv"), durableObjectsPersist: path.join(dir, "do") };
  let logs = "";
  const capture = (stream, out) => stream.on("data", (chunk) => { logs += chunk; out.write(chunk); });
  const mf = new Miniflare({
    ...persist,
    handleRuntimeStdio(stdout, stderr) { capture(stdout, process.stdout); capture(stderr, process.stderr); },
    // OE_BUILD: another build directory (bench/ab.mjs compares builds side by side).
    scriptPath: path.join(process.env.OE_BUILD ?? path.join(ROOT, "build"), "index.js"),
    modulesRoot: "/",
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-05-01",
    d1Databases: { DB: "omniroute-edge-test" },
    kvNamespaces: { CONFIG_CACHE: "config-cache-test" },
    durableObjects: { RESILIENCE: { className: "ResilienceState", useSQLite: true }, SYNC: { className: "SyncMachine", useSQLite: true }, LIMITS: { className: "KeyLedger", useSQLite: true }, SLOTS: { className: "ConnectionSlots", useSQLite: true }, IDEMPOTENCY: { className: "IdempotencyKey", useSQLite: true }, RESPONSES: { className: "StoredResponses", useSQLite: true }, LOGIN_LIMITS: { className: "LoginLimiter", useSQLite: true } },
    ...(assets ? { assets: { directory: path.join(ROOT, "dashboard", "dist"), binding: "ASSETS", routerConfig: { has_user_worker: true } } } : {}),
    bindings: {
      ADMIN_SECRET,
      MASTER_KEY: "test-master-key-0123456789abcdef",
      ALLOW_PRIVATE_UPSTREAMS: "true",
      ...bindings,
    },
    host: "127.0.0.1",
    port: 0,
    ...options,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  watchGateway(url);
  for (const v of [ADMIN_SECRET, bindings.ADMIN_SECRET, bindings.MASTER_KEY, "test-master-key-0123456789abcdef"]) noteSecret(v);
  await applyMigrations(await mf.getD1Database("DB"));

  const admin = async (method, p, body, { secret = ADMIN_SECRET } = {}) => {
    const send = () => fetch(`${url}${p}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    // A keep-alive connection left idle may have been closed by the runtime just as it is reused
    // (UND_ERR_SOCKET or ECONNRESET before any answer); an idempotent request is safe to send again
    // on a new one.
    const idempotent = ["GET", "PUT", "DELETE"].includes(method);
    const reset = (e) => ["UND_ERR_SOCKET", "ECONNRESET"].includes(e.cause?.code);
    const res = await send().catch((e) => (idempotent && reset(e) ? send() : Promise.reject(e)));
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch {}
    return { status: res.status, json, text, headers: res.headers };
  };

  return {
    mf,
    url,
    admin,
    /** Creates a gateway API key and returns it. */
    async createKey(name = "test", tenantQuery = "") {
      const r = await admin("POST", `/api/keys${tenantQuery}`, { name });
      if (r.status !== 201) throw new Error(`createKey: ${r.status} ${r.text}`);
      return r.json.key;
    },
    async addConnection(conn) {
      const r = await admin("POST", "/api/providers", conn);
      if (r.status !== 201) throw new Error(`addConnection: ${r.status} ${r.text}`);
      return r.json;
    },
    /** Connects `provider` to a mock upstream from tests/support (its key and URL). */
    connect(provider, mock, extra = {}) {
      return this.addConnection({ provider, api_key: mock.apiKey, base_url: mock.url, ...extra });
    },
    /** Fires the worker's scheduled (cron) handler as Cloudflare's trigger would, and waits for it. */
    async scheduled(cron = "17 * * * *") {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron, scheduledTime: new Date() });
    },
    /** Stops the runtime, then scans its storage and log for plaintext secrets (a finding fails). */
    async dispose() {
      await mf.dispose();
      const findings = scan({ dir, logs, label: `${path.basename(process.argv[1] ?? "")} ${url}`, report: scanReport });
      if (ownDir) fs.rmSync(ownDir, { recursive: true, force: true });
      if (findings.length) throw new Error(`plaintext secrets after the run: ${JSON.stringify(findings)}`);
    },
  };
}
