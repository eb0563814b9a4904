//! The pipeline's `Credentials` port: provider keys decrypted from the snapshot's ciphertext, kept
//! in isolate memory only (never stored or logged), so the request path does not run AES for every
//! request.

use super::env::Keys;
use crate::bounded::BoundedMap;
use crate::config::ConnectionRecord;
use crate::engine::ports::Credentials;
use crate::error::{GatewayError, Result};
use crate::security::{crypto, Secret};
use std::cell::RefCell;

pub struct Decrypted<'a> {
    pub keys: &'a Keys,
    pub tenant: &'a str,
}

thread_local! {
    /// By tenant and connection, with the ciphertext it was decrypted from: a new credential (an
    /// edit, an import that kept `updated_at`) is decrypted afresh.
    static CACHE: RefCell<BoundedMap<(String, String), (String, Secret)>> = RefCell::new(BoundedMap::new(MAX_CACHED));
}

const MAX_CACHED: usize = 1_000;

impl Credentials for Decrypted<'_> {
    async fn credential(&self, conn: &ConnectionRecord) -> Result<Secret> {
        let id = (self.tenant.to_string(), conn.id.clone());
        let hit =
            CACHE.with(|c| c.borrow().get(&id).filter(|(enc, _)| *enc == conn.api_key_enc).map(|(_, k)| k.clone()));
        if let Some(k) = hit {
            return Ok(k);
        }
        let aad = format!("{}/{}", self.tenant, conn.id);
        let (plain, _) = crypto::decrypt_any(&self.keys.credential_keys(), aad.as_bytes(), &conn.api_key_enc)
            .map_err(|e| GatewayError::internal(format!("credential of connection {} unreadable: {}", conn.id, e.0)))?;
        let plain =
            Secret::new(String::from_utf8(plain).map_err(|_| GatewayError::internal("credential is not UTF-8"))?);
        CACHE.with(|c| c.borrow_mut().insert(id, (conn.api_key_enc.clone(), plain.clone())));
        Ok(plain)
    }
}
