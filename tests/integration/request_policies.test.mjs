// Request policies (issue 10): a tenant's system prompt and thinking mode change every conversation
// request before it is routed, so the upstream gets them whether the request is passed through in
// its own format or translated. Off by default.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockAnthropic } from "../support/mock_anthropic.mjs";

let gw, key, openaiUp, anthropicUp, openai, anthropic;

before(async () => {
  openaiUp = await startMockOpenAI();
  anthropicUp = await startMockAnthropic();
  gw = await startGateway({ assets: false });
  await gw.connect("openai", openaiUp);
  await gw.connect("anthropic", anthropicUp);
  key = await gw.createKey("policies");
  openai = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
});
after(async () => { await gw?.dispose(); await openaiUp?.close(); await anthropicUp?.close(); });

const settings = async (patch) => {
  const r = await gw.admin("PATCH", "/api/settings", patch);
  assert.equal(r.status, 200, r.text);
};

test("by default the request reaches the upstream as the client sent it", async () => {
  await openai.chat.completions.create({ model: "openai/gpt-4o-mini", reasoning_effort: "high", messages: [{ role: "user", content: "plain" }] });
  const sent = openaiUp.requests.at(-1).body;
  assert.deepEqual(sent.messages, [{ role: "user", content: "plain" }]);
  assert.equal(sent.reasoning_effort, "high");
});

test("the system prompt goes first, passed through and translated", async () => {
  await settings({ system_prompt: "Answer in English." });
  await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "system", content: "Own rules." }, { role: "user", content: "hi" }] });
  const chat = openaiUp.requests.at(-1).body;
  assert.deepEqual(chat.messages.slice(0, 2), [{ role: "system", content: "Answer in English." }, { role: "system", content: "Own rules." }]);
  // An OpenAI client served by Anthropic: the prompt lands in Anthropic's `system`.
  await openai.chat.completions.create({ model: "anthropic/claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] });
  const system = anthropicUp.requests.at(-1).body.system;
  const text = typeof system === "string" ? system : system.map((b) => b.text).join("\n");
  assert.match(text, /^Answer in English\./);
  // An Anthropic client served by OpenAI.
  await anthropic.messages.create({ model: "openai/gpt-4o-mini", max_tokens: 50, system: "Mine.", messages: [{ role: "user", content: "hi" }] });
  const first = openaiUp.requests.at(-1).body.messages[0];
  assert.equal(first.role, "system");
  assert.match(first.content, /^Answer in English\.\n\nMine\./);
  await settings({ system_prompt: "" });
});

test("thinking modes: off removes reasoning, fixed sets the budget, adaptive keeps the client's effort", async () => {
  await settings({ thinking_mode: "off" });
  await openai.chat.completions.create({ model: "openai/gpt-4o-mini", reasoning_effort: "high", messages: [{ role: "user", content: "x" }] });
  assert.equal(openaiUp.requests.at(-1).body.reasoning_effort, undefined);

  await settings({ thinking_mode: "fixed", thinking_budget_tokens: 4096 });
  await anthropic.messages.create({ model: "anthropic/claude-sonnet-4-5", max_tokens: 1000, temperature: 0, messages: [{ role: "user", content: "x" }] });
  const fixed = anthropicUp.requests.at(-1).body;
  assert.deepEqual(fixed.thinking, { type: "enabled", budget_tokens: 4096 });
  assert.ok(fixed.max_tokens > 4096, "the budget fits below max_tokens");
  assert.equal(fixed.temperature, undefined, "Anthropic takes no temperature with thinking");
  await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x" }] });
  assert.equal(openaiUp.requests.at(-1).body.reasoning_effort, "medium", "4096 tokens is a medium effort");

  await settings({ thinking_mode: "adaptive", thinking_effort: "low" });
  await openai.chat.completions.create({ model: "openai/gpt-4o-mini", reasoning_effort: "high", messages: [{ role: "user", content: "x" }] });
  assert.equal(openaiUp.requests.at(-1).body.reasoning_effort, "high");
  await anthropic.messages.create({ model: "anthropic/claude-sonnet-4-5", max_tokens: 1000, messages: [{ role: "user", content: "x" }] });
  const adaptive = anthropicUp.requests.at(-1).body;
  assert.deepEqual(adaptive.thinking, { type: "adaptive" });
  assert.equal(adaptive.output_config.effort, "low");

  assert.equal((await gw.admin("PATCH", "/api/settings", { thinking_mode: "sometimes" })).status, 400);
  assert.equal((await gw.admin("PATCH", "/api/settings", { thinking_budget_tokens: 10 })).status, 400);
  await settings({ thinking_mode: "passthrough" });
});
