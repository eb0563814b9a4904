// The dashboard in a real browser (Debian's Chromium through playwright-core) against the worker in
// workerd with mock upstreams: sign in, connect and test a provider, create a key and a combo, chat
// through the playground, find it in usage and the log, open and reset a breaker, back up and
// restore, switch language; HTML in names and model ids stays text. Then a screenshot of every page,
// light and dark and on a phone, into test-artifacts/screenshots/ (not committed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGateway, ADMIN_SECRET } from "../support/gateway.mjs";
import { startMockOpenAI } from "../support/mock_openai.mjs";
import { noteSecret } from "../support/secret_scan.mjs";
import zlib from "node:zlib";
import { ROOT } from "../support/gateway.mjs";
import { launch, openPage, screenshot, SCREENSHOTS } from "./browser.mjs";

// Would run if ever parsed as HTML; the tests check it never does.
const HOSTILE = `<img src=x onerror="window.__injected=1">`;
const PAGES = ["overview", "providers", "routing", "keys", "usage", "health", "logs", "playground", "tools", "sync", "settings"];

let gw, upstream, flaky, chromium, page, problems, dialogs, fetched;
before(async () => {
  [gw, upstream, flaky, chromium] = await Promise.all([
    startGateway(), startMockOpenAI(), startMockOpenAI({ apiKey: "sk-flaky", failAs: "server-error" }), launch(),
  ]);
  ({ page, problems, dialogs, fetched } = await openPage(chromium.browser, gw.url));
  // What the browser hands the gateway is looked for in its storage and log when it is disposed.
  for (const s of [upstream.apiKey, flaky.apiKey]) noteSecret(s);
});
after(async () => {
  await chromium?.close();
  await Promise.all([gw?.dispose(), upstream?.close(), flaky?.close()]);
});

const go = async (name) => {
  await page.goto(`${gw.url}/#/${name}`);
  await page.locator("nav.side a.active").filter({ hasText: new RegExp(".") }).waitFor();
};
const row = (table, text) => page.locator(`[data-testid=${table}] tbody tr`, { hasText: text });
/** Fetch from the page itself, as a client of /v1 on the same origin. */
const chat = (key, model, content = "hi") => page.evaluate(async ([key, model, content]) => {
  const r = await fetch("/v1/chat/completions", {
    method: "POST", headers: { "content-type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, messages: [{ role: "user", content }] }),
  });
  return r.status;
}, [key, model, content]);

test("sign in with the admin secret as the first password", async () => {
  await page.fill("[data-testid=signin] input[name=password]", "wrong password");
  await page.click("[data-testid=signin] button[type=submit]");
  await page.locator(".signin .error").waitFor();
  await page.fill("[data-testid=signin] input[name=password]", ADMIN_SECRET);
  await page.click("[data-testid=signin] button[type=submit]");
  await page.locator("[data-testid=whoami]").waitFor();
  assert.equal(await page.textContent("[data-testid=whoami]"), "owner");
  assert.match(await page.textContent("[data-testid=onboarding]"), /Connect a first provider/);
});

test("the first page (sign-in, then the overview) loads under 40 KB of gzipped HTML, JS and CSS", async () => {
  await page.waitForLoadState("networkidle");
  const assets = [...new Set(fetched.map((u) => new URL(u)).filter((u) => u.origin === gw.url && !/^\/(api|v1|health)\b/.test(u.pathname)).map((u) => u.pathname))];
  const files = assets.map((p) => {
    const file = path.join(ROOT, "dashboard/dist", p === "/" ? "index.html" : p);
    const bytes = fs.readFileSync(file);
    return { path: p, bytes: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
  });
  const total = files.reduce((n, f) => n + f.gzip, 0);
  fs.mkdirSync(path.dirname(SCREENSHOTS), { recursive: true });
  fs.writeFileSync(path.join(path.dirname(SCREENSHOTS), "first-page.json"), JSON.stringify({ total_gzip: total, files }, null, 2));
  console.log(`first page: ${files.length} files, ${total} bytes gzipped`);
  assert.ok(files.some((f) => f.path === "/app.js") && files.some((f) => f.path === "/app.css"));
  assert.ok(total < 40_000, `${total} bytes`);
});

let gatewayKey;
test("onboarding: connect a provider at a mock upstream, test it live, create a first key", async () => {
  const form = page.locator("[data-testid=connect-provider]");
  await form.locator("select[name=provider]").selectOption("openai");
  await form.locator("input[name=name]").fill(HOSTILE);
  await form.locator("input[name=api_key]").fill(upstream.apiKey);
  await form.locator("input[name=base_url]").fill(upstream.url);
  await form.locator("button[type=submit]").click();
  await page.getByText(/Connected .*Test it with a live call/).waitFor();
  const before = upstream.requests.length;
  await page.click("[data-testid=test-call]");
  assert.match(await page.locator("[data-testid=test-result]").textContent(), /^works .* ms/);
  assert.equal(upstream.requests.length, before + 1, "one call through the new account");
  assert.equal(upstream.requests.at(-1).headers.authorization, `Bearer ${upstream.apiKey}`);

  await page.locator("[data-testid=onboarding] input[name=name]").fill("laptop");
  await page.locator("[data-testid=onboarding] button[type=submit]").click();
  gatewayKey = await page.locator("[data-testid=shown-once]").textContent();
  noteSecret(gatewayKey);
  assert.match(gatewayKey, /^sk-oe-/);
});

test("providers: the account is listed with its health; the name stays text", async () => {
  await go("providers");
  const group = page.locator("[data-testid=provider-openai]");
  await group.getByText("ready").waitFor();
  assert.ok((await group.textContent()).includes(HOSTILE), "the name is shown literally");
});

test("routing: create a combo, reorder its targets with the buttons", async () => {
  await go("routing");
  await page.click("[data-testid=new-combo]");
  const editor = page.locator("[data-testid=combo-editor]");
  await editor.locator("input[name=combo-name]").fill("coding");
  for (const m of ["openai/gpt-4o", "openai/gpt-4o-mini"]) {
    await page.fill("[data-testid=combo-add-model]", m);
    await page.press("[data-testid=combo-add-model]", "Enter");
  }
  await editor.locator("[data-testid=combo-target]").nth(1).getByRole("button", { name: "Move up" }).click();
  assert.deepEqual(await editor.locator("[data-testid=combo-target] code").allTextContents(), ["openai/gpt-4o-mini", "openai/gpt-4o"]);
  await page.click("[data-testid=save-combo]");
  await row("combos", "coding").waitFor();
  assert.match(await row("combos", "coding").textContent(), /openai\/gpt-4o-mini → openai\/gpt-4o/);
  const combo = (await gw.admin("GET", "/api/combos")).json.data.find((c) => c.name === "coding");
  assert.deepEqual(combo.targets.map((t) => t.model), ["openai/gpt-4o-mini", "openai/gpt-4o"]);
});

test("keys: create a key with a budget (shown once) and a hostile name", async () => {
  await go("keys");
  const form = page.locator("[data-testid=create-key]");
  await form.locator("input[name=name]").fill(HOSTILE);
  await form.locator("input[name=usd_per_day]").fill("5");
  await form.locator("button[type=submit]").click();
  const shown = await page.locator("[data-testid=shown-once]").textContent();
  noteSecret(shown);
  assert.match(shown, /^sk-oe-/);
  assert.notEqual(shown, gatewayKey);
  await row("keys", HOSTILE).waitFor();
  assert.match(await row("keys", HOSTILE).textContent(), /USD per day \$5\.00/);
  // Rotating shows a new secret, once, under the same key.
  await row("keys", HOSTILE).getByRole("button", { name: "Rotate" }).click();
  await page.locator("[data-testid=shown-once]", { hasNotText: shown }).waitFor();
  const rotated = await page.locator("[data-testid=shown-once]").textContent();
  noteSecret(rotated);
  assert.match(rotated, /^sk-oe-/);
  assert.match(dialogs.at(-1).message, /^Rotate .*The current secret stops working/);
  assert.equal(await row("keys", HOSTILE).count(), 1);
});

let requestId;
test("playground: translate a request to every format, send it through the combo, see each step", async () => {
  await go("playground");
  await page.fill("[data-testid=gateway-key]", gatewayKey);
  await page.fill("[data-testid=pg-model]", "coding");
  await page.fill("[data-testid=pg-request]", JSON.stringify({ model: "coding", messages: [{ role: "user", content: "hello playground" }] }));
  await page.click("[data-testid=pg-translate]");
  const gemini = JSON.parse(await page.textContent("[data-testid=pg-out-gemini]"));
  assert.equal(gemini.contents[0].parts[0].text, "hello playground");
  const anthropic = JSON.parse(await page.textContent("[data-testid=pg-out-anthropic]"));
  assert.equal(anthropic.messages[0].role, "user");

  await page.click("[data-testid=pg-send]");
  const steps = page.locator("[data-testid=pg-steps]");
  await steps.locator("[data-testid=log-fields]").waitFor();
  const text = await steps.textContent();
  assert.match(text, /x-omniroute-provideropenai/);
  assert.match(text, /x-omniroute-modelgpt-4o-mini/, "the combo's first target after the reorder");
  assert.match(await page.textContent("[data-testid=pg-answer]"), /echo: hello playground/);
  requestId = text.match(/x-request-id(\S+?)x-omniroute/)[1];
  assert.match(await steps.locator("[data-testid=log-fields]").textContent(), /combocoding/);
});

test("usage shows the requests; the log lists the chat, opens its detail and tails new rows", async () => {
  await go("usage");
  await page.locator("[data-testid=usage-totals]").waitFor();
  assert.match(await page.textContent("[data-testid=usage-totals]"), /Requests[1-9]/);
  await page.locator("[data-testid=usage-chart] canvas").waitFor();
  // Each busy provider, model and key over time: openai's line has its requests.
  for (const by of ["provider", "model", "key"]) await page.locator(`[data-testid=usage-by-${by}] canvas`).waitFor();
  assert.match(await page.locator("[data-testid=usage-by-provider]").textContent(), /openai/);
  await row("budgets", HOSTILE).waitFor();
  assert.match(await row("budgets", HOSTILE).textContent(), /day\$0\$5\.00/);

  await go("logs");
  await page.locator(`[data-testid=log-rows] tbody tr`, { hasText: "coding" }).first().waitFor();
  await page.locator(`[data-testid=log-rows] tbody tr`, { hasText: "coding" }).first().locator("[data-testid=log-open]").click();
  assert.match(await page.locator("dialog [data-testid=log-fields]").textContent(), new RegExp(`request_id${requestId}`));
  await page.getByRole("button", { name: "Close" }).click();

  await page.check("[data-testid=live-tail]");
  assert.ok(await chat(gatewayKey, HOSTILE) >= 400, "an unknown model id, refused and logged as sent");
  await row("log-rows", HOSTILE).waitFor({ timeout: 10_000 });
});

test("health: a provider failing twice opens its breaker; reset closes it", async () => {
  await go("settings");
  const resilience = page.locator("[data-testid=settings-Resilience]");
  await resilience.locator("input[name=breaker_failure_threshold]").fill("2");
  await resilience.locator("button[type=submit]").click();
  await page.getByText("Saved.").waitFor();
  assert.equal((await gw.admin("GET", "/api/settings")).json.breaker_failure_threshold, 2);

  // Two accounts of a provider whose upstream fails: one request makes two failed attempts (a
  // single account would be cooling down after its first).
  await go("providers");
  const form = page.locator("[data-testid=connect-provider]");
  for (const priority of ["1", "2"]) {
    await form.locator("select[name=provider]").selectOption("mistral");
    await form.locator("input[name=api_key]").fill("sk-flaky");
    await form.locator("input[name=base_url]").fill(flaky.url);
    await form.locator("input[name=priority]").fill(priority);
    await form.locator("button[type=submit]").click();
    await page.locator("[data-testid=provider-mistral] tbody tr").nth(Number(priority) - 1).waitFor();
  }
  assert.equal(await chat(gatewayKey, "mistral/m"), 502);
  assert.equal(flaky.requests.length, 2, "both accounts were tried");

  await go("health");
  await row("breakers", "mistral").getByText("open").waitFor({ timeout: 10_000 });
  await page.click("[data-testid=reset-mistral]");
  await row("breakers", "mistral").waitFor({ state: "detached" });
  assert.equal((await gw.admin("GET", "/api/health")).json.breakers.mistral?.state ?? "closed", "closed");
});

test("settings: a stored setting that cannot be read is named, and saving its group sets it again", async () => {
  // Damaged in D1, as a rollback or damage would leave it (GET /api/settings reads D1).
  const db = await gw.mf.getD1Database("DB");
  const { value } = await db.prepare("SELECT value FROM settings WHERE tenant_id = 'default'").first();
  await db.prepare("UPDATE settings SET value = ? WHERE tenant_id = 'default'")
    .bind(JSON.stringify({ ...JSON.parse(value), v1_ip_allow: "10.0.0.0/8" })).run();
  await go("settings");
  const security = page.locator("[data-testid=settings-Security]").locator("..");
  await security.getByText(/v1_ip_allow could not be read/).waitFor();
  await page.locator("[data-testid=settings-Security] button[type=submit]").click();
  await security.getByText("Saved.").waitFor();
  const after = (await gw.admin("GET", "/api/settings")).json;
  assert.deepEqual([after.unreadable, after.v1_ip_allow], [undefined, []]);
});

test("settings: add a tenant operator, who is listed with its tenant", async () => {
  await go("settings");
  const form = page.locator("[data-testid=add-operator]");
  const password = "operator-password-1234";
  noteSecret(password);
  await form.locator("input[name=name]").fill("ops-alice");
  await form.locator("input[name=tenant]").fill("default");
  await form.locator("input[name=password]").fill(password);
  await form.locator("button[type=submit]").click();
  await row("operators", "ops-alice").waitFor();
  assert.match(await row("operators", "ops-alice").textContent(), /ops-alice\s*default/);
});

test("the operator signs in through the dashboard with a proof: its password never leaves the browser", async () => {
  const other = await openPage(chromium.browser, gw.url);
  const sent = [];
  other.page.on("request", (r) => { if (r.url().endsWith("/api/auth/login")) sent.push(JSON.parse(r.postData())); });
  await other.page.fill("[data-testid=signin] input[name=name]", "ops-alice");
  await other.page.fill("[data-testid=signin] input[name=password]", "operator-password-1234");
  await other.page.click("[data-testid=signin] button[type=submit]");
  await other.page.locator("main .panel").first().waitFor();
  assert.deepEqual(sent.map((b) => Object.keys(b).sort()), [["name", "proof"]]);
  assert.match(sent[0].proof, /^[\w-]{43}$/);
  assert.deepEqual(other.problems, []);
  await other.context.close();
});

test("settings: export the configuration, import it back, restore the automatic backup", async () => {
  await go("settings");
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("[data-testid=export] button[type=submit]").click()]);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "oe-backup-")), "backup.json");
  await download.saveAs(file);
  const archive = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.ok(archive.config.combos.some((c) => c.name === "coding"), "the archive holds the combo");
  assert.doesNotMatch(JSON.stringify(archive), new RegExp(upstream.apiKey), "no secret without a passphrase");

  assert.equal((await gw.admin("DELETE", "/api/combos/coding")).status, 200);
  await page.setInputFiles("[data-testid=import] input[name=file]", file);
  await page.locator("[data-testid=import] button[type=submit]").click();
  assert.match(await page.locator("[data-testid=import-result]").textContent(), /^Imported: .*kept as a backup/);
  assert.ok((await gw.admin("GET", "/api/combos")).json.data.some((c) => c.name === "coding"), "the combo is back");

  // The import kept the configuration it replaced; restoring it takes the combo away again.
  await row("backups", "an import").first().getByRole("button", { name: "Restore" }).click();
  const hasCoding = async () => (await gw.admin("GET", "/api/combos")).json.data.some((c) => c.name === "coding");
  for (let i = 0; i < 50 && (await hasCoding()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await hasCoding(), false, "restored to before the import");
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test("language: switch to Brazilian Portuguese and back", async () => {
  await go("keys");
  await page.selectOption("[data-testid=lang]", "pt-BR");
  await page.locator("nav.side a.active", { hasText: "Chaves de API" }).waitFor();
  assert.equal(await page.getAttribute("html", "lang"), "pt-BR");
  assert.match(await page.textContent("main"), /Criar uma chave/);
  await page.reload();
  await page.locator("nav.side", { hasText: "Provedores" }).waitFor(); // the choice is remembered
  await page.selectOption("[data-testid=lang]", "en");
  await page.locator("nav.side", { hasText: "Providers" }).waitFor();
});

test("nothing from the data ran as HTML, and the pages raised no script error", async () => {
  assert.equal(await page.evaluate(() => window.__injected), undefined);
  assert.equal(await page.locator("img[src=x]").count(), 0);
  assert.deepEqual(problems, []);
  // The page's own dialogs are confirmations; an alert or prompt would have come from elsewhere.
  assert.deepEqual([...new Set(dialogs.map((d) => d.type))], ["confirm"]);
});

test("the page runs under its own CSP: an injected inline script is refused, the page's own code ran", async () => {
  const seen = problems.length;
  const refused = await page.evaluate(() => new Promise((resolve) => {
    document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true });
    const s = document.createElement("script");
    s.textContent = "window.__inline = 1";
    document.body.append(s);
  }));
  assert.match(refused, /^script-src/);
  assert.equal(await page.evaluate(() => window.__inline), undefined);
  problems.length = seen; // the refusal's own console message
  assert.equal(await page.locator("nav.side").count(), 1);
});

test("a screenshot of every page, light and dark, and on a phone", async () => {
  for (const theme of ["light", "dark"]) {
    await page.evaluate((t) => localStorage.setItem("oe.theme", t), theme);
    for (const name of PAGES) {
      await page.goto(`${gw.url}/#/${name}`);
      await page.reload(); // applies the theme saved above, and "network idle" is this page's
      await page.locator("main .panel").first().waitFor();
      assert.equal(await page.getAttribute("html", "data-theme"), theme);
      await page.waitForLoadState("networkidle"); // every list and chart has its data
      await screenshot(page, `${name}-${theme}`);
    }
  }
  const phone = await openPage(chromium.browser, gw.url, { viewport: { width: 390, height: 844 } });
  await phone.page.fill("[data-testid=signin] input[name=password]", ADMIN_SECRET);
  await phone.page.click("[data-testid=signin] button[type=submit]");
  await phone.page.locator("main .panel").first().waitFor();
  for (const name of PAGES) {
    await phone.page.goto(`${gw.url}/#/${name}`);
    await phone.page.reload(); // a new load, so that "network idle" is this page's
    await phone.page.locator("main .panel").first().waitFor();
    await phone.page.waitForLoadState("networkidle");
    // Nothing but tables (which scroll inside their panel) is wider than the screen.
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `${name} is ${width}px wide on a 390px screen`);
    await screenshot(phone.page, `${name}-phone`);
  }
  await phone.context.close();
});
