// The request log: filters, pages, a detail view per request, and a live tail that polls for rows
// newer than the newest shown.
import { useState } from "preact/hooks";
import { api, type LogRecord } from "../api";
import { dur, money, num, pretty, shortWhen, when } from "../format";
import { t } from "../i18n";
import { ErrorText, Field, Form, Modal, Pill, Section, useEvery, useLoad } from "../ui";

type Filters = Record<string, string | number>;
const failed = (r: LogRecord) => r.status >= 400 || !!r.error_code;

export function Logs() {
  const keys = useLoad(() => api("GET /api/keys"));
  const [filters, setFilters] = useState<Filters>({});
  const [rows, setRows] = useState<LogRecord[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [tail, setTail] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const keyNames = Object.fromEntries((keys.data?.data ?? []).map((k) => [k.id, k.name]));
  const page = useLoad(async () => {
    const p = await api("GET /api/logs", { query: { limit: 50, ...filters } });
    setRows(p.data);
    setNext(p.next);
    return p;
  }, [filters]);
  const more = async () => {
    const p = await api("GET /api/logs", { query: { limit: 50, ...filters, cursor: next } });
    setRows([...rows, ...p.data]);
    setNext(p.next);
  };
  // Live tail: the newest page again, and rows not shown yet go on top.
  useEvery(2000, async () => {
    const p = await api("GET /api/logs", { query: { limit: 50, ...filters } }).catch(() => null);
    if (!p) return;
    const seen = new Set(rows.map((r) => r.request_id));
    const fresh = p.data.filter((r) => !seen.has(r.request_id));
    if (fresh.length) setRows([...fresh, ...rows]);
  }, tail);
  return (
    <Section title={t("Request log")} actions={
      <label class="toggle"><input type="checkbox" data-testid="live-tail" checked={tail} onChange={(e) => setTail(e.currentTarget.checked)} /> {t("Live tail")}</label>}>
      <Form testid="log-filters" onSubmit={(v) => {
        const f: Filters = {};
        for (const k of ["status", "provider", "model", "key"]) if (typeof v[k] === "string" && String(v[k]).trim()) f[k] = String(v[k]).trim();
        for (const k of ["from", "to"]) if (v[k]) f[k] = new Date(String(v[k])).getTime();
        setFilters(f);
      }}>
        <Field label={t("Status")}><select name="status">
          <option value="">{t("any")}</option><option value="200">200</option><option value="4xx">4xx</option><option value="5xx">5xx</option><option value="error">{t("error")}</option>
        </select></Field>
        <Field label={t("Provider")}><input name="provider" /></Field>
        <Field label={t("Model (as served)")}><input name="model" placeholder="gpt-4o-mini" /></Field>
        <Field label={t("API key")}><select name="key"><option value="">{t("any")}</option>{(keys.data?.data ?? []).map((k) => <option value={k.id}>{k.name}</option>)}</select></Field>
        <Field label={t("From")}><input name="from" type="datetime-local" /></Field>
        <Field label={t("To")}><input name="to" type="datetime-local" /></Field>
        <button type="submit">{t("Apply")}</button>
      </Form>
      <ErrorText text={page.error} />
      <div class="scroll">
        <table data-testid="log-rows">
          <thead><tr>{[t("Time"), t("Status"), t("Format · endpoint"), t("Model → served by"), t("Attempts"), t("Tokens in / out"), t("Cost"), t("Latency")].map((h) => <th>{h}</th>)}</tr></thead>
          <tbody>
            {rows.length ? rows.map((r) => {
              const tok = r.tokens ?? {};
              return (
                <tr key={r.request_id}>
                  <td><button class="link" data-testid="log-open" onClick={() => setOpen(r.request_id)}>{shortWhen(r.at)}</button></td>
                  <td><Pill kind={failed(r) ? "bad" : "ok"}>{r.status}</Pill>{r.error_code ? <div class="sub muted">{r.error_code}</div> : null}</td>
                  <td>{r.client_format}<div class="sub muted">{r.endpoint}</div></td>
                  <td class="wrap"><code>{r.requested_model || "—"}</code>
                    <div class="sub muted">{r.provider ? `→ ${r.provider}/${r.upstream_model || "?"}${r.combo ? ` (combo ${r.combo})` : ""}` : t("→ not sent upstream")}</div></td>
                  <td class="num">{r.attempts}{r.continuations ? ` +${r.continuations}` : ""}</td>
                  <td class="num">{tok.estimated ? "~" : ""}{num(tok.input)} / {num(tok.output)}</td>
                  <td class="num">{money(r.cost_usd)}</td>
                  <td class="num">{dur(r.latency_ms)}</td>
                </tr>
              );
            }) : <tr><td colSpan={8} class="muted">{t("No request matches.")}</td></tr>}
          </tbody>
        </table>
      </div>
      {next ? <button onClick={more}>{t("Load more")}</button> : null}
      {open ? <LogDetail id={open} keyNames={keyNames} onClose={() => setOpen(null)} /> : null}
    </Section>
  );
}

// The detail lists a record's fields in this order (any field not named here follows, as it comes).
const RECORD_FIELDS = ["request_id", "at", "status", "error_code", "tenant", "key_id", "endpoint", "client_format", "requested_model",
  "combo", "provider", "connection", "upstream_model", "attempts", "continuations", "streamed", "latency_ms", "ttfb_ms", "cost_usd", "tokens"];
const TOKEN_FIELDS = ["input", "output", "cached", "cache_write", "reasoning", "estimated"];
const inOrder = (order: string[], obj: Record<string, unknown>) => {
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.entries(obj).sort(([a], [b]) => rank(a) - rank(b));
};

function detailValue(name: string, v: unknown, keyNames: Record<string, string>) {
  if (v === null || v === undefined || v === "") return <span class="muted">—</span>;
  if (name === "at") return `${when(v as number)} (${v})`;
  if (name === "cost_usd") return `${money(v as number)} (${v})`;
  if (name.endsWith("_ms")) return dur(v as number);
  if (name === "key_id" && keyNames[v as string]) return `${v} (${keyNames[v as string]})`;
  if (typeof v === "boolean") return v ? t("yes") : t("no");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** Every field one request's record carries, token counts spelled out, and its bodies if kept. */
export function LogRecordView({ rec, keyNames = {} }: { rec: LogRecord; keyNames?: Record<string, string> }) {
  const fields = inOrder(RECORD_FIELDS, rec).filter(([k]) => !k.endsWith("_body")).flatMap(([k, v]) =>
    k === "tokens" && v && typeof v === "object" ? inOrder(TOKEN_FIELDS, v as Record<string, unknown>).map(([n, c]) => [`tokens.${n}`, c] as [string, unknown]) : [[k, v] as [string, unknown]]);
  return (
    <>
      <dl class="facts" data-testid="log-fields">{fields.map(([k, v]) => <><dt>{k}</dt><dd>{detailValue(k, v, keyNames)}</dd></>)}</dl>
      <h3>{t("Request body")}</h3>
      <pre>{rec.request_body ? pretty(rec.request_body) : t("Not stored for this request.")}</pre>
      <h3>{t("Response body")}</h3>
      <pre>{rec.response_body ? pretty(rec.response_body) : t("Not stored for this request.")}</pre>
    </>
  );
}

function LogDetail({ id, keyNames, onClose }: { id: string; keyNames: Record<string, string>; onClose: () => void }) {
  const rec = useLoad(() => api("GET /api/logs/{id}", { params: { id: id } }), [id]);
  return (
    <Modal title={<>{t("Request")} <code>{id}</code></>} onClose={onClose}>
      <ErrorText text={rec.error} />
      {rec.data ? <LogRecordView rec={rec.data} keyNames={keyNames} /> : <p class="muted">…</p>}
    </Modal>
  );
}
