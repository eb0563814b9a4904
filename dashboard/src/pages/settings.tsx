// Settings: security (password, IP lists), routing defaults, resilience, request policies, caching
// and the request log, each a group of the tenant's settings; and backup (export / import / restore).
import { useState } from "preact/hooks";
import { api, type BackupArchive, type ImportResult, type Settings } from "../api";
import { list, num, when } from "../format";
import { en, t } from "../i18n";
import { useSession } from "../session";
import { ErrorText, Field, Form, Section, Table, useAction, useLoad } from "../ui";

// Which settings each group edits; labels are English keys. A choice list makes a select.
const GROUPS: { title: string; hint?: string; owner?: boolean; fields: [string, string, string[]?][] }[] = [
  { title: en("Security"), hint: en("Client addresses allowed or refused on /v1 (CIDR ranges or single addresses; an empty allow list allows all)."),
    fields: [["v1_ip_allow", en("Allowed addresses (comma-separated)")], ["v1_ip_block", en("Blocked addresses (comma-separated)")]] },
  { title: en("Instance security"), owner: true,
    hint: en("For the whole instance: who may reach this management API (the sign-in included; a list that would shut you out is refused), and which web origins may call /v1 from a browser (* for any)."),
    fields: [["admin_ip_allow", en("Management: allowed addresses (comma-separated)")], ["admin_ip_block", en("Management: blocked addresses (comma-separated)")],
      ["cors_origins", en("Browser origins allowed on /v1 (comma-separated)")]] },
  { title: en("Routing defaults"), fields: [
    ["account_strategy", en("How accounts of a provider are ordered"), ["priority", "round_robin", "random", "least_used", "p2c", "weighted", "cost_optimized"]],
    ["sticky_limit", en("Round robin: requests per account before the next")],
    ["connection_wait_ms", en("Wait for a busy account (ms)")],
    ["stream_continuation", en("Continue streams cut after the first byte")]] },
  { title: en("Resilience"), fields: [
    ["breaker_failure_threshold", en("Failures that open a provider's breaker")],
    ["breaker_reset_ms", en("Breaker wait before a probe (ms)")],
    ["upstream_timeout_ms", en("Upstream first-byte timeout (ms)")]] },
  { title: en("Request policies"), fields: [
    ["system_prompt", en("System prompt before every conversation")],
    ["thinking_mode", en("Reasoning"), ["passthrough", "off", "fixed", "adaptive"]],
    ["thinking_budget_tokens", en("Reasoning budget (tokens, fixed mode)")],
    ["thinking_effort", en("Reasoning effort (adaptive mode)")],
    ["max_request_bytes", en("Max request size (bytes)")]] },
  { title: en("Caching and replays"), fields: [
    ["response_cache", en("Response cache")], ["response_cache_ttl_secs", en("Cached answers live (seconds)")],
    ["idempotency_window_ms", en("Idempotency-Key window (ms; 0 off)")]] },
  { title: en("Request log"), hint: en("Bodies are the users' conversations: they are logged only when enabled, with credentials redacted, cut to the size limit."), fields: [
    ["log_retention_days", en("Request log retention (days)")], ["log_bodies", en("Log request and response bodies")],
    ["log_body_max_bytes", en("Logged body size limit (bytes)")]] },
];

export function SettingsPage() {
  const settings = useLoad(() => api("GET /api/settings"));
  const owner = useSession().me.principal.role === "owner";
  return (
    <>
      <Password />
      {owner ? <Operators /> : null}
      {settings.data ? GROUPS.filter((g) => owner || !g.owner).map((g) => <SettingsGroup key={g.title} group={g} current={settings.data!} onSaved={settings.reload} />) : <ErrorText text={settings.error} />}
      <Backup />
    </>
  );
}

function SettingsGroup({ group, current, onSaved }: { group: (typeof GROUPS)[number]; current: Settings; onSaved: () => Promise<void> }) {
  const [error, run] = useAction();
  const [saved, setSaved] = useState(false);
  // Settings whose stored value could not be read: what they guard is refused until they are saved.
  const unreadable = group.fields.map(([name]) => name).filter((name) => ((current.unreadable ?? []) as string[]).includes(name));
  const input = (name: string, choices?: string[]) => {
    const v = current[name];
    if (choices) return <select name={name} value={String(v)}>{choices.map((c) => <option value={c}>{c}</option>)}</select>;
    if (typeof v === "boolean") return <input name={name} type="checkbox" defaultChecked={v} />;
    if (typeof v === "number") return <input name={name} type="number" min="0" defaultValue={v} required />;
    if (Array.isArray(v)) return <input name={name} defaultValue={v.join(", ")} />;
    return <input name={name} defaultValue={String(v ?? "")} />;
  };
  return (
    <Section title={t(group.title)} hint={group.hint ? t(group.hint) : undefined}>
      <ErrorText text={unreadable.length ? t("The stored {names} could not be read, so what it guards is refused until you save it.", { names: unreadable.join(", ") }) : undefined} />
      <Form testid={`settings-${group.title}`} onSubmit={(v) => run(async () => {
        setSaved(false);
        const patch: Settings = {};
        for (const [name] of group.fields) {
          const was = current[name];
          const now = Array.isArray(was) ? list(String(v[name] ?? "")) : typeof was === "boolean" ? !!v[name] : v[name] ?? "";
          if (unreadable.includes(name) || JSON.stringify(now) !== JSON.stringify(was)) patch[name] = now as Settings[string];
        }
        if (Object.keys(patch).length) await api("PATCH /api/settings", { body: patch });
        await onSaved();
        setSaved(true);
      })}>
        {group.fields.map(([name, label, choices]) => <Field label={t(label)}>{input(name, choices)}</Field>)}
        <button type="submit">{t("Save")}</button>
      </Form>
      {saved ? <p role="status" class="ok-text">{t("Saved.")}</p> : null}
      <ErrorText text={error} />
    </Section>
  );
}

function Password() {
  const { me, refreshMe } = useSession();
  const [error, run] = useAction();
  const [done, setDone] = useState("");
  return (
    <Section title={t("Your password")} hint={me.password_set
      ? t("At least 12 characters. Changing it signs out your other sessions.")
      : t("You still sign in with ADMIN_SECRET: set a password of your own (at least 12 characters); the admin secret then stays valid only for scripts (Bearer).")}>
      <Form class="inline" testid="password" onSubmit={(v, form) => run(async () => {
        const r = await api("POST /api/auth/password", { body: { current: String(v.current), new: String(v.new) } });
        form.reset();
        setDone(t("Password changed; {n} other session(s) signed out.", { n: r.other_sessions_signed_out }));
        await refreshMe();
      })}>
        <input name="current" type="password" autocomplete="current-password" placeholder={t("current password")} aria-label={t("current password")} required />
        <input name="new" type="password" autocomplete="new-password" minLength={12} placeholder={t("new password")} aria-label={t("new password")} required />
        <button type="submit">{t("Change password")}</button>
      </Form>
      {done ? <p role="status" class="ok-text">{done}</p> : null}
      <ErrorText text={error} />
    </Section>
  );
}

/** Logins that manage one tenant only (a synced machine's owner, say). */
function Operators() {
  const operators = useLoad(() => api("GET /api/auth/operators"));
  const [error, run] = useAction();
  return (
    <Section title={t("Tenant operators")} hint={t("Logins that manage one tenant only; they sign in with their name and password.")}>
      <Table testid="operators" head={[t("Name"), t("Tenant"), t("Created"), ""]} empty={t("No operators yet.")}
        rows={(operators.data?.data ?? []).map((o) => [
          o.name, <code>{o.tenant_id ?? "—"}</code>, when(o.created_at),
          <button class="small danger" onClick={() => confirm(t("Delete {name}?", { name: o.name })) &&
            run(() => api("DELETE /api/auth/operators/{id}", { params: { id: o.id } }).then(operators.reload))}>{t("Delete")}</button>,
        ])} />
      <Form class="inline" testid="add-operator" onSubmit={(v, form) => run(async () => {
        await api("POST /api/auth/operators", { body: { tenant: String(v.tenant).trim(), name: String(v.name).trim(), password: String(v.password) } });
        form.reset();
        await operators.reload();
      })}>
        <input name="name" required placeholder={t("login name")} aria-label={t("login name")} />
        <input name="tenant" required placeholder={t("tenant id")} aria-label={t("tenant id")} />
        <input name="password" type="password" autocomplete="new-password" minLength={12} required placeholder={t("password (12+ characters)")} aria-label={t("password (12+ characters)")} />
        <button type="submit">{t("Add operator")}</button>
      </Form>
      <ErrorText text={error || operators.error} />
    </Section>
  );
}

/** What an import or a restore brought in, and what it could not. */
function Imported({ r }: { r: ImportResult }) {
  return (
    <div class="notice" data-testid="import-result">
      <p>{t("Imported: {what}.", { what: Object.entries(r.imported).map(([k, n]) => `${k} ${n}`).join(", ") })} {t("The configuration before is kept as a backup.")}</p>
      {r.connections_without_credentials.length ? <p>{t("Connections without credentials (set their API key under Providers): {ids}", { ids: r.connections_without_credentials.join(", ") })}</p> : null}
      {r.keys_without_secret.length ? <p>{t("Keys without a secret (rotate them under API keys): {ids}", { ids: r.keys_without_secret.join(", ") })}</p> : null}
    </div>
  );
}

function download(name: string, archive: BackupArchive) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([JSON.stringify(archive, null, 2)], { type: "application/json" }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function Backup() {
  const backups = useLoad(() => api("GET /api/backup/backups"));
  const [error, run] = useAction();
  const [result, setResult] = useState<ImportResult | null>(null);
  const stamp = () => new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  return (
    <Section title={t("Backup")} hint={t("Export the configuration as a JSON archive: without secrets, or with them encrypted under a passphrase. Importing an archive replaces the configuration with its own; the one before is kept as an automatic backup.")}>
      <Form class="inline" testid="export" onSubmit={(v) => run(async () => {
        const pass = String(v.passphrase ?? "");
        const archive = pass ? await api("POST /api/backup/export", { body: { passphrase: pass } }) : await api("GET /api/backup/export");
        download(`omniroute-edge-${stamp()}.json`, archive);
      })}>
        <input name="passphrase" type="password" autocomplete="new-password" placeholder={t("passphrase (to include secrets)")} aria-label={t("passphrase (to include secrets)")} />
        <button type="submit">{t("Export")}</button>
      </Form>
      <Form class="inline" testid="import" onSubmit={(v, form) => run(async () => {
        const file = (form.elements.namedItem("file") as HTMLInputElement).files?.[0];
        if (!file) throw new Error(t("Choose an archive file."));
        const archive = JSON.parse(await file.text()) as BackupArchive;
        const pass = String(v.passphrase ?? "");
        setResult(await api("POST /api/backup/import", { body: { archive, ...(pass ? { passphrase: pass } : {}) } }));
        form.reset();
        await backups.reload();
      })}>
        <input name="file" type="file" accept="application/json,.json" aria-label={t("Archive file")} />
        <input name="passphrase" type="password" autocomplete="off" placeholder={t("passphrase (if it has secrets)")} aria-label={t("passphrase (if it has secrets)")} />
        <button type="submit">{t("Import")}</button>
      </Form>
      {result ? <Imported r={result} /> : null}
      <ErrorText text={error} />
      <h3>{t("Automatic backups")}</h3>
      <Table testid="backups" head={[t("Taken"), t("Before"), t("Size"), t("Secrets"), ""]} empty={backups.error ? backups.error : t("No backups yet.")}
        rows={(backups.data?.data ?? []).map((b) => [
          when(b.created_at), b.reason === "import" ? t("an import") : t("a restore"), `${num(Math.ceil(b.bytes / 1024))} KB`, b.has_secrets ? t("yes") : t("no"),
          <button class="small" onClick={() => confirm(t("Restore this backup? The current configuration is replaced.")) &&
            run(async () => { setResult(await api("POST /api/backup/backups/{id}/restore", { params: { id: b.id } })); await backups.reload(); })}>{t("Restore")}</button>,
        ])} />
    </Section>
  );
}
