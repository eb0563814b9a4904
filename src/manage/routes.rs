//! The management API's route table: every `/api/*` route once, with what it does and who may call
//! it. The platform dispatches on [`Op`] (one module per resource), a 405 with its `Allow` list
//! follows from the table instead of a hand-kept list, and a test keeps `docs/openapi.json` equal to
//! it.

use super::params::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Who may call a route. Checked once, before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials (signing in, the API's own description).
    Public,
    /// The owner, or an operator within their own tenant.
    Tenant,
    /// The owner only: what spans tenants (operators, cloud-sync enrollments).
    Owner,
}

/// What a route does, grouped by the resource whose module handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Meta(Meta),
    Auth(Auth),
    Providers(Providers),
    Keys(Keys),
    Settings(Settings),
    Health(Health),
    Combos(Collection),
    Aliases(Collection),
    Chains(Collection),
    Nodes(Collection),
    CustomModels(Collection),
    Usage(Usage),
    Pricing(Collection),
    Audit,
    Sync(Sync),
    /// A client request shown in every upstream format (the dashboard's playground).
    Translate,
    Backup(Backup),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    OpenApi,
    Stats,
    ModelsCatalog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Login,
    LoginParams,
    Logout,
    Me,
    ChangePassword,
    ListOperators,
    CreateOperator,
    DeleteOperator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Providers {
    Catalog,
    List,
    Create,
    Update,
    Delete,
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    List,
    Create,
    Update,
    Revoke,
    Usage,
    Rotate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settings {
    Get,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Get,
    Reset,
    Cooldowns,
    ResetCooldowns,
    Quotas,
}

/// The routing documents (combos, aliases, chains, nodes, custom models) and prices: each a list
/// that is read, written one entry at a time (create or replace) and deleted by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    List,
    Put,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Summary,
    Logs,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    Enrollments,
    Enroll,
    Revoke,
    Machines,
    DeleteMachine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backup {
    /// The archive without secrets.
    Export,
    /// With the secrets sealed under a passphrase (sent in the body, never the URL).
    ExportSealed,
    Import,
    List,
    Restore,
    /// Re-encrypts every tenant's secrets under the current `MASTER_KEY`.
    Rekey,
}

pub struct Route {
    pub method: Method,
    /// `/api/...` with `{name}` for one path segment.
    pub path: &'static str,
    pub op: Op,
    pub access: Access,
}

const fn route(method: Method, path: &'static str, op: Op, access: Access) -> Route {
    Route { method, path, op, access }
}

use Access::{Owner, Public, Tenant};
use Collection as C;
use Method::{Delete, Get, Patch, Post, Put};

pub const ROUTES: &[Route] = &[
    route(Get, "/api/openapi.json", Op::Meta(Meta::OpenApi), Public),
    route(Post, "/api/auth/login", Op::Auth(Auth::Login), Public),
    route(Post, "/api/auth/login/params", Op::Auth(Auth::LoginParams), Public),
    route(Post, "/api/auth/logout", Op::Auth(Auth::Logout), Tenant),
    route(Get, "/api/auth/me", Op::Auth(Auth::Me), Tenant),
    route(Post, "/api/auth/password", Op::Auth(Auth::ChangePassword), Tenant),
    route(Get, "/api/auth/operators", Op::Auth(Auth::ListOperators), Owner),
    route(Post, "/api/auth/operators", Op::Auth(Auth::CreateOperator), Owner),
    route(Delete, "/api/auth/operators/{id}", Op::Auth(Auth::DeleteOperator), Owner),
    route(Get, "/api/providers/catalog", Op::Providers(Providers::Catalog), Tenant),
    route(Get, "/api/providers", Op::Providers(Providers::List), Tenant),
    route(Post, "/api/providers", Op::Providers(Providers::Create), Tenant),
    route(Patch, "/api/providers/{id}", Op::Providers(Providers::Update), Tenant),
    route(Delete, "/api/providers/{id}", Op::Providers(Providers::Delete), Tenant),
    route(Post, "/api/providers/{id}/test", Op::Providers(Providers::Test), Tenant),
    route(Get, "/api/keys", Op::Keys(Keys::List), Tenant),
    route(Post, "/api/keys", Op::Keys(Keys::Create), Tenant),
    route(Patch, "/api/keys/{id}", Op::Keys(Keys::Update), Tenant),
    route(Delete, "/api/keys/{id}", Op::Keys(Keys::Revoke), Tenant),
    route(Get, "/api/keys/{id}/usage", Op::Keys(Keys::Usage), Tenant),
    route(Post, "/api/keys/{id}/rotate", Op::Keys(Keys::Rotate), Tenant),
    route(Get, "/api/settings", Op::Settings(Settings::Get), Tenant),
    route(Patch, "/api/settings", Op::Settings(Settings::Update), Tenant),
    route(Get, "/api/health", Op::Health(Health::Get), Tenant),
    route(Delete, "/api/health", Op::Health(Health::Reset), Tenant),
    route(Get, "/api/cooldowns", Op::Health(Health::Cooldowns), Tenant),
    route(Delete, "/api/cooldowns", Op::Health(Health::ResetCooldowns), Tenant),
    route(Get, "/api/quotas", Op::Health(Health::Quotas), Tenant),
    route(Get, "/api/combos", Op::Combos(C::List), Tenant),
    route(Post, "/api/combos", Op::Combos(C::Put), Tenant),
    route(Delete, "/api/combos/{name}", Op::Combos(C::Delete), Tenant),
    route(Get, "/api/aliases", Op::Aliases(C::List), Tenant),
    route(Post, "/api/aliases", Op::Aliases(C::Put), Tenant),
    route(Delete, "/api/aliases", Op::Aliases(C::Delete), Tenant),
    route(Get, "/api/fallback-chains", Op::Chains(C::List), Tenant),
    route(Post, "/api/fallback-chains", Op::Chains(C::Put), Tenant),
    route(Delete, "/api/fallback-chains", Op::Chains(C::Delete), Tenant),
    route(Get, "/api/provider-nodes", Op::Nodes(C::List), Tenant),
    route(Post, "/api/provider-nodes", Op::Nodes(C::Put), Tenant),
    route(Delete, "/api/provider-nodes/{id}", Op::Nodes(C::Delete), Tenant),
    route(Get, "/api/provider-models", Op::CustomModels(C::List), Tenant),
    route(Post, "/api/provider-models", Op::CustomModels(C::Put), Tenant),
    route(Delete, "/api/provider-models/{provider}", Op::CustomModels(C::Delete), Tenant),
    route(Get, "/api/models/catalog", Op::Meta(Meta::ModelsCatalog), Tenant),
    route(Get, "/api/usage", Op::Usage(Usage::Summary), Tenant),
    route(Get, "/api/logs", Op::Usage(Usage::Logs), Tenant),
    route(Get, "/api/logs/{id}", Op::Usage(Usage::Log), Tenant),
    route(Get, "/api/pricing", Op::Pricing(C::List), Tenant),
    route(Put, "/api/pricing", Op::Pricing(C::Put), Tenant),
    route(Delete, "/api/pricing", Op::Pricing(C::Delete), Tenant),
    route(Get, "/api/stats", Op::Meta(Meta::Stats), Tenant),
    route(Get, "/api/audit", Op::Audit, Tenant),
    route(Post, "/api/translate", Op::Translate, Tenant),
    route(Get, "/api/sync/enrollments", Op::Sync(Sync::Enrollments), Owner),
    route(Post, "/api/sync/enrollments", Op::Sync(Sync::Enroll), Owner),
    route(Delete, "/api/sync/enrollments/{id}", Op::Sync(Sync::Revoke), Owner),
    route(Get, "/api/sync/machines", Op::Sync(Sync::Machines), Owner),
    route(Delete, "/api/sync/machines/{machine}", Op::Sync(Sync::DeleteMachine), Owner),
    route(Get, "/api/backup/export", Op::Backup(Backup::Export), Tenant),
    route(Post, "/api/backup/export", Op::Backup(Backup::ExportSealed), Tenant),
    route(Post, "/api/backup/import", Op::Backup(Backup::Import), Tenant),
    route(Get, "/api/backup/backups", Op::Backup(Backup::List), Tenant),
    route(Post, "/api/backup/backups/{id}/restore", Op::Backup(Backup::Restore), Tenant),
    route(Post, "/api/backup/rekey", Op::Backup(Backup::Rekey), Owner),
];

/// What the table says about a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<'a> {
    Found {
        op: Op,
        access: Access,
        params: Params<'a>,
    },
    /// The path exists, with these methods.
    MethodNotAllowed {
        allow: Vec<Method>,
    },
    NotFound,
}

/// The route for a method (`None`: one no route has) and a path (without query string). A literal
/// segment wins over a `{name}` one: `/api/providers/catalog` is the catalog's path only, never a
/// connection called `catalog`.
pub fn resolve(method: Option<Method>, path: &str) -> Resolved<'_> {
    let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    let matching: Vec<(&Route, Params<'_>)> =
        ROUTES.iter().filter_map(|r| Params::matching(r.path, path).map(|p| (r, p))).collect();
    let fewest = matching.iter().map(|(_, p)| p.len()).min().unwrap_or(0);
    let mut allow = Vec::new();
    for (r, params) in matching.into_iter().filter(|(_, p)| p.len() == fewest) {
        if Some(r.method) == method {
            return Resolved::Found { op: r.op, access: r.access, params };
        }
        allow.push(r.method);
    }
    if allow.is_empty() {
        Resolved::NotFound
    } else {
        allow.sort();
        allow.dedup();
        Resolved::MethodNotAllowed { allow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_each_route_by_its_own_template() {
        for r in ROUTES {
            let concrete = r.path.replace("{id}", "x1").replace("{name}", "x1").replace("{provider}", "x1");
            let concrete = concrete.replace("{machine}", "x1");
            match resolve(Some(r.method), &concrete) {
                Resolved::Found { op, access, .. } => {
                    assert_eq!((op, access), (r.op, r.access), "{} {}", r.method.as_str(), r.path)
                }
                other => panic!("{} {} → {other:?}", r.method.as_str(), r.path),
            }
        }
    }

    #[test]
    fn no_two_routes_share_a_method_and_template() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method, r.path)), "{} {}", r.method.as_str(), r.path);
        }
    }

    #[test]
    fn a_known_path_with_another_method_is_405_with_its_methods() {
        assert_eq!(resolve(Some(Method::Put), "/api/keys"), Resolved::MethodNotAllowed { allow: vec![Get, Post] });
        assert_eq!(resolve(None, "/api/settings"), Resolved::MethodNotAllowed { allow: vec![Get, Patch] });
        assert_eq!(
            resolve(Some(Method::Get), "/api/keys/k1"),
            Resolved::MethodNotAllowed { allow: vec![Patch, Delete] }
        );
    }

    #[test]
    fn unknown_paths_are_404_and_literal_segments_win_over_captures() {
        assert_eq!(resolve(Some(Get), "/api/nope"), Resolved::NotFound);
        assert_eq!(resolve(Some(Get), "/api/keys/k1/usage/more"), Resolved::NotFound);
        assert_eq!(resolve(Some(Get), "/api/keys//usage"), Resolved::NotFound);
        let Resolved::Found { op, .. } = resolve(Some(Get), "/api/providers/catalog") else { panic!() };
        assert_eq!(op, Op::Providers(Providers::Catalog));
        assert_eq!(resolve(Some(Patch), "/api/providers/catalog"), Resolved::MethodNotAllowed { allow: vec![Get] });
        let Resolved::Found { op, .. } = resolve(Some(Patch), "/api/providers/conn_1") else { panic!() };
        assert_eq!(op, Op::Providers(Providers::Update));
        let Resolved::Found { params, .. } = resolve(Some(Get), "/api/keys/key_9/usage/") else { panic!() };
        assert_eq!(params.get("id"), Some("key_9"));
    }

    #[test]
    fn only_signing_in_and_the_description_are_public() {
        let public: Vec<_> = ROUTES.iter().filter(|r| r.access == Public).map(|r| r.path).collect();
        assert_eq!(public, ["/api/openapi.json", "/api/auth/login", "/api/auth/login/params"]);
    }
}
