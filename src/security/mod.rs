//! Secrets handling. Nothing secret is stored in plaintext: gateway API keys are stored as an HMAC
//! (shown once at creation), provider credentials are encrypted with AES-256-GCM, login passwords are
//! PBKDF2 hashes (`password`). The keys are derived from one Workers secret, `MASTER_KEY`, so a user
//! manages a single value.

pub mod api_keys;
pub mod cidr;
pub mod cors;
pub mod crypto;
pub mod names;
pub mod password;
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

/// Compares two byte strings in constant time for equal lengths (lengths themselves are public:
/// derived keys and MACs have a fixed size).
pub fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A display hint for a secret: its last four characters only.
pub fn hint(secret: &str) -> String {
    let tail: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}

/// Lower-case hex. Runs on every request (the key hash, the id seed), so one allocation, no `format!`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
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
    fn compares_bytes() {
        assert!(bytes_equal(b"abc", b"abc"));
        assert!(!bytes_equal(b"abc", b"abd"));
        assert!(!bytes_equal(b"abc", b"ab"));
        assert!(bytes_equal(b"", b""));
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(derive_key(b"m", "a"), derive_key(b"m", "b"));
        assert_eq!(derive_key(b"m", "a"), derive_key(b"m", "a"));
    }

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(to_hex(&[]), "");
    }

    proptest::proptest! {
        #[test]
        fn hex_matches_the_formatter(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            proptest::prop_assert_eq!(to_hex(&bytes), want);
        }
    }

    #[test]
    fn hints_show_only_the_tail() {
        assert_eq!(hint("sk-abcdefgh1234"), "…1234");
        assert_eq!(hint("ab"), "…ab");
    }
}
