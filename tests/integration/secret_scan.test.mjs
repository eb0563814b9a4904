// The secret scan itself (tests/support/secret_scan.mjs) must be able to fail: a secret the worker
// was given and then printed, or one planted in its storage, is found.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { noteSecret, scan } from "../support/secret_scan.mjs";
import { startGateway, ADMIN_SECRET } from "../support/gateway.mjs";

test("the scan finds a noted secret in a storage file and in the worker's log", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oe-scan-"));
  try {
    const secret = "sk-planted-provider-key-0123456789";
    noteSecret(secret);
    fs.mkdirSync(path.join(dir, "d1"));
    fs.writeFileSync(path.join(dir, "d1", "db.sqlite"), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(`row:${secret};`)]));
    const findings = scan({ dir, logs: `request failed with ${secret}\n`, label: "self-test", report: false });
    assert.deepEqual(findings.map((f) => f.where).sort(), ["d1/db.sqlite", "worker log"]);
    assert.ok(findings.every((f) => !f.secret.includes(secret)), "a report never repeats the secret");
    assert.deepEqual(scan({ dir: path.join(dir, "none"), logs: "", label: "self-test clean", report: false }), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a gateway whose storage holds a secret it was given fails to dispose", async () => {
  const gw = await startGateway({ assets: false, scanReport: false });
  const created = await gw.admin("POST", "/api/keys", { name: "scan" });
  assert.equal(created.status, 201);
  // Write the plaintext key where the gateway would never put it: the scan must notice.
  const db = await gw.mf.getD1Database("DB");
  await db.prepare("UPDATE api_keys SET name = ? WHERE id = ?").bind(created.json.key, created.json.id).run();
  await assert.rejects(gw.dispose(), /plaintext secrets after the run/);
  assert.ok(ADMIN_SECRET.length >= 12, "the admin secret is long enough to be tracked");
});
