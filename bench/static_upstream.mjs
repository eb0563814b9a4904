// A fast, fixed-answer OpenAI-compatible upstream for load runs: no parsing beyond `stream`, no delay.
import http from "node:http";

const completion = JSON.stringify({
  id: "chatcmpl-bench", object: "chat.completion", created: 1770933883, model: "bench-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello from the static upstream.", refusal: null }, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
});

export function sseBody(chunks) {
  const base = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1770933883, model: "bench-model" };
  let out = `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })}\n\n`;
  for (let i = 0; i < chunks; i++) {
    out += `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: `token${i} ` }, finish_reason: null }] })}\n\n`;
  }
  out += `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`;
  return out;
}

/** `bigChunks`: the stream sent when the request's model names `big-stream` (for per-MB costs). */
export async function startStaticUpstream({ streamChunks = 50, bigChunks = 5000 } = {}) {
  const stream = sseBody(streamChunks);
  const big = sseBody(bigChunks);
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (body.includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const sse = body.includes("big-stream") ? big : stream;
        // Written in a few pieces, as a real upstream would.
        const third = Math.ceil(sse.length / 3);
        res.write(sse.slice(0, third));
        res.write(sse.slice(third, 2 * third));
        res.end(sse.slice(2 * third));
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(completion);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, streamBytes: stream.length, bigStreamBytes: big.length, close: () => new Promise((r) => server.close(r)) };
}
