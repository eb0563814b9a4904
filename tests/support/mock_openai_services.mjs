// OpenAI's endpoints besides chat, as mock_openai serves them (same auth, errors and failure
// scenarios). Each answers in OpenAI's own wire shape:
//   POST /v1/embeddings        {model, input, encoding_format?, dimensions?} → list of embeddings (`vectorOf`
//                              each input, `dimensions` long, default 4; base64 = little-endian float32),
//                              usage.prompt_tokens = ceil(chars / 4) per input
//   POST /v1/images/generations  gpt-image-*: b64_json PNGs and token usage, and a 400 unknown_parameter for
//                              `response_format` (as the real API); other models (dall-e-*): `url`s with a
//                              revised_prompt, or b64_json when asked
//   POST /v1/audio/transcriptions  multipart (parsed by undici, as a server would): `file` and `model`
//                              required; json → {text, usage}; `response_format` text/srt/vtt → text/plain.
//                              text = `heard <filename> (<size> bytes)`; gpt-4o-* report token usage, whisper
//                              a duration
//   POST /v1/audio/speech      the audio's bytes (`speechBytes`), written in several pieces, content type by
//                              `response_format`; model `speech-cut` sends half and drops the connection
//   POST /v1/moderations       one result per input; flagged when the text holds "kill"
import { vectorOf } from "./mock_server.mjs";

export const SERVICE_PATHS = new Set(["/v1/embeddings", "/v1/images/generations", "/v1/audio/transcriptions", "/v1/audio/speech", "/v1/moderations"]);

export const PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

/** The audio the mock speaks for a request: a format header, the voice and text, and padding. */
export function speechBytes({ input, voice, response_format = "mp3" }) {
  const head = response_format === "wav" ? "RIFF\x24\x08\x00\x00WAVEfmt " : "ID3\x04\x00\x00\x00\x00\x00\x00";
  return Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(`voice=${voice};text=${input};`), Buffer.alloc(6000, 0xab)]);
}

const AUDIO_TYPES = { mp3: "audio/mpeg", opus: "audio/ogg", aac: "audio/aac", flac: "audio/flac", wav: "audio/wav", pcm: "audio/pcm" };
const CATEGORIES = ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
  "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic"];

const tokens = (s) => Math.max(1, Math.ceil(String(s).length / 4));

/** Answers a request to one of SERVICE_PATHS. `body` is the parsed JSON, or `{fields, files}` for a form. */
export async function serveOpenAIService(path, body, { req, res, sendJson, oaiError, counter }) {
  switch (path) {
    case "/v1/embeddings": {
      const input = body?.input;
      if (input === undefined || input === null) return oaiError(400, "'input' is a required property", "invalid_request_error", null, "input");
      const inputs = typeof input === "string" || typeof input[0] === "number" ? [input] : input;
      const dims = body.dimensions ?? 4;
      const data = inputs.map((text, index) => {
        const v = vectorOf(typeof text === "string" ? text : JSON.stringify(text), dims);
        const embedding = body.encoding_format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v;
        return { object: "embedding", index, embedding };
      });
      const used = inputs.reduce((n, t) => n + tokens(typeof t === "string" ? t : t.join(" ")), 0);
      return sendJson(200, { object: "list", data, model: body.model, usage: { prompt_tokens: used, total_tokens: used } });
    }
    case "/v1/images/generations": {
      if (!body?.prompt) return oaiError(400, "'prompt' is a required property", "invalid_request_error", null, "prompt");
      const n = body.n ?? 1;
      if (String(body.model).startsWith("gpt-image")) {
        if (body.response_format !== undefined) {
          return oaiError(400, "Unknown parameter: 'response_format'.", "invalid_request_error", "unknown_parameter", "response_format");
        }
        return sendJson(200, { created: 1770933883, background: "opaque", output_format: "png", quality: "low", size: "1024x1024",
          data: Array.from({ length: n }, () => ({ b64_json: PNG_B64 })),
          usage: { input_tokens: tokens(body.prompt), output_tokens: 272 * n, total_tokens: tokens(body.prompt) + 272 * n,
            input_tokens_details: { text_tokens: tokens(body.prompt), image_tokens: 0 } } });
      }
      const asB64 = body.response_format === "b64_json";
      return sendJson(200, { created: 1770933883, data: Array.from({ length: n }, (_, i) => ({
        ...(asB64 ? { b64_json: PNG_B64 } : { url: `https://images.mock.example/${counter}-${i}.png` }),
        revised_prompt: `A picture of ${body.prompt}` })) });
    }
    case "/v1/audio/transcriptions": {
      if (!body?.files) return oaiError(400, "Could not parse multipart form", "invalid_request_error");
      const file = body.files.file;
      if (!file) return oaiError(400, "'file' is a required property", "invalid_request_error", null, "file");
      if (!body.fields.model) return oaiError(400, "'model' is a required property", "invalid_request_error", null, "model");
      const text = `heard ${file.name} (${file.bytes.length} bytes)`;
      const format = body.fields.response_format ?? "json";
      if (["text", "srt", "vtt"].includes(format)) {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        return res.end(format === "text" ? `${text}\n` : `1\n00:00:00,000 --> 00:00:01,000\n${text}\n`);
      }
      const usage = body.fields.model.startsWith("gpt-4o")
        ? { type: "tokens", input_tokens: 20, output_tokens: tokens(text), total_tokens: 20 + tokens(text), input_token_details: { text_tokens: 0, audio_tokens: 20 } }
        : { type: "duration", seconds: 1 };
      return sendJson(200, { text, usage });
    }
    case "/v1/audio/speech": {
      if (!body?.input) return oaiError(400, "'input' is a required property", "invalid_request_error", null, "input");
      if (!body.voice) return oaiError(400, "'voice' is a required property", "invalid_request_error", null, "voice");
      const audio = speechBytes(body);
      res.writeHead(200, { "content-type": AUDIO_TYPES[body.response_format ?? "mp3"] ?? "application/octet-stream", "transfer-encoding": "chunked" });
      const pieces = 4;
      const size = Math.ceil(audio.length / pieces);
      for (let i = 0; i < pieces; i++) {
        res.write(audio.subarray(i * size, (i + 1) * size));
        await new Promise((r) => setTimeout(r, 5));
        if (body.model === "speech-cut" && i === 1) return req.socket.destroy();
      }
      return res.end();
    }
    case "/v1/moderations": {
      const input = body?.input;
      if (input === undefined) return oaiError(400, "'input' is a required property", "invalid_request_error", null, "input");
      const texts = typeof input === "string" ? [input] : input.map((p) => (typeof p === "string" ? p : p.text ?? ""));
      const results = texts.map((t) => {
        const violent = /kill/i.test(t);
        const categories = Object.fromEntries(CATEGORIES.map((c) => [c, violent && c === "violence"]));
        const category_scores = Object.fromEntries(CATEGORIES.map((c) => [c, violent && c === "violence" ? 0.91 : 0.0001]));
        const category_applied_input_types = Object.fromEntries(CATEGORIES.map((c) => [c, ["text"]]));
        return { flagged: violent, categories, category_scores, category_applied_input_types };
      });
      const model = body.model === "omni-moderation-latest" ? "omni-moderation-2024-09-26" : body.model;
      return sendJson(200, { id: `modr-mock${counter}`, model, results });
    }
  }
  return oaiError(404, `Unknown request URL: POST ${path}`, "invalid_request_error", "unknown_url");
}
