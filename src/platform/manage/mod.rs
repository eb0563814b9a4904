//! `/api/*`: the management API. The core's route table (`manage::routes`) says which operation a
//! request is and who may call it; this module turns the request's credentials into a principal
//! (`auth::authenticate`: the `ADMIN_SECRET` as a bearer token, or a session cookie), picks the
//! tenant that principal may reach (`?tenant=<id>` for the owner, default this instance's own; an
//! operator's own tenant only), hands the operation to its resource's module and writes the audit
//! row. Every write goes to D1 first and then rebuilds the tenant's snapshot, so the request path
//! sees it at once in this isolate.

mod aliases;
pub(super) mod auth;
mod backup;
mod chains;
mod combos;
mod health;
mod keys;
mod meta;
mod nodes;
mod pricing;
mod providers;
mod settings;
mod sync;
mod translate;
mod usage;

use super::http::{header, json_response, read_body};
use super::{config_store, env, repo};
use crate::auth::audit::{self, AuditEntry};
use crate::auth::principal::Principal;
use crate::auth::Role;
use crate::config::DEFAULT_TENANT;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::manage::input::SettingsCaller;
use crate::manage::params::Params;
use crate::manage::routes::{self, Access, Method, Op, Resolved};
use serde_json::json;
use worker::{Env, Request, Response};

/// Most management bodies: a connection, a key, a combo, settings.
const MAX_BODY: u64 = 64 * 1024;

/// One authenticated management call: what a resource's handler works with.
pub struct Call<'a> {
    pub req: &'a mut Request,
    pub env: &'a Env,
    pub principal: &'a Principal,
    pub tenant: &'a str,
    pub params: &'a Params<'a>,
}

impl Call<'_> {
    /// A path parameter of the route's template (the table guarantees it is there).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<String> {
        query(self.req, name)
    }

    /// The query string as pairs, for the core's query parsers.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>> {
        Ok(self.req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub async fn body(&self) -> Result<Vec<u8>> {
        self.body_up_to(MAX_BODY).await
    }

    pub async fn body_up_to(&self, limit: u64) -> Result<Vec<u8>> {
        read_body(&*self.req, limit).await
    }

    pub fn db(&self) -> Result<worker::D1Database> {
        repo::db(self.env)
    }

    /// Who writes the tenant's settings, for the one check of every settings write
    /// (`manage::input::settings_write`).
    pub fn settings_caller(&self) -> SettingsCaller {
        SettingsCaller {
            owner: self.principal.role == Role::Owner,
            default_tenant: self.tenant == DEFAULT_TENANT,
            ip: header(&*self.req, "cf-connecting-ip").and_then(|v| v.trim().parse().ok()),
        }
    }

    /// Rebuilds the tenant's snapshot after a write, so the request path sees it at once.
    pub async fn republish(&self) -> Result<()> {
        config_store::rebuild_snapshot(self.env, self.tenant).await.map(drop)
    }
}

pub async fn handle(mut req: Request, env: &Env, path: &str) -> Result<Response> {
    super::instance::admit_management(&req, env).await?;
    let method = req.method();
    let resolved = routes::resolve(Method::parse(method.as_ref()), path);
    match &resolved {
        Resolved::Found { op: Op::Meta(routes::Meta::OpenApi), .. } => return meta::openapi(),
        Resolved::Found { op: Op::Auth(routes::Auth::LoginParams), .. } => return auth::login_params(&req, env).await,
        Resolved::Found { op: Op::Auth(routes::Auth::Login), .. } => {
            let answer = auth::login(&req, env).await;
            let entry = match &answer {
                Ok((who, resp)) => AuditEntry::login(Some(who), resp.status_code(), env::now_ms()),
                Err(e) => AuditEntry::login(None, e.status, env::now_ms()),
            };
            record(env, &req, entry).await;
            return answer.map(|(_, resp)| resp);
        }
        _ => {}
    }
    // Everything else needs credentials first, even to learn that a path does not exist.
    let principal = auth::authenticate(&req, env).await?;
    let (op, access, params) = match resolved {
        Resolved::Found { op, access, params } => (op, access, params),
        Resolved::MethodNotAllowed { allow } => {
            let list: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
            return Err(GatewayError::new(ErrorKind::InvalidRequest, "Method not allowed for this path.")
                .with_status(405)
                .with_allow(list.join(", ")));
        }
        Resolved::NotFound => return Err(GatewayError::not_found(format!("No admin route `{path}`."))),
    };
    debug_assert!(access != Access::Public, "{op:?} is public but was not answered before authentication");
    if access == Access::Owner {
        principal.require_owner()?;
    }
    let tenant = principal.tenant_for(query(&req, "tenant").as_deref())?;
    if !repo::tenant_exists(&repo::db(env)?, &tenant).await? {
        return Err(GatewayError::not_found(format!("Unknown tenant `{tenant}`.")).with_param("tenant"));
    }
    let mut call = Call { req: &mut req, env, principal: &principal, tenant: &tenant, params: &params };
    let answer = dispatch(op, &mut call).await;
    if audit::is_action(method.as_ref()) {
        let entry = AuditEntry::action(&principal, &tenant, method.as_ref(), path, status_of(&answer), env::now_ms());
        record(env, &req, entry).await;
    }
    answer
}

/// Each resource's operations go to its own module.
async fn dispatch(op: Op, call: &mut Call<'_>) -> Result<Response> {
    match op {
        Op::Meta(op) => meta::handle(op, call).await,
        Op::Auth(op) => auth::handle(op, call).await,
        Op::Providers(op) => providers::handle(op, call).await,
        Op::Keys(op) => keys::handle(op, call).await,
        Op::Settings(op) => settings::handle(op, call).await,
        Op::Health(op) => health::handle(op, call).await,
        Op::Combos(op) => combos::handle(op, call).await,
        Op::Aliases(op) => aliases::handle(op, call).await,
        Op::Chains(op) => chains::handle(op, call).await,
        Op::Nodes(op) => nodes::handle_nodes(op, call).await,
        Op::CustomModels(op) => nodes::handle_models(op, call).await,
        Op::Usage(op) => usage::handle(op, call).await,
        Op::Pricing(op) => pricing::handle(op, call).await,
        Op::Audit => meta::audit_page(call).await,
        Op::Sync(op) => sync::handle(op, call).await,
        Op::Translate => translate::handle(call).await,
        Op::Backup(op) => backup::handle(op, call).await,
    }
}

fn status_of(answer: &Result<Response>) -> u16 {
    match answer {
        Ok(r) => r.status_code(),
        Err(e) => e.status,
    }
}

/// Writes an audit row. A failed write is logged, not the request's failure: the action happened.
async fn record(env: &Env, req: &Request, entry: AuditEntry) {
    let entry = entry.from_ip(header(req, "cf-connecting-ip"));
    let (sql, args) = entry.insert();
    let written = async { repo::statement(&repo::db(env)?, &sql, &args)?.run().await.map_err(GatewayError::from) };
    if let Err(e) = written.await {
        worker::console_error!("audit log write failed: {}", e.message);
    }
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `200 {"data": …}`: the shape of every list.
pub fn list<T: serde::Serialize + ?Sized>(items: &T) -> Result<Response> {
    Ok(json_response(200, &json!({"data": items}))?)
}

/// A value as JSON with `status`.
pub fn value<T: serde::Serialize>(status: u16, v: &T) -> Result<Response> {
    Ok(json_response(status, &serde_json::to_value(v).unwrap_or_default())?)
}

/// Deletes one routing document by its name, or says there is none.
async fn delete_document(call: &Call<'_>, table: repo::RoutingTable, key: &str) -> Result<Response> {
    if !repo::delete_routing(&call.db()?, call.tenant, table, key).await? {
        return Err(GatewayError::not_found(format!("Nothing named `{key}`.")));
    }
    call.republish().await?;
    value(200, &json!({"deleted": key}))
}
