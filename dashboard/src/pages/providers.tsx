// Provider connections (accounts) grouped by provider, with each account's health: the provider's
// breaker, the account's cooldowns and quota windows. Connect (then test with a live call), edit,
// disable, delete; custom provider nodes and extra model ids.
import { useState } from "preact/hooks";
import { api, type Connection, type ConnectionTest, type Health, type ProviderNode, type Quota } from "../api";
import { countdown, list, when } from "../format";
import { t } from "../i18n";
import { useSession } from "../session";
import { ErrorText, Field, Form, Modal, Pill, Section, Table, useAction, useEvery, useLoad } from "../ui";

export function Providers() {
  const conns = useLoad(() => api("GET /api/providers"));
  const health = useLoad(() => api("GET /api/health"));
  const quotas = useLoad(() => api("GET /api/quotas"));
  useEvery(5000, () => { health.reload(); quotas.reload(); });
  const [editing, setEditing] = useState<Connection | null>(null);
  const reload = () => Promise.all([conns.reload(), health.reload()]);
  const byProvider = new Map<string, Connection[]>();
  for (const c of conns.data?.data ?? []) byProvider.set(c.provider, [...(byProvider.get(c.provider) ?? []), c]);
  return (
    <>
      <Section title={t("Providers")} hint={t("Each connection is one account of a provider. Accounts of the same provider are tried in priority order (lower first); a failing one cools down and the next serves.")}>
        <ErrorText text={conns.error} />
        {conns.data && !byProvider.size ? <p class="muted">{t("No connections yet: connect one below.")}</p> : null}
        {[...byProvider].map(([provider, accounts]) => (
          <ProviderGroup key={provider} provider={provider} accounts={accounts} health={health.data} quotas={quotas.data?.data ?? []} onEdit={setEditing} reload={reload} />
        ))}
      </Section>
      <Connect onDone={reload} />
      {editing ? <EditConnection conn={editing} onClose={() => setEditing(null)} onSaved={reload} /> : null}
      <Nodes />
      <CustomModels />
    </>
  );
}

function ProviderGroup({ provider, accounts, health, quotas, onEdit, reload }: {
  provider: string; accounts: Connection[]; health?: Health; quotas: Quota[]; onEdit: (c: Connection) => void; reload: () => Promise<unknown>;
}) {
  const { catalog } = useSession();
  const [error, run] = useAction();
  const breaker = health?.breakers[provider];
  const name = catalog.find((p) => p.id === provider)?.name ?? provider;
  const cooldowns = (c: Connection) => (health?.cooldowns ?? []).filter((d) => d.scope === c.id || d.scope.startsWith(`${c.id}:`));
  const windows = (c: Connection) => quotas.filter((q) => q.connection === c.id);
  return (
    <div class="group" data-testid={`provider-${provider}`}>
      <h3>{name} <code>{provider}</code> {breaker ? <Pill kind={breaker.state === "closed" ? "ok" : "bad"}>{t("breaker")} {breaker.state}</Pill> : null}</h3>
      <Table
        head={[t("Name"), t("Key"), t("Base URL"), t("Priority"), t("Active"), t("Health"), t("Quota windows"), ""]}
        empty=""
        rows={accounts.map((c) => [
          c.name,
          <code>{c.api_key_hint}</code>,
          c.base_url || <span class="muted">{t("default")}</span>,
          c.priority,
          <input type="checkbox" aria-label={t("Active")} checked={c.is_active}
            onChange={(e) => run(() => api("PATCH /api/providers/{id}", { params: { id: c.id }, body: { is_active: e.currentTarget.checked } }).then(reload))} />,
          cooldowns(c).length
            ? cooldowns(c).map((d) => <div><Pill kind="warn">{t("cooling down")}</Pill> {d.reason} · {countdown(d.until_ms - Date.now())}</div>)
            : <Pill kind={c.is_active ? "ok" : "muted"}>{c.is_active ? t("ready") : t("disabled")}</Pill>,
          windows(c).length ? windows(c).map((q) => <QuotaLine q={q} />) : <span class="muted">—</span>,
          <div class="row-actions">
            <TestButton conn={c} />
            <button class="small" onClick={() => onEdit(c)}>{t("Edit")}</button>
            <button class="small danger" onClick={() => confirm(t("Delete {name}?", { name: c.name })) && run(() => api("DELETE /api/providers/{id}", { params: { id: c.id } }).then(reload))}>{t("Delete")}</button>
          </div>,
        ])}
      />
      <ErrorText text={error} />
    </div>
  );
}

export function QuotaLine({ q }: { q: Quota }) {
  const part = (label: string, p: Quota["requests"]) =>
    p ? <div>{label}: {p.remaining}/{p.limit} · {t("resets in")} {countdown(p.resets_in_ms)}</div> : null;
  return <div class="quota">{q.model ? <code>{q.model}</code> : null}{part(t("requests"), q.requests)}{part(t("tokens"), q.tokens)}</div>;
}

/** Connect a provider account, then test it with one live call through the gateway. */
export function Connect({ onDone }: { onDone: () => unknown }) {
  const { catalog } = useSession();
  const nodes = useLoad(() => api("GET /api/provider-nodes"));
  const [error, run] = useAction();
  const [made, setMade] = useState<Connection | null>(null);
  const choices = [...catalog.map((p) => ({ id: p.id, name: p.name })), ...(nodes.data?.data ?? []).map((n) => ({ id: n.id, name: n.name || n.id }))];
  return (
    <Section title={t("Connect a provider")}>
      <Form testid="connect-provider" onSubmit={(v, form) => run(async () => {
        const body = { ...v, limits: undefined } as Record<string, unknown>;
        if (!body.base_url) delete body.base_url;
        setMade(await api("POST /api/providers", { body: body as never }));
        form.reset();
        await onDone();
      })}>
        <Field label={t("Provider")}><select name="provider" required>{choices.map((p) => <option value={p.id}>{p.name} ({p.id})</option>)}</select></Field>
        <Field label={t("Name")}><input name="name" placeholder={t("(provider name)")} /></Field>
        <Field label={t("API key")}><input name="api_key" type="password" required autocomplete="off" /></Field>
        <Field label={t("Base URL")}><input name="base_url" placeholder={t("(provider default)")} /></Field>
        <Field label={t("Priority")}><input name="priority" type="number" min="0" max="10000" defaultValue="100" /></Field>
        <button type="submit">{t("Connect")}</button>
      </Form>
      <ErrorText text={error} />
      {made ? <TestCall conn={made} /> : null}
    </Section>
  );
}

/** After connecting: one live call through the new account, with the model to try. */
function TestCall({ conn }: { conn: Connection }) {
  const [model, setModel] = useState("");
  return (
    <div class="notice">
      <p>{t("Connected {name}. Test it with a live call through this account:", { name: conn.name })}</p>
      <div class="inline">
        <input aria-label={t("Model")} value={model} placeholder={t("(the provider's first chat model)")} onInput={(e) => setModel(e.currentTarget.value.trim())} />
        <TestButton conn={conn} model={model} testid="test-call" />
      </div>
    </div>
  );
}

/** Tests one account with a tiny chat call (`POST /api/providers/{id}/test`) and says how it went. */
function TestButton({ conn, model, testid }: { conn: Connection; model?: string; testid?: string }) {
  const [result, setResult] = useState<ConnectionTest | null>(null);
  const [error, run] = useAction();
  return (
    <span class="test">
      <button class="small" data-testid={testid} onClick={() => run(async () => {
        setResult(null);
        setResult(await api("POST /api/providers/{id}/test", { params: { id: conn.id }, body: model ? { model } : {} }));
      })}>{t("Test")}</button>
      {result ? (
        <span data-testid="test-result" title={result.error?.message ?? ""}>
          <Pill kind={result.ok ? "ok" : "bad"}>{result.ok ? t("works") : result.status ?? t("unreachable")}</Pill> {result.model} · {result.latency_ms} ms
          {result.error ? <span class="sub bad-text"> {result.error.message}</span> : null}
        </span>
      ) : null}
      {error ? <span class="bad-text sub">{error}</span> : null}
    </span>
  );
}

function EditConnection({ conn, onClose, onSaved }: { conn: Connection; onClose: () => void; onSaved: () => unknown }) {
  const [error, run] = useAction();
  const l = conn.limits ?? {};
  return (
    <Modal title={`${t("Edit")} ${conn.name}`} onClose={onClose}>
      <Form testid="edit-provider" onSubmit={(v) => run(async () => {
        const limits: Record<string, unknown> = {};
        for (const k of ["requests_per_minute", "min_gap_ms", "max_concurrent"]) if (typeof v[k] === "number") limits[k] = v[k];
        if (typeof v.window_hours === "number") {
          limits.window = { hours: v.window_hours, requests: v.window_requests, tokens: v.window_tokens };
        }
        await api("PATCH /api/providers/{id}", {
          params: { id: conn.id },
          body: {
            name: v.name as string, priority: v.priority as number, is_active: v.is_active as boolean,
            base_url: (v.base_url as string) || null, limits,
            ...(v.api_key ? { api_key: v.api_key as string } : {}),
          },
        });
        await onSaved();
        onClose();
      })}>
        <Field label={t("Name")}><input name="name" defaultValue={conn.name} required /></Field>
        <Field label={t("New API key")}><input name="api_key" type="password" autocomplete="off" placeholder={t("(unchanged)")} /></Field>
        <Field label={t("Base URL")}><input name="base_url" defaultValue={conn.base_url ?? ""} placeholder={t("(provider default)")} /></Field>
        <Field label={t("Priority")}><input name="priority" type="number" min="0" max="10000" defaultValue={conn.priority} /></Field>
        <Field label={t("Active")}><input name="is_active" type="checkbox" defaultChecked={conn.is_active} /></Field>
        <ErrorText text={l.unreadable ? t("This account's stored limits could not be read, so it is not used until you save them.") : undefined} />
        <Field label={t("Requests per minute")}><input name="requests_per_minute" type="number" min="1" defaultValue={l.requests_per_minute ?? ""} /></Field>
        <Field label={t("Min gap between requests (ms)")}><input name="min_gap_ms" type="number" min="1" defaultValue={l.min_gap_ms ?? ""} /></Field>
        <Field label={t("Max concurrent")}><input name="max_concurrent" type="number" min="1" defaultValue={l.max_concurrent ?? ""} /></Field>
        <Field label={t("Window (hours)")}><input name="window_hours" type="number" min="1" defaultValue={l.window?.hours ?? ""} /></Field>
        <Field label={t("Window requests")}><input name="window_requests" type="number" min="1" defaultValue={l.window?.requests ?? ""} /></Field>
        <Field label={t("Window tokens")}><input name="window_tokens" type="number" min="1" defaultValue={l.window?.tokens ?? ""} /></Field>
        <p class="hint wide">{t("Created {at}; updated {up}.", { at: when(conn.created_at), up: when(conn.updated_at) })}</p>
        <button type="submit">{t("Save")}</button>
      </Form>
      <ErrorText text={error} />
    </Modal>
  );
}

function Nodes() {
  const nodes = useLoad(() => api("GET /api/provider-nodes"));
  const [error, run] = useAction();
  return (
    <Section title={t("Custom provider nodes")} hint={t("Your own OpenAI- (Chat Completions or Responses) or Anthropic-compatible endpoints; the id is the model prefix. Connect them above like any provider.")}>
      <Table testid="nodes" head={[t("Id"), t("Format"), t("Base URL"), t("Chat path"), t("Models"), ""]} empty={t("No provider nodes yet.")}
        rows={(nodes.data?.data ?? []).map((n) => [
          <code>{n.id}</code>, n.format, n.base_url, n.chat_path ?? "", (n.models ?? []).join(", "),
          <button class="small danger" onClick={() => run(() => api("DELETE /api/provider-nodes/{id}", { params: { id: n.id } }).then(nodes.reload))}>{t("Delete")}</button>,
        ])} />
      <Form testid="add-node" onSubmit={(v, form) => run(async () => {
        await api("POST /api/provider-nodes", { body: { id: String(v.id).trim(), format: String(v.format) as ProviderNode["format"], base_url: String(v.base_url).trim(), chat_path: String(v.chat_path ?? "").trim() || null, models: list(String(v.models ?? "")) } });
        form.reset();
        await nodes.reload();
      })}>
        <Field label={t("Id")}><input name="id" required placeholder="mylab" /></Field>
        <Field label={t("Format")}><select name="format"><option value="openai">{t("OpenAI-compatible")}</option><option value="openai_responses">{t("OpenAI Responses API")}</option><option value="anthropic">{t("Anthropic-compatible")}</option></select></Field>
        <Field label={t("Base URL")}><input name="base_url" required placeholder="https://llm.example.com/v1" /></Field>
        <Field label={t("Chat path (optional)")}><input name="chat_path" placeholder="/chat/completions" /></Field>
        <Field label={t("Models (comma-separated)")}><input name="models" placeholder="qwen3-coder" /></Field>
        <button type="submit">{t("Save node")}</button>
      </Form>
      <ErrorText text={error || nodes.error} />
    </Section>
  );
}

function CustomModels() {
  const models = useLoad(() => api("GET /api/provider-models"));
  const { catalog } = useSession();
  const [error, run] = useAction();
  return (
    <Section title={t("Custom models")} hint={t("Extra model ids for a provider, listed in /v1/models and accepted like its own.")}>
      <Table head={[t("Provider"), t("Models"), ""]} empty={t("No custom models yet.")}
        rows={(models.data?.data ?? []).map((m) => [
          m.provider, m.models.join(", "),
          <button class="small danger" onClick={() => run(() => api("DELETE /api/provider-models/{provider}", { params: { provider: m.provider } }).then(models.reload))}>{t("Delete")}</button>,
        ])} />
      <Form onSubmit={(v, form) => run(async () => {
        await api("POST /api/provider-models", { body: { provider: String(v.provider), models: list(String(v.models)) } });
        form.reset();
        await models.reload();
      })}>
        <Field label={t("Provider")}><input name="provider" required list="provider-ids" /></Field>
        <Field label={t("Models (comma-separated)")}><input name="models" required /></Field>
        <button type="submit">{t("Save models")}</button>
      </Form>
      <datalist id="provider-ids">{catalog.map((p) => <option value={p.id}>{p.name}</option>)}</datalist>
      <ErrorText text={error || models.error} />
    </Section>
  );
}
