//! Gateway API keys: `sk-oe-` + 32 random bytes (base64url). Only `hash()` of a key is stored; the key
//! itself is returned once, when it is created.

use super::{hmac_sha256, to_hex};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

pub const PREFIX: &str = "sk-oe-";

/// A new key from 32 random bytes supplied by the caller.
pub fn generate(random: &[u8; 32]) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random))
}

/// The stored form of a key: hex HMAC-SHA256 under the key-hashing subkey.
pub fn hash(hash_key: &[u8; 32], api_key: &str) -> String {
    to_hex(&hmac_sha256(hash_key, api_key.as_bytes()))
}

/// What is shown in lists: enough to recognise a key, not enough to use it.
pub fn display_prefix(api_key: &str) -> String {
    api_key.chars().take(PREFIX.len() + 4).collect()
}

/// Reads the client's key from `Authorization: Bearer …` or else `x_api_key()` (`x-api-key`,
/// `x-goog-api-key`, `?key=`), which is only called without a bearer token: each of its lookups
/// crosses into JS, and `?key=` parses the URL.
pub fn from_headers(authorization: Option<&str>, x_api_key: impl FnOnce() -> Option<String>) -> Option<String> {
    let bearer = authorization.and_then(|v| {
        let v = v.trim();
        v.get(..7).filter(|p| p.eq_ignore_ascii_case("bearer ")).map(|_| v[7..].trim().to_string())
    });
    bearer.or_else(|| x_api_key().map(|k| k.trim().to_string())).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_prefix_and_entropy() {
        let a = generate(&[1; 32]);
        let b = generate(&[2; 32]);
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_keyed() {
        assert_ne!(hash(&[1; 32], "k"), hash(&[2; 32], "k"));
        assert_eq!(hash(&[1; 32], "k").len(), 64);
    }

    #[test]
    fn reads_both_header_styles() {
        let none = || None;
        let xyz = || Some(" xyz ".to_string());
        assert_eq!(from_headers(Some("Bearer abc"), none).as_deref(), Some("abc"));
        assert_eq!(from_headers(Some("bearer  abc "), none).as_deref(), Some("abc"));
        assert_eq!(from_headers(None, xyz).as_deref(), Some("xyz"));
        assert_eq!(from_headers(Some("Basic abc"), xyz).as_deref(), Some("xyz"));
        assert_eq!(from_headers(Some("Bearer "), none), None);
        assert_eq!(from_headers(None, none), None);
        // A bearer token wins, and the other places are then not looked at.
        let looked = std::cell::Cell::new(false);
        assert_eq!(
            from_headers(Some("Bearer abc"), || {
                looked.set(true);
                None
            })
            .as_deref(),
            Some("abc")
        );
        assert!(!looked.get());
    }
}
