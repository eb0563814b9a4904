//! The auth layer of `/api/*` ([`authenticate`]: credentials → `auth::Principal`, before any
//! handler runs) and the `/api/auth/*` routes: login (and its parameters), logout, password change,
//! who am I, and the owner's tenant operators. See docs/auth.md.

use super::{list, value, Call};
use crate::auth::input::{Credential, Login, LoginParamsAsk, NewOperator, PasswordChange};
use crate::auth::login_limit::{self, Command, LoginLimit, Reply, MAX_FAILURES, WINDOW_MS};
use crate::auth::principal::{self, Resolved, OWNER_ID};
use crate::auth::{csrf, session, Principal, Role};
use crate::config::input::parse;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::manage::routes::Auth as Op;
use crate::platform::http::{header, json_response, read_body};
use crate::platform::state_client::Objects;
use crate::platform::{auth_store, env, password_kdf, repo};
use crate::security::password::{self, Checked, LoginParams};
use crate::security::secrets_equal;
use serde_json::json;
use worker::{Env, Request, Response};

const LIMITER: Objects<LoginLimit> = Objects::new(env::LOGIN_LIMITS);
const MAX_AUTH_BODY: u64 = 8 * 1024;

/// What the request's URL says about its transport: whether cookies are `Secure`, and its origin.
fn transport(req: &Request) -> Result<(bool, String)> {
    let url = req.url()?;
    let secure = session::secure_transport(url.scheme(), url.host_str().unwrap_or(""));
    Ok((secure, url.origin().ascii_serialization()))
}

/// The principal of a request to `/api/*`: the admin secret as a bearer token, or a live session
/// cookie (then a mutation must also pass the CSRF check).
pub async fn authenticate(req: &Request, env: &Env) -> Result<Principal> {
    let (secure, own_origin) = transport(req)?;
    let creds =
        principal::credentials(header(req, "authorization").as_deref(), header(req, "cookie").as_deref(), secure);
    // Only a bearer token needs the admin secret: a missing secret must not lock sessions out.
    let admin_secret =
        if matches!(creds, principal::Credentials::Bearer(_)) { env::admin_secret(env)? } else { String::new() };
    let keys = env::keys(env)?;
    let now = env::now_ms();
    match principal::resolve(&creds, &admin_secret, &keys.sessions, now)? {
        Resolved::Principal(p) => Ok(p),
        Resolved::Session(claim) => {
            let (origin, site) = (header(req, "origin"), header(req, "sec-fetch-site"));
            csrf::check(req.method().as_ref(), &own_origin, origin.as_deref(), site.as_deref())?;
            let id = session::stored_id(&keys.sessions, &claim.id);
            let record = auth_store::session(env, &id).await?;
            Principal::from_session(&claim, id, record, now)
        }
    }
}

/// `/api/auth/*` for an authenticated principal (the route table checks the owner-only ones).
pub async fn handle(op: Op, call: &mut Call<'_>) -> Result<Response> {
    let (req, env, p) = (&*call.req, call.env, call.principal);
    match op {
        Op::Login => login(req, env).await.map(|(_, resp)| resp),
        Op::LoginParams => login_params(req, env).await,
        Op::Me => me(env, p).await,
        Op::Logout => logout(req, env, p).await,
        Op::ChangePassword => change_password(req, env, p).await,
        Op::ListOperators => list(&auth_store::operators(env).await?),
        Op::CreateOperator => create_operator(req, env).await,
        Op::DeleteOperator => {
            let id = call.param("id");
            if !auth_store::delete_operator(env, id).await? {
                return Err(GatewayError::not_found(format!("No operator `{id}`.")));
            }
            value(200, &json!({"deleted": id}))
        }
    }
}

/// A password check of one account from the client's address, counted before the check.
struct Admitted {
    bucket: String,
    account: String,
    remaining: usize,
}

impl Admitted {
    /// The password was right: forgives this account's attempts from this address (only its own).
    async fn succeeded(self, env: &Env) -> Result<()> {
        LIMITER.apply(env, &self.bucket, &Command::Succeeded { account: self.account }).await.map(drop)
    }
}

/// Counts a password check of `account` (`login_limit::account`) against the client's address;
/// refused (429) past the limit.
async fn admit(req: &Request, env: &Env, account: String) -> Result<Admitted> {
    let bucket = login_limit::bucket(header(req, "cf-connecting-ip").as_deref());
    match LIMITER.apply(env, &bucket, &Command::Attempt { account: account.clone() }).await? {
        Reply::Refused { retry_after_ms } => {
            let secs = (retry_after_ms as u64).div_ceil(1000);
            Err(GatewayError::new(
                ErrorKind::RateLimited,
                format!(
                    "Too many failed sign-ins from your address ({MAX_FAILURES} in {} minutes). Try again in {} minute(s).",
                    WINDOW_MS / 60_000,
                    secs.div_ceil(60)
                ),
            )
            .with_code("login_rate_limited")
            .with_retry_after(Some(secs)))
        }
        Reply::Admitted { remaining } => Ok(Admitted { bucket, account, remaining }),
        Reply::Cleared => Ok(Admitted { bucket, account, remaining: MAX_FAILURES }),
    }
}

fn wrong_password(what: &str, remaining: usize, param: &str) -> GatewayError {
    GatewayError::authentication(format!(
        "Wrong {what}. {remaining} more failed attempt(s) at this login from your address before a {}-minute wait.",
        WINDOW_MS / 60_000
    ))
    .with_param(param)
    .with_code("wrong_password")
}

/// Whether `credential` signs in as `login`: its stored row, or `None` when there is none (an
/// unknown operator name, or the owner before a password is set, whose password is then
/// `ADMIN_SECRET`). A right password against a row of the earlier scheme re-stores it in the `-c`
/// scheme, from then on proof-ready.
async fn signs_in(env: &Env, login: Option<&auth_store::Login>, owner: bool, credential: &Credential) -> Result<bool> {
    Ok(match (credential, login) {
        // One SHA-256: the browser did the PBKDF2 (`security::password`).
        (Credential::Proof(proof), Some(l)) => {
            password::parse(&l.password_hash).is_some_and(|s| s.accepts_proof(proof))
        }
        (Credential::Proof(_), None) => false,
        (Credential::Password(p), Some(l)) => match password_kdf::verify(p.expose(), &l.password_hash).await {
            Checked::Wrong => false,
            Checked::Right => true,
            Checked::Upgrade(new) => {
                auth_store::upgrade_password(env, &l.id, &l.password_hash, &new).await?;
                true
            }
        },
        (Credential::Password(p), None) if owner => secrets_equal(p.expose(), &env::admin_secret(env)?),
        (Credential::Password(p), None) => {
            password_kdf::waste(p.expose()).await;
            false
        }
    })
}

/// `POST /api/auth/login {name?, password | proof}` (no credentials needed): the owner without
/// `name`, an operator with it. Sets the session cookie. Also returns who signed in (for the audit
/// log).
pub async fn login(req: &Request, env: &Env) -> Result<(Principal, Response)> {
    let (secure, own_origin) = transport(req)?;
    // A browser's login must come from the dashboard itself (no signing a victim into another login).
    let (origin, site) = (header(req, "origin"), header(req, "sec-fetch-site"));
    if origin.is_some() || site.is_some() {
        csrf::check("POST", &own_origin, origin.as_deref(), site.as_deref())?;
    }
    let input = parse::<Login>(&read_body(req, MAX_AUTH_BODY).await?)?.validate()?;
    let admitted = admit(req, env, login_limit::account(input.name.as_deref())).await?;
    let login = match &input.name {
        None => auth_store::login_by_id(env, OWNER_ID).await?,
        Some(name) => auth_store::operator_by_name(env, name).await?,
    };
    if !signs_in(env, login.as_ref(), input.name.is_none(), &input.credential).await? {
        let what = if input.name.is_some() { "name or password" } else { "password" };
        let param = if matches!(input.credential, Credential::Proof(_)) { "proof" } else { "password" };
        return Err(wrong_password(what, admitted.remaining, param));
    }
    let login_id = login.map_or_else(|| OWNER_ID.to_string(), |l| l.id);
    admitted.succeeded(env).await?;
    let token_id = env::random_bytes::<32>()?;
    let now = env::now_ms();
    let expires_at = now + session::LIFETIME_MS;
    let keys = env::keys(env)?;
    let token = session::issue(&keys.sessions, &token_id, expires_at);
    let claim = session::verify(&keys.sessions, &token, now)
        .ok_or_else(|| GatewayError::internal("a new session token did not verify"))?;
    let id = session::stored_id(&keys.sessions, &claim.id);
    auth_store::insert_session(env, &id, &login_id, now, expires_at).await?;
    let record = auth_store::session(env, &id).await?;
    let p = Principal::from_session(&claim, id, record, now)?;
    let resp = me(env, &p).await?;
    resp.headers().set("set-cookie", &session::set_cookie(&token, session::LIFETIME_MS, secure))?;
    Ok((p, resp))
}

/// `POST /api/auth/login/params {name?}` (no credentials needed): how the client derives its sign-in
/// proof (`security::password::LoginParams`). An unknown name is answered like an existing one.
pub async fn login_params(req: &Request, env: &Env) -> Result<Response> {
    let input = parse::<LoginParamsAsk>(&read_body(req, MAX_AUTH_BODY).await?)?.validate()?;
    let salt_key = &env::keys(env)?.login_salts;
    let params = match &input.name {
        None => match auth_store::login_by_id(env, OWNER_ID).await? {
            Some(l) => LoginParams::of(&l.password_hash, salt_key, OWNER_ID),
            None => LoginParams::Plain,
        },
        Some(name) => match auth_store::operator_by_name(env, name).await? {
            Some(l) => LoginParams::of(&l.password_hash, salt_key, name),
            None => LoginParams::unknown(salt_key, name),
        },
    };
    Ok(json_response(200, &params.to_json())?)
}

/// `GET /api/auth/me`: who the request acts as, and whether the owner still uses `ADMIN_SECRET`.
async fn me(env: &Env, p: &Principal) -> Result<Response> {
    let password_set = match p.role {
        Role::Owner => auth_store::login_by_id(env, OWNER_ID).await?.is_some(),
        Role::Operator => true,
    };
    Ok(json_response(200, &json!({"principal": p.to_json(), "password_set": password_set}))?)
}

/// `POST /api/auth/logout`: deletes this session and clears the cookie.
async fn logout(req: &Request, env: &Env, p: &Principal) -> Result<Response> {
    if let Some(id) = p.session_id() {
        auth_store::delete_session(env, id).await?;
    }
    let resp = json_response(200, &json!({"signed_out": p.session_id().is_some()}))?;
    resp.headers().set("set-cookie", &session::clear_cookie(transport(req)?.0))?;
    Ok(resp)
}

/// `POST /api/auth/password {current, new}`: the caller's own password; every other session of the
/// login is signed out. Guesses of `current` count against the address like logins.
async fn change_password(req: &Request, env: &Env, p: &Principal) -> Result<Response> {
    let input = parse::<PasswordChange>(&read_body(req, MAX_AUTH_BODY).await?)?.validate()?;
    let account = login_limit::account(matches!(p.role, Role::Operator).then_some(p.name.as_str()));
    let admitted = admit(req, env, account).await?;
    let login = auth_store::login_by_id(env, &p.login_id).await?;
    let current = Credential::Password(input.current.clone());
    if !signs_in(env, login.as_ref(), p.login_id == OWNER_ID, &current).await? {
        return Err(wrong_password("current password", admitted.remaining, "current").with_status(403));
    }
    admitted.succeeded(env).await?;
    let hash = password_kdf::hash(input.new.expose()).await?;
    let now = env::now_ms();
    match p.role {
        Role::Owner => auth_store::set_owner_password(env, &hash, now).await?,
        Role::Operator => auth_store::set_password(env, &p.login_id, &hash, now).await?,
    }
    let revoked = auth_store::revoke_sessions(env, &p.login_id, p.session_id()).await?;
    Ok(json_response(200, &json!({"changed": true, "other_sessions_signed_out": revoked}))?)
}

/// `POST /api/auth/operators {tenant, name, password}` (owner only): a login for one tenant.
async fn create_operator(req: &Request, env: &Env) -> Result<Response> {
    let input = parse::<NewOperator>(&read_body(req, MAX_AUTH_BODY).await?)?.validate()?;
    if !repo::tenant_exists(&repo::db(env)?, &input.tenant).await? {
        return Err(GatewayError::not_found(format!("Unknown tenant `{}`.", input.tenant)).with_param("tenant"));
    }
    let id = env::new_id("op")?;
    let hash = password_kdf::hash(input.password.expose()).await?;
    if !auth_store::insert_operator(env, &id, &input.name, &input.tenant, &hash, env::now_ms()).await? {
        return Err(GatewayError::invalid_request(format!("The login name `{}` is taken.", input.name))
            .with_param("name")
            .with_status(409));
    }
    value(201, &json!({"id": id, "name": input.name, "role": "operator", "tenant": input.tenant}))
}
