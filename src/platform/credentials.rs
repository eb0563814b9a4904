//! The pipeline's `Credentials` port: provider keys decrypted from the snapshot's ciphertext, kept
//! in isolate memory only (never stored or logged), so the request path does not run AES for every
//! request.

use crate::config::ConnectionRecord;
use crate::engine::ports::Credentials;
use crate::error::{GatewayError, Result};
use crate::security::{crypto, Secret};
use std::cell::RefCell;
use std::collections::HashMap;

pub struct Decrypted<'a> {
    pub key: &'a [u8; 32],
    pub tenant: &'a str,
}

thread_local! {
    /// By tenant, connection and version (`updated_at`): an edited connection is decrypted afresh.
    static CACHE: RefCell<HashMap<(String, String, i64), Secret>> = RefCell::new(HashMap::new());
}

const MAX_CACHED: usize = 1_000;

impl Credentials for Decrypted<'_> {
    async fn credential(&self, conn: &ConnectionRecord) -> Result<Secret> {
        let id = (self.tenant.to_string(), conn.id.clone(), conn.updated_at);
        if let Some(k) = CACHE.with(|c| c.borrow().get(&id).cloned()) {
            return Ok(k);
        }
        let aad = format!("{}/{}", self.tenant, conn.id);
        let plain = crypto::decrypt(self.key, aad.as_bytes(), &conn.api_key_enc)
            .map_err(|e| GatewayError::internal(format!("credential of connection {} unreadable: {}", conn.id, e.0)))?;
        let plain =
            Secret::new(String::from_utf8(plain).map_err(|_| GatewayError::internal("credential is not UTF-8"))?);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(id, plain.clone());
        });
        Ok(plain)
    }
}
