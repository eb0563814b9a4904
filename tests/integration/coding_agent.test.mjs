// Real coding agents end to end, each against upstreams that speak another format: Claude Code
// (Anthropic Messages), Codex CLI (OpenAI Responses) and Gemini CLI (Gemini) complete a one-shot
// prompt through the gateway. Run offline the way ../shared/notes/clients.md describes: throwaway
// homes, no telemetry, no updates, no plugin fetching.
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
import { startMockAnthropic } from "../support/mock_anthropic.mjs";

const execFileAsync = promisify(execFile);
/** Runs an agent with stdin closed: Codex otherwise waits to read more prompt from it. */
function exec(file, args, options) {
  const run = execFileAsync(file, args, options);
  run.child.stdin?.end();
  return run;
}
const bin = (name) => path.join(ROOT, "node_modules/.bin", name);
const quiet = { PATH: process.env.PATH, DISABLE_TELEMETRY: "1", DISABLE_ERROR_REPORTING: "1", DISABLE_AUTOUPDATER: "1" };

let gw, key, home;
const mocks = {};

before(async () => {
  gw = await startGateway();
  for (const [provider, start] of [["openai", startMockOpenAI], ["gemini", startMockGemini], ["openai-responses", startMockResponses], ["anthropic", startMockAnthropic]]) {
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
  const { stdout } = await exec(bin("claude"), ["-p", prompt, "--model", model, "--output-format", "text", "--no-session-persistence"], {
    cwd: home,
    timeout: 90_000,
    env: { ...quiet, HOME: home, ANTHROPIC_BASE_URL: gw.url, ANTHROPIC_API_KEY: key, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
  });
  return stdout;
}

async function geminiCli(prompt, model) {
  const gemHome = fs.mkdtempSync(path.join(home, "gemini-"));
  fs.mkdirSync(path.join(gemHome, ".gemini"));
  fs.writeFileSync(path.join(gemHome, ".gemini/settings.json"), JSON.stringify({ security: { auth: { selectedType: "gemini-api-key" } } }));
  const { stdout } = await exec(bin("gemini"), ["-p", prompt, "-m", model], {
    cwd: gemHome,
    timeout: 90_000,
    env: { ...quiet, HOME: gemHome, GEMINI_API_KEY: key, GOOGLE_GEMINI_BASE_URL: gw.url, GEMINI_CLI_TRUST_WORKSPACE: "true" },
  });
  return stdout;
}

async function codex(prompt, model) {
  const codexHome = fs.mkdtempSync(path.join(home, "codex-"));
  fs.writeFileSync(path.join(codexHome, "config.toml"), [
    'model_provider = "gw"', 'approval_policy = "never"', "",
    "[model_providers.gw]", 'name = "omniroute-edge"', `base_url = "${gw.url}/v1"`, 'wire_api = "responses"', 'env_key = "GW_KEY"', "",
    "[analytics]", "enabled = false", "",
    "[features]", "plugins = false", "remote_plugin = false", "apps = false", "unbounded_connection_retries = false", "",
  ].join("\n"));
  const args = ["exec", "--skip-git-repo-check", "--sandbox", "read-only", "--ephemeral", "--color", "never", "-m", model, prompt];
  const { stdout } = await exec(bin("codex"), args, {
    cwd: codexHome,
    timeout: 90_000,
    env: { ...quiet, HOME: codexHome, CODEX_HOME: codexHome, GW_KEY: key },
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

test("Gemini CLI completes a prompt through the gateway against an OpenAI upstream", async () => {
  const before = mocks.openai.requests.length;
  const out = await geminiCli("Say hello to the gateway", "openai/agent-model");
  assert.match(out, /echo: [\s\S]*Say hello to the gateway/);
  const body = mocks.openai.requests.slice(before).at(-1).body;
  assert.ok(body.tools.length >= 3, "Gemini CLI's function declarations became tools");
  assert.equal(body.stream, true, "streamGenerateContent became a streamed chat request");
});

test("Codex CLI completes a prompt through the gateway against an Anthropic upstream", async () => {
  const before = mocks.anthropic.requests.length;
  const out = await codex("Say hello to the gateway", "anthropic/agent-model");
  // Anthropic needs alternating roles: Codex's consecutive user items (context, prompt) are one turn.
  assert.match(out, /echo: [\s\S]*Say hello to the gateway/);
  const body = mocks.anthropic.requests.slice(before).at(-1).body;
  assert.ok(body.system, "Codex's developer messages became the system prompt");
  assert.ok(body.tools.length >= 3, "Codex's function tools were translated");
  assert.ok(body.max_tokens > 0, "a max_tokens Anthropic requires was supplied");
});
