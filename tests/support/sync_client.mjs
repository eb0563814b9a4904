// Cloud-sync helpers for the sync_* tests: issue an enrollment, call /sync the way OmniRoute does
// (plain fetch, JSON, no auth of its own), check X-Cloud-Sig, and build push bodies from the captured
// OmniRoute 3.7.9 requests (tests/fixtures/omniroute-3.7.9-sync-capture.json: what an unmodified OmniRoute
// sent to a cloud, headers and bodies; every secret in it is a test value).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./gateway.mjs";

const CAPTURE = path.join(ROOT, "tests/fixtures/omniroute-3.7.9-sync-capture.json");

/** The captured OmniRoute capture file (requests with headers and raw bodies). */
export function capture() {
  return JSON.parse(fs.readFileSync(CAPTURE, "utf8"));
}

/** The first captured push body, raw, with its upstream base URL pointed at `upstreamUrl`. */
export function capturedPush(upstreamUrl) {
  const c = capture();
  const push = c.requests.find((r) => r.method === "POST" && r.path.startsWith("/sync/"));
  return { machineId: c.machine_id, raw: push.body_raw.replaceAll("http://127.0.0.1:9100/json/v1", upstreamUrl), headers: push.headers };
}

/** Issues an enrollment through the admin API: `{id, token, cloud_url, signing_secret, ...}`. */
export async function enroll(gw, name = "laptop", extra = {}) {
  const r = await gw.admin("POST", "/api/sync/enrollments", { name, ...extra });
  if (r.status !== 201) throw new Error(`enroll: ${r.status} ${r.text}`);
  return r.json;
}

/** A request as OmniRoute sends it (JSON body as given, if any); the answer with its text and JSON. */
export async function call(url, method = "GET", body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, text, json, headers: res.headers };
}

/** Whether `X-Cloud-Sig` is hex(HMAC-SHA256(secret, raw body)), checked as OmniRoute does. */
export function signatureValid(secret, answer) {
  const sig = answer.headers.get("x-cloud-sig");
  if (!sig) return false;
  const want = crypto.createHmac("sha256", secret).update(answer.text).digest();
  const got = Buffer.from(sig, "hex");
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

/** A pushed connection or key as it must come back: fields as pushed minus what is kept secret. */
export function withoutSecrets(obj, secretFields = ["apiKey", "accessToken", "refreshToken", "idToken", "providerSpecificData", "key"]) {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !secretFields.includes(k)));
}

/** What the edge adds to a connection it answers back. */
export function withoutEdgeFields(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !["updatedAt", "status", "rateLimitedUntil", "keyHint"].includes(k)));
}
