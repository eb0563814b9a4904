//! Login passwords: PBKDF2-HMAC-SHA256 (RFC 8018) with a random salt, stored as
//! `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url), so the iteration count can be raised later
//! without breaking stored hashes. PBKDF2 rather than a memory-hard KDF: it is built on the `hmac` and
//! `sha2` crates the gateway already has, and a Worker has little memory and CPU time per request to
//! give a memory-hard one its strength anyway. This module is the reference implementation (tested
//! against RFC 7914's vectors); the Worker derives the same bytes with the runtime's native WebCrypto
//! (`platform::password_kdf`), about three times cheaper in CPU than this compiled to wasm
//! (measured: docs/auth.md).

use super::HmacSha256;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::Mac;

/// Iterations for new hashes: the most Workers' WebCrypto PBKDF2 accepts.
pub const ITERATIONS: u32 = 100_000;
const SCHEME: &str = "pbkdf2-sha256";
/// Stored counts outside this range are refused (a damaged row must not make a login spin).
const ITERATION_RANGE: std::ops::RangeInclusive<u32> = 1_000..=5_000_000;

/// PBKDF2-HMAC-SHA256 of `password` and `salt` into `out` (any length).
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    // HMAC accepts keys of any length; keyed once, cloned per block (the pads are hashed only once).
    let Ok(prf) = HmacSha256::new_from_slice(password) else { return };
    for (i, block) in out.chunks_mut(32).enumerate() {
        let mut mac = prf.clone();
        mac.update(salt);
        mac.update(&(i as u32 + 1).to_be_bytes());
        let mut u: [u8; 32] = mac.finalize().into_bytes().into();
        let mut t = u;
        for _ in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes().into();
            t.iter_mut().zip(u.iter()).for_each(|(t, u)| *t ^= u);
        }
        block.copy_from_slice(&t[..block.len()]);
    }
}

/// A stored hash, parsed: what a check derives with and compares against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The stored form of a derived `hash` (32 bytes of PBKDF2 output for `salt` and `iterations`).
pub fn encode(iterations: u32, salt: &[u8], hash: &[u8]) -> String {
    format!("{SCHEME}${iterations}${}${}", URL_SAFE_NO_PAD.encode(salt), URL_SAFE_NO_PAD.encode(hash))
}

/// Parses a stored value; `None` for anything damaged (which then matches no password).
pub fn parse(stored: &str) -> Option<Stored> {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let iterations = iterations.parse::<u32>().ok().filter(|i| ITERATION_RANGE.contains(i))?;
    let salt = URL_SAFE_NO_PAD.decode(salt).ok()?;
    let hash = URL_SAFE_NO_PAD.decode(hash).ok().filter(|h| h.len() == 32)?;
    Some(Stored { iterations, salt, hash })
}

impl Stored {
    /// Whether `derived` (PBKDF2 of the candidate password with this salt and count) is the hash,
    /// in constant time.
    pub fn matches(&self, derived: &[u8]) -> bool {
        super::bytes_equal(derived, &self.hash)
    }
}

/// The stored form of `password` under a fresh 16-byte `salt` (random bytes from the caller),
/// derived here (the platform may derive the same bytes natively and [`encode`] them).
pub fn hash(password: &str, salt: &[u8; 16]) -> String {
    hash_with(password, salt, ITERATIONS)
}

fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2_sha256(password.as_bytes(), salt, iterations, &mut out);
    encode(iterations, salt, &out)
}

/// Whether `password` matches `stored`, derived here.
pub fn verify(password: &str, stored: &str) -> bool {
    let Some(stored) = parse(stored) else { return false };
    let mut got = [0u8; 32];
    pbkdf2_sha256(password.as_bytes(), &stored.salt, stored.iterations, &mut got);
    stored.matches(&got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(p: &str, s: &str, c: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        pbkdf2_sha256(p.as_bytes(), s.as_bytes(), c, &mut out);
        crate::security::to_hex(&out)
    }

    #[test]
    fn matches_the_rfc_7914_vectors() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256), two blocks of output each.
        assert_eq!(
            derive("passwd", "salt", 1, 64),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
        assert_eq!(
            derive("Password", "NaCl", 80_000, 64),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56\
             a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"
        );
        // A partial last block is the prefix of the full one.
        assert_eq!(derive("passwd", "salt", 1, 20), derive("passwd", "salt", 1, 64)[..40]);
    }

    #[test]
    fn hashes_verify_only_their_password() {
        let stored = hash_with("correct horse battery", &[7; 16], 1_000);
        assert!(stored.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterz", &stored));
        assert!(!verify("", &stored));
        // Another salt gives another hash of the same password.
        assert_ne!(stored, hash_with("correct horse battery", &[8; 16], 1_000));
    }

    /// The Worker derives with WebCrypto (`platform::password_kdf`); this value was made there (an
    /// operator created in workerd), and the reference verifies it. The other way round, a hash made
    /// here signs in through WebCrypto: tests/integration/auth_sessions.test.mjs.
    #[test]
    fn a_hash_made_by_the_workers_webcrypto_verifies_here() {
        let made_by_webcrypto =
            "pbkdf2-sha256$100000$yZA3Zx_Dyrk_h0mn2Y6PSw$fJ-L24JlxzwYpHEmYrerW3BGjTivLWww3F7vzgp32jw";
        assert!(verify("made-by-webcrypto-1", made_by_webcrypto));
        assert!(!verify("made-by-webcrypto-2", made_by_webcrypto));
        assert_eq!(
            hash("made-by-the-reference-1", &[42; 16]),
            "pbkdf2-sha256$100000$KioqKioqKioqKioqKioqKg$timdvPWd_haDxUbNE0yg9xigIq8V4DvxVPKZh6u27qU",
            "the value the integration test signs in with"
        );
    }

    #[test]
    fn damaged_stored_values_match_nothing() {
        let stored = hash_with("pw-pw-pw-pw-pw", &[1; 16], 1_000);
        let parts: Vec<&str> = stored.split('$').collect();
        for bad in [
            String::new(),
            "plain-text-password".to_string(),
            stored.replacen("pbkdf2-sha256", "pbkdf2-sha1", 1),
            stored.replacen("$1000$", "$1$", 1),
            stored.replacen("$1000$", "$99999999999$", 1),
            format!("{}$extra", stored),
            format!("{}${}${}${}", parts[0], parts[1], parts[2], &parts[3][..10]),
        ] {
            assert!(!verify("pw-pw-pw-pw-pw", &bad), "{bad}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_password_round_trips(pw in ".{0,40}", other in ".{0,40}", salt in proptest::array::uniform16(0u8..)) {
            let stored = hash_with(&pw, &salt, 1_000);
            proptest::prop_assert!(verify(&pw, &stored));
            proptest::prop_assert_eq!(verify(&other, &stored), other == pw);
        }
    }
}
