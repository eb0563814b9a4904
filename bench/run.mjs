// Load run: the gateway (built worker, real D1/KV/DO) next to the runtime floor (a forwarding-only
// worker), both in workerd via Miniflare, both against the same static upstream, driven by wrk.
// Usage: npm run bench [-- --duration 10 --connections 16]
import { Miniflare } from "miniflare";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, ROOT } from "../tests/support/gateway.mjs";
import { startStaticUpstream } from "./static_upstream.mjs";

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const DURATION = Number(arg("duration", 10));
const CONNECTIONS = Number(arg("connections", 16));

const upstream = await startStaticUpstream();
// No dashboard assets: locally Miniflare puts JS router/asset workers in front of a worker that has
// assets, which would be measured too (in production `run_worker_first` sends /v1/* straight to it).
const gw = await startGateway({ assets: false });
await gw.addConnection({ provider: "openai", api_key: "sk-bench", base_url: upstream.url });
const key = await gw.createKey("bench");

const floor = new Miniflare({
  scriptPath: path.join(ROOT, "bench/floor_worker.js"), modules: true, compatibilityDate: "2026-05-01",
  bindings: { UPSTREAM: upstream.url, UPSTREAM_KEY: "sk-bench" }, host: "127.0.0.1", port: 0,
});
const floorUrl = (await floor.ready).toString().replace(/\/$/, "");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "oe-bench-"));
function luaScript(stream) {
  const body = JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Say hello." }], stream });
  const file = path.join(tmp, `${stream ? "stream" : "json"}.lua`);
  fs.writeFileSync(file, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${key}"\n`);
  return file;
}

// CPU time (user+system, ms) used so far by the workerd process listening on `url`'s port: the
// runtime's own cost per request, free of wrk's and the upstream's share of the two cores.
async function pidOfPort(url) {
  const port = new URL(url).port;
  const { stdout } = await exec("ss", ["-Hltnp", `sport = :${port}`]);
  return Number(stdout.match(/pid=(\d+)/)[1]);
}
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime+stime in clock ticks (100/s)
}

function toMs(v) { const n = parseFloat(v); return v.endsWith("us") ? n / 1000 : v.endsWith("ms") ? n : v.endsWith("s") ? n * 1000 : n; }

// Async: the static upstream runs in this process and must keep answering while wrk runs.
const exec = promisify(execFile);

async function runWrk(url, script) {
  const pid = await pidOfPort(url);
  const cpuBefore = cpuMs(pid);
  const { stdout: out } = await exec("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${DURATION}s`, "--latency", "-s", script, url]);
  const cpu = cpuMs(pid) - cpuBefore;
  const requests = Number(out.match(/(\d+) requests in/)[1]);
  const rps = parseFloat(out.match(/Requests\/sec:\s+([\d.]+)/)[1]);
  const p50 = toMs(out.match(/^\s+50%\s+(\S+)/m)[1]);
  const p99 = toMs(out.match(/^\s+99%\s+(\S+)/m)[1]);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const errors = out.match(/Socket errors:.*/)?.[0] ?? "";
  return { rps, p50, p99, non2xx, errors, cpuUs: (cpu * 1000) / requests };
}

// Warm both (JIT, isolate, caches), then measure each scenario back to back.
for (const stream of [false, true]) {
  await exec("wrk", ["-t1", "-c4", "-d2s", "-s", luaScript(stream), `${gw.url}/v1/chat/completions`]);
  await exec("wrk", ["-t1", "-c4", "-d2s", "-s", luaScript(stream), `${floorUrl}/`]);
}

const rows = [];
for (const stream of [false, true]) {
  const script = luaScript(stream);
  const g = await runWrk(`${gw.url}/v1/chat/completions`, script);
  const f = await runWrk(`${floorUrl}/`, script);
  rows.push({ scenario: stream ? `streaming (${upstream.streamBytes} B SSE)` : "non-streaming JSON", g, f });
}

const fmt = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
let report = `Load run: wrk -t2 -c${CONNECTIONS} -d${DURATION}s on ${os.cpus().length} cores (${os.cpus()[0].model}), ${new Date().toISOString()}\n\n`;
report += "| scenario | target | req/s | p50 ms | p99 ms | workerd CPU µs/req | non-2xx |\n|---|---|---:|---:|---:|---:|---:|\n";
for (const { scenario, g, f } of rows) {
  report += `| ${scenario} | gateway | ${fmt(g.rps)} | ${fmt(g.p50)} | ${fmt(g.p99)} | ${fmt(g.cpuUs)} | ${g.non2xx} |\n`;
  report += `| ${scenario} | floor (forward only) | ${fmt(f.rps)} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${fmt(f.cpuUs)} | ${f.non2xx} |\n`;
  report += `| ${scenario} | **gateway / floor** | **${(g.rps / f.rps).toFixed(2)}×** | ${(g.p50 / f.p50).toFixed(2)}× | ${(g.p99 / f.p99).toFixed(2)}× | ${(g.cpuUs / f.cpuUs).toFixed(2)}× (+${fmt(g.cpuUs - f.cpuUs)} µs) | |\n`;
}
const stats = (await gw.admin("GET", "/api/stats")).json.config_cache;
report += `\nGateway config cache after the run (D1 loads stay flat under load): ${JSON.stringify(stats)}\n`;
console.log(report);
fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
fs.writeFileSync(path.join(ROOT, "bench/results/latest.md"), report);

await gw.dispose();
await floor.dispose();
await upstream.close();
fs.rmSync(tmp, { recursive: true, force: true });
