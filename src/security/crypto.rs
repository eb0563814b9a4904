//! AES-256-GCM for provider credentials at rest. Stored form: `v1.<nonce b64>.<ciphertext b64>`.
//! The associated data binds a ciphertext to its row (tenant + connection id), so a ciphertext copied
//! into another row does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoError(pub &'static str);

pub fn encrypt(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Result<String, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError("bad key length"))?;
    let ct = cipher
        .encrypt(&Nonce::from(*nonce), Payload { msg: plaintext, aad })
        .map_err(|_| CryptoError("encryption failed"))?;
    Ok(format!("v1.{}.{}", STANDARD_NO_PAD.encode(nonce), STANDARD_NO_PAD.encode(ct)))
}

pub fn decrypt(key: &[u8; 32], aad: &[u8], stored: &str) -> Result<Vec<u8>, CryptoError> {
    let mut parts = stored.split('.');
    let (Some("v1"), Some(nonce), Some(ct), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(CryptoError("unknown ciphertext format"));
    };
    let nonce = STANDARD_NO_PAD.decode(nonce).map_err(|_| CryptoError("bad nonce"))?;
    let ct = STANDARD_NO_PAD.decode(ct).map_err(|_| CryptoError("bad ciphertext"))?;
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError("bad nonce"))?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError("bad key length"))?;
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: &ct, aad })
        .map_err(|_| CryptoError("decryption failed (wrong MASTER_KEY or tampered data)"))
}

/// Decrypts with the first of `keys` that opens `stored` (the current key, then a previous one
/// during a key rotation); returns the plaintext and the index of the key that opened it.
pub fn decrypt_any(keys: &[&[u8; 32]], aad: &[u8], stored: &str) -> Result<(Vec<u8>, usize), CryptoError> {
    let mut last = CryptoError("no key to decrypt with");
    for (i, key) in keys.iter().enumerate() {
        match decrypt(key, aad, stored) {
            Ok(plain) => return Ok((plain, i)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_to_aad() {
        let key = [7u8; 32];
        let s = encrypt(&key, &[1; 12], b"t1/c1", b"sk-provider-secret").unwrap();
        assert!(!s.contains("sk-provider-secret"));
        assert_eq!(decrypt(&key, b"t1/c1", &s).unwrap(), b"sk-provider-secret");
        assert!(decrypt(&key, b"t1/c2", &s).is_err());
        assert!(decrypt(&[8u8; 32], b"t1/c1", &s).is_err());
    }

    #[test]
    fn decrypt_any_says_which_key_opened_it() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let s = encrypt(&old, &[3; 12], b"a", b"plain").unwrap();
        assert_eq!(decrypt_any(&[&new, &old], b"a", &s).unwrap(), (b"plain".to_vec(), 1));
        assert_eq!(decrypt_any(&[&old], b"a", &s).unwrap().1, 0);
        assert!(decrypt_any(&[&new], b"a", &s).is_err());
        assert!(decrypt_any(&[], b"a", &s).is_err());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "v1", "v1.a.b", "v2.AAAAAAAAAAAAAAAA.AAAA", "v1.AAAAAAAAAAAAAAAA.AAAA.x"] {
            assert!(decrypt(&[0; 32], b"", bad).is_err(), "{bad}");
        }
    }
}
