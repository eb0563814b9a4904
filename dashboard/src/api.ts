// The one door to the management API: every call names its route as "METHOD /api/path/{param}",
// exactly as docs/openapi.json spells it, and TypeScript checks the body and the answer against the
// route's entry in `Routes`. The session is an HttpOnly cookie the browser sends by itself; the browser
// also adds `Origin`/`Sec-Fetch-Site` to changes, which is the gateway's CSRF check (docs/auth.md).

export type List<T> = { data: T[] };
export type Limits = Partial<Record<"usd_per_day" | "usd_per_week" | "usd_per_month" | "requests_per_minute" | "tokens_per_minute", number>>;
export type KeyAccess = { enabled?: boolean; expires_at?: number | null; scopes?: { models?: string[]; providers?: string[] } };
export type ApiKey = { id: string; name: string; key_prefix: string; created_at: number; revoked_at: number | null; limits: Limits; access: KeyAccess };
export type NewKey = ApiKey & { key: string; note: string };
export type ConnLimits = { requests_per_minute?: number; min_gap_ms?: number; max_concurrent?: number; window?: { hours: number; requests?: number; tokens?: number } };
export type Connection = {
  id: string; provider: string; name: string; priority: number; is_active: boolean; base_url: string | null;
  api_key_hint: string; created_at: number; updated_at: number; limits: ConnLimits;
};
export type ConnectionTest = {
  ok: boolean; connection: string; provider: string; model: string; status: number | null; latency_ms: number;
  error: { code: string | null; message: string } | null;
};
export type NewConnection = { provider: string; api_key: string; name?: string; base_url?: string | null; priority?: number; is_active?: boolean; limits?: ConnLimits };
export type CatalogProvider = { id: string; name: string; aliases: string[]; base_url: string; format: string; models: string[] };
export type ModelGroup = { provider: string; name: string; format: string; models: { id: string; kind: string }[] };
export type Combo = { name: string; strategy: string; targets: { model: string; weight?: number }[]; config?: Record<string, unknown> };
export type Alias = { pattern: string; target: string };
export type Chain = { model: string; chain: string[] };
export type ProviderNode = { id: string; format: string; base_url: string; models?: string[]; name?: string; headers?: Record<string, string> };
export type CustomModels = { provider: string; models: string[] };
export type Breaker = { state: string; retry_in_ms: number | null };
export type Cooldown = { scope: string; reason: string; until_ms: number; level?: number };
export type Health = { breakers: Record<string, Breaker>; cooldowns: Cooldown[] };
export type QuotaPart = { limit: number; remaining: number; reset_at: number | null; resets_in_ms: number | null } | null;
export type Quota = { source: string; connection: string; model: string | null; requests: QuotaPart; tokens: QuotaPart; exhausted_until?: number | null; hours?: number };
export type Settings = Record<string, string | number | boolean | string[]>;
export type UsageRow = {
  group: string | number | null; key_name?: string | null; requests: number; errors: number; tokens_in: number; tokens_out: number;
  tokens_cached: number; tokens_reasoning: number; cost_usd: number; latency_ms?: { p50?: number; p95?: number; p99?: number };
};
export type Usage = { from: number; to: number; group_by: string; data: UsageRow[]; totals: UsageRow };
export type LogRecord = {
  request_id: string; at: number; status: number; error_code?: string | null; key_id?: string | null; endpoint: string; client_format: string;
  requested_model?: string | null; combo?: string | null; provider?: string | null; connection?: string | null; upstream_model?: string | null;
  attempts: number; continuations?: number; streamed: boolean; latency_ms?: number | null; ttfb_ms?: number | null; cost_usd?: number;
  tokens?: { input?: number; output?: number; cached?: number; cache_write?: number; reasoning?: number; estimated?: boolean };
  request_body?: string | null; response_body?: string | null; [field: string]: unknown;
};
export type Price = { provider: string; model: string; input: number; output: number; cached_input?: number | null; reasoning?: number | null; source?: string };
export type Me = { principal: { role: "owner" | "operator"; name?: string; tenant?: string | null }; password_set: boolean };
export type Enrollment = { id: string; name: string; machine_id: string | null; created_at: number; return_secrets: boolean; revoked_at: number | null };
export type SyncCounts = { connections: number; provider_nodes: number; combos: number; aliases: number; api_keys: number };
export type Machine = {
  machine_id: string; enrollment_id: string; enrollment_name?: string | null; last_sync_at: number;
  synced?: SyncCounts; served?: SyncCounts; unservable?: { kind: string; id: string; reason: string }[];
};
export type Operator = { id: string; name: string; role: "operator"; tenant_id: string | null; created_at: number; updated_at: number };
export type BackupArchive = Record<string, unknown>;
export type BackupEntry = { id: string; created_at: number; reason: "import" | "restore"; bytes: number; has_secrets: boolean };
export type ImportResult = { imported: Record<string, number>; backup_id: string; connections_without_credentials: string[]; keys_without_secret: string[] };
export type TranslateFormat = "openai-chat" | "openai-responses" | "anthropic" | "gemini";

/** Each route's body and answer. The keys are docs/openapi.json's (method, path) pairs. */
export interface Routes {
  "POST /api/auth/login": { body: { password: string; name?: string }; res: Me };
  "POST /api/auth/logout": { body: undefined; res: unknown };
  "GET /api/auth/me": { body: undefined; res: Me };
  "POST /api/auth/password": { body: { current: string; new: string }; res: { other_sessions_signed_out: number } };
  "GET /api/auth/operators": { body: undefined; res: List<Operator> };
  "POST /api/auth/operators": { body: { tenant: string; name: string; password: string }; res: Operator };
  "DELETE /api/auth/operators/{id}": { body: undefined; res: { deleted: string } };
  "GET /api/providers/catalog": { body: undefined; res: List<CatalogProvider> };
  "GET /api/providers": { body: undefined; res: List<Connection> };
  "POST /api/providers": { body: NewConnection; res: Connection };
  "PATCH /api/providers/{id}": { body: Partial<NewConnection>; res: Connection };
  "DELETE /api/providers/{id}": { body: undefined; res: { deleted: string } };
  "POST /api/providers/{id}/test": { body: { model?: string }; res: ConnectionTest };
  "GET /api/models/catalog": { body: undefined; res: List<ModelGroup> };
  "GET /api/keys": { body: undefined; res: List<ApiKey> };
  "POST /api/keys": { body: { name: string; limits?: Limits; access?: KeyAccess }; res: NewKey };
  "PATCH /api/keys/{id}": { body: { name?: string; limits?: Limits; access?: KeyAccess }; res: ApiKey };
  "DELETE /api/keys/{id}": { body: undefined; res: { revoked: string } };
  "POST /api/keys/{id}/rotate": { body: undefined; res: NewKey };
  "GET /api/keys/{id}/usage": { body: undefined; res: { id: string; limits: Limits; usage: Record<string, unknown> } };
  "GET /api/settings": { body: undefined; res: Settings };
  "PATCH /api/settings": { body: Settings; res: Settings };
  "GET /api/health": { body: undefined; res: Health };
  "DELETE /api/health": { body: undefined; res: { reset: string } };
  "GET /api/cooldowns": { body: undefined; res: List<Cooldown> };
  "DELETE /api/cooldowns": { body: undefined; res: { reset: string } };
  "GET /api/quotas": { body: undefined; res: List<Quota> };
  "GET /api/stats": { body: undefined; res: { config_cache: Record<string, number>; response_cache: Record<string, number | null> } };
  "GET /api/combos": { body: undefined; res: List<Combo> };
  "POST /api/combos": { body: Combo; res: Combo };
  "DELETE /api/combos/{name}": { body: undefined; res: { deleted: string } };
  "GET /api/aliases": { body: undefined; res: List<Alias> };
  "POST /api/aliases": { body: Alias; res: Alias };
  "DELETE /api/aliases": { body: undefined; res: { deleted: string } };
  "GET /api/fallback-chains": { body: undefined; res: List<Chain> };
  "POST /api/fallback-chains": { body: Chain; res: Chain };
  "DELETE /api/fallback-chains": { body: undefined; res: { deleted: string } };
  "GET /api/provider-nodes": { body: undefined; res: List<ProviderNode> };
  "POST /api/provider-nodes": { body: ProviderNode; res: ProviderNode };
  "DELETE /api/provider-nodes/{id}": { body: undefined; res: { deleted: string } };
  "GET /api/provider-models": { body: undefined; res: List<CustomModels> };
  "POST /api/provider-models": { body: CustomModels; res: CustomModels };
  "DELETE /api/provider-models/{provider}": { body: undefined; res: { deleted: string } };
  "GET /api/usage": { body: undefined; res: Usage };
  "GET /api/logs": { body: undefined; res: { data: LogRecord[]; next: string | null } };
  "GET /api/logs/{id}": { body: undefined; res: LogRecord };
  "GET /api/pricing": { body: undefined; res: List<Price> };
  "PUT /api/pricing": { body: { prices: Price[] }; res: unknown };
  "DELETE /api/pricing": { body: undefined; res: unknown };
  "GET /api/sync/enrollments": { body: undefined; res: List<Enrollment> };
  "POST /api/sync/enrollments": { body: { name: string; return_secrets: boolean }; res: Enrollment & { cloud_url: string; signing_secret: string } };
  "DELETE /api/sync/enrollments/{id}": { body: undefined; res: unknown };
  "GET /api/sync/machines": { body: undefined; res: List<Machine> };
  "POST /api/translate": { body: { format: TranslateFormat; request: unknown; model?: string }; res: { formats: Record<TranslateFormat, unknown> } };
  "GET /api/backup/export": { body: undefined; res: BackupArchive };
  "POST /api/backup/export": { body: { passphrase: string }; res: BackupArchive };
  "POST /api/backup/import": { body: { archive: BackupArchive; passphrase?: string }; res: ImportResult };
  "GET /api/backup/backups": { body: undefined; res: List<BackupEntry> };
  "POST /api/backup/backups/{id}/restore": { body: undefined; res: ImportResult };
}
export type Route = keyof Routes;

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly code?: string) { super(message); }
}

type Query = Record<string, string | number | undefined | null>;
/** The `{names}` in a route's path: a call must give exactly these. */
type ParamNames<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | ParamNames<Rest> : never;
type Options<R extends Route> = { query?: Query }
  & ([ParamNames<R>] extends [never] ? { params?: undefined } : { params: Record<ParamNames<R>, string> })
  & (Routes[R]["body"] extends undefined ? { body?: undefined } : { body: Routes[R]["body"] });

let tenant = "default";
let onSignedOut: () => void = () => {};
export function setTenant(t: string) { tenant = t || "default"; }
export function currentTenant() { return tenant; }
export function whenSignedOut(f: () => void) { onSignedOut = f; }

/** The URL of a route with its `{params}` filled in (each encoded) and its query. */
export function url(route: Route, params: Record<string, string> = {}, query: Query = {}): string {
  const path = route.slice(route.indexOf(" ") + 1).replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in params)) throw new Error(`${route}: no value for {${name}}`);
    return encodeURIComponent(params[name]);
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  if (!route.includes("/api/auth/")) q.set("tenant", tenant);
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Options may be left out only when the route needs no params and no body. */
type Args<R extends Route> = {} extends Options<R> ? [opts?: Options<R>] : [opts: Options<R>];

export async function api<R extends Route>(route: R, ...[opts]: Args<R>): Promise<Routes[R]["res"]> {
  const method = route.slice(0, route.indexOf(" "));
  const body = opts?.body;
  const res = await fetch(url(route, opts?.params, opts?.query), {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && route !== "POST /api/auth/login") onSignedOut();
  if (!res.ok) throw new ApiError(data?.error?.message || `HTTP ${res.status}`, res.status, data?.error?.code);
  return data as Routes[R]["res"];
}
