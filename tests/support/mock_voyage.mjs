// A mock Voyage AI API on loopback (base path /v1):
//   POST /v1/embeddings  {input, model, input_type?, truncation?, output_dimension?, output_dtype?,
//        encoding_format?: "base64"} → {object: "list", data: [{object: "embedding", embedding, index}], model,
//        usage: {total_tokens}} (`vectorOf` each input, `output_dimension` long, default 4)
//   POST /v1/rerank  {query, documents: [string], model, top_k?, return_documents?, truncation?} →
//        {object: "list", data: [{relevance_score, index, document?}] (best first, top_k of them), model,
//         usage: {total_tokens}}
// Bearer auth. Errors are `{detail}`; unknown fields (such as Cohere's `top_n`) are refused, as the real
// API validates its body. Scores come from `relevance` (mock_server.mjs), so they match mock_cohere's.
import { readJson, relevance, startMockServer, vectorOf } from "./mock_server.mjs";

const FIELDS = {
  "/v1/rerank": new Set(["query", "documents", "model", "top_k", "return_documents", "truncation"]),
  "/v1/embeddings": new Set(["input", "model", "input_type", "truncation", "output_dimension", "output_dtype", "encoding_format"]),
};

export async function startMockVoyage({ apiKey = "pa-upstream-test" } = {}) {
  return startMockServer({ apiKey, basePath: "/v1" }, async (req, res, { requests }) => {
    const body = await readJson(req);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body });
    const send = (status, obj) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(obj));
    };
    if (req.method !== "POST" || !FIELDS[req.url]) return send(404, { detail: "Not Found" });
    if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { detail: "Provided API key is invalid." });
    const unknown = Object.keys(body ?? {}).find((k) => !FIELDS[req.url].has(k));
    if (unknown) return send(400, { detail: `Request body contains an unknown field: ${unknown}` });
    if (req.url === "/v1/embeddings") {
      const inputs = typeof body.input === "string" ? [body.input] : body.input;
      const data = inputs.map((text, index) => {
        const v = vectorOf(text, body.output_dimension ?? 4);
        return { object: "embedding", embedding: body.encoding_format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v, index };
      });
      const tokens = inputs.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
      return send(200, { object: "list", data, model: body.model, usage: { total_tokens: tokens } });
    }
    if (typeof body.query !== "string" || !Array.isArray(body.documents) || body.documents.some((d) => typeof d !== "string")) {
      return send(400, { detail: "query must be a string and documents a list of strings" });
    }
    const data = body.documents
      .map((d, index) => ({ relevance_score: relevance(body.query, d), index, ...(body.return_documents ? { document: d } : {}) }))
      .sort((a, b) => b.relevance_score - a.relevance_score)
      .slice(0, body.top_k ?? body.documents.length);
    const tokens = body.documents.reduce((n, d) => n + Math.ceil((body.query.length + d.length) / 4), 0);
    send(200, { object: "list", data, model: body.model, usage: { total_tokens: tokens } });
  });
}
