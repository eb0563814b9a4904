// A mock OpenAI-compatible provider on loopback. It speaks the real wire format: JSON bodies with
// `content-type: application/json`, SSE frames `data: {chunk}\n\n` ending in `data: [DONE]`, OpenAI
// error envelopes, 429 with Retry-After. Behaviour is scripted by the requested model name:
//   any name        a normal completion (text echoes the last user message)
//   gated-stream    streams the first chunk, then waits until the test calls `release()`
//   rate-limited    429 + Retry-After: 7 + x-ratelimit-* headers
//   server-error    500 with an OpenAI error body
//   html-error      502 with an HTML body (as a CDN in front of a provider would send)
//   bad-param       400 invalid_request_error naming a param
//   slow            sends headers only after `slowMs`
//   drop            closes the socket without answering
// With `scripted: false` every model name gets a normal completion.
// Every request is recorded (method, path, headers, parsed body) for assertions.
import http from "node:http";

export async function startMockOpenAI({ apiKey = "sk-upstream-test", slowMs = 3000, scripted = true } = {}) {
  const requests = [];
  const gates = [];
  let completionCounter = 0;

  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body = null;
    try { body = raw ? JSON.parse(raw) : null; } catch { body = raw; }
    requests.push({ method: req.method, path: req.url, headers: req.headers, body });

    const sendJson = (status, obj, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", "x-request-id": `req_${requests.length}`, ...headers });
      res.end(JSON.stringify(obj));
    };
    const oaiError = (status, message, type, code = null, param = null, headers = {}) =>
      sendJson(status, { error: { message, type, param, code } }, headers);

    if (req.url !== "/v1/chat/completions" || req.method !== "POST") {
      return oaiError(404, `Unknown request URL: ${req.method} ${req.url}`, "invalid_request_error", "unknown_url");
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return oaiError(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
    }
    const model = body?.model;
    switch (scripted ? model : null) {
      case "rate-limited":
        return oaiError(429, "Rate limit reached for requests per min (RPM): Limit 3.", "requests", "rate_limit_exceeded", null,
          { "retry-after": "7", "x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "7s" });
      case "server-error":
        return oaiError(500, "The server had an error while processing your request.", "server_error");
      case "html-error":
        res.writeHead(502, { "content-type": "text/html" });
        return res.end("<html><body>Bad gateway</body></html>");
      case "bad-param":
        return oaiError(400, "Unsupported parameter: 'max_tokens' is not supported with this model.", "invalid_request_error", "unsupported_parameter", "max_tokens");
      case "drop":
        return req.socket.destroy();
      case "slow":
        await new Promise((r) => setTimeout(r, slowMs));
        break;
    }

    const id = `chatcmpl-mock${++completionCounter}`;
    const created = 1770933883;
    const lastUser = [...(body.messages || [])].reverse().find((m) => m.role === "user");
    const text = `echo: ${typeof lastUser?.content === "string" ? lastUser.content : "[parts]"}`;
    const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };

    if (!body.stream) {
      return sendJson(200, {
        id, object: "chat.completion", created, model: `${model}-2025-04-14`,
        choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" }],
        usage, service_tier: "default", system_fingerprint: "fp_mock",
      });
    }

    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": `req_${requests.length}` });
    const base = { id, object: "chat.completion.chunk", created, model: `${model}-2025-04-14`, system_fingerprint: "fp_mock" };
    const includeUsage = body.stream_options?.include_usage === true;
    const frame = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    const words = text.split(/(?<= )/);
    const frames = [
      frame([{ index: 0, delta: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: null }]),
      ...words.map((w) => frame([{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }])),
      frame([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]),
      ...(includeUsage ? [`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`] : []),
      "data: [DONE]\n\n",
    ];
    // Realistic chunking: frames are cut at arbitrary byte offsets and written separately.
    const bytes = Buffer.from(frames.slice(1).join(""));
    res.write(frames[0]);
    if (model === "gated-stream") {
      await new Promise((resolve) => gates.push(resolve));
    }
    for (let i = 0; i < bytes.length; ) {
      const n = 1 + ((i * 7919) % 23);
      res.write(bytes.subarray(i, i + n));
      i += n;
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  });

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    /** Lets every stream waiting at its gate continue. */
    release() { while (gates.length) gates.shift()(); },
    waitingAtGate() { return gates.length; },
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}
