// The secret scan (issue 10): every secret a test hands a gateway or gets from it (provider API
// keys, gateway keys, passwords, session tokens, sync secrets, ADMIN_SECRET) is noted as it passes
// through `fetch`; when the gateway is disposed, every byte of its D1, KV and Durable Object storage
// on disk and everything the worker printed is searched for them in plaintext. Each gateway writes
// a report; `tests/support/secret_scan_report.mjs` checks them all after the whole suite.
import fs from "node:fs";
import path from "node:path";

export const REPORT_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../test-artifacts/secret-scan");

const secrets = new Set();
const gatewayOrigins = new Set();
let installed = false;

/** Notes a secret (short values are too likely to occur by chance to be meaningful). */
export function noteSecret(value) {
  if (typeof value === "string" && value.length >= 12) secrets.add(value);
}

const SECRET_FIELDS = new Set(["api_key", "password", "new", "current", "key", "signing_secret", "token", "passphrase"]);

function noteFields(value, depth = 0) {
  if (!value || typeof value !== "object" || depth > 6) return;
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_FIELDS.has(k)) noteSecret(v);
    else if (typeof v === "object") noteFields(v, depth + 1);
  }
}

function noteHeaders(headers) {
  const h = new Headers(headers ?? {});
  const auth = h.get("authorization");
  if (auth?.startsWith("Bearer ")) noteSecret(auth.slice(7));
  noteSecret(h.get("x-api-key") ?? undefined);
  noteSecret(h.get("x-goog-api-key") ?? undefined);
  noteCookie(h.get("cookie"));
}

/** A session token `v1.<id>.<exp>.<mac>`: the whole token and its id. */
function noteCookie(cookie) {
  const value = cookie?.split(";")[0]?.split("=")[1];
  if (!value) return;
  noteSecret(value);
  noteSecret(value.split(".")[1]);
}

/** Watches `fetch` calls to the gateway at `origin` (once per process for the wrapper). */
export function watchGateway(origin) {
  gatewayOrigins.add(origin);
  if (installed) return;
  installed = true;
  const original = globalThis.fetch;
  globalThis.fetch = async function watchedFetch(input, init) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input?.url;
    const ours = url && [...gatewayOrigins].some((o) => url.startsWith(o));
    if (ours) {
      try {
        noteHeaders(init?.headers ?? (input instanceof Request ? input.headers : undefined));
        if (typeof init?.body === "string" && init.body.startsWith("{")) noteFields(JSON.parse(init.body));
      } catch {}
    }
    const res = await original.call(this, input, init);
    if (ours) {
      try {
        noteCookie(res.headers.get("set-cookie"));
        if ((res.headers.get("content-type") ?? "").includes("application/json")) {
          res.clone().json().then(noteFields, () => {});
        }
      } catch {}
    }
    return res;
  };
}

function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

/** Searches `dir` and `logs` for every noted secret; returns the findings and, unless `report` is
 *  false (the scan's own tests, which plant secrets on purpose), writes them for the final check. */
export function scan({ dir, logs, label, report = true }) {
  const files = filesUnder(dir);
  const findings = [];
  let bytes = 0;
  const all = [...secrets];
  for (const file of files) {
    const data = fs.readFileSync(file);
    bytes += data.length;
    for (const s of all) if (data.includes(s)) findings.push({ where: path.relative(dir, file), secret: mask(s) });
  }
  for (const s of all) if (logs.includes(s)) findings.push({ where: "worker log", secret: mask(s) });
  if (report) {
    fs.mkdirSync(REPORT_DIR, { recursive: true });
    const summary = { label, files: files.length, bytes, log_bytes: logs.length, secrets: all.length, findings };
    const name = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`;
    fs.writeFileSync(path.join(REPORT_DIR, name), JSON.stringify(summary, null, 2));
  }
  return findings;
}

/** Enough of a secret to recognise it in a report, never the whole of it. */
const mask = (s) => `${s.slice(0, 4)}…(${s.length} chars)`;
