// Cloud sync (the owner's alone: it spans tenants): enrolled local instances, their last sync, what
// could not be served; issue and revoke enrollments.
import { useState } from "preact/hooks";
import { api, type SyncCounts } from "../api";
import { when } from "../format";
import { t } from "../i18n";
import { ErrorText, Form, Pill, Section, ShownOnce, Table, useAction, useLoad } from "../ui";

// The document leaves a machine's sync report open (it is what the machine's last push said).
type Unservable = { kind: string; id: string; reason: string };
const unservable = (u: unknown): Unservable[] => (Array.isArray(u) ? (u as Unservable[]) : []);
const counts = (c?: SyncCounts) =>
  c ? t("{c} connections, {n} nodes, {m} combos, {a} aliases, {k} keys", { c: c.connections, n: c.provider_nodes, m: c.combos, a: c.aliases, k: c.api_keys }) : "—";

export function Sync() {
  const machines = useLoad(() => api("GET /api/sync/machines"));
  const enrollments = useLoad(() => api("GET /api/sync/enrollments"));
  const [issued, setIssued] = useState<{ cloud_url: string; signing_secret: string } | null>(null);
  const [error, run] = useAction();
  const reload = () => Promise.all([machines.reload(), enrollments.reload()]);
  const revoke = (id: string, what: string) => (
    <button class="small danger" onClick={() => confirm(t("Revoke {name}? Its synced data is deleted.", { name: what })) &&
      run(() => api("DELETE /api/sync/enrollments/{id}", { params: { id } }).then(reload))}>{t("Revoke")}</button>
  );
  return (
    <>
      <Section title={t("Cloud sync")} hint={t("A local OmniRoute instance pushes its providers, combos, aliases and keys here, and its tools keep working through the edge. Each machine is its own tenant.")}>
        <Form class="inline" testid="enroll" onSubmit={(v, form) => run(async () => {
          setIssued(await api("POST /api/sync/enrollments", { body: { name: String(v.name), return_secrets: v.return_secrets as boolean } }));
          form.reset();
          await reload();
        })}>
          <input name="name" required placeholder={t("name, e.g. alice laptop")} aria-label={t("Name")} />
          <label class="toggle" title={t("The edge then also refreshes the machine's subscription accounts; OmniRoute 3.8.6+ needs OMNIROUTE_CLOUD_SYNC_SECRETS=true.")}><input name="return_secrets" type="checkbox" /> {t("answer credentials back in plaintext")}</label>
          <button type="submit">{t("Enroll a machine")}</button>
        </Form>
        {issued ? (
          <>
            <ShownOnce label={t("Set CLOUD_URL on the machine now (shown once):")} value={issued.cloud_url} />
            <ShownOnce label={t("Set OMNIROUTE_CLOUD_SYNC_SECRET on the machine now (shown once):")} value={issued.signing_secret} />
          </>
        ) : null}
        <ErrorText text={error || machines.error || enrollments.error} />
      </Section>
      <Section title={t("Machines")}>
        <Table head={[t("Machine"), t("Enrollment"), t("Last sync"), t("Synced"), t("Served"), t("Not served"), t("Subscription accounts"), ""]} empty={t("No machine has synced yet.")}
          rows={(machines.data?.data ?? []).map((m) => [
            <code>{m.machine_id}</code>, m.enrollment_name ?? m.enrollment_id, when(m.last_sync_at), counts(m.synced as SyncCounts | undefined), counts(m.served as SyncCounts | undefined),
            unservable(m.unservable).length ? unservable(m.unservable).map((u) => <div>{u.kind} {u.id}: {u.reason}</div>) : <span class="muted">{t("none")}</span>,
            m.accounts?.length ? m.accounts.map((a) => (
              <div>{a.provider} {a.id}: {a.refreshed_by === "edge" ? t("refreshed here") : t("refreshed by the machine")}
                {a.expires_at ? <span class="muted"> · {t("token until {when}", { when: when(a.expires_at) })}</span> : null}</div>
            )) : <span class="muted">{t("none")}</span>,
            revoke(m.enrollment_id, m.machine_id),
          ])} />
      </Section>
      <Section title={t("Enrollments")}>
        <Table testid="enrollments" head={[t("Name"), t("Machine"), t("Issued"), t("Credentials back"), t("Status"), ""]} empty={t("No enrollments yet.")}
          rows={(enrollments.data?.data ?? []).map((e) => [
            e.name, e.machine_id ? <code>{e.machine_id}</code> : <span class="muted">{t("not bound yet")}</span>, when(e.created_at),
            e.return_secrets ? t("yes") : t("no"),
            e.revoked_at ? <Pill kind="muted">{t("revoked")} {when(e.revoked_at)}</Pill> : <Pill kind="ok">{t("active")}</Pill>,
            e.revoked_at ? "" : revoke(e.id, e.name),
          ])} />
      </Section>
    </>
  );
}
