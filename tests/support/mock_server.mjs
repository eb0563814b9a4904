// Scaffolding shared by the mock providers (mock_openai, mock_anthropic, mock_gemini, mock_responses,
// mock_cohere, mock_voyage): reading a request body as JSON or as a form, the embeddings and rerank
// scores every mock computes alike, writing stream bytes cut at arbitrary offsets, and starting a loopback
// server whose handle lets tests read the recorded requests and hold streams at a gate.
import http from "node:http";

/** The request body's bytes. */
export async function readRaw(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Bytes parsed as JSON: null when empty, the raw text when it is not JSON. */
export function parseJson(bytes) {
  const raw = bytes.toString("utf8");
  try { return raw ? JSON.parse(raw) : null; } catch { return raw; }
}

/** The request body parsed as JSON: null when empty, the raw text when it is not JSON. */
export async function readJson(req) {
  return parseJson(await readRaw(req));
}

/** A multipart/form-data body as the runtime's own parser (undici) reads it: `{ fields, files }`,
 *  each file `{ name, type, bytes }`; null when it is not a well-formed form. */
export async function readForm(bytes, contentType) {
  try {
    const form = await new Request("http://mock/", { method: "POST", headers: { "content-type": contentType }, body: bytes }).formData();
    const fields = {}, files = {};
    for (const [k, v] of form) {
      if (typeof v === "string") fields[k] = v;
      else files[k] = { name: v.name, type: v.type, bytes: Buffer.from(await v.arrayBuffer()) };
    }
    return { fields, files };
  } catch {
    return null;
  }
}

/** A deterministic embedding of `text`: `dims` values in (-1, 1), the same from every mock. */
export function vectorOf(text, dims = 4) {
  let h = 2166136261;
  for (const c of Buffer.from(text)) h = Math.imul(h ^ c, 16777619) >>> 0;
  return Array.from({ length: dims }, (_, i) => (((h >>> (i % 24)) % 2000) - 1000) / 1024 + i / 4096);
}

/** How well `doc` answers `query`: the share of the query's words it contains (0..1). */
export function relevance(query, doc) {
  const words = query.toLowerCase().split(/\W+/).filter(Boolean);
  const text = doc.toLowerCase();
  return words.length ? words.filter((w) => text.includes(w)).length / words.length : 0;
}

/** Writes `str` cut at arbitrary byte offsets (even inside a UTF-8 character), one write per piece. */
export async function writeChunked(res, str) {
  const bytes = Buffer.from(str);
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + ((i * 7919) % 23);
    res.write(bytes.subarray(i, i + n));
    i += n;
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Starts a mock provider on a random loopback port. `handle(req, res, { requests, waitAtGate })` answers
 * each request; it records requests in `requests` itself and may `await waitAtGate()` to hold a stream
 * until the test calls `release()`. Resolves to the handle tests use:
 * `{ url, apiKey, requests, release(), waitingAtGate(), close() }`, where `url` is the origin + `basePath`.
 */
export async function startMockServer({ apiKey, basePath }, handle) {
  const requests = [];
  const gates = [];
  const waitAtGate = () => new Promise((resolve) => gates.push(resolve));

  const server = http.createServer((req, res) => handle(req, res, { requests, waitAtGate }));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    apiKey,
    requests,
    /** Lets every stream waiting at its gate continue. */
    release() { while (gates.length) gates.shift()(); },
    waitingAtGate() { return gates.length; },
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

/**
 * What the model "says" for a scripted model name — the same script for every provider. `conv` is
 * the conversation as each mock reads it in its own format: `{ text, images, toolResult }` (the last
 * user turn's text and image count, the latest tool result or null). Returns `{ text }`,
 * `{ tool: { name, args } }` or `{ reasoning, text }`.
 */
export function scriptedAnswer(model, conv) {
  switch (model) {
    case "tool-call":
      return conv.toolResult !== null ? { text: `weather: ${conv.toolResult}` } : { tool: { name: "get_weather", args: { city: "Paris" } } };
    case "thinking":
      return { reasoning: "Let me think about 2+2.", text: "The answer is 4." };
    case "json":
      return { text: '{"answer":42}' };
    default:
      return { text: `echo: ${conv.text}${" [image]".repeat(conv.images)}` };
  }
}
