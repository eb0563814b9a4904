// Numbers, times and money as the dashboard shows them, in the chosen language's conventions.
import { locale } from "./i18n";

export const num = (n: number | null | undefined) => (n ?? 0).toLocaleString(locale());
export const when = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleString(locale()) : "—");
export const shortWhen = (ms: number) =>
  new Date(ms).toLocaleString(locale(), { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
export const dur = (ms: number | null | undefined) =>
  ms == null ? "—" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
// Costs per request are often fractions of a cent: keep two significant digits below a cent.
export const money = (usd: number | null | undefined) =>
  !usd ? "$0" : usd < 0.01 ? `$${Number(usd.toPrecision(2))}` : `$${usd.toFixed(2)}`;
/** A wait as "3m 05s" (countdowns to a reset). */
export const countdown = (ms: number | null | undefined) => {
  if (ms == null) return "—";
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : m ? `${m}m ${String(r).padStart(2, "0")}s` : `${r}s`;
};
export const list = (v: string) => v.split(",").map((x) => x.trim()).filter(Boolean);
/** Pretty JSON when it parses; stored bodies are capped, so a cut one is shown as it is. */
export const pretty = (text: string) => {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
};
