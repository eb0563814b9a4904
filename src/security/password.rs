//! Login passwords: PBKDF2-HMAC-SHA256 (RFC 8018) with a random salt. PBKDF2 rather than a
//! memory-hard KDF: it is built on the `hmac` and `sha2` crates the gateway already has, and a Worker
//! has little memory and CPU time per request to give a memory-hard one its strength anyway. This
//! module is the reference implementation (tested against RFC 7914's vectors); the Worker derives the
//! same bytes with the runtime's native WebCrypto (`platform::password_kdf`).
//!
//! Two stored schemes, both `<scheme>$<iterations>$<salt>$<hash>` (base64url), so the iteration
//! count can be raised later without breaking stored hashes:
//! - `pbkdf2-sha256-c` (new passwords): the hash is SHA-256 of the PBKDF2 output. The browser may
//!   derive the PBKDF2 output itself and send it as a *proof* (the server then only hashes and
//!   compares it: microseconds instead of ~10 ms of CPU, docs/auth.md); the stored value is not the
//!   proof, so a leaked row does not sign in, and guessing the password from it still costs PBKDF2.
//! - `pbkdf2-sha256` (earlier versions): the hash is the PBKDF2 output itself. That would be the
//!   proof, so a proof never signs in against it; a password sign-in does, and re-stores the row in
//!   the `-c` scheme ([`Checked::Upgrade`]).

use super::{hmac_sha256, HmacSha256};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::Mac;
use sha2::{Digest, Sha256};

/// Iterations for new hashes: the most Workers' WebCrypto PBKDF2 accepts.
pub const ITERATIONS: u32 = 100_000;
/// Stored counts outside this range are refused (a damaged row must not make a login spin).
const ITERATION_RANGE: std::ops::RangeInclusive<u32> = 1_000..=5_000_000;
/// Bytes of PBKDF2 output: a stored hash's, and a proof's.
pub const DERIVED_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// How a stored hash relates to the PBKDF2 output of its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `pbkdf2-sha256`: the output itself (earlier versions; proof-equivalent, so no proofs).
    Derived,
    /// `pbkdf2-sha256-c`: SHA-256 of the output (new passwords; proofs accepted).
    Committed,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Derived => "pbkdf2-sha256",
            Scheme::Committed => "pbkdf2-sha256-c",
        }
    }

    fn parse(name: &str) -> Option<Scheme> {
        [Scheme::Derived, Scheme::Committed].into_iter().find(|s| s.name() == name)
    }
}

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
    pub scheme: Scheme,
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Wrong,
    Right,
    /// Right, and the row is of the earlier scheme: store this (`-c`, same salt and count) instead.
    Upgrade(String),
}

impl Checked {
    pub fn is_right(&self) -> bool {
        !matches!(self, Checked::Wrong)
    }
}

/// What a `-c` row stores of a PBKDF2 output (or a proof, which is one).
fn commit(derived: &[u8]) -> [u8; 32] {
    Sha256::digest(derived).into()
}

/// The stored form (`-c` scheme) of a password whose PBKDF2 output for `salt` and `iterations` is
/// `derived`.
pub fn encode(iterations: u32, salt: &[u8], derived: &[u8]) -> String {
    encode_as(Scheme::Committed, iterations, salt, &commit(derived))
}

fn encode_as(scheme: Scheme, iterations: u32, salt: &[u8], hash: &[u8]) -> String {
    format!("{}${iterations}${}${}", scheme.name(), URL_SAFE_NO_PAD.encode(salt), URL_SAFE_NO_PAD.encode(hash))
}

/// Parses a stored value; `None` for anything damaged (which then matches no password).
pub fn parse(stored: &str) -> Option<Stored> {
    let mut parts = stored.split('$');
    let (Some(scheme), Some(iterations), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let scheme = Scheme::parse(scheme)?;
    let iterations = iterations.parse::<u32>().ok().filter(|i| ITERATION_RANGE.contains(i))?;
    let salt = URL_SAFE_NO_PAD.decode(salt).ok()?;
    let hash = URL_SAFE_NO_PAD.decode(hash).ok().filter(|h| h.len() == 32)?;
    Some(Stored { scheme, iterations, salt, hash })
}

impl Stored {
    /// Checks `derived` (PBKDF2 of the candidate password with this salt and count), in constant
    /// time.
    pub fn check(&self, derived: &[u8]) -> Checked {
        match self.scheme {
            Scheme::Committed if super::bytes_equal(&commit(derived), &self.hash) => Checked::Right,
            Scheme::Derived if super::bytes_equal(derived, &self.hash) => {
                Checked::Upgrade(encode(self.iterations, &self.salt, derived))
            }
            _ => Checked::Wrong,
        }
    }

    /// Whether a client's `proof` (the PBKDF2 output it derived from the password) signs in: only
    /// against a `-c` row, whose hash is not itself a proof. One SHA-256, in constant time.
    pub fn accepts_proof(&self, proof: &[u8]) -> bool {
        self.scheme == Scheme::Committed && super::bytes_equal(&commit(proof), &self.hash)
    }
}

/// The stored form of `password` under a fresh 16-byte `salt` (random bytes from the caller),
/// derived here (the platform may derive the same bytes natively and [`encode`] them).
pub fn hash(password: &str, salt: &[u8; SALT_LEN]) -> String {
    hash_with(password, salt, ITERATIONS)
}

fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; DERIVED_LEN];
    pbkdf2_sha256(password.as_bytes(), salt, iterations, &mut out);
    encode(iterations, salt, &out)
}

/// Checks `password` against `stored`, derived here.
pub fn verify(password: &str, stored: &str) -> Checked {
    let Some(stored) = parse(stored) else { return Checked::Wrong };
    let mut got = [0u8; DERIVED_LEN];
    pbkdf2_sha256(password.as_bytes(), &stored.salt, stored.iterations, &mut got);
    stored.check(&got)
}

/// What a client needs before signing in to an account (`POST /api/auth/login/params`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginParams {
    /// The owner without a stored password: its password is `ADMIN_SECRET`, high-entropy and
    /// compared in constant time, so the client sends it as it is.
    Plain,
    /// Derive PBKDF2-SHA256 with these; with [`Scheme::Committed`] send the output as the proof,
    /// with [`Scheme::Derived`] (a row not yet upgraded) send the password.
    Pbkdf2 { scheme: Scheme, iterations: u32, salt: Vec<u8> },
}

impl LoginParams {
    /// The parameters of a stored hash; a damaged one gets an unknown account's.
    pub fn of(stored: &str, salt_key: &[u8; 32], name: &str) -> LoginParams {
        match parse(stored) {
            Some(s) => LoginParams::Pbkdf2 { scheme: s.scheme, iterations: s.iterations, salt: s.salt },
            None => LoginParams::unknown(salt_key, name),
        }
    }

    /// An account that does not exist answers like a new one: the default count and a salt that is
    /// the same on every ask (a random one would tell it apart) and that only the server can compute
    /// (an HMAC of the name, lowercased as sign-in matches names, under a key from `MASTER_KEY`).
    pub fn unknown(salt_key: &[u8; 32], name: &str) -> LoginParams {
        let mac = hmac_sha256(salt_key, name.to_ascii_lowercase().as_bytes());
        LoginParams::Pbkdf2 { scheme: Scheme::Committed, iterations: ITERATIONS, salt: mac[..SALT_LEN].to_vec() }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            LoginParams::Plain => serde_json::json!({"scheme": "plain"}),
            LoginParams::Pbkdf2 { scheme, iterations, salt } => serde_json::json!({
                "scheme": scheme.name(),
                "iterations": iterations,
                "salt": URL_SAFE_NO_PAD.encode(salt),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(p: &str, s: &str, c: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        pbkdf2_sha256(p.as_bytes(), s.as_bytes(), c, &mut out);
        crate::security::to_hex(&out)
    }

    fn derived(password: &str, salt: &[u8], iterations: u32) -> [u8; DERIVED_LEN] {
        let mut out = [0u8; DERIVED_LEN];
        pbkdf2_sha256(password.as_bytes(), salt, iterations, &mut out);
        out
    }

    /// A row as earlier versions stored it (the PBKDF2 output itself).
    fn old_hash(password: &str, salt: &[u8], iterations: u32) -> String {
        encode_as(Scheme::Derived, iterations, salt, &derived(password, salt, iterations))
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
    fn new_hashes_are_of_the_committed_scheme_and_verify_only_their_password() {
        let stored = hash_with("correct horse battery", &[7; 16], 1_000);
        assert!(stored.starts_with("pbkdf2-sha256-c$1000$"));
        assert_eq!(verify("correct horse battery", &stored), Checked::Right);
        assert_eq!(verify("correct horse batterz", &stored), Checked::Wrong);
        assert_eq!(verify("", &stored), Checked::Wrong);
        // Another salt gives another hash of the same password.
        assert_ne!(stored, hash_with("correct horse battery", &[8; 16], 1_000));
    }

    #[test]
    fn a_committed_row_stores_the_sha256_of_the_pbkdf2_output_not_the_output() {
        let proof = derived("correct horse battery", &[7; 16], 1_000);
        let stored = parse(&hash_with("correct horse battery", &[7; 16], 1_000)).unwrap();
        assert_eq!(stored.scheme, Scheme::Committed);
        assert_eq!(stored.hash, Sha256::digest(proof).to_vec());
        assert_ne!(stored.hash, proof.to_vec(), "the stored value is not the proof");
    }

    #[test]
    fn a_proof_signs_in_against_a_committed_row_and_nothing_else_does() {
        let stored = parse(&hash_with("correct horse battery", &[7; 16], 1_000)).unwrap();
        assert!(stored.accepts_proof(&derived("correct horse battery", &[7; 16], 1_000)));
        assert!(!stored.accepts_proof(&stored.hash), "the stored value itself is no proof");
        assert!(!stored.accepts_proof(&derived("correct horse batterz", &[7; 16], 1_000)));
        assert!(!stored.accepts_proof(&derived("correct horse battery", &[8; 16], 1_000)), "another salt");
        assert!(!stored.accepts_proof(&derived("correct horse battery", &[7; 16], 1_001)), "another count");
        assert!(!stored.accepts_proof(b""));
    }

    #[test]
    fn a_proof_never_signs_in_against_an_old_row_whose_hash_is_the_proof() {
        let old = parse(&old_hash("correct horse battery", &[7; 16], 1_000)).unwrap();
        assert_eq!(old.scheme, Scheme::Derived);
        assert!(!old.accepts_proof(&derived("correct horse battery", &[7; 16], 1_000)));
    }

    #[test]
    fn a_password_against_an_old_row_signs_in_and_gives_the_committed_row_with_the_same_salt() {
        let old = old_hash("correct horse battery", &[7; 16], 1_000);
        assert_eq!(verify("correct horse batterz", &old), Checked::Wrong);
        let Checked::Upgrade(new) = verify("correct horse battery", &old) else { panic!("no upgrade") };
        assert_eq!(new, hash_with("correct horse battery", &[7; 16], 1_000), "same salt and count, -c scheme");
        assert_eq!(verify("correct horse battery", &new), Checked::Right);
        assert!(parse(&new).unwrap().accepts_proof(&derived("correct horse battery", &[7; 16], 1_000)));
    }

    /// The Worker derives with WebCrypto (`platform::password_kdf`); this value was made there (an
    /// operator created in workerd, by an earlier version: the old scheme), and the reference
    /// verifies it. The other way round, a hash made here signs in through WebCrypto:
    /// tests/integration/auth_sessions.test.mjs.
    #[test]
    fn a_hash_made_by_the_workers_webcrypto_verifies_here() {
        let made_by_webcrypto =
            "pbkdf2-sha256$100000$yZA3Zx_Dyrk_h0mn2Y6PSw$fJ-L24JlxzwYpHEmYrerW3BGjTivLWww3F7vzgp32jw";
        assert!(verify("made-by-webcrypto-1", made_by_webcrypto).is_right());
        assert_eq!(verify("made-by-webcrypto-2", made_by_webcrypto), Checked::Wrong);
        assert_eq!(
            old_hash("made-by-the-reference-1", &[42; 16], ITERATIONS),
            "pbkdf2-sha256$100000$KioqKioqKioqKioqKioqKg$timdvPWd_haDxUbNE0yg9xigIq8V4DvxVPKZh6u27qU",
            "the old-scheme value the integration test signs in with"
        );
    }

    #[test]
    fn damaged_stored_values_match_nothing() {
        let stored = hash_with("pw-pw-pw-pw-pw", &[1; 16], 1_000);
        let parts: Vec<&str> = stored.split('$').collect();
        for bad in [
            String::new(),
            "plain-text-password".to_string(),
            stored.replacen("pbkdf2-sha256-c", "pbkdf2-sha1", 1),
            stored.replacen("pbkdf2-sha256-c", "pbkdf2-sha256-x", 1),
            stored.replacen("$1000$", "$1$", 1),
            stored.replacen("$1000$", "$99999999999$", 1),
            format!("{}$extra", stored),
            format!("{}${}${}${}", parts[0], parts[1], parts[2], &parts[3][..10]),
        ] {
            assert_eq!(verify("pw-pw-pw-pw-pw", &bad), Checked::Wrong, "{bad}");
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn login_params_name_a_stored_rows_scheme_count_and_salt() {
        let key = [3; 32];
        let new = hash_with("pw-pw-pw-pw-pw", &[1; 16], 1_000);
        assert_eq!(
            LoginParams::of(&new, &key, "ops").to_json(),
            serde_json::json!({"scheme": "pbkdf2-sha256-c", "iterations": 1000, "salt": "AQEBAQEBAQEBAQEBAQEBAQ"})
        );
        let old = old_hash("pw-pw-pw-pw-pw", &[1; 16], 1_000);
        assert_eq!(LoginParams::of(&old, &key, "ops").to_json()["scheme"], "pbkdf2-sha256");
        assert_eq!(LoginParams::of("damaged", &key, "ops"), LoginParams::unknown(&key, "ops"));
        assert_eq!(LoginParams::Plain.to_json(), serde_json::json!({"scheme": "plain"}));
    }

    #[test]
    fn an_unknown_accounts_salt_is_stable_per_name_without_case_and_differs_per_name_and_key() {
        let salt = |key: [u8; 32], name: &str| match LoginParams::unknown(&key, name) {
            LoginParams::Pbkdf2 { scheme, iterations, salt } => {
                assert_eq!((scheme, iterations), (Scheme::Committed, ITERATIONS), "like a new row");
                salt
            }
            LoginParams::Plain => panic!("plain"),
        };
        assert_eq!(salt([3; 32], "ghost").len(), 16, "as long as a real salt");
        assert_eq!(salt([3; 32], "ghost"), salt([3; 32], "ghost"));
        assert_eq!(salt([3; 32], "ghost"), salt([3; 32], "GHOST"), "names match without case, so do salts");
        assert_ne!(salt([3; 32], "ghost"), salt([3; 32], "ghost2"));
        assert_ne!(salt([3; 32], "ghost"), salt([4; 32], "ghost"), "only the server's key computes it");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_password_round_trips(pw in ".{0,40}", other in ".{0,40}", salt in proptest::array::uniform16(0u8..)) {
            let stored = hash_with(&pw, &salt, 1_000);
            proptest::prop_assert_eq!(verify(&pw, &stored), Checked::Right);
            proptest::prop_assert_eq!(verify(&other, &stored).is_right(), other == pw);
            proptest::prop_assert!(parse(&stored).unwrap().accepts_proof(&derived(&pw, &salt, 1_000)));
        }
    }
}
