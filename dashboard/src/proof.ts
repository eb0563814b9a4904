// The slow part of a password sign-in, done here rather than on the gateway (docs/auth.md): the
// account's PBKDF2-SHA256 with the parameters from `POST /api/auth/login/params`, sent as `proof`.
// The gateway then only hashes and compares it, which fits the Workers Free plan's CPU limit.
import { api } from "./api";

const fromBase64url = (s: string) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const toBase64url = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The login body for `password`: a proof when the account's scheme takes one, else the password. */
export async function credential(name: string, password: string): Promise<{ password: string } | { proof: string }> {
  const p = await api("POST /api/auth/login/params", { body: name ? { name } : {} });
  // Rows not yet re-stored (`pbkdf2-sha256`), ADMIN_SECRET (`plain`), or no WebCrypto (plain http
  // off loopback is not a secure context): the password, as before.
  if (p.scheme !== "pbkdf2-sha256-c" || !p.salt || !p.iterations || !globalThis.crypto?.subtle) return { password };
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: fromBase64url(p.salt), iterations: p.iterations }, key, 256);
  return { proof: toBase64url(new Uint8Array(bits)) };
}
