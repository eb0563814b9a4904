//! The OpenAPI document of the management API and `/v1` (`docs/openapi.json`), served as
//! `GET /api/openapi.json`. The tests below keep it equal to the route tables: [`ROUTES`] for
//! `/api`, [`V1_ROUTES`] for `/v1`, so a route cannot be added or dropped without the document.
//!
//! [`ROUTES`]: super::routes::ROUTES

use super::routes::Method;
use super::routes::Method::{Delete, Get, Post};

pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// Every `/v1` and `/v1beta` route the worker serves, as `platform::entry` dispatches them (without
/// the `/{tenant}` and `/v1/providers/{provider}` prefixes, which serve the same routes). `{name}`
/// is one path segment, or its part before `:` in Gemini's `{model}:method`.
pub const V1_ROUTES: &[(Method, &str)] = &[
    (Post, "/v1/chat/completions"),
    (Post, "/v1/messages"),
    (Post, "/v1/messages/count_tokens"),
    (Post, "/v1/responses"),
    // The WebSocket upgrade (`responses_ws`); a GET without it is a 405.
    (Get, "/v1/responses"),
    (Get, "/v1/responses/{id}"),
    (Delete, "/v1/responses/{id}"),
    (Get, "/v1/models"),
    (Get, "/v1/models/health"),
    (Get, "/v1/verify"),
    // `ModelKind::endpoint()` of every kind besides chat, and image edits (a form).
    (Post, "/v1/embeddings"),
    (Post, "/v1/images/generations"),
    (Post, "/v1/images/edits"),
    (Post, "/v1/audio/transcriptions"),
    (Post, "/v1/audio/speech"),
    (Post, "/v1/rerank"),
    (Post, "/v1/moderations"),
    (Post, "/v1beta/models/{model}:generateContent"),
    (Post, "/v1beta/models/{model}:streamGenerateContent"),
    (Post, "/v1/models/{model}:generateContent"),
    (Post, "/v1/models/{model}:streamGenerateContent"),
];

#[cfg(test)]
mod tests {
    use super::super::routes::{Access, ROUTES};
    use super::*;
    use crate::providers::ModelKind;
    use serde_json::Value;
    use std::collections::{BTreeSet, HashSet};

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON")
    }

    /// Every (method, path, operation) of the document; the method in upper case.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (key, op) in item.as_object().expect("path item") {
                if METHODS.contains(&key.as_str()) {
                    ops.push((key.to_uppercase(), path.clone(), op.clone()));
                }
            }
        }
        ops
    }

    fn documented(doc: &Value, under: &[&str]) -> BTreeSet<(String, String)> {
        operations(doc)
            .into_iter()
            .filter(|(_, p, _)| under.iter().any(|u| p.starts_with(u)))
            .map(|(m, p, _)| (m, p))
            .collect()
    }

    fn pairs<'a>(list: impl IntoIterator<Item = (Method, &'a str)>) -> BTreeSet<(String, String)> {
        list.into_iter().map(|(m, p)| (m.as_str().to_string(), p.to_string())).collect()
    }

    /// The value a `#/...` pointer names.
    fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
        doc.pointer(reference.strip_prefix('#')?)
    }

    fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => resolve(doc, r).unwrap_or_else(|| panic!("unresolved {r}")),
            None => v,
        }
    }

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r.clone());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn is_openapi_3_1_pretty_printed_with_this_version() {
        let d = doc();
        assert!(d["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")));
        assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
        // Pretty-printed with a 2-space indent (`JSON.stringify(doc, null, 2)`), so diffs stay readable.
        let lines: Vec<&str> = DOCUMENT.lines().collect();
        assert!(lines.len() > 100 && DOCUMENT.ends_with("}\n"));
        for (n, line) in lines.iter().enumerate() {
            let indent = line.len() - line.trim_start_matches(' ').len();
            assert!(indent % 2 == 0 && !line.starts_with('\t'), "docs/openapi.json line {}: indent", n + 1);
        }
    }

    /// The document's operations under `under` are exactly the table's `name`, both ways.
    fn assert_documents_exactly<'a>(table: impl IntoIterator<Item = (Method, &'a str)>, under: &[&str], name: &str) {
        let table = pairs(table);
        let doc = documented(&doc(), under);
        let missing: Vec<_> = table.difference(&doc).collect();
        let extra: Vec<_> = doc.difference(&table).collect();
        assert!(missing.is_empty(), "{name} routes without a document entry: {missing:?}");
        assert!(extra.is_empty(), "documented but not in {name}: {extra:?}");
    }

    #[test]
    fn documents_exactly_the_management_routes() {
        assert_documents_exactly(ROUTES.iter().map(|r| (r.method, r.path)), &["/api/"], "ROUTES");
    }

    #[test]
    fn documents_exactly_the_v1_routes() {
        assert_documents_exactly(V1_ROUTES.iter().copied(), &["/v1/", "/v1beta/"], "V1_ROUTES");
    }

    #[test]
    fn v1_routes_include_every_model_kinds_endpoint() {
        for kind in ModelKind::ALL {
            assert!(V1_ROUTES.contains(&(Post, kind.endpoint())), "{}", kind.endpoint());
        }
    }

    #[test]
    fn documents_nothing_else_but_health() {
        let other: Vec<_> = operations(&doc())
            .into_iter()
            .filter(|(_, p, _)| !["/api/", "/v1/", "/v1beta/"].iter().any(|u| p.starts_with(u)))
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect();
        assert_eq!(other, ["GET /health"]);
    }

    #[test]
    fn each_route_says_who_may_call_it_and_how() {
        let d = doc();
        let schemes = d["components"]["securitySchemes"].as_object().expect("securitySchemes");
        for r in ROUTES {
            let op = &d["paths"][r.path][r.method.as_str().to_lowercase()];
            let access = match r.access {
                Access::Public => "public",
                Access::Tenant => "tenant",
                Access::Owner => "owner",
            };
            assert_eq!(op["x-access"], access, "{} {}", r.method.as_str(), r.path);
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{} has no security", r.path));
            assert_eq!(security.is_empty(), r.access == Access::Public, "{} {}", r.method.as_str(), r.path);
        }
        for (m, p, op) in operations(&d) {
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{m} {p} has no security"));
            for requirement in security {
                for name in requirement.as_object().expect("requirement").keys() {
                    assert!(schemes.contains_key(name), "{m} {p}: unknown scheme {name}");
                }
            }
            if p.starts_with("/v1") {
                assert!(!security.is_empty(), "{m} {p} needs a gateway key");
            }
        }
    }

    #[test]
    fn tenant_routes_take_the_tenant_parameter() {
        let d = doc();
        for r in ROUTES {
            let op = &d["paths"][r.path][r.method.as_str().to_lowercase()];
            let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
            let has = params.iter().any(|p| {
                let p = deref(&d, p);
                p["name"] == "tenant" && p["in"] == "query"
            });
            assert_eq!(has, r.access == Access::Tenant, "{} {}", r.method.as_str(), r.path);
        }
    }

    #[test]
    fn every_template_segment_is_a_path_parameter() {
        let d = doc();
        for (m, path, op) in operations(&d) {
            let wanted: BTreeSet<&str> =
                path.split('{').skip(1).filter_map(|s| s.split_once('}')).map(|(name, _)| name).collect();
            let item_params = d["paths"][&path]["parameters"].as_array().cloned().unwrap_or_default();
            let op_params = op["parameters"].as_array().cloned().unwrap_or_default();
            let given: BTreeSet<String> = item_params
                .iter()
                .chain(&op_params)
                .map(|p| deref(&d, p))
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(p["required"], true, "{m} {path}");
                    p["name"].as_str().unwrap_or_default().to_string()
                })
                .collect();
            assert_eq!(given, wanted.iter().map(|s| s.to_string()).collect(), "{m} {path}");
        }
    }

    #[test]
    fn operations_are_described_and_answer_their_errors() {
        let d = doc();
        let mut ids = HashSet::new();
        for (m, p, op) in operations(&d) {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{m} {p} has no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{m} {p}");
            assert!(op["tags"].as_array().is_some_and(|t| t.len() == 1), "{m} {p}");
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{m} {p} has no responses"));
            assert!(responses.keys().any(|s| s.starts_with('2') || s == "101"), "{m} {p}: no success");
            let protected = !op["security"].as_array().is_some_and(Vec::is_empty);
            if protected {
                assert!(responses.contains_key("401"), "{m} {p}: no 401");
            }
            if p.starts_with("/api/") {
                assert!(responses.contains_key("405"), "{m} {p}: no 405");
                let body = &op["requestBody"]["content"]["application/json"]["schema"];
                if !body.is_null() {
                    assert!(responses.contains_key("400") && responses.contains_key("413"), "{m} {p}");
                }
            }
        }
    }

    /// The management errors all have the OpenAI-style shape; each `/v1` path its format's own.
    #[test]
    fn errors_come_in_each_formats_envelope() {
        let d = doc();
        for (m, p, op) in operations(&d) {
            let expected = if p.starts_with("/api/") {
                "Error"
            } else if p.starts_with("/v1/messages") {
                "AnthropicError"
            } else if p.contains(":generateContent") || p.contains(":streamGenerateContent") {
                "GeminiError"
            } else {
                "OpenAiError"
            };
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('2') || status == "101" {
                    continue;
                }
                let schema = &deref(&d, response)["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, &format!("#/components/schemas/{expected}"), "{m} {p} {status}");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let d = doc();
        let mut all = Vec::new();
        refs(&d, &mut all);
        assert!(!all.is_empty());
        for r in all {
            assert!(resolve(&d, &r).is_some(), "unresolved {r}");
        }
    }

    #[test]
    fn every_component_is_used() {
        let d = doc();
        let mut all = Vec::new();
        refs(&d, &mut all);
        let used: HashSet<String> = all.into_iter().collect();
        for kind in ["schemas", "responses", "parameters"] {
            for name in d["components"][kind].as_object().expect(kind).keys() {
                assert!(used.contains(&format!("#/components/{kind}/{name}")), "components.{kind}.{name} is unused");
            }
        }
    }

    #[test]
    fn bodies_the_gateway_checks_strictly_refuse_unknown_fields() {
        // Admin inputs parsed with `deny_unknown_fields` or `parse_strict` (config::input, auth::input,
        // sync::enroll, pricing, manage::input).
        let d = doc();
        for name in [
            "LoginRequest",
            "PasswordChange",
            "NewOperator",
            "NewConnection",
            "ConnectionPatch",
            "ConnectionLimits",
            "NewApiKey",
            "ApiKeyPatch",
            "KeyLimits",
            "KeyAccess",
            "SettingsPatch",
            "Combo",
            "Alias",
            "FallbackChain",
            "ProviderNode",
            "CustomModels",
            "PricesInput",
            "NewEnrollment",
        ] {
            let schema = &d["components"]["schemas"][name];
            assert_eq!(schema["additionalProperties"], false, "{name}");
        }
    }

    /// The schemas of settings and limits name exactly the fields their types have, so a new
    /// setting or limit cannot go undocumented.
    #[test]
    fn settings_and_limits_schemas_name_every_field() {
        use crate::config::key_access::KeyAccess;
        use crate::config::settings::Settings;
        use crate::limits::{ConnectionLimits, KeyLimits, QuotaWindow};
        use crate::routing::combo::ComboConfig;
        let d = doc();
        let schema = |name: &str| d["components"]["schemas"][name].clone();
        let fields = |v: Value| -> BTreeSet<String> { v.as_object().expect("an object").keys().cloned().collect() };
        let cases = [
            (
                schema("Settings"),
                serde_json::to_value(Settings { unreadable: vec!["cors_origins".into()], ..Settings::default() }),
            ), // `unreadable` too
            (schema("SettingsPatch"), serde_json::to_value(Settings::default())),
            (schema("KeyLimits"), serde_json::to_value(KeyLimits::default())),
            (schema("KeyAccess"), serde_json::to_value(KeyAccess::unreadable())), // every field, `unreadable` too
            (schema("ConnectionLimits"), serde_json::to_value(ConnectionLimits::unreadable())), // `unreadable` too
            (schema("QuotaWindow"), serde_json::to_value(QuotaWindow::default())),
            (schema("Combo")["properties"]["config"].clone(), serde_json::to_value(ComboConfig::default())),
        ];
        for (schema, value) in cases {
            let value = value.unwrap();
            assert_eq!(fields(schema["properties"].clone()), fields(value.clone()), "{value}");
        }
    }
}
