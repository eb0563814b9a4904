// A V8 CPU profile of the gateway's isolate under wrk load (workerd's inspector), summed by function:
// self and inclusive time per request. Only the isolate's thread is sampled (not workerd's HTTP or
// D1 work). Usage: node bench/profile.mjs [--duration 5] [--interval 50] [--top 45] [--stream false]
// [--big <request KB>] [--headers '{…}'] [--stop <phase>] (OE_BUILD=<dir> profiles another build). The raw profile is written next to the temp dir as oe-profile.cpuprofile.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { startGateway, ROOT } from "../tests/support/gateway.mjs";
import { startStaticUpstream } from "./static_upstream.mjs";

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const DURATION = Number(arg("duration", 5));
const TOP = Number(arg("top", 45));
const exec = promisify(execFile);
const upstream = await startStaticUpstream();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "oe-prof-"));
const persistDir = path.join(tmp, "state");
const setup = await startGateway({ assets: false, persistDir });
await setup.addConnection({ provider: "openai", api_key: "sk-bench", base_url: upstream.url });
const key = await setup.createKey("bench");
await setup.dispose();
const inspectorPort = 9230 + Math.floor(Math.random() * 500);
const gw = await startGateway({ assets: false, persistDir, options: { inspectorPort } });
const script = path.join(tmp, "s.lua");
const BIG_KB = Number(arg("big", 0));
const filler = "Refactor the function and explain why, with \"quotes\" and \\ escapes. ";
const messages = BIG_KB ? Array.from({ length: Math.round(BIG_KB / 4) }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: filler.repeat(56) })) : [{ role: "user", content: "Say hello." }];
const body = { model: "openai/gpt-4o-mini", messages, stream: arg("stream", "false") === "true" };
// `--headers '{…}'` adds request headers; `--stop <phase>` stops a `bench-phases` build after it.
const extra = { ...JSON.parse(arg("headers", "{}")), ...(arg("stop") ? { "x-oe-bench-stop": arg("stop"), "x-oe-bench-upstream": upstream.url } : {}) };
const extraLines = Object.entries(extra).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join("");
fs.writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify(body))}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${key}"\n${extraLines}`);
const url = `${gw.url}/v1/chat/completions`;
await exec("wrk", ["-t1", "-c4", "-d2s", "-s", script, url], { maxBuffer: 1 << 24 });

const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
const target = targets.find((t) => !/miniflare|loopback|entry/i.test(t.id + t.title)) ?? targets[0];
console.error("targets:", targets.map((t) => t.id).join(", "), "→", target.id);
const ws = new WebSocket(target.webSocketDebuggerUrl ?? `ws://127.0.0.1:${inspectorPort}/${target.id}`);
await new Promise((r, j) => { ws.once("open", r); ws.once("error", j); });
let seq = 0;
const pending = new Map();
ws.on("message", (m) => { const msg = JSON.parse(m); if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); } });
const send = (method, params = {}) => new Promise((r) => { const id = ++seq; pending.set(id, r); ws.send(JSON.stringify({ id, method, params })); });
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: Number(arg("interval", 50)) });
await send("Profiler.start");
const { stdout } = await exec("wrk", ["-t2", "-c16", `-d${DURATION}s`, "-s", script, url]);
const stopped = await send("Profiler.stop");
const requests = Number(stdout.match(/(\d+) requests in/)[1]);
const profile = stopped.result.profile;
fs.writeFileSync(path.join(tmp, "..", "oe-profile.cpuprofile"), JSON.stringify(profile));

// Self time per node from the samples and their time deltas.
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const sum = new Map();
let total = 0;
for (const [id, us] of self) {
  const f = byId.get(id).callFrame;
  const name = `${f.functionName || "(anonymous)"} ${f.url ? path.basename(f.url) : ""}`.trim();
  if (name === "(idle)") continue;
  sum.set(name, (sum.get(name) ?? 0) + us);
  total += us;
}
// Inclusive time of selected frames (a function and all it calls), per request.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, us] of self) {
  if (byId.get(id).callFrame.functionName === "(idle)") continue;
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur).callFrame;
    const name = f.functionName || "(anonymous)";
    if (seen.has(name)) continue;
    seen.add(name);
    incl.set(name, (incl.get(name) ?? 0) + us);
  }
}
let out = `Profile: ${requests} requests, non-idle sampled ${(total / 1000).toFixed(0)} ms = ${(total / requests).toFixed(1)} µs/request in the isolate's thread\n\nSelf time, µs/request:\n`;
for (const [name, us] of [...sum].sort((a, b) => b[1] - a[1]).slice(0, TOP)) out += `${(us / requests).toFixed(2).padStart(8)}  ${name}\n`;
out += `\nInclusive time, µs/request:\n`;
for (const [name, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, TOP)) out += `${(us / requests).toFixed(2).padStart(8)}  ${name}\n`;
console.log(out);
ws.close();
await gw.dispose();
await upstream.close();
