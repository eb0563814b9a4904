//! What of a configuration is secret, and how an archive carries it.
//!
//! Secret: each connection's provider credential (plaintext once decrypted), and each gateway key's
//! stored hash. A hash is not a key, but it is what lets a key keep working after an import, and it
//! is keyed by this deployment's `MASTER_KEY`: on a deployment with another `MASTER_KEY` no client
//! key matches it, and such keys need a new secret (`POST /api/keys/{id}/rotate`).
//!
//! An archive carries them as one AES-256-GCM blob (`security::crypto`) under a key derived from a
//! passphrase with PBKDF2-HMAC-SHA256 (16 random bytes of salt, [`ITERATIONS`]). The associated
//! data names the format and the archive's tenant, so a blob moved into another archive does not
//! open. The platform derives the key (WebCrypto); everything else is here.

use crate::config::input::check_api_key;
use crate::error::{GatewayError, Result};
use crate::security::{crypto, Secret};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The most Workers' WebCrypto PBKDF2 accepts.
pub const ITERATIONS: u32 = 100_000;
/// What an archive may ask for: enough to be a real KDF, little enough not to spin on import.
const ITERATION_RANGE: std::ops::RangeInclusive<u32> = 10_000..=1_000_000;
pub const KDF: &str = "pbkdf2-sha256";
pub const CIPHER: &str = "aes-256-gcm";
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// The secrets of one tenant's configuration, in plaintext (only ever in memory).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Provider credential by connection id.
    #[serde(default)]
    pub connections: BTreeMap<String, Secret>,
    /// Stored hash by gateway key id (keyed by the exporting deployment's `MASTER_KEY`).
    #[serde(default)]
    pub api_key_hashes: BTreeMap<String, String>,
}

impl Serialize for Secrets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Plain<'a> {
            connections: BTreeMap<&'a str, &'a str>,
            api_key_hashes: &'a BTreeMap<String, String>,
        }
        let connections = self.connections.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        Plain { connections, api_key_hashes: &self.api_key_hashes }.serialize(s)
    }
}

/// The sealed form in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    pub kdf: Kdf,
    pub cipher: String,
    /// `v1.<nonce>.<ciphertext>` (`security::crypto`).
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kdf {
    pub name: String,
    /// base64url, no padding.
    pub salt: String,
    pub iterations: u32,
}

fn bad(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

fn aad(tenant: &str) -> String {
    format!("omniroute-edge/backup/v1/{tenant}")
}

/// A passphrase fit to seal credentials with.
pub fn check_passphrase(passphrase: &Secret) -> Result<()> {
    let n = passphrase.expose().chars().count();
    if !(MIN_PASSPHRASE_CHARS..=1024).contains(&n) {
        return Err(bad("passphrase", format!("The passphrase needs {MIN_PASSPHRASE_CHARS} to 1024 characters.")));
    }
    Ok(())
}

impl Sealed {
    /// Seals `secrets` of `tenant` under `key` (derived from the passphrase with `salt` and
    /// [`ITERATIONS`]); `nonce` is 12 random bytes.
    pub fn seal(key: &[u8; 32], salt: &[u8; 16], nonce: &[u8; 12], tenant: &str, secrets: &Secrets) -> Result<Sealed> {
        let plain = serde_json::to_vec(secrets).map_err(|e| GatewayError::internal(e.to_string()))?;
        let data = crypto::encrypt(key, nonce, aad(tenant).as_bytes(), &plain)
            .map_err(|e| GatewayError::internal(format!("sealing the backup failed: {}", e.0)))?;
        let kdf = Kdf { name: KDF.into(), salt: URL_SAFE_NO_PAD.encode(salt), iterations: ITERATIONS };
        Ok(Sealed { kdf, cipher: CIPHER.into(), data })
    }

    /// The salt and iteration count to derive the key with, once the parameters are known ones.
    pub fn kdf_params(&self) -> Result<(Vec<u8>, u32)> {
        if self.kdf.name != KDF || self.cipher != CIPHER {
            return Err(bad(
                "secrets",
                format!(
                    "Secrets sealed with `{}`/`{}` are not supported; this gateway uses `{KDF}`/`{CIPHER}`.",
                    self.kdf.name, self.cipher
                ),
            ));
        }
        if !ITERATION_RANGE.contains(&self.kdf.iterations) {
            return Err(bad(
                "secrets.kdf.iterations",
                format!("`iterations` must be between {} and {}.", ITERATION_RANGE.start(), ITERATION_RANGE.end()),
            ));
        }
        let salt = URL_SAFE_NO_PAD
            .decode(&self.kdf.salt)
            .ok()
            .filter(|s| (16..=64).contains(&s.len()))
            .ok_or_else(|| bad("secrets.kdf.salt", "`salt` must be 16 to 64 bytes of base64url."))?;
        Ok((salt, self.kdf.iterations))
    }

    /// Opens the secrets with the key derived from the passphrase. A wrong passphrase and a changed
    /// blob (or one moved from another tenant's archive) are the same error: GCM cannot tell them apart.
    pub fn open(&self, key: &[u8; 32], tenant: &str) -> Result<Secrets> {
        let plain = crypto::decrypt(key, aad(tenant).as_bytes(), &self.data).map_err(|_| {
            bad("passphrase", "The secrets do not open: wrong passphrase, or the archive was altered.")
                .with_code("wrong_passphrase")
        })?;
        serde_json::from_slice(&plain).map_err(|e| bad("secrets", format!("The sealed secrets are not readable: {e}")))
    }
}

impl Secrets {
    /// Every secret belongs to an entry of the configuration; credentials are usable tokens; hashes
    /// are hashes, none twice.
    pub fn validate(&self, config: &super::Config) -> Result<()> {
        let conns: BTreeSet<&str> = config.connections.iter().map(|c| c.id.as_str()).collect();
        for (id, key) in &self.connections {
            let param = format!("secrets.connections.{id}");
            if !conns.contains(id.as_str()) {
                return Err(bad(&param, format!("A credential for `{id}`, which is not a connection of the archive.")));
            }
            check_api_key(key).map_err(|e| bad(&param, format!("{param}: {}", e.message)))?;
        }
        let keys: BTreeSet<&str> = config.api_keys.iter().map(|k| k.id.as_str()).collect();
        let mut hashes = BTreeSet::new();
        for (id, hash) in &self.api_key_hashes {
            let param = format!("secrets.api_key_hashes.{id}");
            if !keys.contains(id.as_str()) {
                return Err(bad(&param, format!("A hash for `{id}`, which is not a key of the archive.")));
            }
            let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !hex || !hashes.insert(hash.as_str()) {
                return Err(bad(&param, format!("{param} is not a key hash, or appears twice.")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::password::pbkdf2_sha256;

    fn secrets() -> Secrets {
        Secrets {
            connections: [("conn_b".to_string(), Secret::new("sk-provider-1234"))].into(),
            api_key_hashes: [("key_a".to_string(), "ab".repeat(32))].into(),
        }
    }

    fn derive(passphrase: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
        let mut out = [0u8; 32];
        pbkdf2_sha256(passphrase.as_bytes(), salt, iterations, &mut out);
        out
    }

    #[test]
    fn seals_and_opens_with_the_passphrase_only() {
        let salt = [9u8; 16];
        let key = derive("correct horse battery", &salt, 10_000);
        let mut sealed = Sealed::seal(&key, &salt, &[1; 12], "t1", &secrets()).unwrap();
        sealed.kdf.iterations = 10_000; // the test derives with fewer rounds than the real count
        assert!(!serde_json::to_string(&sealed).unwrap().contains("sk-provider-1234"));
        let (s, n) = sealed.kdf_params().unwrap();
        assert_eq!(sealed.open(&derive("correct horse battery", &s, n), "t1").unwrap(), secrets());
        let e = sealed.open(&derive("wrong horse battery", &s, n), "t1").unwrap_err();
        assert_eq!(
            (e.status, e.code.as_deref(), e.param.as_deref()),
            (400, Some("wrong_passphrase"), Some("passphrase"))
        );
        assert!(sealed.open(&key, "t2").is_err(), "bound to the archive's tenant");
    }

    #[test]
    fn a_tampered_blob_does_not_open() {
        let key = [4u8; 32];
        let sealed = Sealed::seal(&key, &[0; 16], &[2; 12], "t1", &secrets()).unwrap();
        let mut bytes = sealed.data.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = Sealed { data: String::from_utf8(bytes).unwrap(), ..sealed };
        assert_eq!(tampered.open(&key, "t1").unwrap_err().code.as_deref(), Some("wrong_passphrase"));
    }

    #[test]
    fn refuses_unknown_kdf_parameters() {
        let sealed = Sealed::seal(&[0; 32], &[0; 16], &[0; 12], "t", &Secrets::default()).unwrap();
        assert_eq!(sealed.kdf_params().unwrap().1, ITERATIONS);
        for change in [
            (|s: &mut Sealed| s.kdf.name = "scrypt".into()) as fn(&mut Sealed),
            |s| s.cipher = "aes-128-cbc".into(),
            |s| s.kdf.iterations = 1,
            |s| s.kdf.salt = "AA".into(),
        ] {
            let mut s = sealed.clone();
            change(&mut s);
            assert_eq!(s.kdf_params().unwrap_err().status, 400);
        }
    }

    #[test]
    fn secrets_must_belong_to_the_configuration() {
        let config = super::super::archive::tests::sample();
        assert!(secrets().validate(&config).is_ok());
        let mut s = secrets();
        s.connections.insert("conn_x".into(), Secret::new("k"));
        assert_eq!(s.validate(&config).unwrap_err().param.as_deref(), Some("secrets.connections.conn_x"));
        let mut s = secrets();
        s.api_key_hashes.insert("key_a".into(), "not-hex".into());
        assert!(s.validate(&config).is_err());
        let mut s = secrets();
        s.connections.insert("conn_b".into(), Secret::new("has space"));
        assert!(s.validate(&config).is_err());
    }

    #[test]
    fn plaintext_secrets_never_show_in_debug_output() {
        assert!(!format!("{:?}", secrets()).contains("sk-provider-1234"));
    }

    proptest::proptest! {
        #[test]
        fn any_secrets_round_trip_through_the_seal(
            conns in proptest::collection::btree_map("[a-z_0-9]{1,12}", "[!-~]{1,40}", 0..5),
            hashes in proptest::collection::btree_map("[a-z_0-9]{1,12}", "[0-9a-f]{64}", 0..5),
            key in proptest::array::uniform32(proptest::num::u8::ANY),
        ) {
            let secrets = Secrets {
                connections: conns.into_iter().map(|(k, v)| (k, Secret::new(v))).collect(),
                api_key_hashes: hashes,
            };
            let sealed = Sealed::seal(&key, &[5; 16], &[6; 12], "t", &secrets).unwrap();
            let json = serde_json::to_string(&sealed).unwrap();
            let back: Sealed = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(back.open(&key, "t").unwrap(), secrets);
        }
    }

    #[test]
    fn passphrases_have_a_minimum_length() {
        assert!(check_passphrase(&Secret::new("short")).is_err());
        assert!(check_passphrase(&Secret::new("a long enough phrase")).is_ok());
    }
}
