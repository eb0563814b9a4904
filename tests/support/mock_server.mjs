// Scaffolding shared by the mock providers (mock_openai, mock_anthropic, mock_gemini, mock_responses):
// reading a request body as JSON, writing stream bytes cut at arbitrary offsets, and starting a loopback
// server whose handle lets tests read the recorded requests and hold streams at a gate.
import http from "node:http";

/** The request body parsed as JSON: null when empty, the raw text when it is not JSON. */
export async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString("utf8");
  try { return raw ? JSON.parse(raw) : null; } catch { return raw; }
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
