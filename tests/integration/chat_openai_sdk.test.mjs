// The official OpenAI SDK, pointed at the gateway running in workerd, against a mock OpenAI upstream.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { gatewayWithOpenAI } from "../support/fixture.mjs";

let gw, upstream, client, key;
gatewayWithOpenAI({
  then: (t) => {
    ({ gw, upstream, key } = t);
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  },
});

const messages = [{ role: "user", content: "hello gateway" }];

test("non-streaming completion comes back in OpenAI shape with provider headers", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "openai/gpt-4o-mini", messages })
    .withResponse();
  assert.equal(data.object, "chat.completion");
  assert.equal(data.choices[0].message.content, "echo: hello gateway");
  assert.equal(data.choices[0].finish_reason, "stop");
  assert.equal(data.usage.total_tokens, 18);
  assert.equal(response.headers.get("x-omniroute-provider"), "openai");
  assert.equal(response.headers.get("x-omniroute-model"), "gpt-4o-mini");
  const seen = upstream.requests.at(-1);
  assert.equal(seen.body.model, "gpt-4o-mini", "the provider prefix is stripped upstream");
  assert.equal(seen.headers.authorization, `Bearer ${upstream.apiKey}`, "the provider key, not the client's, goes upstream");
  assert.deepEqual(seen.body.messages, messages);
});

test("alias prefix and bare model names resolve to the connected provider", async () => {
  const viaAlias = await client.chat.completions.create({ model: "oai/gpt-4.1-nano", messages });
  assert.equal(viaAlias.choices[0].message.content, "echo: hello gateway");
  assert.equal(upstream.requests.at(-1).body.model, "gpt-4.1-nano");
  await client.chat.completions.create({ model: "gpt-4o", messages });
  assert.equal(upstream.requests.at(-1).body.model, "gpt-4o");
});

test("streaming relays every chunk, usage and the end of stream", async () => {
  const stream = await client.chat.completions.create({
    model: "openai/gpt-4o-mini", messages, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, "echo: hello gateway");
  assert.equal(finish, "stop");
  assert.equal(usage.total_tokens, 18);
  assert.equal(upstream.requests.at(-1).body.stream, true);
});

test("the SDK's stream helper accumulates the relayed chunks into a final completion", async () => {
  const runner = client.chat.completions.stream({ model: "openai/gpt-4o-mini", messages });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, "echo: hello gateway");
  assert.equal(final.choices[0].message.role, "assistant");
});

test("SSE is relayed as it arrives, not buffered whole", async () => {
  const stream = await client.chat.completions.create({ model: "openai/gated-stream", messages, stream: true });
  const it = stream[Symbol.asyncIterator]();
  // The upstream has sent only its first chunk and now waits at its gate: if the gateway buffered the
  // body, this read could never complete and the test would time out.
  const first = await it.next();
  assert.equal(first.value.choices[0].delta.role, "assistant");
  assert.equal(upstream.waitingAtGate(), 1, "upstream is still holding the rest of the stream");
  upstream.release();
  let text = "";
  for (let r = await it.next(); !r.done; r = await it.next()) text += r.value.choices[0]?.delta?.content ?? "";
  assert.equal(text, "echo: hello gateway");
});

test("streaming responses carry SSE headers", async () => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/gpt-4o-mini", messages, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  assert.equal(res.headers.get("cache-control"), "no-cache");
  const body = await res.text();
  assert.match(body, /^data: \{/);
  assert.ok(body.endsWith("data: [DONE]\n\n"));
});

test("upstream 429 reaches the client as a RateLimitError with Retry-After", async () => {
  await assert.rejects(client.chat.completions.create({ model: "openai/rate-limited", messages }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.status, 429);
    assert.equal(e.headers.get("retry-after"), "7");
    assert.equal(e.type, "rate_limit_error");
    assert.match(e.message, /Rate limit reached/);
    return true;
  });
});

test("upstream 400 keeps its status and names the provider", async () => {
  await assert.rejects(client.chat.completions.create({ model: "openai/bad-param", messages }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.match(e.message, /Upstream `openai` returned 400: Unsupported parameter/);
    return true;
  });
});

test("upstream 5xx, HTML errors and dropped connections become 502", async () => {
  for (const model of ["openai/server-error", "openai/html-error", "openai/drop"]) {
    await assert.rejects(client.chat.completions.create({ model, messages }), (e) => {
      assert.equal(e.status, 502, model);
      assert.equal(e.type, "upstream_error", model);
      return true;
    });
  }
});

test("a provider rejecting the gateway's credentials is a 502, not the client's 401", async () => {
  const conn = await gw.addConnection({ provider: "deepseek", api_key: "sk-wrong", base_url: upstream.url });
  await assert.rejects(client.chat.completions.create({ model: "ds/deepseek-chat", messages }), (e) => {
    assert.equal(e.status, 502);
    assert.equal(e.code, "upstream_auth_failed");
    return true;
  });
  await gw.admin("DELETE", `/api/providers/${conn.id}`);
});

test("an upstream slower than the first-byte timeout gives 504", async () => {
  const r = await gw.admin("PATCH", "/api/settings", { upstream_timeout_ms: 1000 });
  assert.equal(r.status, 200);
  try {
    await assert.rejects(client.chat.completions.create({ model: "openai/slow", messages }), (e) => {
      assert.equal(e.status, 504);
      assert.equal(e.code, "upstream_timeout");
      return true;
    });
  } finally {
    await gw.admin("PATCH", "/api/settings", { upstream_timeout_ms: 120000 });
  }
});

test("GET /v1/models lists the connected providers' models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes("openai/gpt-4o-mini"), ids.join(","));
  assert.ok(!ids.some((id) => id.startsWith("groq/")), "unconnected providers are not listed");
});
