//! `provider/model` and `alias/model` select a provider explicitly (`openai/gpt-4o-mini`,
//! `ds/deepseek-chat`). A bare name (`gpt-4o-mini`) is looked up in the catalogs of the providers the
//! tenant has connected, in the order given. Names whose first segment is not a provider
//! (`meta-llama/Llama-3.3-70B-Instruct`) are treated as bare names.

use crate::error::{GatewayError, Result};
use crate::providers::{Catalog, ModelKind, ProviderRef};

#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub provider: ProviderRef,
    /// The model id to send upstream.
    pub model: String,
}

/// `connected` lists the ids of providers the tenant can use, most preferred first.
pub fn resolve(model: &str, connected: &[&str], catalog: &Catalog) -> Result<Resolved> {
    let listed_by_connected = || connected.iter().filter_map(|id| catalog.find(id)).find(|p| p.lists(model));
    if let Some((prefix, rest)) = model.split_once('/') {
        if let Some(provider) = catalog.find(prefix) {
            // `openai/gpt-oss-120b` is also a Groq model id: when the named provider is not
            // connected, a connected provider that lists the whole id serves it.
            if !connected.iter().any(|c| *c == provider.id) {
                if let Some(p) = listed_by_connected() {
                    return Ok(Resolved { provider: p.clone(), model: model.to_string() });
                }
            }
            if rest.trim().is_empty() {
                return Err(GatewayError::invalid_request(format!(
                    "The model `{model}` names a provider but no model; use `{prefix}/<model>`."
                ))
                .with_param("model"));
            }
            return Ok(Resolved { provider: provider.clone(), model: rest.to_string() });
        }
    }
    listed_by_connected()
        .map(|provider| Resolved { provider: provider.clone(), model: model.to_string() })
        .ok_or_else(|| unknown_model(model))
}

/// The model a provider route (`/v1/providers/{provider}/…`) serves: one that names no provider gets
/// the route's as prefix, one that names the route's own is kept, and one that names another is
/// refused (400), so the route never reaches a provider it does not name.
pub fn pin_provider(model: &str, provider: &str, catalog: &Catalog) -> Result<String> {
    let Some(pinned) = catalog.find(provider) else {
        return Err(GatewayError::not_found(format!(
            "Unknown provider `{provider}` in the route; GET /api/providers/catalog lists them."
        ))
        .with_code("provider_not_found"));
    };
    // Ids that carry a vendor prefix of their own (`openai/gpt-oss-120b` on Groq) are the provider's.
    if pinned.lists(model) {
        return Ok(format!("{}/{model}", pinned.id));
    }
    match model.split_once('/').and_then(|(prefix, _)| catalog.find(prefix).map(|p| p.id.clone())) {
        Some(named) if named == pinned.id => Ok(model.to_string()),
        Some(named) => Err(GatewayError::invalid_request(format!(
            "The model `{model}` belongs to provider `{named}`, but this route serves only `{}`.",
            pinned.id
        ))
        .with_param("model")
        .with_code("model_provider_mismatch")),
        None => Ok(format!("{}/{model}", pinned.id)),
    }
}

pub fn unknown_model(model: &str) -> GatewayError {
    GatewayError::not_found(format!(
        "The model `{model}` does not exist or no connected provider offers it. \
         Name it as `provider/model`, e.g. `openai/gpt-4o-mini`; GET /v1/models lists what you can use."
    ))
    .with_param("model")
    .with_code("model_not_found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_provider_and_alias_prefixes() {
        let r = resolve("openai/gpt-4o-mini", &[], &Catalog::default()).unwrap();
        assert_eq!((r.provider.id.as_ref(), r.model.as_str()), ("openai", "gpt-4o-mini"));
        let r = resolve("ds/deepseek-chat", &[], &Catalog::default()).unwrap();
        assert_eq!((r.provider.id.as_ref(), r.model.as_str()), ("deepseek", "deepseek-chat"));
        // Only the first slash splits: OpenRouter model ids carry their own.
        let r = resolve("openrouter/anthropic/claude-sonnet-4", &[], &Catalog::default()).unwrap();
        assert_eq!((r.provider.id.as_ref(), r.model.as_str()), ("openrouter", "anthropic/claude-sonnet-4"));
    }

    #[test]
    fn bare_names_use_connected_catalogs_in_order() {
        let r = resolve("gpt-4o-mini", &["groq", "openai"], &Catalog::default()).unwrap();
        assert_eq!(r.provider.id, "openai");
        let r = resolve("meta-llama/Llama-3.3-70B-Instruct", &["nebius", "hyperbolic"], &Catalog::default()).unwrap();
        assert_eq!(r.provider.id, "nebius");
        assert_eq!(resolve("gpt-4o-mini", &["groq"], &Catalog::default()).unwrap_err().status, 404);
    }

    #[test]
    fn vendor_prefixed_ids_go_to_a_connected_provider_that_lists_them() {
        let r = resolve("openai/gpt-oss-120b", &["groq"], &Catalog::default()).unwrap();
        assert_eq!((r.provider.id.as_ref(), r.model.as_str()), ("groq", "openai/gpt-oss-120b"));
        assert_eq!(
            resolve("openai/gpt-oss-120b", &["groq", "openai"], &Catalog::default()).unwrap().provider.id,
            "openai"
        );
    }

    #[test]
    fn a_provider_route_prefixes_bare_names_and_refuses_other_providers() {
        let c = Catalog::default();
        assert_eq!(pin_provider("gpt-4o", "openai", &c).unwrap(), "openai/gpt-4o");
        assert_eq!(pin_provider("openai/gpt-4o", "openai", &c).unwrap(), "openai/gpt-4o");
        assert_eq!(pin_provider("openai/gpt-oss-120b", "groq", &c).unwrap(), "groq/openai/gpt-oss-120b");
        assert_eq!(
            pin_provider("meta-llama/Llama-3.3-70B-Instruct", "nebius", &c).unwrap(),
            "nebius/meta-llama/Llama-3.3-70B-Instruct"
        );
        let e = pin_provider("anthropic/claude-sonnet-4-5", "openai", &c).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("model_provider_mismatch")));
        assert_eq!(pin_provider("gpt-4o", "no-such-provider", &c).unwrap_err().status, 404);
        let r = resolve(&pin_provider("deepseek-chat", "deepseek", &c).unwrap(), &["openai", "deepseek"], &c).unwrap();
        assert_eq!((r.provider.id.as_ref(), r.model.as_str()), ("deepseek", "deepseek-chat"));
    }

    #[test]
    fn errors_name_the_model_param() {
        let e = resolve("nothing-like-this", &["openai"], &Catalog::default()).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
        assert_eq!(e.param.as_deref(), Some("model"));
        assert_eq!(resolve("openai/", &[], &Catalog::default()).unwrap_err().status, 400);
    }
}

/// A model a tenant can use: `provider/model`, its provider, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub id: String,
    pub provider: String,
    pub kind: ModelKind,
}

/// The known models of every provider the tenant has connected, in connection-priority order.
pub fn available(connected: &[&str], catalog: &Catalog) -> Vec<Available> {
    connected
        .iter()
        .filter_map(|id| catalog.find(id))
        .flat_map(|p| {
            p.models_with_kinds().map(move |(m, kind)| Available {
                id: format!("{}/{m}", p.id),
                provider: p.id.to_string(),
                kind,
            })
        })
        .collect()
}

#[cfg(test)]
mod available_tests {
    use super::*;

    #[test]
    fn lists_only_connected_providers_and_every_listed_id_resolves() {
        let list = available(&["deepseek", "openai"], &Catalog::default());
        assert_eq!(list[0].id, "deepseek/deepseek-chat");
        assert!(list.iter().all(|m| m.provider == "deepseek" || m.provider == "openai"));
        for m in &list {
            let r = resolve(&m.id, &["deepseek", "openai"], &Catalog::default()).unwrap();
            assert_eq!(r.provider.id, m.provider);
            assert_eq!(r.provider.kind_of(&r.model), Some(m.kind), "{}", m.id);
        }
        let kind = |id: &str| list.iter().find(|m| m.id == id).map(|m| m.kind);
        assert_eq!(kind("openai/gpt-4o"), Some(ModelKind::Chat));
        assert_eq!(kind("openai/text-embedding-3-small"), Some(ModelKind::Embedding));
        assert_eq!(kind("openai/whisper-1"), Some(ModelKind::Transcription));
    }

    #[test]
    fn bare_names_of_other_kinds_resolve_too() {
        let r = resolve("voyage-3.5", &["openai", "voyage"], &Catalog::default()).unwrap();
        assert_eq!((r.provider.id.as_ref(), r.model.as_str()), ("voyage", "voyage-3.5"));
        let r = resolve("openai/whisper-large-v3", &["groq", "together"], &Catalog::default()).unwrap();
        assert_eq!(r.provider.id, "together", "a connected provider listing the vendor-prefixed id serves it");
    }
}
