// Usage and costs: requests, errors and cost over time; the share of each provider, model and key;
// the budgets of limited keys and what is left of them; the price list and custom prices.
import { useMemo, useState } from "preact/hooks";
import { api, type Price, type UsageRow } from "../api";
import { ShareBars, TimeChart } from "../chart";
import { dur, money, num } from "../format";
import { en, t } from "../i18n";
import { ErrorText, Field, Form, Section, Table, useAction, useLoad } from "../ui";

const HOUR = 3_600_000, DAY = 24 * HOUR;
const RANGES: Record<string, { span: number; bucket: "hour" | "day" }> = {
  "24h": { span: DAY, bucket: "hour" }, "7d": { span: 7 * DAY, bucket: "day" }, "30d": { span: 30 * DAY, bucket: "day" },
};

export function Usage() {
  const [range, setRange] = useState("24h");
  const { span, bucket } = RANGES[range];
  const data = useLoad(async () => {
    const to = Date.now(), from = to - span;
    const get = (group_by: string) => api("GET /api/usage", { query: { from, to, group_by } });
    const [time, provider, model, key] = await Promise.all([get(bucket), get("provider"), get("model"), get("key")]);
    return { from, to, time, provider, model, key };
  }, [range]);
  const d = data.data;
  const chart = useMemo(() => (d ? timeSeries(d.time.data, d.from, d.to, bucket === "hour" ? HOUR : DAY) : null), [d]);
  const totals = d?.time.totals;
  return (
    <>
      <Section title={t("Usage and costs")} actions={
        <div class="segmented" role="group" aria-label={t("Time range")}>
          {Object.keys(RANGES).map((r) => <button class={r === range ? "active" : ""} onClick={() => setRange(r)}>{r}</button>)}
        </div>}>
        <ErrorText text={data.error} />
        {totals ? (
          <div class="cards" data-testid="usage-totals">
            <Card label={t("Requests")} value={num(totals.requests)} />
            <Card label={t("Errors")} value={num(totals.errors)} />
            <Card label={t("Tokens in / out")} value={`${num(totals.tokens_in)} / ${num(totals.tokens_out)}`} />
            <Card label={t("Cost")} value={money(totals.cost_usd)} />
          </div>
        ) : null}
        {chart ? (
          <TimeChart testid="usage-chart" x={chart.x} series={[
            { label: t("Requests"), values: chart.requests, color: "#3b82f6", format: num, bars: true },
            { label: t("Errors"), values: chart.errors, color: "#ef4444", format: num },
            { label: t("Cost"), values: chart.cost, color: "#f59e0b", format: money, axis: "right" },
          ]} />
        ) : null}
      </Section>
      {d ? (
        <>
          <Breakdown title={t("By provider")} by="provider" range={d} bucket={bucket} rows={d.provider.data} label={(r) => String(r.group || t("(none)"))} latency />
          {/* Requests refused before routing have no provider or model: their model group is "/". */}
          <Breakdown title={t("By model")} by="model" range={d} bucket={bucket} rows={d.model.data} label={(r) => (r.group && r.group !== "/" ? String(r.group) : t("(none)"))} latency />
          <Breakdown title={t("By API key")} by="key" range={d} bucket={bucket} rows={d.key.data} label={(r) => r.key_name || String(r.group || t("(none)"))} />
        </>
      ) : null}
      <Budgets />
      <Pricing />
    </>
  );
}

const Card = ({ label, value }: { label: string; value: string }) => <div class="card"><span class="muted">{label}</span><strong>{value}</strong></div>;

/** Every bucket of the range, the empty ones included, so the time axis has no holes. */
function timeSeries(rows: UsageRow[], from: number, to: number, step: number) {
  const byStart = new Map(rows.map((r) => [Number(r.group), r]));
  const x: number[] = [];
  for (let s = Math.floor(from / step) * step; s <= to; s += step) x.push(s);
  for (const s of byStart.keys()) if (!x.includes(s)) x.push(s);
  x.sort((a, b) => a - b);
  const pick = (f: (r: UsageRow) => number) => x.map((s) => (byStart.has(s) ? f(byStart.get(s)!) : 0));
  return { x, requests: pick((r) => r.requests), errors: pick((r) => r.errors), cost: pick((r) => r.cost_usd) };
}

type Range = { from: number; to: number };
const COLORS = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6"];

function Breakdown({ title, by, range, bucket, rows, label, latency }: {
  title: string; by: "provider" | "model" | "key"; range: Range; bucket: "hour" | "day"; rows: UsageRow[]; label: (r: UsageRow) => string; latency?: boolean;
}) {
  const sorted = [...rows].sort((a, b) => b.requests - a.requests || b.cost_usd - a.cost_usd);
  // The busiest groups over time, one line each (rows without a group cannot be asked for alone).
  const top = sorted.filter((r) => r.group && r.group !== "/").slice(0, COLORS.length);
  const overTime = useLoad(() => Promise.all(top.map((r) =>
    api("GET /api/usage", { query: { from: range.from, to: range.to, group_by: bucket, [by]: String(r.group) } }))), [range, by]);
  const lines = useMemo(() => {
    if (!overTime.data) return null;
    const step = bucket === "hour" ? HOUR : DAY;
    const each = overTime.data.map((u) => timeSeries(u.data, range.from, range.to, step));
    return each.length ? { x: each[0].x, series: each.map((ts, i) => ({ label: label(top[i]), values: ts.requests, color: COLORS[i], format: num })) } : null;
  }, [overTime.data]);
  return (
    <Section title={title}>
      {lines ? <><h3>{t("Requests over time")}</h3><TimeChart testid={`usage-by-${by}`} x={lines.x} series={lines.series} height={180} /></> : null}
      <div class="split">
        <div><h3>{t("Requests")}</h3><ShareBars rows={sorted.map((r) => ({ label: label(r), value: r.requests }))} format={num} /></div>
        <div><h3>{t("Cost")}</h3><ShareBars rows={sorted.map((r) => ({ label: label(r), value: r.cost_usd }))} format={money} /></div>
      </div>
      <Table head={[title, t("Requests"), t("Errors"), t("Tokens in"), t("Cached"), t("Tokens out"), t("Reasoning"), t("Cost"), ...(latency ? ["p50", "p95", "p99"] : [])]}
        empty={t("No requests in this range.")}
        rows={sorted.map((r) => [
          <code>{label(r)}</code>, num(r.requests), num(r.errors), num(r.tokens_in), num(r.tokens_cached), num(r.tokens_out), num(r.tokens_reasoning), money(r.cost_usd),
          ...(latency ? [dur(r.latency_ms?.p50), dur(r.latency_ms?.p95), dur(r.latency_ms?.p99)] : []),
        ])} />
    </Section>
  );
}

/** Each limited key's spend against its budgets. */
function Budgets() {
  const budgets = useLoad(async () => {
    const keys = (await api("GET /api/keys")).data.filter((k) => !k.revoked_at && (k.limits?.usd_per_day || k.limits?.usd_per_week || k.limits?.usd_per_month));
    return Promise.all(keys.map(async (k) => ({ key: k, usage: (await api("GET /api/keys/{id}/usage", { params: { id: k.id } })).usage as Record<string, number> })));
  });
  const rows = (budgets.data ?? []).flatMap(({ key, usage }) =>
    ([["usd_per_day", "usd_today", en("day")], ["usd_per_week", "usd_this_week", en("week")], ["usd_per_month", "usd_this_month", en("month")]] as const)
      .filter(([limit]) => key.limits[limit])
      .map(([limit, spent, period]) => {
        const cap = key.limits[limit]!, used = usage[spent] ?? 0;
        return [key.name, t(period), money(used), money(cap), <Meter used={used} cap={cap} />, money(Math.max(0, cap - used))];
      }));
  return (
    <Section title={t("Budgets")} hint={t("Keys with spending limits: what they spent in the current day, week and month, and what is left.")}>
      <Table testid="budgets" head={[t("API key"), t("Period"), t("Spent"), t("Budget"), "", t("Left")]} rows={rows} empty={t("No key has a budget.")} />
      <ErrorText text={budgets.error} />
    </Section>
  );
}

const Meter = ({ used, cap }: { used: number; cap: number }) => <meter min={0} max={cap} low={cap * 0.7} high={cap * 0.9} optimum={0} value={Math.min(used, cap)} />;

function Pricing() {
  const prices = useLoad(() => api("GET /api/pricing"));
  const [filter, setFilter] = useState("");
  const [edit, setEdit] = useState<Partial<Price>>({});
  const [error, run] = useAction();
  const f = filter.trim().toLowerCase();
  const shown = (prices.data?.data ?? []).filter((p) => !f || `${p.provider}/${p.model}`.toLowerCase().includes(f))
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model)).slice(0, 200);
  const price = (v: number | null | undefined, fallback?: string) => (v == null ? <span class="muted">= {fallback}</span> : String(v));
  return (
    <Section title={t("Prices")} hint={t("USD per 1M tokens, used to compute each request's cost. Custom prices override the built-in list; an empty cached-input or reasoning price means the input or output price applies.")}>
      <input type="search" placeholder={t("filter by provider or model")} aria-label={t("filter by provider or model")} value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      <Table head={[t("Provider"), t("Model"), t("Input"), t("Cached input"), t("Output"), t("Reasoning"), t("Source"), ""]} empty={t("No price matches.")}
        rows={shown.map((p) => [
          p.provider, <code>{p.model}</code>, price(p.input), price(p.cached_input, t("input")), price(p.output), price(p.reasoning, t("output")),
          p.source === "custom" ? <strong>{t("custom")}</strong> : p.source,
          <div class="row-actions">
            <button class="small" onClick={() => setEdit(p)}>{t("Edit")}</button>
            {p.source === "custom" ? <button class="small danger" onClick={() => run(() => api("DELETE /api/pricing", { query: { provider: p.provider, model: p.model } }).then(prices.reload))}>{t("Reset")}</button> : null}
          </div>,
        ])} />
      <Form key={`${edit.provider}/${edit.model}`} onSubmit={(v, form) => run(async () => {
        await api("PUT /api/pricing", { body: { prices: [{ ...(v as unknown as Price), provider: String(v.provider).trim(), model: String(v.model).trim() }] } });
        form.reset();
        await prices.reload();
      })}>
        <Field label={t("Provider")}><input name="provider" required defaultValue={edit.provider ?? ""} placeholder="openai" /></Field>
        <Field label={t("Model")}><input name="model" required defaultValue={edit.model ?? ""} placeholder="gpt-4o-mini" /></Field>
        <Field label={t("Input")}><input name="input" type="number" min="0" max="10000" step="any" required defaultValue={edit.input ?? ""} /></Field>
        <Field label={t("Cached input")}><input name="cached_input" type="number" min="0" max="10000" step="any" defaultValue={edit.cached_input ?? ""} /></Field>
        <Field label={t("Output")}><input name="output" type="number" min="0" max="10000" step="any" required defaultValue={edit.output ?? ""} /></Field>
        <Field label={t("Reasoning")}><input name="reasoning" type="number" min="0" max="10000" step="any" defaultValue={edit.reasoning ?? ""} /></Field>
        <button type="submit">{t("Save price")}</button>
      </Form>
      <ErrorText text={error || prices.error} />
    </Section>
  );
}
