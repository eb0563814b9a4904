// A mock OpenAI-compatible provider on loopback. It speaks the real wire format: JSON bodies with
// `content-type: application/json`, SSE frames `data: {chunk}\n\n` ending in `data: [DONE]`, OpenAI
// error envelopes, 429 with Retry-After. Behaviour is scripted by the requested model name:
//   any name        a normal completion (text echoes the last user message; for content parts, their
//                   texts joined by a space plus ` [image]` per image_url part)
//   tool-call       tool call get_weather {"city":"Paris"} (stream: id/name delta, then 3 arguments
//                   fragments), finish_reason tool_calls; if the messages hold a `tool` message, text
//                   `weather: <its content>` instead
//   thinking        `reasoning_content` "Let me think about 2+2." (DeepSeek style) then content
//                   "The answer is 4."; usage reports reasoning_tokens
//   json            content `{"answer":42}`
//   gated-stream    streams the first chunk, then waits until the test calls `release()`
//   mid-stream-error  streams some text, then `data: {"error":{...}}` and ends without [DONE]
//                   (non-stream: 500 server_error)
//   rate-limited    429 + Retry-After: 7 + x-ratelimit-* headers
//   server-error    500 with an OpenAI error body
//   overloaded      503 server_error
//   html-error      502 with an HTML body (as a CDN in front of a provider would send)
//   bad-param       400 invalid_request_error naming a param
//   slow            sends headers only after `slowMs`
//   drop            closes the socket without answering
//   quota           429 insufficient_quota with OpenAI's quota-exhausted text
//   quota-last      a normal completion whose x-ratelimit-* headers say 0 requests remain for 2 s
//   quota-low       a normal completion whose x-ratelimit-* headers say `requestsLeft` (an option,
//                   default 1; `setRequestsLeft(n)` changes it) of 100 requests remain for 2 s
//   garbage-200     200 application/json whose body is not JSON
//   drop-after-headers      200 text/event-stream, then the connection drops before any byte of body
//   drop-after-first-chunk  200, one content chunk, then the connection drops
// The endpoints besides chat (embeddings, images, audio, moderations) are in mock_openai_services.mjs;
// the failure scenarios above apply to them too.
// With `scripted: false` every model name gets a normal completion. With `failAs: "<scenario>"` (or an
// array of scenarios, used in turn) every request behaves as that scenario whatever its model: a
// connection to this instance is then a broken account. With `chatPath` chat is served at that path
// (e.g. "/v4/chat/completions") instead of /v1/chat/completions, as some OpenAI-compatible APIs do.
// Every request is recorded (method, path, headers, parsed body) for assertions.
import { parseJson, readForm, readRaw, startMockServer, writeChunked, scriptedAnswer } from "./mock_server.mjs";
import { SERVICE_PATHS, serveOpenAIService } from "./mock_openai_services.mjs";

export async function startMockOpenAI({ apiKey = "sk-upstream-test", slowMs = 3000, scripted = true, failAs = null, requestsLeft = 1, chatPath = "/v1/chat/completions" } = {}) {
  let completionCounter = 0;
  let faultCounter = 0;

  // What the quota scenarios' answers announce in x-ratelimit-* headers (requests only).
  const quotaHeaders = (model) => {
    const window = model === "quota-last" ? [5, 0] : model === "quota-low" ? [100, requestsLeft] : null;
    if (!window) return {};
    const [limit, remaining] = window;
    return { "x-ratelimit-limit-requests": `${limit}`, "x-ratelimit-remaining-requests": `${remaining}`, "x-ratelimit-reset-requests": "2s" };
  };

  const handle = await startMockServer({ apiKey, basePath: "/v1" }, async (req, res, { requests, waitAtGate }) => {
    const raw = await readRaw(req);
    const form = /^multipart\/form-data/i.test(req.headers["content-type"] ?? "");
    const body = form ? await readForm(raw, req.headers["content-type"]) : parseJson(raw);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body });

    const sendJson = (status, obj, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", "x-request-id": `req_${requests.length}`, ...headers });
      res.end(JSON.stringify(obj));
    };
    const oaiError = (status, message, type, code = null, param = null, headers = {}) =>
      sendJson(status, { error: { message, type, param, code } }, headers);

    if (!(req.url === chatPath || SERVICE_PATHS.has(req.url)) || req.method !== "POST") {
      return oaiError(404, `Unknown request URL: ${req.method} ${req.url}`, "invalid_request_error", "unknown_url");
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return oaiError(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
    }
    const model = form ? body?.fields?.model : body?.model;
    const forced = Array.isArray(failAs) ? failAs[faultCounter++ % failAs.length] : failAs;
    switch (forced ?? (scripted ? model : null)) {
      case "garbage-200":
        res.writeHead(200, { "content-type": "application/json" });
        return res.end("<html>maintenance</html>");
      case "drop-after-headers":
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.flushHeaders();
        return setTimeout(() => req.socket.destroy(), 20);
      case "drop-after-first-chunk": {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = { id: "chatcmpl-cut", object: "chat.completion.chunk", created: 1, model,
          choices: [{ index: 0, delta: { role: "assistant", content: "partial " }, logprobs: null, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        return setTimeout(() => req.socket.destroy(), 20);
      }
      case "quota":
        return oaiError(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota");
      case "rate-limited":
        return oaiError(429, "Rate limit reached for requests per min (RPM): Limit 3.", "requests", "rate_limit_exceeded", null,
          { "retry-after": "7", "x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "7s" });
      case "server-error":
        return oaiError(500, "The server had an error while processing your request.", "server_error");
      case "overloaded":
        return oaiError(503, "The server is overloaded or not ready yet.", "server_error");
      case "mid-stream-error":
        if (!body.stream) return oaiError(500, "The server had an error while processing your request.", "server_error");
        break;
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

    if (req.url !== chatPath) {
      return serveOpenAIService(req.url, body, { req, res, sendJson, oaiError, counter: ++completionCounter });
    }
    const id = `chatcmpl-mock${++completionCounter}`;
    const created = 1770933883;
    const answer = scriptedAnswer(scripted ? model : "", readConversation(body.messages || []));
    const text = answer.text;
    const reasoningTokens = answer.reasoning ? 9 : 0;
    const completionTokens = answer.tool ? 15 : 7 + reasoningTokens;
    const usage = { prompt_tokens: 11, completion_tokens: completionTokens, total_tokens: 11 + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
    const callId = `call_mock${completionCounter}`;

    if (!body.stream) {
      const message = answer.tool
        ? { role: "assistant", content: null, refusal: null, annotations: [],
            tool_calls: [{ id: callId, type: "function", function: { name: answer.tool.name, arguments: JSON.stringify(answer.tool.args) } }] }
        : { role: "assistant", content: text, ...(answer.reasoning ? { reasoning_content: answer.reasoning } : {}), refusal: null, annotations: [] };
      return sendJson(200, {
        id, object: "chat.completion", created, model: `${model}-2025-04-14`,
        choices: [{ index: 0, message, logprobs: null, finish_reason: answer.tool ? "tool_calls" : "stop" }],
        usage, service_tier: "default", system_fingerprint: "fp_mock",
      }, quotaHeaders(model));
    }

    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": `req_${requests.length}` });
    const base = { id, object: "chat.completion.chunk", created, model: `${model}-2025-04-14`, system_fingerprint: "fp_mock" };
    const includeUsage = body.stream_options?.include_usage === true;
    const frame = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    const delta = (d, finish_reason = null) => frame([{ index: 0, delta: d, logprobs: null, finish_reason }]);
    const frames = [];
    if (answer.tool) {
      frames.push(delta({ role: "assistant", content: null }),
        delta({ tool_calls: [{ index: 0, id: callId, type: "function", function: { name: answer.tool.name, arguments: "" } }] }),
        ...TOOL_ARGS_FRAGMENTS.map((a) => delta({ tool_calls: [{ index: 0, function: { arguments: a } }] })));
    } else if (answer.reasoning) {
      frames.push(delta({ role: "assistant", content: null, reasoning_content: "" }),
        ...answer.reasoning.split(/(?<= )/).map((r) => delta({ content: null, reasoning_content: r })),
        ...text.split(/(?<= )/).map((w) => delta({ content: w, reasoning_content: null })));
    } else {
      frames.push(delta({ role: "assistant", content: "", refusal: null }),
        ...text.split(/(?<= )/).map((w) => delta({ content: w })));
    }
    if (scripted && model === "mid-stream-error") {
      // All but the last word, then the provider's in-stream error; no finish, no [DONE].
      frames.splice(Math.max(2, frames.length - 1));
      frames.push(`data: ${JSON.stringify({ error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } })}\n\n`);
    } else {
      frames.push(delta({}, answer.tool ? "tool_calls" : "stop"),
        ...(includeUsage ? [`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`] : []),
        "data: [DONE]\n\n");
    }
    // Realistic chunking: frames are cut at arbitrary byte offsets and written separately.
    res.write(frames[0]);
    if (model === "gated-stream") await waitAtGate();
    await writeChunked(res, frames.slice(1).join(""));
    res.end();
  });
  /** Changes the forced scenario (null: behave normally) — an account that breaks or recovers. */
  handle.setFailAs = (f) => { failAs = f; };
  /** Changes how many of 100 requests `quota-low` answers say remain. */
  handle.setRequestsLeft = (n) => { requestsLeft = n; };
  return handle;
}

const TOOL_ARGS_FRAGMENTS = ['{"ci', 'ty":"Pa', 'ris"}'];

/** The conversation as the shared script reads it (see `scriptedAnswer`). */
function readConversation(messages) {
  const toolMessages = messages.filter((m) => m.role === "tool");
  const toolResult = toolMessages.length ? partsText(toolMessages[toolMessages.length - 1].content) : null;
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const content = lastUser?.content;
  if (typeof content === "string") return { text: content, images: 0, toolResult };
  if (!Array.isArray(content)) return { text: "[parts]", images: 0, toolResult };
  return { text: partsText(content, " "), images: content.filter((p) => p?.type === "image_url").length, toolResult };
}

/** A message content (string or parts) as text: its text parts joined. */
function partsText(content, sep = "") {
  if (typeof content === "string") return content;
  return (content || []).filter((p) => p?.type === "text").map((p) => p.text).join(sep);
}
