//! Binding names and secrets in one place, plus the platform's clock and randomness for the core.

use crate::error::{ErrorKind, GatewayError, Result};
use crate::security::derive_key;
use worker::Env;

pub const DB: &str = "DB";
pub const CONFIG_CACHE: &str = "CONFIG_CACHE";
pub const ASSETS: &str = "ASSETS";
pub const RESILIENCE: &str = "RESILIENCE";
pub const SYNC: &str = "SYNC";
pub const LIMITS: &str = "LIMITS";
pub const SLOTS: &str = "SLOTS";
pub const IDEMPOTENCY: &str = "IDEMPOTENCY";
pub const RESPONSES: &str = "RESPONSES";
pub const LOGIN_LIMITS: &str = "LOGIN_LIMITS";

/// Days without a push after which a synced machine expires (the `SYNC_MACHINE_TTL_DAYS` var).
pub fn sync_machine_ttl_days(env: &Env) -> i64 {
    env.var("SYNC_MACHINE_TTL_DAYS").ok().and_then(|v| v.to_string().parse().ok()).filter(|d| *d > 0).unwrap_or(30)
}

/// Keys derived from the `MASTER_KEY` secret.
pub struct Keys {
    /// Encrypts provider credentials.
    pub credentials: [u8; 32],
    /// Hashes gateway API keys for storage and lookup.
    pub api_key_hash: [u8; 32],
    /// Signs login session tokens and hashes their ids for storage.
    pub sessions: [u8; 32],
    /// Makes the stable salt an unknown login name is answered with (`password::LoginParams`).
    pub login_salts: [u8; 32],
    /// From `MASTER_KEY_PREVIOUS` during a key rotation (docs/secrets.md): decrypts what the old key
    /// sealed and finds keys hashed under it; nothing new is written with it.
    pub previous: Option<Previous>,
}

pub struct Previous {
    pub credentials: [u8; 32],
    pub api_key_hash: [u8; 32],
}

impl Keys {
    /// The credentials keys to decrypt with: the current one, then the previous one.
    pub fn credential_keys(&self) -> Vec<&[u8; 32]> {
        std::iter::once(&self.credentials).chain(self.previous.as_ref().map(|p| &p.credentials)).collect()
    }

    /// Decrypts what was sealed for `aad` under the current key or the previous one; says whether
    /// it was the current one.
    pub fn open(&self, aad: &str, stored: &str) -> Result<(Vec<u8>, bool)> {
        crate::security::crypto::decrypt_any(&self.credential_keys(), aad.as_bytes(), stored)
            .map(|(plain, i)| (plain, i == 0))
            .map_err(|e| GatewayError::internal(format!("stored secret of `{aad}` unreadable: {}", e.0)))
    }
}

fn not_configured(what: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::NotConfigured,
        format!("The gateway is not configured: the `{what}` secret is missing. Set it with `wrangler secret put {what}` (locally: .dev.vars)."),
    )
}

fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string()).filter(|s| !s.is_empty())
}

thread_local! {
    // Secrets cannot change during an isolate's life (changing one deploys a new version), so the
    // derived keys are computed once per isolate rather than on every request.
    static KEYS: std::cell::OnceCell<std::rc::Rc<Keys>> = const { std::cell::OnceCell::new() };
}

pub fn keys(env: &Env) -> Result<std::rc::Rc<Keys>> {
    if let Some(k) = KEYS.with(|k| k.get().cloned()) {
        return Ok(k);
    }
    let master = secret(env, "MASTER_KEY").ok_or_else(|| not_configured("MASTER_KEY"))?;
    let keys = std::rc::Rc::new(Keys {
        credentials: derive_key(master.as_bytes(), "credentials/v1"),
        api_key_hash: derive_key(master.as_bytes(), "api-keys/v1"),
        sessions: derive_key(master.as_bytes(), "sessions/v1"),
        login_salts: derive_key(master.as_bytes(), "login-salts/v1"),
        previous: secret(env, "MASTER_KEY_PREVIOUS").filter(|p| *p != master).map(|p| Previous {
            credentials: derive_key(p.as_bytes(), "credentials/v1"),
            api_key_hash: derive_key(p.as_bytes(), "api-keys/v1"),
        }),
    });
    KEYS.with(|k| k.set(keys.clone()).ok());
    Ok(keys)
}

/// Encrypts `plaintext` under the credentials key, bound to `aad` (which row it belongs to).
pub fn seal(env: &Env, aad: &str, plaintext: &[u8]) -> Result<String> {
    crate::security::crypto::encrypt(&keys(env)?.credentials, &random_bytes::<12>()?, aad.as_bytes(), plaintext)
        .map_err(|e| GatewayError::internal(format!("encryption failed: {}", e.0)))
}

/// Decrypts what [`seal`] made for the same `aad` (under `MASTER_KEY`, or `MASTER_KEY_PREVIOUS`
/// during a rotation).
pub fn open(env: &Env, aad: &str, stored: &str) -> Result<Vec<u8>> {
    Ok(keys(env)?.open(aad, stored)?.0)
}

pub fn admin_secret(env: &Env) -> Result<String> {
    secret(env, "ADMIN_SECRET").ok_or_else(|| not_configured("ADMIN_SECRET"))
}

pub fn allow_private_upstreams(env: &Env) -> bool {
    env.var("ALLOW_PRIVATE_UPSTREAMS").map(|v| v.to_string() == "true").unwrap_or(false)
}

/// `Date.now()`: `worker::Date::now()` constructs a `Date` object for every reading, and a request
/// takes several (the profile showed `new Date`; the A/B showed no measurable change, -11 ± 90 µs).
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// The weekday and minute of the day at `now_ms` in the IANA time zone `zone`, from the runtime's
/// time-zone database (`Intl.DateTimeFormat`); `None` for a zone it does not know. The formatter is
/// constructed through `Reflect` because its constructor throws for an unknown zone.
pub fn local_time(zone: &str, now_ms: i64) -> Option<crate::config::schedule::LocalTime> {
    use js_sys::{Array, Function, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    let get = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok();
    let ctor: Function = get(&get(&js_sys::global(), "Intl")?, "DateTimeFormat")?.dyn_into().ok()?;
    let options = Object::new();
    for (k, v) in
        [("timeZone", zone), ("weekday", "short"), ("hour", "2-digit"), ("minute", "2-digit"), ("hourCycle", "h23")]
    {
        Reflect::set(&options, &JsValue::from_str(k), &JsValue::from_str(v)).ok()?;
    }
    let args = Array::of2(&JsValue::from_str("en-US"), &options);
    let format: js_sys::Intl::DateTimeFormat = Reflect::construct(&ctor, &args).ok()?.unchecked_into();
    let date = js_sys::Date::new(&JsValue::from_f64(now_ms as f64));
    let (mut weekday, mut hour, mut minute) = (None, None, None);
    for part in format.format_to_parts(&date).iter() {
        let value = get(&part, "value").and_then(|v| v.as_string()).unwrap_or_default();
        match get(&part, "type").and_then(|v| v.as_string()).as_deref() {
            Some("weekday") => weekday = crate::config::schedule::LocalTime::weekday_of(&value),
            // Some runtimes write midnight as 24 even in a 23-hour cycle.
            Some("hour") => hour = value.parse::<u16>().ok().map(|h| h % 24),
            Some("minute") => minute = value.parse::<u16>().ok(),
            _ => {}
        }
    }
    Some(crate::config::schedule::LocalTime { weekday: weekday?, minute: hour? * 60 + minute? })
}

/// Fills `buf` from the runtime's CSPRNG (`crypto.getRandomValues`, which does not fail in a Worker).
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::getrandom(buf) {
        worker::console_error!("no randomness available: {e}");
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| GatewayError::internal(format!("no randomness available: {e}")))?;
    Ok(buf)
}

/// A random id like `conn_3f9a…` (16 random bytes, hex).
pub fn new_id(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}_{}", crate::security::to_hex(&random_bytes::<16>()?)))
}
