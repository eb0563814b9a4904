// A real coding agent end to end: Claude Code (which speaks Anthropic Messages) completes a one-shot
// prompt through the gateway against upstreams that speak other formats. Run offline the way
// ../shared/notes/clients.md describes: a throwaway HOME, no telemetry, no updates.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startGateway, ROOT } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";
import { startMockResponses } from "../support/mock_responses.mjs";

const exec = promisify(execFile);
const CLAUDE = path.join(ROOT, "node_modules/.bin/claude");

let gw, key, home;
const mocks = {};

before(async () => {
  gw = await startGateway();
  for (const [provider, start] of [["openai", startMockOpenAI], ["gemini", startMockGemini], ["openai-responses", startMockResponses]]) {
    mocks[provider] = await start({ scripted: false });
    await gw.addConnection({ provider, api_key: mocks[provider].apiKey, base_url: mocks[provider].url });
  }
  key = await gw.createKey("claude-code");
  home = fs.mkdtempSync(path.join(os.tmpdir(), "oe-claude-home-"));
});
after(async () => {
  await gw?.dispose();
  for (const m of Object.values(mocks)) await m.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

async function claude(prompt, model) {
  const { stdout } = await exec(CLAUDE, ["-p", prompt, "--model", model, "--output-format", "text", "--no-session-persistence"], {
    cwd: home,
    timeout: 90_000,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      ANTHROPIC_BASE_URL: gw.url,
      ANTHROPIC_API_KEY: key,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      DISABLE_AUTOUPDATER: "1",
    },
  });
  return stdout;
}

for (const upstream of ["openai", "gemini", "openai-responses"]) {
  test(`Claude Code completes a prompt through the gateway against a ${upstream} upstream`, async () => {
    const before = mocks[upstream].requests.length;
    const out = await claude("Say hello to the gateway", `${upstream}/agent-model`);
    // The mock answers `echo: <last user turn>`; Claude Code prints the model's answer.
    assert.match(out, /echo: [\s\S]*Say hello to the gateway/);
    const sent = mocks[upstream].requests.slice(before);
    assert.ok(sent.length >= 1, "the upstream was called");
    const body = sent.at(-1).body;
    if (upstream === "openai") {
      assert.equal(body.messages[0].role, "system", "Claude Code's system blocks became a system message");
      assert.ok(body.tools.length >= 5, "Claude Code's tools were translated");
      assert.equal(body.stream, true);
    } else if (upstream === "gemini") {
      assert.ok(body.systemInstruction?.parts?.[0]?.text, "system → systemInstruction");
      assert.ok(body.tools?.[0]?.functionDeclarations?.length >= 5, "tools → functionDeclarations");
    } else {
      assert.ok(body.instructions, "system → instructions");
      assert.ok(body.tools.length >= 5);
    }
  });
}
