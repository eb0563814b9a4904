//! Password hashing in the Worker: PBKDF2-HMAC-SHA256 by the runtime's WebCrypto (native code),
//! in the format of `security::password`. The pure implementation there is the reference, and the
//! fallback when WebCrypto refuses (e.g. an iteration count above what Workers accept). A sign-in
//! with a proof (the browser derived) needs none of this: `password::Stored::accepts_proof`.

use super::promise::settled;
use crate::error::{GatewayError, Result};
use crate::security::password::{self, Checked};
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(inline_js = r#"
export async function pbkdf2_sha256(password, salt, iterations) {
  // Copies first: the views point into wasm memory, which may move while this awaits.
  password = password.slice(); salt = salt.slice();
  const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256));
}
"#)]
extern "C" {
    fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> js_sys::Promise;
}

/// PBKDF2-HMAC-SHA256 into 32 bytes: WebCrypto, else the pure implementation.
pub async fn derive(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    match settled(&pbkdf2_sha256(password.as_bytes(), salt, iterations)).await {
        Ok(bytes) => js_sys::Uint8Array::new(&bytes).to_vec(),
        Err(_) => {
            let mut out = vec![0u8; 32];
            password::pbkdf2_sha256(password.as_bytes(), salt, iterations, &mut out);
            out
        }
    }
}

/// The stored form (`-c` scheme) of a new password, under 16 fresh random bytes of salt.
pub async fn hash(password: &str) -> Result<String> {
    let salt = super::env::random_bytes::<16>()?;
    let derived = derive(password, &salt, password::ITERATIONS).await;
    if derived.len() != 32 {
        return Err(GatewayError::internal("password derivation gave a wrong length"));
    }
    Ok(password::encode(password::ITERATIONS, &salt, &derived))
}

/// Checks `password` against `stored` (a damaged stored value matches nothing).
pub async fn verify(password: &str, stored: &str) -> Checked {
    match password::parse(stored) {
        Some(s) => s.check(&derive(password, &s.salt, s.iterations).await),
        None => Checked::Wrong,
    }
}

/// The work of one check with nothing to compare, so that timing does not tell whether a login
/// name exists.
pub async fn waste(password: &str) {
    let _ = derive(password, &[0; 16], password::ITERATIONS).await;
}
