// Load run: the gateway (built worker, real D1/KV/DO) next to the runtime floor (a forwarding-only
// worker), both in workerd via Miniflare, both against the same static upstream, driven by wrk.
// Scenarios: passthrough (OpenAI client → OpenAI upstream) whole and streamed, and translated
// streaming (Anthropic client → OpenAI upstream) on a small and a large stream, which gives the cost
// of translation per request and per MB of stream.
// Usage: npm run bench [-- --duration 10 --connections 16]
//        npm run bench -- --only passthrough [--repeat 2]: only non-streaming passthrough vs floor, each
//        measured `repeat` times (interleaved), which is what per-request overhead work needs.
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
const ONLY = arg("only", "all");
const REPEAT = Number(arg("repeat", 2));
const exec = promisify(execFile);

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
let scripts = 0;
function lua(body, headers) {
  const file = path.join(tmp, `s${scripts++}.lua`);
  const h = Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join("\n");
  fs.writeFileSync(file, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify(body))}\nwrk.headers["Content-Type"] = "application/json"\n${h}\n`);
  return file;
}
const chatBody = (model, stream) => ({ model, messages: [{ role: "user", content: "Say hello." }], stream });
const messagesBody = (model) => ({ model, max_tokens: 256, messages: [{ role: "user", content: "Say hello." }], stream: true });
const bearer = { Authorization: `Bearer ${key}` };
const anthropicHeaders = { "x-api-key": key, "anthropic-version": "2023-06-01" };

// CPU time (user+system, ms) used so far by the workerd process listening on `url`'s port: the
// runtime's own cost per request, free of wrk's and the upstream's share of the two cores.
async function pidOfPort(url) {
  const { stdout } = await exec("ss", ["-Hltnp", `sport = :${new URL(url).port}`]);
  return Number(stdout.match(/pid=(\d+)/)[1]);
}
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime+stime in clock ticks (100/s)
}
const toMs = (v) => { const n = parseFloat(v); return v.endsWith("us") ? n / 1000 : v.endsWith("ms") ? n : v.endsWith("s") ? n * 1000 : n; };

async function runWrk(url, script, { duration = DURATION, connections = CONNECTIONS } = {}) {
  await exec("wrk", ["-t1", "-c4", "-d2s", "-s", script, url]); // warm: JIT, isolate, caches
  const pid = await pidOfPort(url);
  const cpuBefore = cpuMs(pid);
  const { stdout: out } = await exec("wrk", ["-t2", `-c${connections}`, `-d${duration}s`, "--latency", "-s", script, url]);
  const requests = Number(out.match(/(\d+) requests in/)[1]);
  return {
    rps: parseFloat(out.match(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50: toMs(out.match(/^\s+50%\s+(\S+)/m)[1]),
    p99: toMs(out.match(/^\s+99%\s+(\S+)/m)[1]),
    non2xx: Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0),
    cpuUs: ((cpuMs(pid) - cpuBefore) * 1000) / requests,
  };
}

const chatUrl = `${gw.url}/v1/chat/completions`;
const messagesUrl = `${gw.url}/v1/messages`;
const big = { connections: 4 };
const fmt = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
if (ONLY === "passthrough") {
  const gwScript = lua(chatBody("openai/gpt-4o-mini", false), bearer);
  const floorScript = lua(chatBody("x", false), {});
  let report = `Passthrough only: wrk -t2 -c${CONNECTIONS} -d${DURATION}s, ${REPEAT} runs each, ${new Date().toISOString()}\n\n`;
  report += "| run | gateway req/s | floor req/s | gateway CPU µs/req | floor CPU µs/req | overhead µs/req | non-2xx |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (let i = 1; i <= REPEAT; i++) {
    const g = await runWrk(chatUrl, gwScript);
    const f = await runWrk(`${floorUrl}/`, floorScript);
    report += `| ${i} | ${fmt(g.rps)} | ${fmt(f.rps)} | ${fmt(g.cpuUs)} | ${fmt(f.cpuUs)} | +${fmt(g.cpuUs - f.cpuUs)} | ${g.non2xx + f.non2xx} |\n`;
  }
  console.log(report);
  await gw.dispose();
  await floor.dispose();
  await upstream.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}
const rows = [
  ["non-streaming JSON", "gateway (passthrough)", await runWrk(chatUrl, lua(chatBody("openai/gpt-4o-mini", false), bearer))],
  ["non-streaming JSON", "floor (forward only)", await runWrk(`${floorUrl}/`, lua(chatBody("x", false), {}))],
  [`streaming ${upstream.streamBytes} B`, "gateway (passthrough)", await runWrk(chatUrl, lua(chatBody("openai/gpt-4o-mini", true), bearer))],
  [`streaming ${upstream.streamBytes} B`, "floor (forward only)", await runWrk(`${floorUrl}/`, lua(chatBody("x", true), {}))],
  [`streaming ${upstream.streamBytes} B`, "gateway, Anthropic client ← OpenAI upstream (translated)", await runWrk(messagesUrl, lua(messagesBody("openai/gpt-4o-mini"), anthropicHeaders))],
  [`streaming ${upstream.bigStreamBytes} B`, "gateway (passthrough)", await runWrk(chatUrl, lua(chatBody("openai/big-stream", true), bearer), big)],
  [`streaming ${upstream.bigStreamBytes} B`, "gateway, Anthropic client ← OpenAI upstream (translated)", await runWrk(messagesUrl, lua(messagesBody("openai/big-stream"), anthropicHeaders), big)],
];

let report = `Load run: wrk -t2 -c${CONNECTIONS} -d${DURATION}s (large streams -c4) on ${os.cpus().length} cores (${os.cpus()[0].model}), ${new Date().toISOString()}\n\n`;
report += "| scenario | target | req/s | p50 ms | p99 ms | workerd CPU µs/req | non-2xx |\n|---|---|---:|---:|---:|---:|---:|\n";
for (const [scenario, target, r] of rows) {
  report += `| ${scenario} | ${target} | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.cpuUs)} | ${r.non2xx} |\n`;
}
const [json, jsonFloor, small, smallFloor, smallTr, bigPass, bigTr] = rows.map((r) => r[2]);
const mb = upstream.bigStreamBytes / 1e6;
report += `\n- Gateway vs floor, non-streaming: ${(json.rps / jsonFloor.rps).toFixed(2)}× throughput, +${fmt(json.cpuUs - jsonFloor.cpuUs)} µs CPU/request.\n`;
report += `- Gateway vs floor, streaming passthrough: ${(small.rps / smallFloor.rps).toFixed(2)}× throughput, +${fmt(small.cpuUs - smallFloor.cpuUs)} µs CPU/request.\n`;
report += `- Translation cost per request (small stream, translated − passthrough): +${fmt(smallTr.cpuUs - small.cpuUs)} µs CPU.\n`;
report += `- Translation cost per MB of stream ((large translated − large passthrough) / ${mb.toFixed(2)} MB): ${fmt((bigTr.cpuUs - bigPass.cpuUs) / mb / 1000)} ms CPU/MB; passthrough itself: ${fmt(bigPass.cpuUs / mb / 1000)} ms CPU/MB.\n`;
const stats = (await gw.admin("GET", "/api/stats")).json.config_cache;
report += `\nGateway config cache after the run (D1 loads stay flat under load): ${JSON.stringify(stats)}\n`;
console.log(report);
fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
fs.writeFileSync(path.join(ROOT, "bench/results/latest.md"), report);

await gw.dispose();
await floor.dispose();
await upstream.close();
fs.rmSync(tmp, { recursive: true, force: true });
