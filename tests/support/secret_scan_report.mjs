// After the whole suite: every gateway's secret-scan report (tests/support/secret_scan.mjs) must
// exist and be clean. Prints what was scanned; exits non-zero on any plaintext secret.
import fs from "node:fs";
import path from "node:path";
import { REPORT_DIR } from "./secret_scan.mjs";

const reports = fs.existsSync(REPORT_DIR)
  ? fs.readdirSync(REPORT_DIR).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(fs.readFileSync(path.join(REPORT_DIR, f), "utf8")))
  : [];
const sum = (k) => reports.reduce((n, r) => n + r[k], 0);
const findings = reports.flatMap((r) => r.findings.map((f) => ({ gateway: r.label, ...f })));
console.log(`secret scan: ${reports.length} gateways, ${sum("files")} storage files (${sum("bytes")} bytes), ${sum("log_bytes")} bytes of worker log, ${sum("secrets")} secrets tracked`);
if (reports.length === 0) {
  console.error("secret scan: no reports: the integration suite did not run its gateways through the harness");
  process.exit(1);
}
if (findings.length) {
  for (const f of findings) console.error(`secret scan: plaintext secret ${f.secret} in ${f.where} (${f.gateway})`);
  process.exit(1);
}
console.log("secret scan: no provider credential, gateway key, password or session secret in plaintext");
