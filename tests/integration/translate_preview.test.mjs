// POST /api/translate: the playground's view of a client request in every upstream format.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.mjs";

let gw;
before(async () => { gw = await startGateway({ assets: false }); });
after(async () => { await gw?.dispose(); });

test("an Anthropic request is shown as each upstream format would receive it", async () => {
  const request = { model: "openai/gpt-4o-mini", max_tokens: 64, system: "Be brief.", messages: [{ role: "user", content: "Hello <b>there</b>" }] };
  const r = await gw.admin("POST", "/api/translate", { format: "anthropic", request });
  assert.equal(r.status, 200, r.text);
  const f = r.json.formats;
  assert.deepEqual(Object.keys(f).sort(), ["anthropic", "gemini", "openai-chat", "openai-responses"]);
  assert.deepEqual(f["openai-chat"].messages.map((m) => m.role), ["system", "user"]);
  assert.equal(f["openai-chat"].max_tokens ?? f["openai-chat"].max_completion_tokens, 64);
  assert.equal(f.gemini.contents[0].parts[0].text, "Hello <b>there</b>");
  assert.match(JSON.stringify(f.gemini.systemInstruction), /Be brief\./);
  assert.equal(f["openai-responses"].model, "openai/gpt-4o-mini");
});

test("a Gemini request takes its model from the call; bad input is a 400 naming the field", async () => {
  const request = { contents: [{ role: "user", parts: [{ text: "Hi" }] }] };
  const ok = await gw.admin("POST", "/api/translate", { format: "gemini", request, model: "gemini/gemini-2.5-flash" });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.formats.anthropic.model, "gemini/gemini-2.5-flash");
  for (const [body, param] of [
    [{ format: "gemini", request }, "model"],
    [{ format: "cohere", request }, "format"],
  ]) {
    const r = await gw.admin("POST", "/api/translate", body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, param);
  }
  assert.equal((await gw.admin("GET", "/api/translate")).status, 405);
});
