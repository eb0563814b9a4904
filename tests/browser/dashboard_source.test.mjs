// Checks of the dashboard's sources that need no browser: the types (tsc), the translations, and
// that nothing is ever parsed as HTML.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "../support/gateway.mjs";

const SRC = path.join(ROOT, "dashboard/src");
const sources = fs.readdirSync(SRC, { recursive: true }).filter((f) => /\.tsx?$/.test(f)).map((f) => [f, fs.readFileSync(path.join(SRC, f), "utf8")]);

test("the dashboard type-checks (tsc --noEmit, strict)", () => {
  execFileSync(path.join(ROOT, "node_modules/.bin/tsc"), ["-p", path.join(ROOT, "dashboard")], { stdio: "pipe" });
});

test("every English text shown has its Brazilian Portuguese, and no translation is left unused", () => {
  const PT = readPt();
  const texts = new Set(sources.flatMap(([, s]) => [...s.matchAll(/\b(?:t|en)\("((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`))));
  assert.ok(texts.size > 200, `found ${texts.size} texts`);
  const missing = [...texts].filter((x) => !(x in PT));
  assert.deepEqual(missing, [], "texts without a translation");
  const unused = Object.keys(PT).filter((k) => !texts.has(k));
  assert.deepEqual(unused, [], "translations of texts no longer shown");
  for (const [en, pt] of Object.entries(PT)) {
    const holes = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join();
    assert.equal(holes(pt), holes(en), `the same {values} in "${en}"`);
  }
});

/** i18n_pt.ts is one object literal of JSON strings: read it without a TypeScript loader. */
function readPt() {
  const text = fs.readFileSync(path.join(SRC, "i18n_pt.ts"), "utf8");
  return JSON.parse(`{${text.slice(text.indexOf("{") + 1, text.lastIndexOf("}")).trim().replace(/,$/, "")}}`);
}

test("no source inserts HTML: data is rendered as text by Preact", () => {
  for (const [file, s] of sources) {
    assert.doesNotMatch(s, /innerHTML|outerHTML|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write|createContextualFragment/, file);
  }
});

// Routes the client may name before they land on main (another change's); a route that has landed
// must leave this list (the test says so).
const LANDING_LATER = [];

test("every route the API client names is one of the management API's, by method and path", () => {
  const client = fs.readFileSync(path.join(SRC, "api.ts"), "utf8");
  const used = [...client.slice(client.indexOf("interface Routes")).matchAll(/^\s+"([A-Z]+ \/api\/[^"]+)":/gm)].map((m) => m[1]);
  assert.ok(used.length > 40, `found ${used.length} routes`);
  // The core's route table is what the gateway dispatches on (src/manage/routes.rs).
  const table = fs.readFileSync(path.join(ROOT, "src/manage/routes.rs"), "utf8");
  const served = new Set([...table.matchAll(/route\((Get|Post|Put|Patch|Delete), "([^"]+)"/g)].map(([, m, p]) => `${m.toUpperCase()} ${p}`));
  assert.deepEqual(used.filter((r) => !served.has(r) && !LANDING_LATER.includes(r)), [], "routes the gateway does not have");
  assert.deepEqual(LANDING_LATER.filter((r) => served.has(r)), [], "these routes have landed: drop them from LANDING_LATER");
  // The OpenAPI document describes the same routes.
  const doc = JSON.parse(fs.readFileSync(path.join(ROOT, "docs/openapi.json"), "utf8"));
  for (const r of used.filter((r) => !LANDING_LATER.includes(r))) {
    const [method, p] = r.split(" ");
    assert.ok(doc.paths[p]?.[method.toLowerCase()], `${r} in docs/openapi.json`);
  }
});
