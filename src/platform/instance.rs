//! Instance-wide settings, kept in the default tenant's settings (`Settings::INSTANCE_KEYS`): who
//! may reach the management API, and which web origins may call `/v1` from a browser. Read through
//! the config store, so in the isolate's memory on the hot path.

use super::config_store;
use super::http::{header, Incoming};
use crate::config::DEFAULT_TENANT;
use crate::error::Result;
use crate::security::cidr;
use crate::security::cors::{self, Decision};
use worker::Env;

/// Refuses a management request from an address the instance's lists do not admit.
pub async fn admit_management(req: &impl Incoming, env: &Env) -> Result<()> {
    let settings = &config_store::snapshot(env, DEFAULT_TENANT).await?.settings;
    if settings.admin_ip_allow.is_empty() && settings.admin_ip_block.is_empty() {
        return Ok(());
    }
    let ip = header(req, "cf-connecting-ip").and_then(|v| v.trim().parse().ok());
    if cidr::admits(&settings.admin_ip_allow, &settings.admin_ip_block, ip) {
        Ok(())
    } else {
        Err(cidr::refused("this gateway's management API"))
    }
}

/// What a `/v1` request's `Origin` gets (`None`: not a browser's cross-origin call).
pub async fn cors(env: &Env, origin: Option<&str>) -> Result<Option<Decision>> {
    let Some(origin) = origin else { return Ok(None) };
    let settings = &config_store::snapshot(env, DEFAULT_TENANT).await?.settings;
    Ok(Some(cors::decide(&settings.cors_origins, origin)))
}
