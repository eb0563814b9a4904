// The dashboard: a thin client of the admin API (/api/*). The admin secret stays in this tab's
// sessionStorage only. Everything shown is inserted as text, never as HTML.
const $ = (sel) => document.querySelector(sel);
const state = { secret: sessionStorage.getItem("oe-admin") || "", catalog: [] };

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

async function api(method, path, body) {
  const sep = path.includes("?") ? "&" : "?";
  const res = await fetch(`${path}${sep}tenant=${encodeURIComponent($("#tenant").value || "default")}`, {
    method,
    headers: { authorization: `Bearer ${state.secret}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) { signOut("The admin secret was not accepted."); throw new Error("unauthorized"); }
  if (!res.ok) throw new Error(data?.error?.message || `HTTP ${res.status}`);
  return data;
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "—");

function showTab(name) {
  document.querySelectorAll(".tab").forEach((s) => (s.hidden = s.id !== name));
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  ({ overview: loadOverview, providers: loadProviders, routing: loadRouting, keys: loadKeys, settings: loadSettings, connect: loadConnect })[name]?.().catch(() => {});
}

function signOut(message = "") {
  sessionStorage.removeItem("oe-admin");
  state.secret = "";
  $("#login").hidden = false;
  $("#tabs").hidden = $("#session").hidden = true;
  document.querySelectorAll(".tab").forEach((s) => (s.hidden = true));
  $("#login-error").textContent = message;
}

async function signIn(secret) {
  state.secret = secret;
  try {
    state.catalog = (await api("GET", "/api/providers/catalog")).data;
  } catch (e) {
    if (e.message !== "unauthorized") $("#login-error").textContent = e.message;
    return;
  }
  sessionStorage.setItem("oe-admin", secret);
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
  for (const [k, v] of Object.entries(s)) { const input = $(`#settings-form [name=${k}]`); if (input) input.value = v; }
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
  return out;
}

$("#login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("#secret").value); });
$("#logout").addEventListener("click", () => signOut());
$("#tenant").addEventListener("change", () => showTab(document.querySelector("#tabs .active").dataset.tab));
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
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

$("#settings-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try { await api("PATCH", "/api/settings", formValues(e.target)); $("#settings-status").textContent = "Saved."; }
  catch (err) { $("#settings-status").textContent = err.message; }
});

if (state.secret) signIn(state.secret); else signOut();
