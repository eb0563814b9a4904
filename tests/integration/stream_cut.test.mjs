// A stream cut by the upstream never reaches the client as a complete answer. The mock drops its
// connection after one chunk; what a dropped connection looks like to the gateway may be an error or
// a clean-looking end, so the gateway judges by the stream's own ending (finish reason, [DONE]).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";

let gw, mock, openai, anthropic;
const messages = [{ role: "user", content: "tell me everything" }];

before(async () => {
  gw = await startGateway();
  mock = await startMockOpenAI({ apiKey: "sk-cut", failAs: "drop-after-first-chunk" });
  // One connection: nothing to fall back to, so the same-format stream is piped by the runtime.
  await gw.addConnection({ provider: "openai", api_key: "sk-cut", base_url: mock.url });
  const key = await gw.createKey("cut");
  openai = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
});
after(async () => {
  await gw?.dispose();
  await mock?.close();
});

test("a piped same-format stream cut mid-way ends with an error, never as if whole", async () => {
  let partial = "";
  let finish = null;
  await assert.rejects(async () => {
    const stream = await openai.chat.completions.create({ model: "openai/gpt-4o", messages, stream: true });
    for await (const c of stream) {
      partial += c.choices[0]?.delta?.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
  });
  assert.equal(partial, "partial ");
  assert.equal(finish, null);
  // The SDK's accumulating helper refuses it too (it would otherwise return the partial text).
  await assert.rejects(openai.chat.completions.stream({ model: "openai/gpt-4o", messages }).finalChatCompletion());
});

test("a translated stream cut mid-way ends with the client format's error event", async () => {
  const stream = anthropic.messages.stream({ model: "openai/gpt-4o", max_tokens: 100, messages });
  await assert.rejects(stream.finalMessage(), (e) => {
    assert.match(String(e.message), /mid-stream|stream/i);
    return true;
  });
});
