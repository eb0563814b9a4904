// Types for the dashboard from docs/openapi.json: every schema the document names, and each
// operation's JSON request body and success answer, keyed "METHOD /path" like the dashboard's API
// client (dashboard/src/api.ts). `dashboard/src/api_contract.ts` then makes TypeScript check the
// client's hand-written types against them, so the client cannot drift from the document.
// Covers the JSON Schema the document uses: type (and type lists), properties, required, items,
// enum, const, oneOf/anyOf, $ref, additionalProperties.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const doc = JSON.parse(fs.readFileSync(path.join(root, "docs/openapi.json"), "utf8"));

function type(s) {
  if (!s || s === true) return "unknown";
  if (s.$ref) return `Schemas[${JSON.stringify(s.$ref.replace("#/components/schemas/", ""))}]`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = s.oneOf ?? s.anyOf;
  if (union) return union.map((u) => `(${type(u)})`).join(" | ");
  let kinds = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (!kinds.length) kinds = s.properties ? ["object"] : [];
  if (!kinds.length) return "unknown";
  return kinds.map((k) => {
    switch (k) {
      case "string": return "string";
      case "integer": case "number": return "number";
      case "boolean": return "boolean";
      case "null": return "null";
      case "array": return `Array<${type(s.items)}>`;
      case "object": return object(s);
      default: return "unknown";
    }
  }).join(" | ");
}

function object(s) {
  const required = new Set(s.required ?? []);
  const props = Object.entries(s.properties ?? {}).map(([k, v]) => `${JSON.stringify(k)}${required.has(k) ? "" : "?"}: ${type(v)}`);
  const extra = s.additionalProperties;
  if (!props.length) return extra === false ? "{}" : `Record<string, ${typeof extra === "object" ? type(extra) : "unknown"}>`;
  const open = extra === undefined || extra === true ? "; [key: string]: unknown" : "";
  return `{ ${props.join("; ")}${open} }`;
}

const json = (content) => content?.["application/json"]?.schema;
const lines = [
  "// Generated from docs/openapi.json by scripts/openapi-types.mjs (run by the dashboard build). Do not edit.",
  "/* eslint-disable */",
  "export interface Schemas {",
  ...Object.entries(doc.components.schemas).map(([name, s]) => `  ${JSON.stringify(name)}: ${type(s)};`),
  "}",
  "export interface Ops {",
];
for (const [p, item] of Object.entries(doc.paths)) {
  for (const method of ["get", "put", "post", "patch", "delete"]) {
    const op = item[method];
    if (!op) continue;
    const ok = Object.entries(op.responses ?? {}).find(([status]) => /^2\d\d$/.test(status))?.[1];
    const body = json(op.requestBody?.content);
    lines.push(`  ${JSON.stringify(`${method.toUpperCase()} ${p}`)}: { body: ${body ? type(body) : "undefined"}; res: ${type(json(ok?.content))} };`);
  }
}
lines.push("}", "");
const out = path.join(root, "dashboard/src/generated/openapi.ts");
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, lines.join("\n"));
