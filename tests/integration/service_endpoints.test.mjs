// The endpoints besides chat — embeddings, images, transcription, speech, moderations, rerank — with
// the official OpenAI SDK as the client (rerank, which it lacks, with fetch), against mock upstreams
// of each wire: OpenAI's own (openai, mistral, groq), Gemini's (batchEmbedContents, Imagen predict),
// Cohere's and Voyage's rerank. Each goes through the same pipeline as chat: combos and fallback
// between providers of different wires, models of the wrong kind refused, every request logged.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import OpenAI, { toFile } from "openai";
import { startGateway } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { startMockGemini } from "../support/mock_gemini.mjs";
import { startMockCohere } from "../support/mock_cohere.mjs";
import { startMockVoyage } from "../support/mock_voyage.mjs";
import { vectorOf } from "../support/mock_server.mjs";
import { PNG_B64, speechBytes } from "../support/mock_openai_services.mjs";

let gw, key, client;
const mocks = {};
const conns = {};

before(async () => {
  gw = await startGateway({ assets: false });
  mocks.openai = await startMockOpenAI();
  // An account that fails every request (500), for the providers that go first in the combos.
  mocks.broken = await startMockOpenAI({ apiKey: "sk-broken", failAs: "server-error" });
  mocks.gemini = await startMockGemini();
  mocks.cohere = await startMockCohere();
  mocks.voyage = await startMockVoyage();
  conns.openai = await gw.addConnection({ provider: "openai", api_key: mocks.openai.apiKey, base_url: mocks.openai.url });
  for (const provider of ["mistral", "groq"]) {
    conns[provider] = await gw.addConnection({ provider, api_key: "sk-broken", base_url: mocks.broken.url });
  }
  await gw.addConnection({ provider: "gemini", api_key: mocks.gemini.apiKey, base_url: mocks.gemini.url });
  await gw.addConnection({ provider: "cohere", api_key: mocks.cohere.apiKey, base_url: mocks.cohere.url });
  await gw.addConnection({ provider: "voyage", api_key: mocks.voyage.apiKey, base_url: mocks.voyage.url });
  for (const [name, models] of [
    ["vectors", ["mistral/mistral-embed", "gemini/gemini-embedding-001"]],
    ["ears", ["groq/whisper-large-v3", "openai/whisper-1"]],
    ["ranker", ["cohere/rerank-v3.5", "voyage/rerank-2.5"]],
  ]) {
    const r = await gw.admin("POST", "/api/combos", { name, targets: models.map((model) => ({ model })) });
    assert.equal(r.status, 201, r.text);
  }
  key = await gw.createKey("services");
  client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
});

after(async () => {
  await gw?.dispose();
  for (const m of Object.values(mocks)) await m.close();
});

/** What the SDK gets for a base64 vector: the float32 values as numbers. */
const float32 = (values) => Array.from(new Float32Array(values));
const last = (mock) => mock.requests[mock.requests.length - 1];

/** A small valid WAV: 16-bit mono PCM at 8 kHz, `samples` long. */
function wav(samples = 400) {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin(i / 4)), i * 2);
  const h = Buffer.alloc(44);
  h.write("RIFF", 0); h.writeUInt32LE(36 + data.length, 4); h.write("WAVE", 8); h.write("fmt ", 12);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write("data", 36); h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** `assertOpenAIError` for a raw answer: the status and OpenAI's error envelope. */
function assertOpenAIError(status, json, expected, { code, param } = {}) {
  assert.equal(status, expected, JSON.stringify(json));
  assert.deepEqual(Object.keys(json.error).sort(), ["code", "message", "param", "type"]);
  if (code !== undefined) assert.equal(json.error.code, code);
  if (param !== undefined) assert.equal(json.error.param, param);
}

test("embeddings: an OpenAI-wire upstream passes through, base64 (the SDK's default) and float alike", async () => {
  const r = await client.embeddings.create({ model: "openai/text-embedding-3-small", input: ["hello", "world"] });
  assert.deepEqual(r.data.map((d) => d.embedding), [float32(vectorOf("hello")), float32(vectorOf("world"))]);
  assert.deepEqual(r.usage, { prompt_tokens: 4, total_tokens: 4 });
  const sent = last(mocks.openai);
  assert.equal(sent.path, "/v1/embeddings");
  assert.deepEqual(sent.body, { model: "text-embedding-3-small", input: ["hello", "world"], encoding_format: "base64" });

  const f = await client.embeddings.create({ model: "openai/text-embedding-3-small", input: "hello", encoding_format: "float", dimensions: 6 });
  assert.deepEqual(f.data[0].embedding, vectorOf("hello", 6));

  // The same input embeds the same: asked again, the answer comes from the response cache.
  const calls = mocks.openai.requests.length;
  const again = await client.embeddings
    .create({ model: "openai/text-embedding-3-small", input: "hello", encoding_format: "float", dimensions: 6 })
    .withResponse();
  assert.deepEqual(again.data, f);
  assert.equal(again.response.headers.get("x-omniroute-cache"), "HIT");
  assert.equal(mocks.openai.requests.length, calls);
});

test("embeddings: Gemini's batchEmbedContents, translated both ways", async () => {
  const r = await client.embeddings.create({ model: "gemini/gemini-embedding-001", input: ["hello", "world"], dimensions: 3 });
  assert.equal(r.object, "list");
  assert.equal(r.model, "gemini/gemini-embedding-001");
  assert.deepEqual(r.data.map((d) => [d.object, d.index, d.embedding]), [
    ["embedding", 0, float32(vectorOf("hello", 3))],
    ["embedding", 1, float32(vectorOf("world", 3))],
  ]);
  const sent = last(mocks.gemini);
  assert.equal(sent.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
  assert.deepEqual(sent.body.requests[1], { model: "models/gemini-embedding-001", content: { parts: [{ text: "world" }] }, outputDimensionality: 3 });
  const f = await client.embeddings.create({ model: "gemini/gemini-embedding-001", input: "hello", encoding_format: "float" });
  assert.deepEqual(f.data[0].embedding, vectorOf("hello"));
});

test("embeddings: Voyage's wire takes `output_dimension` and reports total tokens only", async () => {
  const r = await client.embeddings.create({ model: "voyage/voyage-3.5", input: "hello", dimensions: 5 });
  assert.deepEqual(r.data[0].embedding, float32(vectorOf("hello", 5)));
  assert.deepEqual([r.model, r.usage], ["voyage/voyage-3.5", { prompt_tokens: 2, total_tokens: 2 }]);
  assert.deepEqual(last(mocks.voyage).body, { model: "voyage-3.5", input: "hello", output_dimension: 5, encoding_format: "base64" });
});

test("a provider route pins the service endpoints to its provider too", async () => {
  const gemini = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1/providers/gemini/v1`, maxRetries: 0 });
  const r = await gemini.embeddings.create({ model: "gemini-embedding-001", input: "pinned", encoding_format: "float" });
  assert.deepEqual(r.data[0].embedding, vectorOf("pinned"));
  await assert.rejects(gemini.embeddings.create({ model: "openai/text-embedding-3-small", input: "x" }),
    (e) => e.status === 400 && e.code === "model_provider_mismatch");
});

test("embeddings fall back from a failing provider to one of another wire within the request", async () => {
  const before = mocks.broken.requests.length;
  const { data, response } = await client.embeddings.create({ model: "vectors", input: "fallback" }).withResponse();
  assert.deepEqual(data.data[0].embedding, float32(vectorOf("fallback")));
  assert.equal(response.headers.get("x-omniroute-attempts"), "2");
  assert.equal(response.headers.get("x-omniroute-provider"), "gemini");
  assert.deepEqual(mocks.broken.requests.slice(before).map((r) => [r.path, r.body.model]), [["/v1/embeddings", "mistral-embed"]]);
});

test("images: OpenAI's own (b64_json and urls) and Imagen's predict, translated", async () => {
  const g = await client.images.generate({ model: "openai/gpt-image-1", prompt: "a red square" });
  assert.deepEqual(g.data, [{ b64_json: PNG_B64 }]);
  assert.equal(g.usage.output_tokens, 272);
  const d = await client.images.generate({ model: "openai/dall-e-3", prompt: "a cat", response_format: "url" });
  assert.match(d.data[0].url, /^https:\/\/images\.mock\.example\//);
  assert.equal(d.data[0].revised_prompt, "A picture of a cat");

  const i = await client.images.generate({ model: "gemini/imagen-4.0-generate-001", prompt: "a cat", n: 2, size: "1792x1024" });
  assert.deepEqual(i.data, [{ b64_json: PNG_B64 }, { b64_json: PNG_B64 }]);
  assert.equal(typeof i.created, "number");
  const sent = last(mocks.gemini);
  assert.equal(sent.path, "/v1beta/models/imagen-4.0-generate-001:predict");
  assert.deepEqual(sent.body, { instances: [{ prompt: "a cat" }], parameters: { sampleCount: 2, aspectRatio: "16:9" } });
  // An upstream's own 400 reaches the client as it is (gpt-image takes no response_format).
  await assert.rejects(client.images.generate({ model: "openai/gpt-image-1", prompt: "x", response_format: "url" }),
    (e) => e.status === 400 && /response_format/.test(e.message));
});

test("transcriptions: a multipart upload goes on with its model rewritten, through a combo's fallback", async () => {
  const audio = wav();
  const { data, response } = await client.audio.transcriptions
    .create({ file: await toFile(audio, "hello.wav", { type: "audio/wav" }), model: "ears", language: "en" })
    .withResponse();
  assert.equal(data.text, `heard hello.wav (${audio.length} bytes)`);
  assert.equal(response.headers.get("x-omniroute-attempts"), "2", "groq's account fails first");
  const sent = last(mocks.openai);
  assert.equal(sent.path, "/v1/audio/transcriptions");
  assert.deepEqual(sent.body.fields, { model: "whisper-1", language: "en" });
  assert.deepEqual([sent.body.files.file.name, sent.body.files.file.type], ["hello.wav", "audio/wav"]);
  assert.ok(sent.body.files.file.bytes.equals(audio), "the audio arrives byte for byte");
  assert.equal(last(mocks.broken).body.fields.model, "whisper-large-v3");

  const text = await client.audio.transcriptions.create({ file: await toFile(audio, "a.wav"), model: "openai/whisper-1", response_format: "text" });
  assert.equal(text, "heard a.wav (844 bytes)\n");
});

test("speech: the audio streams back byte for byte; a cut one is logged as cut", async () => {
  const request = { model: "openai/tts-1", voice: "alloy", input: "hello there", response_format: "wav" };
  const r = await client.audio.speech.create(request);
  assert.equal(r.headers.get("content-type"), "audio/wav");
  const bytes = Buffer.from(await r.arrayBuffer());
  assert.ok(bytes.equals(speechBytes(request)), `got ${bytes.length} bytes`);
  assert.equal(last(mocks.openai).body.model, "tts-1");

  // The gateway errors (aborts) the client's stream rather than closing it. Miniflare's local proxy
  // ends the response anyway, so here only the shortfall shows (and the log's `upstream_cut`, below).
  const cut = await client.audio.speech.create({ ...request, model: "openai/speech-cut" });
  const got = await cut.arrayBuffer().then((b) => b.byteLength, () => 0);
  assert.ok(got < speechBytes(request).length, `${got} bytes of a cut stream`);
});

test("moderations: OpenAI's default model when none is named", async () => {
  const r = await client.moderations.create({ input: ["I will kill the process", "hello"] });
  assert.deepEqual(r.results.map((x) => x.flagged), [true, false]);
  assert.equal(r.results[0].categories.violence, true);
  assert.equal(r.model, "omni-moderation-2024-09-26");
  assert.deepEqual(last(mocks.openai).body, { input: ["I will kill the process", "hello"], model: "omni-moderation-latest" });
});

test("rerank: Cohere's wire passed through, Voyage's translated, with fallback between them", async () => {
  const rerank = (body) => fetch(`${gw.url}/v1/rerank`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const documents = ["Bananas are yellow", "Paris is the capital of France", "France borders Spain"];
  const direct = await rerank({ model: "cohere/rerank-v3.5", query: "capital of France", documents, top_n: 2 });
  const d = await direct.json();
  assert.equal(direct.status, 200, JSON.stringify(d));
  assert.deepEqual(d.results.map((x) => x.index), [1, 2]);
  assert.equal(d.meta.billed_units.search_units, 1, "Cohere's answer as it came");
  assert.equal(last(mocks.cohere).body.model, "rerank-v3.5");

  mocks.cohere.setFailAs("server-error");
  try {
    const r = await rerank({ model: "ranker", query: "capital of France", documents, top_n: 1, return_documents: true });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(r.headers.get("x-omniroute-attempts"), "2");
    assert.deepEqual(body.results, [{ index: 1, relevance_score: 1, document: { text: documents[1] } }]);
    assert.equal(body.model, "ranker");
    assert.ok(body.usage.total_tokens > 0);
    assert.deepEqual(last(mocks.voyage).body, { query: "capital of France", documents, model: "rerank-2.5", top_k: 1, return_documents: true });
  } finally {
    mocks.cohere.setFailAs(null);
  }
});

test("a model of the wrong kind is a 400 in OpenAI's shape, before any upstream call", async () => {
  const calls = mocks.openai.requests.length;
  await assert.rejects(client.embeddings.create({ model: "openai/gpt-4o", input: "x" }), (e) => {
    assert.equal(e.status, 400);
    assert.deepEqual([e.code, e.param, e.type], ["wrong_model_kind", "model", "invalid_request_error"]);
    assert.match(e.message, /is a chat model; \/v1\/embeddings takes an embedding model/);
    return true;
  });
  await assert.rejects(client.chat.completions.create({ model: "openai/text-embedding-3-small", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 400 && e.code === "wrong_model_kind");
  await assert.rejects(client.audio.speech.create({ model: "gemini/gemini-embedding-001", voice: "alloy", input: "x" }),
    (e) => e.status === 400 && /`gemini` offers no speech models/.test(e.message));
  assert.equal(mocks.openai.requests.length, calls);
});

test("uploads: malformed multipart is a 400, an oversized one a 413, both in OpenAI's shape", async () => {
  const post = (body, contentType) => fetch(`${gw.url}/v1/audio/transcriptions`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": contentType }, body,
  });
  const unterminated = "--zz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1";
  let r = await post(unterminated, "multipart/form-data; boundary=zz");
  assertOpenAIError(r.status, await r.json(), 400, { code: "invalid_multipart" });
  r = await post(JSON.stringify({ model: "openai/whisper-1" }), "application/json");
  assertOpenAIError(r.status, await r.json(), 400, { code: "invalid_multipart" });
  const noFile = "--zz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n--zz--\r\n";
  r = await post(noFile, "multipart/form-data; boundary=zz");
  assertOpenAIError(r.status, await r.json(), 400, { param: "file" });

  const limit = 4096;
  assert.equal((await gw.admin("PATCH", "/api/settings", { max_request_bytes: limit })).status, 200);
  try {
    const form = Buffer.concat([
      Buffer.from("--zz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n\r\n"),
      wav(4000), Buffer.from("\r\n--zz--\r\n"),
    ]);
    const big = await new Promise((resolve, reject) => {
      const req = http.request(`${gw.url}/v1/audio/transcriptions`, {
        method: "POST", agent: false,
        headers: { authorization: `Bearer ${key}`, "content-type": "multipart/form-data; boundary=zz", "content-length": form.length },
      }, (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(data) }));
      });
      req.on("error", reject);
      req.end(form);
    });
    assertOpenAIError(big.status, big.json, 413, { code: "request_too_large" });
  } finally {
    await gw.admin("PATCH", "/api/settings", { max_request_bytes: 16777216 });
  }
  const get = await fetch(`${gw.url}/v1/embeddings`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(get.status, 405);
});

test("/v1/models and the admin catalog say what each model does", async () => {
  const list = await client.models.list();
  const kind = (id) => list.data.find((m) => m.id === id)?.kind;
  assert.equal(kind("openai/gpt-4o"), "chat");
  assert.equal(kind("openai/text-embedding-3-small"), "embedding");
  assert.equal(kind("openai/whisper-1"), "transcription");
  assert.equal(kind("openai/tts-1"), "speech");
  assert.equal(kind("openai/omni-moderation-latest"), "moderation");
  assert.equal(kind("gemini/imagen-4.0-generate-001"), "image");
  assert.equal(kind("voyage/rerank-2.5"), "rerank");
  const catalog = (await gw.admin("GET", "/api/models/catalog")).json.data;
  const cohere = catalog.find((p) => p.provider === "cohere");
  assert.deepEqual(cohere.models.find((m) => m.id === "cohere/rerank-v3.5"), { id: "cohere/rerank-v3.5", kind: "rerank" });
  const providers = (await gw.admin("GET", "/api/providers/catalog")).json.data;
  const rerank = providers.find((p) => p.id === "cohere").services.find((s) => s.kind === "rerank");
  assert.deepEqual([rerank.wire, rerank.base_url], ["cohere", "https://api.cohere.com/v2"]);
});

test("every request of every endpoint leaves a usage record", async () => {
  const endpoints = ["/v1/embeddings", "/v1/images/generations", "/v1/audio/transcriptions", "/v1/audio/speech", "/v1/moderations", "/v1/rerank"];
  // Records are written off the request path: wait until the last of them are in.
  const complete = (rows) => endpoints.every((e) => rows.some((r) => r.endpoint === e && r.status === 200))
    && rows.some((r) => r.status === 413) && rows.some((r) => r.error_code === "upstream_cut");
  let rows = [];
  for (let i = 0; i < 100 && !complete(rows); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    rows = (await gw.admin("GET", "/api/logs?limit=200")).json.data;
  }
  const ok = (endpoint) => rows.filter((r) => r.endpoint === endpoint && r.status === 200);
  for (const e of endpoints) assert.ok(ok(e).length > 0, `a 200 record for ${e}`);
  const openaiEmbeddings = ok("/v1/embeddings").filter((r) => r.provider === "openai");
  assert.deepEqual(openaiEmbeddings.map((r) => [r.tokens.input, r.tokens.estimated, r.cache]),
    [[2, false, "hit"], [2, false, "miss"], [4, false, "miss"]], "the upstream's usage; a cache hit repeats it");
  assert.deepEqual(openaiEmbeddings.map((r) => r.cost_usd > 0), [false, true, true], "priced per input token, a hit at 0");
  const gemini = ok("/v1/embeddings").find((r) => r.provider === "gemini");
  assert.deepEqual([gemini.tokens.estimated, gemini.tokens.output], [true, 0], "estimated: Gemini reports none");
  const image = ok("/v1/images/generations").find((r) => r.upstream_model === "gpt-image-1");
  assert.equal(image.tokens.output, 272);
  const speech = ok("/v1/audio/speech")[0];
  assert.deepEqual([speech.streamed, speech.tokens.input], [true, 0]);
  const rerank = ok("/v1/rerank").find((r) => r.provider === "voyage");
  assert.deepEqual([rerank.attempts, rerank.combo, rerank.tokens.estimated], [2, "ranker", false]);
  const refused = rows.filter((r) => r.error_code === "wrong_model_kind");
  assert.equal(refused.length, 3);
  assert.ok(refused.every((r) => r.status === 400 && r.attempts === 0));
  assert.ok(rows.some((r) => r.endpoint === "/v1/audio/transcriptions" && r.status === 413), JSON.stringify(rows.filter((r) => r.endpoint === "/v1/audio/transcriptions").map((r) => [r.status, r.error_code])));
  assert.ok(rows.some((r) => r.endpoint === "/v1/audio/speech" && r.error_code === "upstream_cut"));
});
