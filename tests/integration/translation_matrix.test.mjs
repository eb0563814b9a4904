// Every client format against every upstream format, through the real worker, with the official
// SDKs as clients and faithful mock providers: text, streamed text, tool calls (streamed and not),
// thinking, JSON output, images, upstream errors before and during a stream.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";
import { startMockResponses } from "../support/mock_responses.mjs";
import { clientsFor } from "../support/clients.mjs";

const UPSTREAMS = {
  openai: { start: startMockOpenAI },
  anthropic: { start: startMockAnthropic },
  gemini: { start: startMockGemini },
  "openai-responses": { start: startMockResponses },
};
const CLIENTS = ["openai-chat", "openai-responses", "anthropic", "gemini"];

let gw, clients;
const mocks = {};

before(async () => {
  gw = await startGateway();
  for (const [provider, { start }] of Object.entries(UPSTREAMS)) {
    mocks[provider] = await start();
    await gw.addConnection({ provider, api_key: mocks[provider].apiKey, base_url: mocks[provider].url });
  }
  clients = clientsFor(gw.url, await gw.createKey("matrix"));
});
after(async () => {
  await gw?.dispose();
  for (const m of Object.values(mocks)) await m.close();
});

const lastRequest = (provider) => mocks[provider].requests.at(-1);

for (const client of CLIENTS) {
  for (const upstream of Object.keys(UPSTREAMS)) {
    const run = (scenario, opts) => clients[client].run(`${upstream}/${scenario}`, opts);
    const name = (what) => `${client} client ← ${upstream} upstream: ${what}`;

    test(name("text, whole and streamed"), async () => {
      for (const stream of [false, true]) {
        const r = await run("chat-model", { stream, prompt: "hello there" });
        assert.equal(r.text, "echo: hello there", `stream=${stream}`);
      }
    });

    test(name("tool call, whole and streamed"), async () => {
      for (const stream of [false, true]) {
        const r = await run("tool-call", { stream, tools: true, prompt: "weather in Paris?" });
        assert.deepEqual(r.tool, { name: "get_weather", args: { city: "Paris" } }, `stream=${stream}`);
      }
    });

    test(name("thinking is carried as reasoning"), async () => {
      for (const stream of [false, true]) {
        const r = await run("thinking", { stream, thinking: true, prompt: "2+2?" });
        assert.equal(r.text, "The answer is 4.", `stream=${stream}`);
        assert.equal(r.reasoning, "Let me think about 2+2.", `stream=${stream}`);
      }
    });

    test(name("images reach the upstream"), async () => {
      const r = await run("vision", { image: true, prompt: "describe" });
      assert.equal(r.text, "echo: describe [image]");
    });

    test(name("JSON output"), async () => {
      const r = await run("json", { json: true, prompt: "give json" });
      assert.deepEqual(JSON.parse(r.text), { answer: 42 });
    });

    test(name("upstream 429 arrives as the client's rate-limit error"), async () => {
      await gw.admin("DELETE", "/api/cooldowns");
      await assert.rejects(run("rate-limited", { prompt: "x" }), (e) => {
        assert.equal(e.status ?? e.code, 429, String(e));
        return true;
      });
    });

    test(name("an error in the middle of a stream ends the client's stream with an error"), async () => {
      await assert.rejects(run("mid-stream-error", { stream: true, prompt: "x" }));
    });
  }
}
