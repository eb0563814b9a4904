//! The provider catalog. A provider is data — a [`ProviderSpec`] in [`catalog::ALL`] — not a code
//! path: adding an OpenAI-compatible provider is one entry there. Request handling reads only the spec
//! (base URL, auth style, wire format; the format gives the request path), so nothing else changes.

pub mod catalog;
pub mod node;

pub use node::{Catalog, ProviderNode};

use crate::formats::Format;

/// How the provider expects its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in the named header (e.g. `x-api-key`).
    Header(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSpec {
    /// Stable id, used in model names (`openai/gpt-4o-mini`) and stored connections.
    pub id: &'static str,
    pub name: &'static str,
    /// Short prefixes that also select this provider (`ds/deepseek-chat`).
    pub aliases: &'static [&'static str],
    /// Default base URL; a connection may override it.
    pub base_url: &'static str,
    pub format: Format,
    pub auth: AuthStyle,
    /// Models known to exist; `GET /v1/models` lists them. Other ids are still passed through.
    pub models: &'static [&'static str],
    /// Extra headers every request to this provider carries.
    pub headers: &'static [(&'static str, &'static str)],
}

/// Finds a provider by id or alias prefix (case-insensitive).
pub fn find(id_or_alias: &str) -> Option<&'static ProviderSpec> {
    let key = id_or_alias.to_ascii_lowercase();
    catalog::ALL.iter().find(|p| p.id == key || p.aliases.contains(&key.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_aliases_are_unique_and_lowercase() {
        let mut seen = HashSet::new();
        for p in catalog::ALL {
            for name in std::iter::once(&p.id).chain(p.aliases.iter()) {
                assert_eq!(*name, name.to_ascii_lowercase());
                assert!(!name.contains('/'), "{name}");
                assert!(seen.insert(*name), "duplicate provider name {name}");
            }
        }
    }

    #[test]
    fn base_urls_are_https_without_trailing_slash() {
        for p in catalog::ALL {
            assert!(p.base_url.starts_with("https://"), "{}", p.id);
            assert!(!p.base_url.ends_with('/'), "{}", p.id);
        }
    }

    #[test]
    fn finds_by_alias_case_insensitively() {
        assert_eq!(find("DS").map(|p| p.id), Some("deepseek"));
        assert_eq!(find("openai").map(|p| p.id), Some("openai"));
        assert_eq!(find("nope"), None);
    }
}
