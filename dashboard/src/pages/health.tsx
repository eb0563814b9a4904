// Health: circuit breakers per provider, cooldowns per account, quota windows with live reset
// countdowns, latency percentiles of the last 24 hours, the config cache; resets.
import { useState } from "preact/hooks";
import { api } from "../api";
import { countdown, dur, num, when } from "../format";
import { t } from "../i18n";
import { ErrorText, Pill, Section, Table, useAction, useEvery, useLoad } from "../ui";
import { QuotaLine } from "./providers";

export function Health() {
  const health = useLoad(() => api("GET /api/health"));
  const quotas = useLoad(() => api("GET /api/quotas"));
  const latency = useLoad(() => api("GET /api/usage", { query: { group_by: "provider" } }));
  const stats = useLoad(() => api("GET /api/stats"));
  const [, setNow] = useState(Date.now());
  const [error, run] = useAction();
  // Countdowns tick every second; the state itself is fetched again every 5 s.
  useEvery(1000, () => setNow(Date.now()));
  useEvery(5000, () => { health.reload(); quotas.reload(); });
  const breakers = Object.entries(health.data?.breakers ?? {});
  const reset = (query: Record<string, string>) => run(async () => {
    await api("DELETE /api/health", { query });
    await Promise.all([health.reload(), quotas.reload()]);
  });
  return (
    <>
      <Section title={t("Circuit breakers")} hint={t("A provider that keeps failing is skipped until a probe succeeds again.")}
        actions={<button data-testid="reset-all" onClick={() => reset({})}>{t("Reset all")}</button>}>
        <Table testid="breakers" head={[t("Provider"), t("State"), t("Retry in"), ""]} empty={t("No breaker has tripped.")}
          rows={breakers.map(([provider, b]) => [
            provider, <Pill kind={b.state === "closed" ? "ok" : b.state === "open" ? "bad" : "warn"}>{b.state}</Pill>,
            b.retry_in_ms ? countdown(b.retry_in_ms) : "—",
            <button class="small" data-testid={`reset-${provider}`} onClick={() => reset({ provider })}>{t("Reset")}</button>,
          ])} />
        <ErrorText text={error || health.error} />
      </Section>
      <Section title={t("Cooldowns")} hint={t("Accounts that failed recently (rate limits, errors, timeouts); the gateway skips them until the wait is over.")}>
        <Table testid="cooldowns" head={[t("Account : model"), t("Reason"), t("Level"), t("Ends in"), ""]} empty={t("No account is cooling down.")}
          rows={(health.data?.cooldowns ?? []).map((c) => [
            <code>{c.scope}</code>, c.reason, c.level ?? "—", countdown(c.until_ms - Date.now()),
            <button class="small" onClick={() => run(async () => { await api("DELETE /api/cooldowns", { query: { scope: c.scope } }); await health.reload(); })}>{t("Reset")}</button>,
          ])} />
      </Section>
      <Section title={t("Quota windows")} hint={t("What each account's upstream says is left, and when it resets; and windows configured on connections.")}>
        <Table head={[t("Account"), t("Source"), t("Window"), t("Exhausted until")]} empty={t("No quota reported yet.")}
          rows={(quotas.data?.data ?? []).map((q) => [
            <code>{q.connection}</code>, q.source, <QuotaLine q={q} />, q.exhausted_until ? when(q.exhausted_until) : "—",
          ])} />
        <ErrorText text={quotas.error} />
      </Section>
      <Section title={t("Latency, last 24 hours")} hint={t("Estimated from hourly histograms, from arrival to the answer's last byte.")}>
        <Table testid="latency" head={[t("Provider"), t("Requests"), t("Errors"), "p50", "p95", "p99"]} empty={t("No requests in this range.")}
          rows={(latency.data?.data ?? []).map((r) => [r.group ? String(r.group) : t("(none)"), num(r.requests), num(r.errors), dur(r.latency_ms?.p50), dur(r.latency_ms?.p95), dur(r.latency_ms?.p99)])} />
      </Section>
      <Section title={t("Configuration cache")} hint={t("The request path reads configuration from memory and KV; D1 loads should stay flat under traffic.")}>
        <dl class="facts">
          {Object.entries({ ...(stats.data?.config_cache ?? {}), ...Object.fromEntries(Object.entries(stats.data?.response_cache ?? {}).map(([k, v]) => [`response cache ${k}`, v])) })
            .map(([k, v]) => <><dt>{k}</dt><dd>{v == null ? "—" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : String(v)}</dd></>)}
        </dl>
      </Section>
    </>
  );
}
