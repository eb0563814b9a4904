// The front page: the gateway at a glance, and for a new gateway the first steps in order (signed
// in, connect and test a provider, create a key, set up a client).
import { useState } from "preact/hooks";
import { api, type NewKey } from "../api";
import { money, num } from "../format";
import { baseUrl, rememberGatewayKey, useGatewayKey } from "../gateway";
import { t } from "../i18n";
import { ErrorText, Form, Section, ShownOnce, Snippet, useAction, useLoad } from "../ui";
import { Connect } from "./providers";
import { TOOLS } from "./tools";

export function Overview() {
  const status = useLoad(() => fetch("/health").then((r) => r.json() as Promise<{ status: string; version: string }>));
  const conns = useLoad(() => api("GET /api/providers"));
  const keys = useLoad(() => api("GET /api/keys"));
  const health = useLoad(() => api("GET /api/health"));
  const usage = useLoad(() => api("GET /api/usage", { query: { group_by: "provider" } }));
  const active = (keys.data?.data ?? []).filter((k) => !k.revoked_at);
  const open = Object.values(health.data?.breakers ?? {}).filter((b) => b.state !== "closed").length;
  const hasProvider = (conns.data?.data.length ?? 0) > 0;
  const hasKey = active.length > 0;
  return (
    <>
      <Section title={t("Overview")}>
        <div class="cards">
          <a class="card" href="#/health"><span class="muted">{t("Status")}</span><strong data-testid="status">{status.data?.status === "ok" ? `ok · v${status.data.version}` : status.error ? t("unreachable") : "…"}</strong></a>
          <a class="card" href="#/providers"><span class="muted">{t("Connections")}</span><strong>{num(conns.data?.data.length)}</strong></a>
          <a class="card" href="#/keys"><span class="muted">{t("Active keys")}</span><strong>{num(active.length)}</strong></a>
          <a class="card" href="#/usage"><span class="muted">{t("Requests, 24 h")}</span><strong>{num(usage.data?.totals.requests)}</strong></a>
          <a class="card" href="#/usage"><span class="muted">{t("Cost, 24 h")}</span><strong>{money(usage.data?.totals.cost_usd)}</strong></a>
          <a class="card" href="#/health"><span class="muted">{t("Open breakers")}</span><strong class={open ? "bad-text" : ""}>{num(open)}</strong></a>
        </div>
      </Section>
      {conns.data && keys.data && (!hasProvider || !hasKey) ? (
        <Onboarding hasProvider={hasProvider} hasKey={hasKey} reload={() => Promise.all([conns.reload(), keys.reload()])} />
      ) : <ClientSetup />}
    </>
  );
}

function Onboarding({ hasProvider, hasKey, reload }: { hasProvider: boolean; hasKey: boolean; reload: () => Promise<unknown> }) {
  const [error, run] = useAction();
  const [made, setMade] = useState<NewKey | null>(null);
  return (
    <Section title={t("Get started")} hint={t("Four steps to a working gateway.")}>
      <ol class="onboarding" data-testid="onboarding">
        <li class="done">{t("Sign in")} ✓</li>
        <li class={hasProvider ? "done" : ""}>{t("Connect a first provider, and test it")}{hasProvider ? " ✓" : null}</li>
        <li class={hasKey ? "done" : ""}>{t("Create a first key")}{hasKey ? " ✓" : null}
          {!hasKey ? (
            <Form class="inline" onSubmit={(v) => run(async () => {
              const k = await api("POST /api/keys", { body: { name: String(v.name) } });
              setMade(k);
              rememberGatewayKey(k.key);
            })}>
              <input name="name" required placeholder={t("name, e.g. laptop")} aria-label={t("Name")} />
              <button type="submit">{t("Create key")}</button>
            </Form>
          ) : null}
          {made ? <ShownOnce label={t("Copy this key now: it will not be shown again ({name}).", { name: made.name })} value={made.key} /> : null}
          <ErrorText text={error} />
        </li>
        <li>{t("Point a client at the gateway")} — <a href="#/tools">{t("CLI tools")}</a></li>
      </ol>
      {/* Stays after connecting: its live test needs the key of the next step. */}
      <Connect onDone={reload} />
      {made ? <button onClick={reload}>{t("Continue")}</button> : null}
    </Section>
  );
}

function ClientSetup() {
  const [key] = useGatewayKey();
  const curl = TOOLS.find((x) => x.name === "curl")!;
  return (
    <Section title={t("Client setup")} hint={<>{t("Base URL")}: <code>{baseUrl()}</code> · {t("model names are provider/model, e.g. openai/gpt-4o-mini.")} <a href="#/tools">{t("More tools")}</a></>}>
      <Snippet text={curl.snippet(baseUrl().replace(/\/v1$/, ""), key || "$GATEWAY_KEY", "openai/gpt-4o-mini")} />
    </Section>
  );
}
