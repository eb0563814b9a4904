// A mock OpenAI Responses provider on loopback (`POST /v1/responses`). It speaks the real wire format:
// `Authorization: Bearer` auth (401 invalid_api_key), JSON bodies with `content-type: application/json`
// and `x-request-id`, OpenAI error envelopes `{"error":{message,type,param,code}}`, and SSE frames
// `event: <type>\ndata: <json>\n\n` (event name = data.type, `sequence_number` from 0, no [DONE]):
// response.created, response.in_progress, output_item.added/done, content_part.added/done,
// output_text.delta/done, reasoning_summary_part.*, reasoning_summary_text.*,
// function_call_arguments.delta/done, response.completed (usage only there).
// `model` and `input` are required (400 missing_required_parameter otherwise).
// Behaviour is scripted by the model name:
//   any name         a message with text `echo: <last user turn text>` + ` [image]` per input_image
//                    (stream: several output_text.delta)
//   tool-call        a function_call item get_weather {"city":"Paris"} (stream: 3 arguments deltas);
//                    if the input holds a function_call_output, text `weather: <its output>` instead
//   thinking         a reasoning item (summary_text "Let me think about 2+2."; encrypted_content when
//                    include has "reasoning.encrypted_content", as the real API does), then a message
//                    "The answer is 4."; usage.output_tokens_details.reasoning_tokens
//   json             text `{"answer":42}`
//   rate-limited     429 rate_limit_exceeded + retry-after: 7 + x-ratelimit-* headers
//   server-error     500 server_error
//   overloaded       503 server_error
//   bad-param        400 invalid_request_error naming a param
//   slow             sends headers only after `slowMs`
//   drop             closes the socket without answering
//   gated-stream     sends `response.created`, then waits until the test calls `release()`
//   mid-stream-error streams some text, then `event: error` and `event: response.failed`
//                    (non-stream: a 500 server_error)
// With `scripted: false` every model name gets a normal answer. Stream bytes are cut at arbitrary
// offsets. Every request is recorded (method, path, headers, parsed body) for assertions.
import { readJson, startMockServer, writeChunked, scriptedAnswer } from "./mock_server.mjs";

const INPUT_TOKENS = 20;
const CREATED_AT = 1770933883;
const TOOL_ARGS_FRAGMENTS = ['{"ci', 'ty":"Pa', 'ris"}'];

export async function startMockResponses({ apiKey = "sk-upstream-test", slowMs = 3000, scripted = true } = {}) {
  let counter = 0;

  return startMockServer({ apiKey, basePath: "/v1" }, async (req, res, { requests, waitAtGate }) => {
    const body = await readJson(req);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body });
    const requestId = `req_mock${requests.length}`;

    const sendJson = (status, obj, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", "x-request-id": requestId, "openai-processing-ms": "42", ...headers });
      res.end(JSON.stringify(obj, null, 2));
    };
    const oaiError = (status, message, type, code = null, param = null, headers = {}) =>
      sendJson(status, { error: { message, type, param, code } }, headers);

    if (req.url.split("?")[0] !== "/v1/responses" || req.method !== "POST") {
      return oaiError(404, `Invalid URL (${req.method} ${req.url})`, "invalid_request_error");
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      const shown = (req.headers.authorization || "").replace(/^Bearer /, "");
      return oaiError(401, `Incorrect API key provided: ${shown.slice(0, 3)}*****. You can find your API key at https://platform.openai.com/account/api-keys.`,
        "invalid_request_error", "invalid_api_key");
    }
    for (const param of ["model", "input"]) {
      if (body?.[param] === undefined) return oaiError(400, `Missing required parameter: '${param}'.`, "invalid_request_error", "missing_required_parameter", param);
    }

    const model = body.model;
    switch (scripted ? model : null) {
      case "rate-limited":
        return oaiError(429, "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 7s.",
          "requests", "rate_limit_exceeded", null,
          { "retry-after": "7", "x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "7s" });
      case "server-error":
        return oaiError(500, "The server had an error while processing your request. Sorry about that!", "server_error");
      case "overloaded":
        return oaiError(503, "The server is overloaded or not ready yet.", "server_error");
      case "bad-param":
        return oaiError(400, "Unsupported parameter: 'temperature' is not supported with this model.", "invalid_request_error", "unsupported_parameter", "temperature");
      case "drop":
        return req.socket.destroy();
      case "slow":
        await sleep(slowMs);
        break;
      case "mid-stream-error":
        if (!body.stream) return oaiError(500, "The server had an error while processing your request. Sorry about that!", "server_error");
        break;
    }

    const n = ++counter;
    const id = `resp_mock${String(n).padStart(8, "0")}`;
    const answer = scriptedAnswer(scripted ? model : "", readConversation(body.input));
    const items = answerItems(answer, n, body);
    const outputTokens = items.reduce((s, it) => s + it.tokens, 0);
    const reasoningTokens = items.filter((it) => it.item.type === "reasoning").reduce((s, it) => s + it.tokens, 0);
    const usage = {
      input_tokens: INPUT_TOKENS, input_tokens_details: { cached_tokens: 0 },
      output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: INPUT_TOKENS + outputTokens,
    };
    const response = (status, output, extra = {}) => responseObject({ id, model, body, status, output, ...extra });

    if (!body.stream) {
      return sendJson(200, response("completed", items.map((it) => it.item), { usage, completed_at: CREATED_AT + 2 }));
    }

    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": requestId });
    let seq = 0;
    const event = ([type, fields]) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`;
    const first = event(["response.created", { response: response("in_progress", []) }]);
    const rest = [event(["response.in_progress", { response: response("in_progress", []) }])];
    if (scripted && model === "mid-stream-error") {
      // The message starts and streams all but its last word, then the provider fails.
      const words = splitWords(answer.text);
      const sent = words.slice(0, Math.max(1, words.length - 1));
      rest.push(...items[0].events(0).slice(0, 2 + sent.length).map(event));
      const error = { code: "server_error", message: "The server had an error while processing your request. Sorry about that!" };
      rest.push(event(["error", { error: { type: "server_error", ...error, param: null }, ...error, param: null }]));
      const partial = { ...items[0].item, status: "incomplete", content: [{ ...items[0].item.content[0], text: sent.join("") }] };
      rest.push(event(["response.failed", { response: response("failed", [partial], { error }) }]));
    } else {
      items.forEach((it, i) => rest.push(...it.events(i).map(event)));
      rest.push(event(["response.completed", { response: response("completed", items.map((it) => it.item), { usage, completed_at: CREATED_AT + 2 }) }]));
    }
    res.write(first);
    if (model === "gated-stream") await waitAtGate();
    await writeChunked(res, rest.join(""));
    res.end();
  });
}

// ---- request reading ---------------------------------------------------------------------------

/** The last user message's text and image count, and the last function_call_output anywhere. */
function readConversation(input) {
  if (typeof input === "string") return { text: input, images: 0, toolResult: null };
  let toolResult = null;
  let lastUser = null;
  for (const item of input || []) {
    if (item.type === "function_call_output") {
      toolResult = typeof item.output === "string" ? item.output
        : (item.output || []).filter((p) => p.type === "input_text").map((p) => p.text).join("");
    } else if ((item.type === undefined || item.type === "message") && item.role === "user") {
      lastUser = typeof item.content === "string" ? [{ type: "input_text", text: item.content }] : item.content || [];
    }
  }
  const parts = lastUser || [];
  const texts = parts.filter((p) => p.type === "input_text").map((p) => p.text);
  const images = parts.filter((p) => p.type === "input_image").length;
  return { text: texts.join(" "), images, toolResult };
}


// ---- the Response object and its output items --------------------------------------------------

function responseObject({ id, model, body, status, output, usage = null, error = null, completed_at = null }) {
  return {
    id, object: "response", created_at: CREATED_AT, status, background: false, billing: { payer: "developer" },
    completed_at, error, incomplete_details: null, instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null, max_tool_calls: body.max_tool_calls ?? null,
    model: `${model}-2025-04-14`, output, parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null, prompt_cache_key: body.prompt_cache_key ?? null,
    prompt_cache_retention: null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    safety_identifier: body.safety_identifier ?? null, service_tier: status === "in_progress" ? "auto" : "default",
    store: body.store ?? true, temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: "text" }, verbosity: body.text?.verbosity ?? "medium" },
    tool_choice: body.tool_choice ?? "auto", tools: body.tools ?? [], top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? 1, truncation: body.truncation ?? "disabled", usage, user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** Each item: the final output item, its token count, and its stream events ([type, fields] pairs)
 *  at an output_index. */
function answerItems(answer, n, body) {
  const items = [];
  if (answer.reasoning) {
    const id = `rs_mock${String(n).padStart(8, "0")}`;
    const withEncrypted = (body.include || []).includes("reasoning.encrypted_content");
    const encrypted = withEncrypted ? { encrypted_content: Buffer.from(`mock-encrypted-reasoning-${n}`).toString("base64") } : {};
    const part = { type: "summary_text", text: answer.reasoning };
    const item = { id, type: "reasoning", ...encrypted, summary: [part] };
    items.push({
      item, tokens: 64,
      events: (output_index) => [
        ["response.output_item.added", { output_index, item: { id, type: "reasoning", ...encrypted, summary: [] } }],
        ["response.reasoning_summary_part.added", { item_id: id, output_index, summary_index: 0, part: { type: "summary_text", text: "" } }],
        ...splitWords(answer.reasoning).map((delta) =>
          ["response.reasoning_summary_text.delta", { item_id: id, output_index, summary_index: 0, delta }]),
        ["response.reasoning_summary_text.done", { item_id: id, output_index, summary_index: 0, text: answer.reasoning }],
        ["response.reasoning_summary_part.done", { item_id: id, output_index, summary_index: 0, part }],
        ["response.output_item.done", { output_index, item }],
      ],
    });
  }
  if (answer.text !== undefined) {
    const id = `msg_mock${String(n).padStart(8, "0")}`;
    const part = { type: "output_text", annotations: [], logprobs: [], text: answer.text };
    const item = { id, type: "message", status: "completed", content: [part], role: "assistant" };
    const pieces = splitWords(answer.text);
    items.push({
      item, tokens: pieces.length,
      events: (output_index) => [
        ["response.output_item.added", { output_index, item: { id, type: "message", status: "in_progress", content: [], role: "assistant" } }],
        ["response.content_part.added", { item_id: id, output_index, content_index: 0, part: { type: "output_text", annotations: [], logprobs: [], text: "" } }],
        ...pieces.map((delta) => ["response.output_text.delta", { item_id: id, output_index, content_index: 0, delta, logprobs: [] }]),
        ["response.output_text.done", { item_id: id, output_index, content_index: 0, text: answer.text, logprobs: [] }],
        ["response.content_part.done", { item_id: id, output_index, content_index: 0, part }],
        ["response.output_item.done", { output_index, item }],
      ],
    });
  }
  if (answer.tool) {
    const id = `fc_mock${String(n).padStart(8, "0")}`;
    const call_id = `call_mock${String(n).padStart(8, "0")}`;
    const item = { id, type: "function_call", status: "completed", arguments: JSON.stringify(answer.tool.args), call_id, name: answer.tool.name };
    items.push({
      item, tokens: 18,
      events: (output_index) => [
        ["response.output_item.added", { output_index, item: { ...item, status: "in_progress", arguments: "" } }],
        ...TOOL_ARGS_FRAGMENTS.map((delta) => ["response.function_call_arguments.delta", { item_id: id, output_index, delta }]),
        ["response.function_call_arguments.done", { item_id: id, output_index, arguments: JSON.stringify(answer.tool.args) }],
        ["response.output_item.done", { output_index, item }],
      ],
    });
  }
  return items;
}

// ---- small utilities ---------------------------------------------------------------------------

function splitWords(s) {
  const words = s.split(/(?<= )/);
  return words.length ? words : [""];
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
