// The one door to the management API: every call names its route as "METHOD /api/path/{param}",
// exactly as docs/openapi.json spells it, and TypeScript checks the body and the answer against the
// route's entry in `Routes`. The session is an HttpOnly cookie the browser sends by itself; the browser
// also adds `Origin`/`Sec-Fetch-Site` to changes, which is the gateway's CSRF check (docs/auth.md).

import type { Ops, Schemas } from "./generated/openapi";

export type List<T> = { data: T[] };
export type Limits = Schemas["KeyLimits"];
export type KeyAccess = Schemas["KeyAccess"];
export type ApiKey = Schemas["ApiKey"];
export type NewKey = Schemas["CreatedApiKey"];
/** A rotated key: its new secret, shown once. */
export type RotatedKey = Ops["POST /api/keys/{id}/rotate"]["res"];
export type ConnLimits = Schemas["ConnectionLimits"];
export type Connection = Schemas["Connection"];
export type ConnectionTest = Schemas["ConnectionTest"];
export type NewConnection = Schemas["NewConnection"];
export type CatalogProvider = Schemas["CatalogProvider"];
export type ModelGroup = { provider: string; name: string; format: string; models: { id: string; kind: string }[] };
export type Combo = Schemas["Combo"];
export type Alias = { pattern: string; target: string };
export type Chain = { model: string; chain: string[] };
export type ProviderNode = Schemas["ProviderNode"];
export type CustomModels = { provider: string; models: string[] };
export type Breaker = { state: string; retry_in_ms: number | null };
export type Cooldown = Schemas["Cooldown"];
export type Health = Schemas["Health"];
export type QuotaPart = Schemas["QuotaPart"] | null;
export type Quota = Schemas["Quota"];
export type Settings = Record<string, string | number | boolean | string[]>;
export type UsageRow = Schemas["UsageGroup"];
export type Usage = Schemas["UsageSummary"];
export type LogRecord = Schemas["UsageRecord"];
export type Price = { provider: string; model: string; input: number; output: number; cached_input?: number | null; reasoning?: number | null; source?: string };
export type LoginParams = Schemas["LoginParams"];
export type Me = { principal: { role: "owner" | "operator"; name?: string; tenant?: string | null }; password_set: boolean };
export type Enrollment = Schemas["Enrollment"];
export type SyncCounts = { connections: number; provider_nodes: number; combos: number; aliases: number; api_keys: number };
export type Machine = Schemas["Machine"];
export type Operator = Schemas["Operator"];
export type BackupArchive = Schemas["BackupArchive"];
export type BackupEntry = { id: string; created_at: number; reason: "import" | "restore"; bytes: number; has_secrets: boolean };
export type ImportResult = { imported: Record<string, number>; backup_id: string; connections_without_credentials: string[]; keys_without_secret: string[] };
export type TranslateFormat = "openai-chat" | "openai-responses" | "anthropic" | "gemini";

/** Each route's body and answer. The keys are docs/openapi.json's (method, path) pairs. */
export interface Routes {
  "POST /api/auth/login": { body: { name?: string } & ({ password: string } | { proof: string }); res: Me };
  "POST /api/auth/login/params": { body: { name?: string }; res: LoginParams };
  "POST /api/auth/logout": { body: undefined; res: unknown };
  "GET /api/auth/me": { body: undefined; res: Me };
  "POST /api/auth/password": { body: { current: string; new: string }; res: { other_sessions_signed_out: number } };
  "GET /api/auth/operators": { body: undefined; res: List<Operator> };
  "POST /api/auth/operators": { body: { tenant: string; name: string; password: string }; res: Ops["POST /api/auth/operators"]["res"] };
  "DELETE /api/auth/operators/{id}": { body: undefined; res: { deleted: string } };
  "GET /api/providers/catalog": { body: undefined; res: List<CatalogProvider> };
  "GET /api/providers": { body: undefined; res: List<Connection> };
  "POST /api/providers": { body: NewConnection; res: Connection };
  "PATCH /api/providers/{id}": { body: Schemas["ConnectionPatch"]; res: Connection };
  "DELETE /api/providers/{id}": { body: undefined; res: { deleted: string } };
  "POST /api/providers/{id}/test": { body: { model?: string }; res: ConnectionTest };
  "GET /api/models/catalog": { body: undefined; res: List<ModelGroup> };
  "GET /api/keys": { body: undefined; res: List<ApiKey> };
  "POST /api/keys": { body: { name: string; limits?: Limits; access?: KeyAccess }; res: NewKey };
  "PATCH /api/keys/{id}": { body: { name?: string; limits?: Limits; access?: KeyAccess }; res: ApiKey };
  "DELETE /api/keys/{id}": { body: undefined; res: { revoked: string } };
  "POST /api/keys/{id}/rotate": { body: undefined; res: RotatedKey };
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
  "POST /api/sync/enrollments": { body: { name: string; return_secrets: boolean }; res: Schemas["CreatedEnrollment"] };
  "DELETE /api/sync/enrollments/{id}": { body: undefined; res: unknown };
  "GET /api/sync/machines": { body: undefined; res: List<Machine> };
  "POST /api/translate": { body: { format: TranslateFormat; request: Record<string, unknown>; model?: string }; res: { formats: Record<TranslateFormat, unknown> } };
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
