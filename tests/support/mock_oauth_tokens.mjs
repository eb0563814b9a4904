// A provider's OAuth token endpoint, scripted as the rotating ones behave (Codex, Claude, Kimi):
// `POST {url}` with a form `grant_type=refresh_token&refresh_token=…&client_id=…` answers new tokens
// and makes the refresh token it was given useless; reusing one answers 400 `refresh_token_reused`
// (Codex's error), an unknown one 400 `invalid_grant`. Every token it hands out is noted for the
// secret scan (they must never be stored or logged in plaintext).
import { readRaw, startMockServer } from "./mock_server.mjs";
import { noteSecret } from "./secret_scan.mjs";

export async function startTokenEndpoint({ expiresIn = 3600 } = {}) {
  const live = new Set();
  const used = new Set();
  let n = 0;
  const mint = (kind) => {
    const t = `${kind}-${Date.now().toString(36)}-${++n}-rotating-test-token`;
    noteSecret(t);
    return t;
  };
  const server = await startMockServer({ basePath: "/oauth/token" }, async (req, res, { requests }) => {
    const form = new URLSearchParams((await readRaw(req)).toString("utf8"));
    requests.push({ method: req.method, path: req.url, headers: req.headers, form: Object.fromEntries(form) });
    const answer = (status, body) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(body)); };
    const rt = form.get("refresh_token");
    if (req.method !== "POST" || form.get("grant_type") !== "refresh_token") return answer(400, { error: "unsupported_grant_type" });
    if (used.has(rt)) return answer(400, { error: { code: "refresh_token_reused", message: "Your refresh token has already been used." } });
    if (!live.has(rt)) return answer(400, { error: "invalid_grant" });
    live.delete(rt);
    used.add(rt);
    const next = mint("rt");
    live.add(next);
    answer(200, { access_token: mint("at"), refresh_token: next, expires_in: expiresIn, token_type: "Bearer" });
  });
  return {
    ...server,
    /** A refresh token the endpoint will accept once (as a login would give). */
    login() { const rt = mint("rt"); live.add(rt); return { accessToken: mint("at"), refreshToken: rt }; },
    /** Whether `refreshToken` still works: what the laptop would find at its own next refresh. */
    works(refreshToken) { return live.has(refreshToken); },
  };
}
