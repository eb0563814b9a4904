//! Instance-wide settings, kept in the default tenant's settings (`Settings::INSTANCE_KEYS`): who
//! may reach the management API, and which web origins may call `/v1` from a browser. Read through
//! the config store, so in the isolate's memory on the hot path.

use super::config_store;
use super::env;
use super::http::{header, Incoming};
use crate::auth::principal::{self, Credentials};
use crate::config::DEFAULT_TENANT;
use crate::error::Result;
use crate::security::cors::Decision;
use crate::security::secrets_equal;
use worker::Env;

/// Refuses a management request from an address the instance's lists do not admit (or, while a
/// list is unreadable, one without the owner's `ADMIN_SECRET`: `Settings::admit_management`).
pub async fn admit_management(req: &impl Incoming, env: &Env) -> Result<()> {
    let settings = &config_store::snapshot(env, DEFAULT_TENANT).await?.settings;
    let ip = header(req, "cf-connecting-ip").and_then(|v| v.trim().parse().ok());
    settings.admit_management(ip, || {
        let authorization = header(req, "authorization");
        let secret = env::admin_secret(env).unwrap_or_default();
        matches!(principal::credentials(authorization.as_deref(), None, true),
            Credentials::Bearer(given) if !secret.is_empty() && secrets_equal(&given, &secret))
    })
}

/// What a `/v1` request's `Origin` gets (`None`: not a browser's cross-origin call).
pub async fn cors(env: &Env, origin: Option<&str>) -> Result<Option<Decision>> {
    let Some(origin) = origin else { return Ok(None) };
    let settings = &config_store::snapshot(env, DEFAULT_TENANT).await?.settings;
    Ok(Some(settings.cors(origin)))
}
