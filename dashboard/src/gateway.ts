// Calls to the gateway's own `/v1`, as a client would make them. Session cookies do not
// authenticate `/v1`: these carry a gateway key the user pasted or created in this tab. It is kept
// in memory only (never in storage), so a reload forgets it.
import { useEffect, useState } from "preact/hooks";

let gatewayKey = "";
const listeners = new Set<(k: string) => void>();
export const getGatewayKey = () => gatewayKey;
export function rememberGatewayKey(k: string) {
  gatewayKey = k;
  listeners.forEach((f) => f(k));
}
export function useGatewayKey(): [string, (k: string) => void] {
  const [k, setK] = useState(gatewayKey);
  useEffect(() => { listeners.add(setK); return () => { listeners.delete(setK); }; }, []);
  return [k, rememberGatewayKey];
}

export const baseUrl = () => `${location.origin}/v1`;

/** The `x-omniroute-*` and request-id headers of an answer: which attempts served it. */
export const SHOWN_HEADERS = ["x-request-id", "x-omniroute-provider", "x-omniroute-model", "x-omniroute-connection", "x-omniroute-attempts", "x-omniroute-cache", "retry-after"];

export type Sent = { status: number; ms: number; headers: Record<string, string>; body: unknown; requestId: string | null };

/** POSTs `body` to a gateway path (`/v1/…`, `/v1beta/…`) with the key; the answer, its timing and its telling headers. */
export async function send(path: string, key: string, body: unknown): Promise<Sent> {
  const started = performance.now();
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* an SSE stream or plain text: shown as it came */ }
  const headers: Record<string, string> = {};
  for (const h of SHOWN_HEADERS) { const v = res.headers.get(h); if (v !== null) headers[h] = v; }
  return { status: res.status, ms: Math.round(performance.now() - started), headers, body: parsed, requestId: res.headers.get("x-request-id") };
}
