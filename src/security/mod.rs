//! Secrets handling. Nothing secret is stored in plaintext: gateway API keys are stored as an HMAC
//! (shown once at creation), provider credentials are encrypted with AES-256-GCM. Both keys are
//! derived from one Workers secret, `MASTER_KEY`, so a user manages a single value.

pub mod api_keys;
pub mod crypto;
pub mod secret;

pub use secret::Secret;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Derives a purpose-bound 32-byte key from the master secret.
pub fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    hmac_sha256(master, format!("omniroute-edge/{purpose}").as_bytes())
}

/// Compares two secrets in constant time (over their HMACs, so lengths leak nothing either).
pub fn secrets_equal(provided: &str, expected: &str) -> bool {
    const K: &[u8] = b"omniroute-edge/compare";
    let want = hmac_sha256(K, expected.as_bytes());
    match HmacSha256::new_from_slice(K) {
        Ok(mut mac) => {
            mac.update(provided.as_bytes());
            mac.verify_slice(&want).is_ok()
        }
        Err(_) => false,
    }
}

/// A display hint for a secret: its last four characters only.
pub fn hint(secret: &str) -> String {
    let tail: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_secrets() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("", "abc"));
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(derive_key(b"m", "a"), derive_key(b"m", "b"));
        assert_eq!(derive_key(b"m", "a"), derive_key(b"m", "a"));
    }

    #[test]
    fn hints_show_only_the_tail() {
        assert_eq!(hint("sk-abcdefgh1234"), "…1234");
        assert_eq!(hint("ab"), "…ab");
    }
}
