// A mock Google Gemini (Developer API) provider on loopback. Routes:
//   POST /v1beta/models/{model}:generateContent
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   (SSE: `data: <json>\r\n\r\n` frames only,
//        no `event:` lines, no comments, no [DONE]; the connection just closes)
//   POST /v1beta/models/{model}:streamGenerateContent           (without alt=sse: one JSON array,
//        written progressively, as the real API does)
//   POST /v1beta/models/{model}:batchEmbedContents  {requests: [{model: "models/{model}", content: {parts:
//        [{text}]}, outputDimensionality?}]} → {embeddings: [{values}]} (`vectorOf` each text; each request
//        must name the URL's model, as the real API checks); no usage
//   POST /v1beta/models/{model}:predict  (Imagen) {instances: [{prompt}], parameters: {sampleCount?,
//        aspectRatio?}} → {predictions: [{bytesBase64Encoded, mimeType}]}
// `/v1/models/…` is served the same way (the real API has both; google-genai 3.x defaults to v1).
// The model comes from the URL and may contain `/`. Auth is the `x-goog-api-key` header or `?key=`;
// a wrong key gets what the real API sends: 400 INVALID_ARGUMENT "API key not valid…" with an
// ErrorInfo reason API_KEY_INVALID (a missing key: 403 PERMISSION_DENIED). Errors are google.rpc
// envelopes `{"error":{code,message,status,details?}}`. `contents` is required and roles must be
// user/model (the real 400s). Camel- and snake_case request fields are both read.
// Behaviour is scripted by the model name:
//   any name         text `echo: <last user turn text>` + ` [image]` per inlineData/fileData part
//                    (stream: several chunks)
//   tool-call        one chunk with the whole functionCall get_weather {"city":"Paris"} + thoughtSignature,
//                    then a chunk with finishReason STOP; if the request holds a functionResponse, text
//                    `weather: <its content>` instead
//   thinking         part {"text":"Let me think about 2+2.","thought":true,"thoughtSignature":…}, then
//                    text "The answer is 4."; usageMetadata.thoughtsTokenCount
//   json             text `{"answer":42}`
//   rate-limited     429 RESOURCE_EXHAUSTED with QuotaFailure + RetryInfo retryDelay "7s" (no headers)
//   server-error     500 INTERNAL
//   overloaded       503 UNAVAILABLE
//   bad-param        400 INVALID_ARGUMENT with BadRequest fieldViolations
//   slow             sends headers only after `slowMs`
//   drop             closes the socket without answering
//   gated-stream     sends the first chunk, then waits until the test calls `release()`
//   mid-stream-error streams some text, then a chunk `{"error":{"code":500,…,"status":"INTERNAL"}}`
//                    and closes (non-stream: a 500 INTERNAL)
// usageMetadata is on every chunk with running totals (candidatesTokenCount excludes thoughts).
// With `scripted: false` every model name gets a normal answer. `crlf: false` frames with `\n\n`.
// Stream bytes are cut at arbitrary offsets. Every request is recorded (method, path, headers,
// parsed body, plus `model` and `stream`).
import { readJson, startMockServer, writeChunked, scriptedAnswer, vectorOf } from "./mock_server.mjs";
import { PNG_B64 } from "./mock_openai_services.mjs";

const PROMPT_TOKENS = 20;

export async function startMockGemini({ apiKey = "AIza-upstream-test", slowMs = 3000, scripted = true, crlf = true } = {}) {
  let counter = 0;

  return startMockServer({ apiKey, basePath: "/v1beta" }, async (req, res, { requests, waitAtGate }) => {
    const body = await readJson(req);
    const url = new URL(req.url, "http://127.0.0.1");
    const route = /^\/(?:v1beta|v1)\/models\/(.+):(generateContent|streamGenerateContent|batchEmbedContents|predict)$/.exec(url.pathname);
    const model = route ? decodeURIComponent(route[1]) : null;
    const stream = route?.[2] === "streamGenerateContent";
    requests.push({ method: req.method, path: req.url, headers: req.headers, body, model, stream });

    const sendJson = (status, obj) => {
      res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "x-gemini-service-tier": "standard" });
      res.end(JSON.stringify(obj, null, 2));
    };
    const rpcError = (code, status, message, details) =>
      sendJson(code, { error: { code, message, status, ...(details ? { details } : {}) } });

    if (req.method !== "POST" || !route) {
      return rpcError(404, "NOT_FOUND", `Requested entity was not found.`);
    }
    const key = req.headers["x-goog-api-key"] ?? url.searchParams.get("key");
    if (!key) {
      return rpcError(403, "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (key !== apiKey) {
      return rpcError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
        { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com",
          metadata: { service: "generativelanguage.googleapis.com" } },
        { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message: "API key not valid. Please pass a valid API key." },
      ]);
    }
    if (route[2] === "batchEmbedContents" || route[2] === "predict") {
      const failure = { "server-error": [500, "INTERNAL"], overloaded: [503, "UNAVAILABLE"] }[scripted ? model : null];
      if (failure) return rpcError(failure[0], failure[1], "An internal error has occurred.");
      return route[2] === "predict" ? predict(body, rpcError, sendJson) : embed(model, body, rpcError, sendJson);
    }
    const invalid = validate(body);
    if (invalid) return rpcError(400, "INVALID_ARGUMENT", invalid);

    switch (scripted ? model : null) {
      case "rate-limited":
        return rpcError(429, "RESOURCE_EXHAUSTED",
          "You exceeded your current quota, please check your plan and billing details.", [
            { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{
              quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
              quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
              quotaDimensions: { location: "global", model }, quotaValue: "10" }] },
            { "@type": "type.googleapis.com/google.rpc.Help", links: [{ description: "Learn more about Gemini API quotas",
              url: "https://ai.google.dev/gemini-api/docs/rate-limits" }] },
            { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" },
          ]);
      case "server-error":
        return rpcError(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting");
      case "overloaded":
        return rpcError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
      case "bad-param":
        return rpcError(400, "INVALID_ARGUMENT",
          'Invalid JSON payload received. Unknown name "additionalProperties" at \'tools[0].function_declarations[0].parameters\': Cannot find field.', [
            { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{
              field: "tools[0].function_declarations[0].parameters",
              description: 'Invalid JSON payload received. Unknown name "additionalProperties" at \'tools[0].function_declarations[0].parameters\': Cannot find field.' }] },
          ]);
      case "drop":
        return req.socket.destroy();
      case "slow":
        await sleep(slowMs);
        break;
      case "mid-stream-error":
        if (!stream) return rpcError(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting");
        break;
    }

    const n = ++counter;
    const responseId = Buffer.from(`mock-response-${n}`).toString("base64url").slice(0, 23);
    const answer = scriptedAnswer(scripted ? model : "", readConversation(body.contents));
    const chunks = answerChunks(answer, n);   // [{ parts, finish?, thoughts, candidates }]
    const thoughtsTotal = chunks.reduce((s, c) => s + c.thoughts, 0);
    const candidatesTotal = chunks.reduce((s, c) => s + c.candidates, 0);

    if (!stream) {
      return sendJson(200, {
        candidates: [{ content: { parts: mergeParts(chunks.flatMap((c) => c.parts)), role: "model" },
          finishReason: "STOP", index: 0, ...(answer.tool ? { finishMessage: "Model generated function call(s)." } : {}) }],
        usageMetadata: usageMetadata(candidatesTotal, thoughtsTotal),
        modelVersion: model, responseId,
      });
    }

    // Running totals: each chunk reports the tokens generated so far.
    let candidatesSoFar = 0, thoughtsSoFar = 0;
    const responses = chunks.map((c) => {
      candidatesSoFar += c.candidates; thoughtsSoFar += c.thoughts;
      return {
        candidates: [{ content: { parts: c.parts, role: "model" }, ...(c.finish ? { finishReason: "STOP" } : {}), index: 0 }],
        usageMetadata: usageMetadata(candidatesSoFar, thoughtsSoFar), modelVersion: model, responseId,
      };
    });
    if (scripted && model === "mid-stream-error") {
      responses.splice(Math.max(1, responses.length - 1));
      responses.push({ error: { code: 500, message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", status: "INTERNAL" } });
    }

    const sse = url.searchParams.get("alt") === "sse";
    const sep = crlf ? "\r\n\r\n" : "\n\n";
    const frames = sse
      ? responses.map((r) => `data: ${JSON.stringify(r)}${sep}`)
      : responses.map((r, i) => `${i === 0 ? "[" : ",\r\n"}${JSON.stringify(r, null, 2)}${i === responses.length - 1 ? "]" : ""}`);
    res.writeHead(200, sse
      ? { "content-type": "text/event-stream", "x-gemini-service-tier": "standard" }
      : { "content-type": "application/json; charset=UTF-8", "x-gemini-service-tier": "standard" });
    res.write(frames[0]);
    if (model === "gated-stream") await waitAtGate();
    await writeChunked(res, frames.slice(1).join(""));
    res.end();
  });
}

// ---- embeddings and images -----------------------------------------------------------------------

function embed(model, body, rpcError, sendJson) {
  if (!Array.isArray(body?.requests) || body.requests.length === 0) {
    return rpcError(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: requests is not specified\n");
  }
  const embeddings = [];
  for (const [i, r] of body.requests.entries()) {
    if (r.model !== `models/${model}`) {
      return rpcError(400, "INVALID_ARGUMENT", `Model in request ${i} (${r.model}) does not match the model in the URL.`);
    }
    const text = (r.content?.parts ?? []).map((p) => p.text ?? "").join("");
    embeddings.push({ values: vectorOf(text, r.outputDimensionality ?? 4) });
  }
  return sendJson(200, { embeddings });
}

function predict(body, rpcError, sendJson) {
  const prompt = body?.instances?.[0]?.prompt;
  if (!prompt) return rpcError(400, "INVALID_ARGUMENT", "A prompt is required.");
  const n = body.parameters?.sampleCount ?? 4;
  return sendJson(200, { predictions: Array.from({ length: n }, () => ({ bytesBase64Encoded: PNG_B64, mimeType: "image/png" })) });
}

// ---- request reading and validation ------------------------------------------------------------

function validate(body) {
  if (!body || typeof body !== "object") return "Invalid JSON payload received. Expected an object.";
  if (!Array.isArray(body.contents) || body.contents.length === 0) return "* GenerateContentRequest.contents: contents is not specified\n";
  for (const c of body.contents) {
    if (c?.role !== undefined && c.role !== "user" && c.role !== "model") return "Please use a valid role: user, model.";
  }
  return null;
}

/** The last user turn's text and image count, and the content of the last functionResponse anywhere. */
function readConversation(contents) {
  let toolResult = null;
  let lastUser = null;
  for (const c of contents) {
    if (c.role === "model") continue;
    const parts = c.parts || [];
    for (const p of parts) {
      const fr = p.functionResponse ?? p.function_response;
      if (fr) toolResult = functionResponseText(fr.response);
    }
    lastUser = parts;
  }
  const parts = lastUser || [];
  const texts = parts.filter((p) => typeof p.text === "string" && !p.thought).map((p) => p.text);
  const images = parts.filter((p) => {
    const media = p.inlineData ?? p.inline_data ?? p.fileData ?? p.file_data;
    return media && String(media.mimeType ?? media.mime_type ?? "").startsWith("image/");
  }).length;
  return { text: texts.join(" "), images, toolResult };
}

/** A functionResponse.response is an object: use its string `content`/`result`/`output`/`text`
 *  (or its only string value); otherwise its JSON. */
function functionResponseText(response) {
  if (typeof response === "string") return response;
  if (!response || typeof response !== "object") return JSON.stringify(response ?? null);
  for (const k of ["content", "result", "output", "text"]) if (typeof response[k] === "string") return response[k];
  const values = Object.values(response);
  if (values.length === 1 && typeof values[0] === "string") return values[0];
  return JSON.stringify(response);
}


// ---- response chunks ---------------------------------------------------------------------------

/** The answer as stream chunks; the non-stream body merges their parts. */
function answerChunks(answer, n) {
  const signature = Buffer.from(`mock-thought-signature-${n}`).toString("base64");
  const chunks = [];
  if (answer.reasoning) {
    chunks.push({ parts: [{ text: answer.reasoning, thought: true, thoughtSignature: signature }], thoughts: 9, candidates: 0 });
  }
  if (answer.tool) {
    chunks.push({ parts: [{ functionCall: { name: answer.tool.name, args: answer.tool.args }, thoughtSignature: signature }], thoughts: 0, candidates: 5 });
    chunks.push({ parts: [{ text: "" }], finish: true, thoughts: 0, candidates: 0 });
  } else {
    const pieces = splitWords(answer.text);
    pieces.forEach((p, i) => chunks.push({ parts: [{ text: p }], finish: i === pieces.length - 1, thoughts: 0, candidates: 1 }));
  }
  return chunks;
}

/** Non-stream: adjacent plain-text parts are one part, as the real API returns them. */
function mergeParts(parts) {
  const out = [];
  for (const p of parts) {
    const prev = out[out.length - 1];
    const plain = (x) => x && Object.keys(x).length === 1 && typeof x.text === "string";
    if (plain(p) && p.text === "") continue;
    if (plain(p) && plain(prev)) prev.text += p.text;
    else out.push({ ...p });
  }
  return out;
}

function usageMetadata(candidates, thoughts) {
  return {
    promptTokenCount: PROMPT_TOKENS,
    candidatesTokenCount: candidates,
    totalTokenCount: PROMPT_TOKENS + candidates + thoughts,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: PROMPT_TOKENS }],
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
}

// ---- small utilities ---------------------------------------------------------------------------

function splitWords(s) {
  const words = s.split(/(?<= )/);
  return words.length ? words : [""];
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
