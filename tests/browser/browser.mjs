// Debian's Chromium driven by playwright-core (no browser download: scripts/setup.sh installs the
// `chromium` package). The flags keep it off the network this machine does not have and let it run
// as root in a container. Playwright gives each launch a fresh, empty profile (--user-data-dir) of
// its own and deletes it on close.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "../support/gateway.mjs";

export const SCREENSHOTS = path.join(ROOT, "test-artifacts", "screenshots");
const EXECUTABLE = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

export async function launch() {
  const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  return {
    browser,
    async close() { await browser.close(); },
  };
}

/** A page that records script errors and dialogs, so a test can assert none happened. */
export async function openPage(browser, url, { viewport = { width: 1280, height: 900 }, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`); });
  // confirm() before deletes and rotations: accept, and remember what was asked and how.
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push({ type: d.type(), message: d.message() }); d.accept(); });
  // Every URL the page fetched, in order (to measure what the first page loads).
  const fetched = [];
  page.on("request", (r) => fetched.push(r.url()));
  await page.goto(url);
  return { page, context, problems, dialogs, fetched };
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
