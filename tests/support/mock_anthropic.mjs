// A mock Anthropic Messages provider on loopback (`POST /v1/messages`). It speaks the real wire format:
// `x-api-key` auth, or `Authorization: Bearer <key>` as current SDKs send it (401 `authentication_error`
// when wrong or missing; tests can check `requests[i].headers` for which one), a required `anthropic-version`
// header (400 when missing), JSON bodies with `content-type: application/json` and a `request-id`
// header, error envelopes `{"type":"error","error":{type,message},"request_id"}`, and SSE frames
// `event: <type>\ndata: <json>\n\n` whose event name always equals `data.type` (message_start,
// content_block_start, ping, content_block_delta, content_block_stop, message_delta, message_stop).
// It validates what the real API rejects and a translating gateway can get wrong: `max_tokens` and
// `messages` are required, and a message role other than user/assistant is a 400.
// Behaviour is scripted by the requested model name:
//   any name         a normal message; text `echo: <last user turn text>` + ` [image]` per image block
//                    (stream: several text_delta events)
//   tool-call        tool_use block `get_weather` {"city":"Paris"} (stream: input_json_delta "" + 3
//                    fragments), stop_reason `tool_use`; if the request holds a tool_result, text
//                    `weather: <tool result content>` instead
//   thinking         thinking block "Let me think about 2+2." (thinking_delta…, signature_delta), then
//                    text "The answer is 4."; usage.output_tokens_details.thinking_tokens
//   json             text `{"answer":42}`
//   rate-limited     429 rate_limit_error + retry-after: 7, x-should-retry, anthropic-ratelimit-* headers
//   server-error     500 api_error
//   overloaded       529 overloaded_error
//   bad-param        400 invalid_request_error naming a field
//   slow             sends headers only after `slowMs`
//   drop             closes the socket without answering
//   gated-stream     sends `message_start`, then waits until the test calls `release()`
//   mid-stream-error streams some text, then `event: error` (overloaded_error) and ends without
//                    message_stop (non-stream: a 500 api_error)
// Usage: input_tokens excludes the cache; cache_read_input_tokens is 8 on every answer.
// With `scripted: false` every model name gets a normal answer. Stream bytes are written cut at
// arbitrary offsets. Every request is recorded (method, path, headers, parsed body) for assertions.
import { readJson, startMockServer, writeChunked, scriptedAnswer } from "./mock_server.mjs";

const INPUT_TOKENS = 12;
const CACHE_READ_TOKENS = 8;
const TOOL_ARGS_FRAGMENTS = ['{"ci', 'ty":"Pa', 'ris"}'];

export async function startMockAnthropic({ apiKey = "sk-ant-upstream-test", slowMs = 3000, scripted = true } = {}) {
  let counter = 0;

  return startMockServer({ apiKey, basePath: "/v1" }, async (req, res, { requests, waitAtGate }) => {
    const body = await readJson(req);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body });
    const requestId = `req_011Mock${String(requests.length).padStart(16, "0")}`;

    const sendJson = (status, obj, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", "request-id": requestId, ...headers });
      res.end(JSON.stringify(obj));
    };
    const apiError = (status, type, message, headers = {}) =>
      sendJson(status, { type: "error", error: { type, message }, request_id: requestId }, headers);

    if (req.method !== "POST" || req.url.split("?")[0] !== "/v1/messages") {
      return apiError(404, "not_found_error", "Not Found");
    }
    // The API takes `x-api-key`; it also takes `Authorization: Bearer <key>` (what anthropic-python 2.x sends).
    if (req.headers["x-api-key"] !== apiKey && req.headers.authorization !== `Bearer ${apiKey}`) {
      return apiError(401, "authentication_error", "invalid x-api-key");
    }
    if (!req.headers["anthropic-version"]) {
      return apiError(400, "invalid_request_error", "anthropic-version: header is required");
    }
    const invalid = validate(body);
    if (invalid) return apiError(400, "invalid_request_error", invalid);

    const model = body.model;
    switch (scripted ? model : null) {
      case "rate-limited":
        return apiError(429, "rate_limit_error",
          "This request would exceed the rate limit for your organization of 50 requests per minute. Please try again later.",
          { "retry-after": "7", "x-should-retry": "true", "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": new Date(Date.now() + 7000).toISOString() });
      case "server-error":
        return apiError(500, "api_error", "Internal server error");
      case "overloaded":
        return apiError(529, "overloaded_error", "Overloaded", { "x-should-retry": "true" });
      case "bad-param":
        return apiError(400, "invalid_request_error", "temperature: Input should be less than or equal to 1");
      case "drop":
        return req.socket.destroy();
      case "slow":
        await sleep(slowMs);
        break;
      case "mid-stream-error":
        if (!body.stream) return apiError(500, "api_error", "Internal server error");
        break;
    }

    const n = ++counter;
    const id = `msg_01Mock${String(n).padStart(16, "0")}`;
    const answer = scriptedAnswer(scripted ? model : "", readConversation(body.messages));
    const blocks = answerBlocks(answer, n);
    const outputTokens = blocks.reduce((sum, b) => sum + b.tokens, 0);
    const thinkingTokens = blocks.filter((b) => b.block.type === "thinking").reduce((sum, b) => sum + b.tokens, 0);
    const usage = {
      input_tokens: INPUT_TOKENS, cache_creation_input_tokens: 0, cache_read_input_tokens: CACHE_READ_TOKENS,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: outputTokens,
      ...(thinkingTokens ? { output_tokens_details: { thinking_tokens: thinkingTokens } } : {}),
      service_tier: "standard", inference_geo: "not_available",
    };
    const stopReason = answer.tool ? "tool_use" : "end_turn";

    if (!body.stream) {
      return sendJson(200, {
        model, id, type: "message", role: "assistant", content: blocks.map((b) => b.block),
        stop_reason: stopReason, stop_sequence: null, usage,
      });
    }

    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "request-id": requestId });
    const first = event({ type: "message_start", message: {
      model, id, type: "message", role: "assistant", content: [], stop_reason: null, stop_sequence: null,
      usage: { ...usage, output_tokens: 1, output_tokens_details: undefined } } });
    const rest = [];
    if (model === "mid-stream-error" && scripted) {
      const words = splitWords(answer.text);
      rest.push(event({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }));
      rest.push(event({ type: "ping" }));
      for (const w of words.slice(0, Math.max(1, words.length - 1))) rest.push(textDelta(0, w));
      rest.push(event({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }));
    } else {
      blocks.forEach((b, index) => {
        const events = b.events(index);
        if (index === 0) events.splice(1, 0, event({ type: "ping" }));   // where real streams put it
        rest.push(...events);
      });
      rest.push(event({ type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { input_tokens: INPUT_TOKENS, cache_creation_input_tokens: 0, cache_read_input_tokens: CACHE_READ_TOKENS,
          output_tokens: outputTokens } }));
      rest.push(event({ type: "message_stop" }));
    }
    res.write(first);
    if (model === "gated-stream") await waitAtGate();
    await writeChunked(res, rest.join(""));
    res.end();
  });
}

// ---- request reading and validation ------------------------------------------------------------

function validate(body) {
  if (!body || typeof body !== "object") return "request body: Input should be a valid dictionary";
  if (typeof body.model !== "string") return "model: Field required";
  if (body.max_tokens === undefined) return "max_tokens: Field required";
  if (!Array.isArray(body.messages)) return "messages: Field required";
  for (const [i, m] of body.messages.entries()) {
    if (m?.role === "system") {
      return `messages: Unexpected role "system". The Messages API accepts a top-level \`system\` parameter, not "system" as an input message role.`;
    }
    if (m?.role !== "user" && m?.role !== "assistant") return `messages.${i}.role: Input should be 'user' or 'assistant'`;
  }
  return null;
}

/** The last user turn's text and image count, and the content of the last tool_result anywhere. */
function readConversation(messages) {
  let toolResult = null;
  let lastUser = null;
  for (const m of messages) {
    if (m.role !== "user") continue;
    const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content || [];
    for (const b of blocks) if (b.type === "tool_result") toolResult = toolResultText(b.content);
    lastUser = blocks;
  }
  const texts = (lastUser || []).filter((b) => b.type === "text").map((b) => b.text);
  const images = (lastUser || []).filter((b) => b.type === "image").length;
  return { text: texts.join(" "), images, toolResult };
}

function toolResultText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((b) => b.type === "text").map((b) => b.text).join("");
  return "";
}


// ---- content blocks and their stream events ----------------------------------------------------

/** Each block: the final content block, its token count, and its stream events at a given index. */
function answerBlocks(answer, n) {
  const blocks = [];
  if (answer.reasoning) {
    const signature = Buffer.from(`mock-thinking-signature-${n}`).toString("base64");
    const pieces = splitWords(answer.reasoning);
    blocks.push({
      block: { type: "thinking", thinking: answer.reasoning, signature },
      tokens: pieces.length,
      events: (index) => [
        event({ type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }),
        ...pieces.map((p) => event({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: p } })),
        event({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: "" } }),
        event({ type: "content_block_delta", index, delta: { type: "signature_delta", signature } }),
        event({ type: "content_block_stop", index }),
      ],
    });
  }
  if (answer.text !== undefined) {
    const pieces = splitWords(answer.text);
    blocks.push({
      block: { type: "text", text: answer.text },
      tokens: pieces.length,
      events: (index) => [
        event({ type: "content_block_start", index, content_block: { type: "text", text: "" } }),
        ...pieces.map((p) => textDelta(index, p)),
        event({ type: "content_block_stop", index }),
      ],
    });
  }
  if (answer.tool) {
    const id = `toolu_01Mock${String(n).padStart(12, "0")}`;
    blocks.push({
      block: { type: "tool_use", id, name: answer.tool.name, input: answer.tool.args, caller: { type: "direct" } },
      tokens: 24,
      events: (index) => [
        event({ type: "content_block_start", index,
          content_block: { type: "tool_use", id, name: answer.tool.name, caller: { type: "direct" }, input: {} } }),
        ...["", ...TOOL_ARGS_FRAGMENTS].map((partial_json) =>
          event({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } })),
        event({ type: "content_block_stop", index }),
      ],
    });
  }
  return blocks;
}

/** One SSE frame; the `event:` name always equals `data.type`. */
function event(data) {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

function textDelta(index, text) {
  return event({ type: "content_block_delta", index, delta: { type: "text_delta", text } });
}

// ---- small utilities ---------------------------------------------------------------------------

function splitWords(s) {
  const words = s.split(/(?<= )/);
  return words.length ? words : [""];
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
