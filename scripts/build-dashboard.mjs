// Builds the dashboard (dashboard/src, Preact + TypeScript) into dashboard/dist, the directory the
// worker serves as static assets: a minified app.js and app.css, chunks loaded on demand, and
// index.html. Takes well under
// a second, so scripts/build.sh runs it on every build.
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The API's types from docs/openapi.json first: the client is checked against them (api_contract.ts).
await import("./openapi-types.mjs");

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "dashboard/src");
const out = path.join(root, "dashboard/dist");

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: path.join(src, "main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  // Code loaded on demand (the charting library) goes into chunks of its own.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: out,
  legalComments: "none",
  logLevel: "warning",
});
fs.copyFileSync(path.join(src, "index.html"), path.join(out, "index.html"));
// The assets' response headers (anti-framing, CSP), applied by the runtime's asset server.
fs.copyFileSync(path.join(src, "_headers"), path.join(out, "_headers"));
