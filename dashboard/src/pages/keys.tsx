// Gateway API keys: create (the secret is shown once), scopes, limits and budgets, expiry, enable,
// rotate, revoke; what each limited key has spent against its budgets.
import { useState } from "preact/hooks";
import { api, type ApiKey, type KeyAccess, type Limits, type NewKey, type RotatedKey } from "../api";
import { list, money, num, when } from "../format";
import { rememberGatewayKey } from "../gateway";
import { en, t } from "../i18n";
import { ErrorText, Field, Form, Modal, Pill, Section, ShownOnce, Table, useAction, useLoad } from "../ui";

const LIMIT_FIELDS: [keyof Limits, string][] = [
  ["usd_per_day", en("USD per day")], ["usd_per_week", en("USD per week")], ["usd_per_month", en("USD per month")],
  ["requests_per_minute", en("Requests per minute")], ["requests_per_day", en("Requests per day")],
  ["tokens_per_minute", en("Tokens per minute")],
];

export function Keys() {
  const keys = useLoad(() => api("GET /api/keys"));
  const [shown, setShown] = useState<NewKey | RotatedKey | null>(null);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [error, run] = useAction();
  const fresh = (k: NewKey | RotatedKey) => { setShown(k); rememberGatewayKey(k.key); };
  return (
    <>
      <Section title={t("API keys")} hint={t("Clients send a key as Authorization: Bearer … or x-api-key. A key is shown once, when it is created or rotated; only its hash is stored.")}>
        {shown ? <ShownOnce label={t("Copy this key now: it will not be shown again ({name}).", { name: shown.name })} value={shown.key} /> : null}
        <Table testid="keys" head={[t("Name"), t("Key"), t("Created"), t("Status"), t("Scopes"), t("Limits"), ""]} empty={t("No keys yet.")}
          rows={(keys.data?.data ?? []).map((k) => [
            k.name, <code>{k.key_prefix}…</code>, when(k.created_at), <KeyStatus k={k} />,
            scopesText(k.access), limitsText(k.limits),
            k.revoked_at ? "" : (
              <div class="row-actions">
                <button class="small" onClick={() => setEditing(k)}>{t("Edit")}</button>
                <button class="small" onClick={() => confirm(t("Rotate {name}? The current secret stops working.", { name: k.name })) &&
                  run(async () => { fresh(await api("POST /api/keys/{id}/rotate", { params: { id: k.id } })); await keys.reload(); })}>{t("Rotate")}</button>
                <button class="small danger" onClick={() => confirm(t("Revoke {name}?", { name: k.name })) &&
                  run(() => api("DELETE /api/keys/{id}", { params: { id: k.id } }).then(keys.reload))}>{t("Revoke")}</button>
              </div>
            ),
          ])} />
        <ErrorText text={error || keys.error} />
      </Section>
      <Section title={t("Create a key")}>
        <KeyForm testid="create-key" submitLabel={t("Create key")} onSave={async (body) => {
          fresh(await api("POST /api/keys", { body: { name: body.name ?? "", limits: body.limits, access: body.access } }));
          await keys.reload();
        }} />
      </Section>
      {editing ? (
        <Modal title={`${t("Edit")} ${editing.name}`} onClose={() => setEditing(null)}>
          <KeyUsage id={editing.id} />
          <KeyForm initial={editing} submitLabel={t("Save")} onSave={async (body) => {
            await api("PATCH /api/keys/{id}", { params: { id: editing.id }, body });
            setEditing(null);
            await keys.reload();
          }} />
        </Modal>
      ) : null}
    </>
  );
}

function KeyStatus({ k }: { k: ApiKey }) {
  if (k.revoked_at) return <Pill kind="muted">{t("revoked")} {when(k.revoked_at)}</Pill>;
  if (k.access?.enabled === false) return <Pill kind="warn">{t("disabled")}</Pill>;
  if (k.access?.expires_at && k.access.expires_at < Date.now()) return <Pill kind="bad">{t("expired")}</Pill>;
  return <Pill kind="ok">{t("active")}{k.access?.expires_at ? ` · ${t("until")} ${when(k.access.expires_at)}` : ""}</Pill>;
}

const scopesText = (a: KeyAccess) => {
  const s = a?.schedule;
  const parts = [
    ...(a?.scopes?.models ?? []), ...(a?.scopes?.providers ?? []).map((p) => `${p}:*`),
    ...(a?.scopes?.connections ?? []).map((c) => `${t("connection")} ${c}`),
    ...(s ? [`${s.from}–${s.until} ${s.time_zone}`] : []),
  ];
  return parts.length ? parts.join(", ") : t("everything");
};
const limitsText = (l: Limits) => {
  const parts = LIMIT_FIELDS.filter(([k]) => l?.[k] != null).map(([k, label]) => `${t(label)} ${k.startsWith("usd") ? money(l[k]) : num(l[k])}`);
  return parts.length ? parts.join(" · ") : t("none");
};

/** The form of a key's name, scopes, expiry and limits (create and edit). */
function KeyForm({ initial, submitLabel, onSave, testid }: {
  initial?: ApiKey; submitLabel: string; testid?: string;
  onSave: (body: { name?: string; limits: Limits; access: KeyAccess }) => Promise<void>;
}) {
  const [error, run] = useAction();
  const a = initial?.access;
  const expires = a?.expires_at ? new Date(a.expires_at - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16) : "";
  return (
    <>
      <Form testid={testid} onSubmit={(v, form) => run(async () => {
        const limits: Limits = {};
        for (const [k] of LIMIT_FIELDS) if (typeof v[k] === "number") limits[k] = v[k] as number;
        // What the form does not show (connection scopes, a schedule, no_log) is kept as it was.
        const access: KeyAccess = {
          ...a,
          enabled: v.enabled as boolean,
          expires_at: v.expires_at ? new Date(String(v.expires_at)).getTime() : null,
          scopes: { ...a?.scopes, models: list(String(v.models ?? "")), providers: list(String(v.providers ?? "")) },
        };
        await onSave({ name: String(v.name).trim(), limits, access });
        if (!initial) form.reset();
      })}>
        <Field label={t("Name")}><input name="name" required defaultValue={initial?.name ?? ""} placeholder={t("name, e.g. laptop")} /></Field>
        <Field label={t("Allowed models (patterns, comma-separated)")}><input name="models" defaultValue={(a?.scopes?.models ?? []).join(", ")} placeholder={t("(all)")} /></Field>
        <Field label={t("Allowed providers (comma-separated)")}><input name="providers" defaultValue={(a?.scopes?.providers ?? []).join(", ")} placeholder={t("(all)")} /></Field>
        <Field label={t("Expires")}><input name="expires_at" type="datetime-local" defaultValue={expires} /></Field>
        <Field label={t("Enabled")}><input name="enabled" type="checkbox" defaultChecked={a?.enabled ?? true} /></Field>
        {LIMIT_FIELDS.map(([k, label]) => (
          <Field label={t(label)}><input name={k} type="number" min="0" step="any" defaultValue={initial?.limits?.[k] ?? ""} placeholder={t("(no limit)")} /></Field>
        ))}
        <button type="submit">{submitLabel}</button>
      </Form>
      <ErrorText text={error} />
    </>
  );
}

/** What a key has spent against its budgets, from its ledger. */
function KeyUsage({ id }: { id: string }) {
  const u = useLoad(() => api("GET /api/keys/{id}/usage", { params: { id } }), [id]);
  const usage = (u.data?.usage ?? {}) as Record<string, number>;
  const limits = u.data?.limits ?? {};
  const budget = (spent: number, cap?: number | null) => (cap ? `${money(spent)} / ${money(cap)} (${t("{left} left", { left: money(Math.max(0, cap - spent)) })})` : money(spent));
  return u.data ? (
    <dl class="facts" data-testid="key-usage">
      <dt>{t("Today")}</dt><dd>{budget(usage.usd_today ?? 0, limits.usd_per_day)}</dd>
      <dt>{t("This week")}</dt><dd>{budget(usage.usd_this_week ?? 0, limits.usd_per_week)}</dd>
      <dt>{t("This month")}</dt><dd>{budget(usage.usd_this_month ?? 0, limits.usd_per_month)}</dd>
      <dt>{t("Last minute")}</dt><dd>{num(usage.requests_last_minute)} {t("requests")} · {num(usage.tokens_last_minute)} {t("tokens")}</dd>
      <dt>{t("Requests today")}</dt><dd>{num(usage.requests_today)}{limits.requests_per_day ? ` / ${num(limits.requests_per_day)}` : ""}</dd>
    </dl>
  ) : <ErrorText text={u.error} />;
}
