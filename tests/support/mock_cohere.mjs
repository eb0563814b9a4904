// A mock Cohere v2 rerank API on loopback (base path /v2, as Cohere's rerank lives in its v2 API):
//   POST /v2/rerank  {model, query, documents: [string], top_n?, max_tokens_per_doc?} →
//        {id, results: [{index, relevance_score}] (best first, top_n of them),
//         meta: {api_version: {version: "2"}, billed_units: {search_units: 1}}}
// Bearer auth. Errors are Cohere's `{id, message}`. Documents must be strings (v2 refuses objects);
// unknown fields are refused, as the real API does. With `failAs: "server-error"` every request gets
// a 500 (`setFailAs` changes it): a broken account. Scores come from `relevance` (mock_server.mjs).
import { readJson, relevance, startMockServer } from "./mock_server.mjs";

const FIELDS = new Set(["model", "query", "documents", "top_n", "max_tokens_per_doc"]);

export async function startMockCohere({ apiKey = "co-upstream-test", failAs = null } = {}) {
  let counter = 0;
  const handle = await startMockServer({ apiKey, basePath: "/v2" }, async (req, res, { requests }) => {
    const body = await readJson(req);
    requests.push({ method: req.method, path: req.url, headers: req.headers, body });
    const id = `mock-rerank-${++counter}`;
    const send = (status, obj) => {
      res.writeHead(status, { "content-type": "application/json", "x-request-id": id });
      res.end(JSON.stringify(obj));
    };
    const error = (status, message) => send(status, { id, message });
    if (req.method !== "POST" || req.url !== "/v2/rerank") return error(404, `no route for ${req.method} ${req.url}`);
    if (req.headers.authorization !== `Bearer ${apiKey}`) return error(401, "invalid api token");
    if (failAs === "server-error") return error(500, "internal server error");
    const unknown = Object.keys(body ?? {}).find((k) => !FIELDS.has(k));
    if (unknown) return error(400, `invalid request: unknown field ${unknown}`);
    if (typeof body.query !== "string" || !Array.isArray(body.documents)) return error(400, "invalid request: query and documents are required");
    if (body.documents.some((d) => typeof d !== "string")) return error(400, "invalid request: documents must be strings");
    const ranked = body.documents
      .map((d, index) => ({ index, relevance_score: relevance(body.query, d) }))
      .sort((a, b) => b.relevance_score - a.relevance_score)
      .slice(0, body.top_n ?? body.documents.length);
    send(200, { id, results: ranked, meta: { api_version: { version: "2" }, billed_units: { search_units: 1 } } });
  });
  handle.setFailAs = (f) => { failAs = f; };
  return handle;
}
