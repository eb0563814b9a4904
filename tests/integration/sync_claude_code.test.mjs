// OmniRoute points Claude Code's ANTHROPIC_BASE_URL at {CLOUD_URL}/{machineId} once cloud sync is on.
// Here the real Claude Code CLI (offline, as in coding_agent.test.mjs) completes a prompt that way,
// with the machine's synced key, against the machine's synced OpenAI-compatible provider node.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startGateway, ROOT } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { call, capturedPush, enroll } from "../support/sync_client.mjs";

const execFileAsync = promisify(execFile);
let gw, mock, e, omni, key, home;

before(async () => {
  gw = await startGateway();
  mock = await startMockOpenAI({ apiKey: "sk-mock-upstream-test-key", scripted: false });
  e = await enroll(gw, "claude code laptop");
  omni = capturedPush(mock.url);
  key = JSON.parse(omni.raw).apiKeys[0].key;
  const r = await call(`${e.cloud_url}/sync/${omni.machineId}`, "POST", omni.raw);
  assert.equal(r.status, 200, r.text);
  home = fs.mkdtempSync(path.join(os.tmpdir(), "oe-sync-claude-"));
});
after(async () => {
  await gw?.dispose();
  await mock?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

test("Claude Code completes a prompt through {CLOUD_URL}/{machineId} with the synced key", async () => {
  const before = mock.requests.length;
  const run = execFileAsync(path.join(ROOT, "node_modules/.bin", "claude"),
    ["-p", "Say hello to the cloud", "--model", "mock/agent-model", "--output-format", "text", "--no-session-persistence"], {
      cwd: home,
      timeout: 90_000,
      env: {
        PATH: process.env.PATH, HOME: home, DISABLE_TELEMETRY: "1", DISABLE_ERROR_REPORTING: "1", DISABLE_AUTOUPDATER: "1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", ANTHROPIC_BASE_URL: `${e.cloud_url}/${omni.machineId}`, ANTHROPIC_API_KEY: key,
      },
    });
  run.child.stdin?.end();
  const { stdout } = await run;
  assert.match(stdout, /echo: [\s\S]*Say hello to the cloud/);
  const sent = mock.requests.slice(before);
  assert.ok(sent.length >= 1, "the synced upstream was called");
  assert.equal(sent.at(-1).body.model, "agent-model");
  assert.equal(sent.at(-1).headers.authorization, "Bearer sk-mock-upstream-test-key");
});
