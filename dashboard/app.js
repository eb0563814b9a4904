// The dashboard: a thin client of the admin API (/api/*). It signs in with a password and is then
// carried by an HttpOnly session cookie that scripts on the page cannot read (docs/auth.md); the
// browser adds `Origin` to its changes, which the gateway checks. Everything shown is inserted as
// text, never as HTML.
const $ = (sel) => document.querySelector(sel);
const state = { me: null, catalog: [], usageRange: "24h", prices: [], logsNext: null, keyNames: {} };

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

async function api(method, path, body) {
  const sep = path.includes("?") ? "&" : "?";
  const res = await fetch(`${path}${sep}tenant=${encodeURIComponent($("#tenant").value || "default")}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) { showSignIn("Your session has ended; sign in again."); throw new Error("unauthorized"); }
  if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
  return data;
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "—");
const num = (n) => (n ?? 0).toLocaleString();
const dur = (ms) => (ms == null ? "—" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`);
// Costs per request are often fractions of a cent: keep two significant digits below a cent.
const money = (usd) => (!usd ? "$0" : usd < 0.01 ? `$${Number(usd.toPrecision(2))}` : `$${usd.toFixed(2)}`);

// A newer load of the same view supersedes an older one still in flight (quick range or filter
// changes): `ticket(name)` returns a check that stays true only for the latest load.
const tickets = {};
function ticket(name) {
  const mine = (tickets[name] = (tickets[name] || 0) + 1);
  return () => tickets[name] === mine;
}

function showTab(name) {
  document.querySelectorAll(".tab").forEach((s) => (s.hidden = s.id !== name));
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  ({ overview: loadOverview, usage: loadUsageTab, logs: loadLogsTab, providers: loadProviders, routing: loadRouting, keys: loadKeys, settings: loadSettings, sync: loadSync, connect: loadConnect })[name]?.().catch(() => {});
}

function showSignIn(message = "") {
  state.me = null;
  $("#login").hidden = false;
  $("#tabs").hidden = $("#session").hidden = true;
  document.querySelectorAll(".tab").forEach((s) => (s.hidden = true));
  $("#log-detail").close();
  $("#login-error").textContent = message;
}

async function signOut() {
  await fetch("/api/auth/logout", { method: "POST" }).catch(() => {});
  showSignIn();
}

// `/api/auth/login` sets the session cookie; an answer of another status says why (wrong password,
// too many attempts from this address).
async function signIn(name, password) {
  const res = await fetch("/api/auth/login", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(name ? { name, password } : { password }),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) { $("#login-error").textContent = data?.error?.message || `HTTP ${res.status}`; return; }
  $("#secret").value = "";
  await enter(data);
}

// Shows the app for the signed-in principal (`/api/auth/me` or the login's answer).
async function enter(me) {
  state.me = me;
  const p = me.principal;
  $("#whoami").textContent = p.role === "owner" ? "owner" : `${p.name} (operator)`;
  if (p.tenant) $("#tenant").value = p.tenant;
  $("#tenant").disabled = Boolean(p.tenant);
  // Cloud sync spans tenants: the owner's alone.
  document.querySelector('#tabs [data-tab="sync"]').hidden = p.role !== "owner";
  $("#password-note").textContent = me.password_set
    ? "At least 12 characters. Changing it signs out your other sessions."
    : "You still sign in with ADMIN_SECRET: set a password of your own (at least 12 characters); the admin secret then stays valid only for scripts (Bearer).";
  try {
    state.catalog = (await api("GET", "/api/providers/catalog")).data;
  } catch (e) {
    if (e.message !== "unauthorized") $("#login-error").textContent = e.message;
    return;
  }
  $("#provider-ids").replaceChildren(...state.catalog.map((p) => el("option", { value: p.id }, p.name)));
  $("#login").hidden = true;
  $("#tabs").hidden = $("#session").hidden = false;
  showTab("overview");
}

async function loadOverview() {
  const health = await fetch("/health").then((r) => r.json()).catch(() => null);
  $("#health").textContent = health?.status === "ok" ? `ok · v${health.version}` : "unreachable";
  const [conns, keys, cooldowns, stats, resilience] = await Promise.all([
    api("GET", "/api/providers"), api("GET", "/api/keys"), api("GET", "/api/cooldowns"), api("GET", "/api/stats"), api("GET", "/api/health"),
  ]);
  const breakers = Object.entries(resilience.breakers);
  $("#breakers").replaceChildren(...(breakers.length ? breakers.map(([provider, b]) => el("tr", {},
    el("td", {}, provider), el("td", {}, b.state), el("td", {}, b.retry_in_ms ? `${Math.ceil(b.retry_in_ms / 1000)} s` : "—"),
    el("td", {}, el("button", { className: "small", onclick: () => api("DELETE", `/api/health?provider=${encodeURIComponent(provider)}`).then(loadOverview) }, "Reset")),
  )) : [el("tr", {}, el("td", { colSpan: 4, className: "muted" }, "No provider has failed recently."))]));
  $("#count-connections").textContent = conns.data.filter((c) => c.is_active).length + " active";
  $("#count-keys").textContent = keys.data.filter((k) => !k.revoked_at).length;
  $("#cooldowns").replaceChildren(...(cooldowns.data.length ? cooldowns.data.map((c) => el("tr", {},
    el("td", {}, el("code", {}, c.scope)), el("td", {}, when(c.until_ms)), el("td", {}, c.reason),
    el("td", {}, el("button", { className: "small", onclick: () => api("DELETE", `/api/cooldowns?scope=${encodeURIComponent(c.scope)}`).then(loadOverview) }, "Reset")),
  )) : [el("tr", {}, el("td", { colSpan: 4, className: "muted" }, "None — every connection is available."))]));
  $("#stats").textContent = JSON.stringify(stats.config_cache, null, 2);
}

const HOUR = 3600e3, DAY = 24 * HOUR;
const RANGES = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY };
const USAGE_COLUMNS = [
  ["Requests", (r) => num(r.requests)], ["Errors", (r) => num(r.errors)],
  ["Tokens in", (r) => num(r.tokens_in)], ["Cached", (r) => num(r.tokens_cached)],
  ["Tokens out", (r) => num(r.tokens_out)], ["Reasoning", (r) => num(r.tokens_reasoning)], ["Cost", (r) => money(r.cost_usd)],
];
const LATENCY_COLUMNS = ["p50", "p95", "p99"].map((p) => [p, (r) => dur(r.latency_ms?.[p])]);

function loadUsageTab() {
  return Promise.all([loadUsage(), loadPricing()]);
}

async function loadUsage() {
  const current = ticket("usage");
  const span = RANGES[state.usageRange];
  const to = Date.now(), from = to - span;
  // A day of daily bars is one or two bars: the 24 h view charts hours instead.
  const bucket = span <= DAY ? "hour" : "day";
  const usage = (group_by) => api("GET", `/api/usage?${new URLSearchParams({ from, to, group_by })}`);
  try {
    const [byProvider, byModel, byKey, byTime] = await Promise.all(["provider", "model", "key", bucket].map(usage));
    if (!current()) return;
    $("#usage-error").textContent = "";
    const t = byProvider.totals;
    const errorShare = t.requests ? ` (${((100 * t.errors) / t.requests).toFixed(1)} %)` : "";
    $("#usage-totals").replaceChildren(...[
      ["Requests", num(t.requests)], ["Errors", num(t.errors) + errorShare], ["Tokens in", num(t.tokens_in)],
      ["Tokens out", num(t.tokens_out)], ["Cost", money(t.cost_usd)],
    ].map(([label, value]) => el("div", { className: "card" }, el("h3", {}, label), el("p", {}, value))));
    usageTable("#usage-by-provider", "Provider", (r) => r.group || "(none)", byProvider.data, LATENCY_COLUMNS);
    // Requests refused before routing have no provider or model: their model group is "/".
    usageTable("#usage-by-model", "Model", (r) => (r.group && r.group !== "/" ? el("code", {}, r.group) : "(none)"), byModel.data, LATENCY_COLUMNS);
    usageTable("#usage-by-key", "API key", (r) => r.key_name || el("code", {}, r.group || "(none)"), byKey.data, []);
    $("#usage-chart-title").textContent = `Requests and cost per ${bucket}`;
    $("#usage-chart").replaceChildren(...usageChart(byTime.data, from, to, bucket === "hour" ? HOUR : DAY));
  } catch (e) {
    if (current()) $("#usage-error").textContent = e.message;
  }
}

function usageTable(selector, title, groupCell, rows, extraColumns) {
  const columns = [...USAGE_COLUMNS, ...extraColumns];
  const sorted = [...rows].sort((a, b) => b.requests - a.requests || b.cost_usd - a.cost_usd);
  $(selector).replaceChildren(
    el("thead", {}, el("tr", {}, el("th", {}, title), ...columns.map(([name]) => el("th", { className: "num" }, name)))),
    el("tbody", {}, ...(sorted.length ? sorted.map((r) => el("tr", {}, el("td", {}, groupCell(r)),
      ...columns.map(([, cell]) => el("td", { className: "num" }, cell(r))),
    )) : emptyRow(columns.length + 1, "No requests in this range."))),
  );
}

/** Two rows of bars (requests with their errors, and cost) over every bucket of the range, empty ones included. */
function usageChart(rows, from, to, step) {
  const byStart = new Map(rows.map((r) => [Number(r.group), r]));
  const starts = new Set(byStart.keys());
  for (let t = Math.floor(from / step) * step; t <= to; t += step) starts.add(t);
  const buckets = [...starts].sort((a, b) => a - b).map((start) => ({ start, ...(byStart.get(start) ?? { requests: 0, errors: 0, cost_usd: 0 }) }));
  // Daily buckets start at midnight UTC; hourly ones read better in local time.
  const label = (ms) => (step === DAY
    ? new Date(ms).toLocaleDateString([], { timeZone: "UTC", month: "short", day: "numeric" })
    : new Date(ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }));
  const bars = (name, value, format, part) => {
    const max = Math.max(0, ...buckets.map(value));
    return el("div", { className: "chart-row" },
      el("div", { className: "chart-label" }, name, el("span", { className: "muted" }, `max ${format(max)}`)),
      el("div", { className: "bars" }, ...buckets.map((b) => {
        const bar = el("div", { className: "bar", title: `${label(b.start)}: ${format(value(b))}${part ? part.title(b) : ""}` });
        bar.style.height = max ? `${(100 * value(b)) / max}%` : "0";
        if (part && value(b)) {
          const inner = el("div", { className: "bar-part" });
          inner.style.height = `${(100 * part.value(b)) / value(b)}%`;
          bar.append(inner);
        }
        return bar;
      })));
  };
  return [
    bars("Requests", (b) => b.requests, num, { value: (b) => b.errors, title: (b) => ` (${num(b.errors)} errors)` }),
    bars("Cost", (b) => b.cost_usd, money),
    el("div", { className: "chart-axis muted" }, el("span", {}, label(buckets[0].start)), el("span", {}, label(buckets.at(-1).start))),
  ];
}

async function loadPricing() {
  try {
    state.prices = (await api("GET", "/api/pricing")).data;
    $("#pricing-error").textContent = "";
    renderPrices();
  } catch (e) { $("#pricing-error").textContent = e.message; }
}

function renderPrices() {
  const filter = $("#price-filter").value.trim().toLowerCase();
  const shown = state.prices
    .filter((p) => !filter || `${p.provider}/${p.model}`.toLowerCase().includes(filter))
    .sort((a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
  const price = (v, fallback) => (v == null ? el("span", { className: "muted" }, `= ${fallback}`) : String(v));
  $("#prices").replaceChildren(...(shown.length ? shown.map((p) => el("tr", {},
    el("td", {}, p.provider), el("td", {}, el("code", {}, p.model)),
    el("td", { className: "num" }, price(p.input)), el("td", { className: "num" }, price(p.cached_input, "input")),
    el("td", { className: "num" }, price(p.output)), el("td", { className: "num" }, price(p.reasoning, "output")),
    el("td", {}, p.source === "custom" ? el("strong", {}, "custom") : p.source),
    el("td", {}, el("button", { className: "small", onclick: () => editPrice(p) }, "Edit"), " ",
      p.source === "custom" ? el("button", {
        className: "danger", title: "Remove the custom price; the built-in one applies again, if there is one",
        onclick: () => api("DELETE", `/api/pricing?${new URLSearchParams({ provider: p.provider, model: p.model })}`)
          .then(loadPricing).catch((e) => ($("#pricing-error").textContent = e.message)),
      }, "Reset") : ""),
  )) : emptyRow(8, filter ? "No price matches." : "No prices.")));
}

function editPrice(p) {
  const form = $("#price-form");
  for (const name of ["provider", "model", "input", "cached_input", "output", "reasoning"]) form.elements[name].value = p[name] ?? "";
  form.elements.input.focus();
}

// --- Request log

async function loadLogsTab() {
  const keys = await api("GET", "/api/keys").then((r) => r.data).catch(() => []);
  state.keyNames = Object.fromEntries(keys.map((k) => [k.id, k.name]));
  const select = $("#log-filters select[name=key]");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "any"), ...keys.map((k) => el("option", { value: k.id }, k.name)));
  select.value = state.keyNames[chosen] ? chosen : "";
  await loadLogs(false);
}

function logQuery(cursor) {
  const f = Object.fromEntries(new FormData($("#log-filters")));
  const params = new URLSearchParams({ limit: 50 });
  for (const name of ["status", "provider", "model", "key"]) if (f[name].trim()) params.set(name, f[name].trim());
  for (const name of ["from", "to"]) if (f[name]) params.set(name, new Date(f[name]).getTime());
  if (cursor) params.set("cursor", cursor);
  return `/api/logs?${params}`;
}

async function loadLogs(more) {
  const current = ticket("logs");
  try {
    const page = await api("GET", logQuery(more ? state.logsNext : null));
    if (!current()) return;
    $("#logs-error").textContent = "";
    state.logsNext = page.next;
    const rows = page.data.map(logRow);
    if (more) $("#log-rows").append(...rows);
    else $("#log-rows").replaceChildren(...(rows.length ? rows : emptyRow(9, "No request matches.")));
    $("#logs-more").hidden = !page.next;
  } catch (e) {
    if (current()) $("#logs-error").textContent = e.message;
  }
}

const failed = (r) => r.status >= 400 || !!r.error_code;
const shortWhen = (ms) => new Date(ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const sub = (text) => el("div", { className: "sub muted" }, text);

function logRow(r) {
  const t = r.tokens ?? {};
  const served = r.provider ? `→ ${r.provider}/${r.upstream_model || "?"}${r.combo ? ` (combo ${r.combo})` : ""}` : "→ not sent upstream";
  return el("tr", {},
    el("td", {}, el("button", { className: "link", title: "Show every field", onclick: () => openLog(r.request_id) }, shortWhen(r.at))),
    el("td", {}, el("span", { className: failed(r) ? "status bad" : "status ok" }, r.status), r.error_code ? sub(r.error_code) : ""),
    el("td", {}, r.client_format, sub(r.endpoint)),
    el("td", { className: "wrap" }, el("code", {}, r.requested_model || "—"), sub(served)),
    el("td", { className: "num" }, r.attempts, r.continuations ? ` +${r.continuations} cont.` : ""),
    el("td", { className: "num", title: `cached ${num(t.cached)} · cache write ${num(t.cache_write)} · reasoning ${num(t.reasoning)}${t.estimated ? " · estimated" : ""}` },
      `${t.estimated ? "~" : ""}${num(t.input)} / ${num(t.output)}`),
    el("td", { className: "num" }, money(r.cost_usd)),
    el("td", { className: "num", title: r.ttfb_ms == null ? "" : `first byte after ${dur(r.ttfb_ms)}` }, dur(r.latency_ms)),
    el("td", {}, r.streamed ? "yes" : "no"),
  );
}

// The detail lists a record's fields in this order (any field not named here follows, as it comes).
const RECORD_FIELDS = ["request_id", "at", "status", "error_code", "tenant", "key_id", "endpoint", "client_format", "requested_model",
  "combo", "provider", "connection", "upstream_model", "attempts", "continuations", "streamed", "latency_ms", "ttfb_ms", "cost_usd", "tokens"];
const TOKEN_FIELDS = ["input", "output", "cached", "cache_write", "reasoning", "estimated"];
const inOrder = (order) => (obj) => {
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.entries(obj).sort(([a], [b]) => rank(a) - rank(b));
};

function detailValue(name, v) {
  if (v === null || v === undefined || v === "") return el("span", { className: "muted" }, "—");
  if (name === "at") return `${when(v)} (${v})`;
  if (name === "cost_usd") return `${money(v)} (${v})`;
  if (name.endsWith("_ms")) return dur(v);
  if (name === "key_id" && state.keyNames[v]) return `${v} (${state.keyNames[v]})`;
  if (typeof v === "boolean") return v ? "yes" : "no";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

// Bodies are stored capped, so a cut JSON body does not parse: it is then shown as stored.
function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

async function openLog(id) {
  const current = ticket("log-detail");
  $("#log-detail-id").textContent = id;
  $("#log-detail-error").textContent = "";
  $("#log-fields").replaceChildren();
  for (const body of ["#log-request-body", "#log-response-body"]) $(body).textContent = "…";
  $("#log-detail").showModal();
  try {
    const rec = await api("GET", `/api/logs/${encodeURIComponent(id)}`);
    if (!current()) return;
    // Every field the record carries, the token counts spelled out, bodies apart.
    const fields = inOrder(RECORD_FIELDS)(rec).filter(([k]) => !k.endsWith("_body")).flatMap(([k, v]) =>
      (k === "tokens" && v && typeof v === "object" ? inOrder(TOKEN_FIELDS)(v).map(([t, n]) => [`tokens.${t}`, n]) : [[k, v]]));
    $("#log-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, detailValue(k, v))]));
    $("#log-request-body").textContent = rec.request_body ? pretty(rec.request_body) : "Not stored for this request.";
    $("#log-response-body").textContent = rec.response_body ? pretty(rec.response_body) : "Not stored for this request.";
  } catch (e) {
    if (!current()) return;
    $("#log-detail-error").textContent = e.message;
    for (const body of ["#log-request-body", "#log-response-body"]) $(body).textContent = "";
  }
}

async function loadProviders() {
  const select = $("#add-connection select[name=provider]");
  if (!select.options.length) select.append(...state.catalog.map((p) => el("option", { value: p.id }, `${p.name} (${p.id})`)));
  const { data } = await api("GET", "/api/providers");
  $("#connections").replaceChildren(...(data.length ? data.map((c) => el("tr", {},
    el("td", {}, c.name), el("td", {}, c.provider), el("td", {}, el("code", {}, c.api_key_hint)),
    el("td", {}, c.base_url || el("span", { className: "muted" }, "default")), el("td", {}, c.priority),
    el("td", {}, el("input", { type: "checkbox", checked: c.is_active, onchange: (e) => api("PATCH", `/api/providers/${c.id}`, { is_active: e.target.checked }).then(loadProviders) })),
    el("td", {}, el("button", { className: "danger", onclick: () => confirm(`Delete ${c.name}?`) && api("DELETE", `/api/providers/${c.id}`).then(loadProviders) }, "Delete")),
  )) : [el("tr", {}, el("td", { colSpan: 7, className: "muted" }, "No connections yet: add one below."))]));
}

const list = (v) => v.split(",").map((x) => x.trim()).filter(Boolean);
const removeButton = (path, reload) => el("button", { className: "danger", onclick: () => api("DELETE", path).then(reload).catch((e) => ($("#routing-error").textContent = e.message)) }, "Delete");
const emptyRow = (cols, text) => [el("tr", {}, el("td", { colSpan: cols, className: "muted" }, text))];

async function loadRouting() {
  const [combos, aliases, chains, nodes] = await Promise.all([
    api("GET", "/api/combos"), api("GET", "/api/aliases"), api("GET", "/api/fallback-chains"), api("GET", "/api/provider-nodes"),
  ]);
  $("#combos").replaceChildren(...(combos.data.length ? combos.data.map((c) => el("tr", {},
    el("td", {}, el("code", {}, c.name)), el("td", {}, c.strategy), el("td", {}, c.targets.map((t) => t.model).join(" → ")),
    el("td", {}, removeButton(`/api/combos/${encodeURIComponent(c.name)}`, loadRouting)),
  )) : emptyRow(4, "No combos yet.")));
  $("#aliases").replaceChildren(...(aliases.data.length ? aliases.data.map((a) => el("tr", {},
    el("td", {}, el("code", {}, a.pattern)), el("td", {}, el("code", {}, a.target)),
    el("td", {}, removeButton(`/api/aliases?pattern=${encodeURIComponent(a.pattern)}`, loadRouting)),
  )) : emptyRow(3, "No aliases yet.")));
  $("#chains").replaceChildren(...(chains.data.length ? chains.data.map((c) => el("tr", {},
    el("td", {}, el("code", {}, c.model)), el("td", {}, c.chain.join(" → ")),
    el("td", {}, removeButton(`/api/fallback-chains?model=${encodeURIComponent(c.model)}`, loadRouting)),
  )) : emptyRow(3, "No fallback chains yet.")));
  $("#nodes").replaceChildren(...(nodes.data.length ? nodes.data.map((n) => el("tr", {},
    el("td", {}, el("code", {}, n.id)), el("td", {}, n.format), el("td", {}, n.base_url), el("td", {}, (n.models ?? []).join(", ")),
    el("td", {}, removeButton(`/api/provider-nodes/${encodeURIComponent(n.id)}`, loadRouting)),
  )) : emptyRow(5, "No provider nodes yet.")));
}

function routingForm(selector, toBody, path) {
  $(selector).addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#routing-error").textContent = "";
    try { await api("POST", path, toBody(Object.fromEntries(new FormData(e.target)))); e.target.reset(); await loadRouting(); }
    catch (err) { $("#routing-error").textContent = err.message; }
  });
}
routingForm("#add-combo", (f) => ({ name: f.name, strategy: f.strategy, targets: list(f.targets).map((model) => ({ model })) }), "/api/combos");
routingForm("#add-alias", (f) => ({ pattern: f.pattern.trim(), target: f.target.trim() }), "/api/aliases");
routingForm("#add-chain", (f) => ({ model: f.model.trim(), chain: list(f.chain) }), "/api/fallback-chains");
routingForm("#add-node", (f) => ({ id: f.id, format: f.format, base_url: f.base_url.trim(), models: list(f.models) }), "/api/provider-nodes");

async function loadKeys() {
  const { data } = await api("GET", "/api/keys");
  $("#key-list").replaceChildren(...data.map((k) => el("tr", {},
    el("td", {}, k.name), el("td", {}, el("code", {}, `${k.key_prefix}…`)), el("td", {}, when(k.created_at)),
    el("td", {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : "active"),
    el("td", {}, k.revoked_at ? "" : el("button", { className: "danger", onclick: () => confirm(`Revoke ${k.name}?`) && api("DELETE", `/api/keys/${k.id}`).then(loadKeys) }, "Revoke")),
  )));
}

async function loadSettings() {
  const s = await api("GET", "/api/settings");
  for (const [k, v] of Object.entries(s)) {
    const input = $(`#settings-form [name=${k}]`);
    if (input?.type === "checkbox") input.checked = v === true;
    else if (input) input.value = v;
  }
}

const counts = (c) => (c ? `${c.connections} connections, ${c.provider_nodes} nodes, ${c.combos} combos, ${c.aliases} aliases, ${c.api_keys} keys` : "—");

async function loadSync() {
  const [machines, enrollments] = await Promise.all([api("GET", "/api/sync/machines"), api("GET", "/api/sync/enrollments")]);
  const revoke = (id, what) => el("button", { className: "danger", onclick: () => confirm(`Revoke ${what}? Its synced data is deleted.`) &&
    api("DELETE", `/api/sync/enrollments/${encodeURIComponent(id)}`).then(loadSync).catch((e) => ($("#sync-error").textContent = e.message)) }, "Revoke");
  $("#sync-machines").replaceChildren(...(machines.data.length ? machines.data.map((m) => el("tr", {},
    el("td", {}, el("code", {}, m.machine_id)), el("td", {}, m.enrollment_name ?? m.enrollment_id), el("td", {}, when(m.last_sync_at)),
    el("td", {}, counts(m.synced)), el("td", {}, counts(m.served)),
    el("td", {}, ...(m.unservable?.length ? m.unservable.map((u) => el("div", {}, `${u.kind} ${u.id}: ${u.reason}`)) : [el("span", { className: "muted" }, "none")])),
    el("td", {}, revoke(m.enrollment_id, m.machine_id)),
  )) : emptyRow(7, "No machine has synced yet.")));
  $("#sync-enrollments").replaceChildren(...(enrollments.data.length ? enrollments.data.map((e) => el("tr", {},
    el("td", {}, e.name), el("td", {}, e.machine_id ? el("code", {}, e.machine_id) : el("span", { className: "muted" }, "not bound yet")),
    el("td", {}, when(e.created_at)), el("td", {}, e.return_secrets ? "yes" : "no"),
    el("td", {}, e.revoked_at ? `revoked ${when(e.revoked_at)}` : "active"),
    el("td", {}, e.revoked_at ? "" : revoke(e.id, e.name)),
  )) : emptyRow(6, "No enrollments yet.")));
}

async function loadConnect() {
  const base = `${location.origin}/v1`;
  document.querySelectorAll(".base-url").forEach((n) => (n.textContent = base));
  $("#snippet-curl").textContent = `curl ${base}/chat/completions \\\n  -H "Authorization: Bearer $GATEWAY_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '{"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'`;
  $("#snippet-python").textContent = `from openai import OpenAI\n\nclient = OpenAI(base_url="${base}", api_key=GATEWAY_KEY)\nreply = client.chat.completions.create(\n    model="openai/gpt-4o-mini",\n    messages=[{"role": "user", "content": "Hello"}],\n)\nprint(reply.choices[0].message.content)`;
}

function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) if (v !== "") out[k] = form.elements[k].type === "number" ? Number(v) : v;
  // A checkbox is a boolean; FormData leaves out an unchecked one, which must still be sent as false.
  for (const box of form.querySelectorAll("input[type=checkbox][name]")) out[box.name] = box.checked;
  return out;
}

$("#login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#login-name").value.trim(), $("#secret").value); });
$("#logout").addEventListener("click", () => signOut());
$("#tenant").addEventListener("change", () => showTab(document.querySelector("#tabs .active").dataset.tab));
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
$("#usage-range").addEventListener("click", (e) => {
  const range = e.target.dataset?.range;
  if (!range) return;
  state.usageRange = range;
  document.querySelectorAll("#usage-range button").forEach((b) => b.classList.toggle("active", b === e.target));
  loadUsage();
});
$("#price-filter").addEventListener("input", renderPrices);
$("#price-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#pricing-error").textContent = "";
  const price = formValues(e.target);
  price.provider = price.provider.trim();
  price.model = price.model.trim();
  try { await api("PUT", "/api/pricing", { prices: [price] }); e.target.reset(); await loadPricing(); }
  catch (err) { $("#pricing-error").textContent = err.message; }
});
$("#log-filters").addEventListener("submit", (e) => { e.preventDefault(); loadLogs(false); });
$("#logs-more").addEventListener("click", () => loadLogs(true));
$("#reset-cooldowns").addEventListener("click", () => api("DELETE", "/api/cooldowns").then(loadOverview));

$("#add-connection").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#provider-error").textContent = "";
  try { await api("POST", "/api/providers", formValues(e.target)); e.target.reset(); await loadProviders(); }
  catch (err) { $("#provider-error").textContent = err.message; }
});

$("#add-key").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#key-error").textContent = "";
  try {
    const k = await api("POST", "/api/keys", formValues(e.target));
    $("#new-key-value").textContent = k.key;
    $("#new-key").hidden = false;
    e.target.reset();
    await loadKeys();
  } catch (err) { $("#key-error").textContent = err.message; }
});

$("#add-enrollment").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#sync-error").textContent = "";
  const f = e.target;
  try {
    const r = await api("POST", "/api/sync/enrollments", { name: f.elements.name.value, return_secrets: f.elements.return_secrets.checked });
    $("#new-enrollment-url").textContent = r.cloud_url;
    $("#new-enrollment-secret").textContent = r.signing_secret;
    $("#new-enrollment").hidden = false;
    f.reset();
    await loadSync();
  } catch (err) { $("#sync-error").textContent = err.message; }
});
$("#settings-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try { await api("PATCH", "/api/settings", formValues(e.target)); $("#settings-status").textContent = "Saved."; }
  catch (err) { $("#settings-status").textContent = err.message; }
});

$("#password-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await api("POST", "/api/auth/password", formValues(e.target));
    e.target.reset();
    $("#password-status").textContent = `Password changed; ${r.other_sessions_signed_out} other session(s) signed out.`;
    await enter(await api("GET", "/api/auth/me"));
  } catch (err) { $("#password-status").textContent = err.message; }
});

// A session cookie from an earlier visit may still be live.
fetch("/api/auth/me").then(async (r) => (r.ok ? enter(await r.json()) : showSignIn())).catch(() => showSignIn());
