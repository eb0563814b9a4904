//! Tenant configuration. D1 is the source of truth (`migrations/`); the hot path reads a
//! [`TenantSnapshot`] — one JSON document per tenant, cached in KV and in the isolate — and never
//! queries D1 per request. Every admin write rebuilds the snapshot.
//!
//! A tenant is one configuration namespace: this instance's own is [`DEFAULT_TENANT`]; each local
//! OmniRoute instance that syncs here becomes another.

pub mod input;
pub mod key_access;
pub mod rows;
pub mod schedule;
pub mod settings;
pub mod snapshot;

pub use settings::Settings;
pub use snapshot::{ConnectionRecord, ConnectionView, KeyEntry, TenantSnapshot};

pub const DEFAULT_TENANT: &str = "default";

/// Tenant ids appear in URLs (`/{tenant}/v1/...`) and KV keys: keep them to a safe alphabet.
pub fn valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
