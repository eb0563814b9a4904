// A/B of built workers: all gateways (and the floor) up at once, short wrk runs alternated for
// `--rounds`, per-round differences against the first build (paired, so slow load drifts cancel).
// Usage: node bench/ab.mjs --builds dirA,dirB[,…] (`dir#phase`: a `bench-phases` build stopped after
//        that phase, see src/platform/bench_stop.rs) [--empty: also a worker that only answers] [--rounds 8] [--duration 3] [--stream true]
//        [--model openai/big-stream] [--connections 16] [--big <request KB>] [--anthropic: an Anthropic
//        client, so the answer is translated]
//        [--limits '{"usd_per_day":1e6,"requests_per_minute":1000000}'] [--temperature 0]
//        [--headers '{"x-omniroute-no-cache":"true"}'] [--unique-idempotency-keys] [--pin]
//        [--js a.js,b.js: also these JS workers, with the floor's bindings (UPSTREAM, UPSTREAM_KEY), to
//        measure an I/O pattern in the runtime alone]. A build is a copy of build/.
// `--limits` also runs every build with a second key that has those limits (target `<build>+limits`);
// the key is created through the last build, so list a build that knows key limits last.
import { Miniflare } from "miniflare";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, ROOT } from "../tests/support/gateway.mjs";
import { startStaticUpstream } from "./static_upstream.mjs";

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const DURATION = Number(arg("duration", 3));
const ROUNDS = Number(arg("rounds", 8));
const CONNECTIONS = Number(arg("connections", 16));
const BUILDS = arg("builds", "").split(",").filter(Boolean);
const STREAM = arg("stream", "false") === "true";
const ANTHROPIC = process.argv.includes("--anthropic");
// `--pin`: each workerd on the second core, wrk and the upstream (this process) on the first, so a
// measured process does not share its core with the load (less spread on a 2-core machine).
const PIN = process.argv.includes("--pin");
const exec = promisify(execFile);
const upstream = await startStaticUpstream();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "oe-ab-"));
// `--unique-idempotency-keys`: every request carries its own Idempotency-Key (a claim, then a
// settlement: what idempotency costs a request that is not a duplicate).
const UNIQUE_KEYS = process.argv.includes("--unique-idempotency-keys");
function lua(body, headers) {
  const file = path.join(tmp, `s${Math.random().toString(36).slice(2)}.lua`);
  const h = Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join("\n");
  const unique = UNIQUE_KEYS
    ? `\nlocal n = 0\nrequest = function()\n  n = n + 1\n  wrk.headers["Idempotency-Key"] = tostring(math.random(1, 1e9)) .. "-" .. n\n  return wrk.format()\nend\n`
    : "";
  fs.writeFileSync(file, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify(body))}\nwrk.headers["Content-Type"] = "application/json"\n${h}\n${unique}`);
  return file;
}
const BIG_KB = Number(arg("big", 0));
const filler = "Refactor the function and explain why, with \"quotes\" and \\ escapes. ";
const bigMessages = () => Array.from({ length: Math.max(1, Math.round(BIG_KB / 4)) }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: filler.repeat(56) }));
// `--temperature 0` makes requests cacheable: after the first, each is a response-cache hit.
const TEMPERATURE = arg("temperature", undefined);
const HEADERS = JSON.parse(arg("headers", "{}"));
const chatBody = (model) => ({
  model,
  messages: BIG_KB ? bigMessages() : [{ role: "user", content: "Say hello." }],
  stream: STREAM,
  ...(TEMPERATURE === undefined ? {} : { temperature: Number(TEMPERATURE) }),
});
async function pidOfPort(url) {
  const { stdout } = await exec("ss", ["-Hltnp", `sport = :${new URL(url).port}`]);
  return Number(stdout.match(/pid=(\d+)/)[1]);
}
function cpuMs(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
async function runWrk(t, d = DURATION) {
  const before = cpuMs(t.pid);
  const { stdout: out } = await exec(PIN ? "taskset" : "wrk", [...(PIN ? ["-c", "0", "wrk"] : []), `-t${Math.min(2, CONNECTIONS)}`, `-c${CONNECTIONS}`, `-d${d}s`, "--latency", "-s", t.script, t.url]);
  const [, p50, unit] = out.match(/50%\s+([\d.]+)(us|ms|s)/) ?? [];
  t.p50.push(Number(p50) * { us: 0.001, ms: 1, s: 1000 }[unit]);
  const requests = Number(out.match(/(\d+) requests in/)[1]);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  if (non2xx) console.error(`${t.name}: ${non2xx} non-2xx`);
  return ((cpuMs(t.pid) - before) * 1000) / requests;
}
const targets = [];
// Plain JS workers (the floor, `empty`, `--js`), with the floor's bindings, each a target.
const jsWorkers = [];
async function jsWorker(name, script) {
  const w = new Miniflare({ script, modules: true, compatibilityDate: "2026-05-01",
    bindings: { UPSTREAM: upstream.url, UPSTREAM_KEY: "sk-bench" }, host: "127.0.0.1", port: 0 });
  jsWorkers.push(w);
  targets.push({ name, url: (await w.ready).toString(), script: lua(chatBody("x"), {}) });
}
await jsWorker("floor", fs.readFileSync(path.join(ROOT, "bench/floor_worker.js"), "utf8"));
// `--empty`: also a worker that answers without any upstream call, the runtime's cost of a request.
if (process.argv.includes("--empty")) await jsWorker("empty", `export default { fetch() { return new Response("{}"); } };`);
for (const file of arg("js", "").split(",").filter(Boolean)) await jsWorker(path.basename(file, ".js"), fs.readFileSync(file, "utf8"));
const persistDir = path.join(tmp, "state");
const LIMITS = arg("limits", null);
process.env.OE_BUILD = (LIMITS ? BUILDS[BUILDS.length - 1] : BUILDS[0]).split("#")[0];
const setup = await startGateway({ assets: false, persistDir });
await setup.addConnection({ provider: "openai", api_key: "sk-bench", base_url: upstream.url });
const key = await setup.createKey("bench");
const limitedKey = LIMITS && (await setup.admin("POST", "/api/keys", { name: "bench-limits", limits: JSON.parse(LIMITS) })).json.key;
await setup.dispose();
const gws = [];
for (const spec of BUILDS) {
  // `dir#phase`: a build with the `bench-phases` feature, its requests stopped after that phase.
  const [build, stop] = spec.split("#");
  const stopHeaders = stop ? { "x-oe-bench-stop": stop, "x-oe-bench-upstream": upstream.url } : {};
  process.env.OE_BUILD = build;
  const dir = path.join(tmp, `state-${gws.length}`);
  fs.cpSync(persistDir, dir, { recursive: true });
  const gw = await startGateway({ assets: false, persistDir: dir });
  gws.push(gw);
  const body = chatBody(arg("model", "openai/gpt-4o-mini"));
  if (ANTHROPIC) {
    // Translated: an Anthropic Messages client in front of the OpenAI-format upstream.
    const messages = { ...body, max_tokens: 256 };
    targets.push({ name: path.basename(spec), url: `${gw.url}/v1/messages`, script: lua(messages, { "x-api-key": key, "anthropic-version": "2023-06-01", ...stopHeaders, ...HEADERS }) });
    continue;
  }
  targets.push({ name: path.basename(spec), url: `${gw.url}/v1/chat/completions`, script: lua(body, { Authorization: `Bearer ${key}`, ...stopHeaders, ...HEADERS }) });
  if (limitedKey) targets.push({ name: `${path.basename(build)}+limits`, url: `${gw.url}/v1/chat/completions`, script: lua(body, { Authorization: `Bearer ${limitedKey}`, ...HEADERS }) });
}
if (PIN) await exec("taskset", ["-a", "-pc", "0", String(process.pid)]);
for (const t of targets) { t.pid = await pidOfPort(t.url); if (PIN) await exec("taskset", ["-a", "-pc", "1", String(t.pid)]); await exec("wrk", ["-t1", "-c4", "-d2s", "-s", t.script, t.url]); t.runs = []; t.p50 = []; }
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [...targets].reverse() : targets;
  for (const t of order) t.runs.push(await runWrk(t));
}
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const sd = (a) => { const m = mean(a); return Math.sqrt(a.reduce((x, y) => x + (y - m) ** 2, 0) / Math.max(1, a.length - 1)); };
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const base = targets[1];
let report = `A/B: wrk -t2 -c${CONNECTIONS} -d${DURATION}s × ${ROUNDS} rounds (alternating), stream=${STREAM}, body ${BIG_KB || '<1'} KB${TEMPERATURE === undefined ? "" : `, temperature ${TEMPERATURE}`}${Object.keys(HEADERS).length ? `, headers ${JSON.stringify(HEADERS)}` : ""}${UNIQUE_KEYS ? ", a new Idempotency-Key per request" : ""}, ${new Date().toISOString()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}\n\n`;
report += `| target | CPU µs/req median | mean ± sd | min | vs floor (paired mean) | vs ${base.name} (paired mean ± sd) | p50 ms (median) |\n|---|---:|---:|---:|---:|---:|---:|\n`;
for (const t of targets) {
  const dFloor = t.runs.map((v, i) => v - targets[0].runs[i]);
  const dBase = t.runs.map((v, i) => v - base.runs[i]);
  report += `| ${t.name} | ${median(t.runs).toFixed(0)} | ${mean(t.runs).toFixed(0)} ± ${sd(t.runs).toFixed(0)} | ${Math.min(...t.runs).toFixed(0)} | ${t === targets[0] ? "" : "+" + mean(dFloor).toFixed(0)} | ${t === base || t === targets[0] ? "" : `${mean(dBase) >= 0 ? "+" : ""}${mean(dBase).toFixed(0)} ± ${sd(dBase).toFixed(0)}`} | ${median(t.p50).toFixed(2)} |\n`;
}
console.log(report);
fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
fs.appendFileSync(path.join(ROOT, "bench/results/ab.md"), report + "\n");
for (const g of gws) await g.dispose();
for (const w of jsWorkers) await w.dispose();
await upstream.close();
fs.rmSync(tmp, { recursive: true, force: true });
