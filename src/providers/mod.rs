//! The provider catalog. A provider is data — a [`ProviderSpec`] in [`catalog::ALL`] — not a code
//! path: adding an OpenAI-compatible provider is one entry there. Request handling reads only the spec
//! (base URL, auth style, wire format; the format gives the request path unless the spec names its
//! own), so nothing else changes.
//!
//! Built-in specs are `'static` data (their strings borrowed, nothing allocated). A tenant's own
//! providers and custom model ids make owned specs, which its [`Catalog`] holds and hands out as
//! [`ProviderRef`]s: they are freed with the catalog, so memory follows the configuration in use.

pub mod catalog;
pub mod node;
pub mod service;

pub use node::{Catalog, ProviderNode};
pub use service::{ModelKind, Service, Wire};

use crate::formats::Format;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

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
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
    /// Short prefixes that also select this provider (`ds/deepseek-chat`). Built-ins only.
    pub aliases: &'static [&'static str],
    /// Default base URL; a connection may override it.
    pub base_url: Cow<'static, str>,
    pub format: Format,
    /// Where chat requests go below the base URL when not the format's own path (a provider node's
    /// `/v4/chat/completions`). It replaces that path whole, so a format whose path names the model
    /// (Gemini) cannot have one.
    pub chat_path: Option<Cow<'static, str>>,
    pub auth: AuthStyle,
    /// Chat models known to exist; `GET /v1/models` lists them. Other ids are still passed through.
    pub models: Models,
    /// Extra headers every request to this provider carries.
    pub headers: Cow<'static, [(Cow<'static, str>, Cow<'static, str>)]>,
    /// Its APIs for models of other kinds (embeddings, images, audio, rerank, moderation).
    pub services: &'static [Service],
}

impl ProviderSpec {
    /// Whether `key` (lowercase) is this provider's id or one of its aliases.
    fn answers_to(&self, key: &str) -> bool {
        self.id == key || self.aliases.contains(&key)
    }

    /// A built-in provider without extra headers (all borrowed: usable in a `static`).
    pub const fn builtin(
        id: &'static str,
        name: &'static str,
        aliases: &'static [&'static str],
        base_url: &'static str,
        format: Format,
        auth: AuthStyle,
        models: &'static [&'static str],
    ) -> ProviderSpec {
        ProviderSpec {
            id: Cow::Borrowed(id),
            name: Cow::Borrowed(name),
            aliases,
            base_url: Cow::Borrowed(base_url),
            format,
            chat_path: None,
            auth,
            models: Models::Builtin(models),
            headers: Cow::Borrowed(&[]),
            services: &[],
        }
    }

    /// The same provider with APIs for other kinds of models.
    pub const fn offering(mut self, services: &'static [Service]) -> ProviderSpec {
        self.services = services;
        self
    }

    /// The path of a chat request below the base URL: the spec's own, or its format's.
    pub fn upstream_path(&self, model: &str, stream: bool) -> Cow<'_, str> {
        match &self.chat_path {
            Some(path) => Cow::Borrowed(path),
            None => Cow::Owned(self.format.upstream_path(model, stream)),
        }
    }

    /// Its API for models of `kind` (chat is the provider's own format, not a service).
    pub fn service(&self, kind: ModelKind) -> Option<&Service> {
        self.services.iter().find(|s| s.kind == kind)
    }

    /// Whether `model` is one of its known models, of any kind.
    pub fn lists(&self, model: &str) -> bool {
        self.models.contains(model) || self.services.iter().any(|s| s.models.contains(&model))
    }

    /// What `model` is known to do here: a service's model, or a chat model of the built-in
    /// catalog. `None` for ids the gateway cannot know (custom ids, provider nodes' models): those
    /// may be sent to any endpoint the provider has, and the upstream decides.
    pub fn kind_of(&self, model: &str) -> Option<ModelKind> {
        if let Some(s) = self.services.iter().find(|s| s.models.contains(&model)) {
            return Some(s.kind);
        }
        find(&self.id).filter(|builtin| builtin.models.contains(model)).map(|_| ModelKind::Chat)
    }

    /// Every known model with its kind: chat models (custom ids included) first.
    pub fn models_with_kinds(&self) -> impl Iterator<Item = (&str, ModelKind)> + '_ {
        let services = self.services.iter().flat_map(|s| s.models.iter().map(move |m| (*m, s.kind)));
        self.models.iter().map(|m| (m, ModelKind::Chat)).chain(services)
    }
}

/// A provider's model ids: a built-in's list as it is in the binary, or a list of the tenant's
/// (a node's models, or a provider's with custom ids added; names from the binary stay borrowed).
#[derive(Debug, Clone)]
pub enum Models {
    Builtin(&'static [&'static str]),
    Owned(Vec<Cow<'static, str>>),
}

impl Models {
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let (builtin, owned): (&[&str], &[Cow<str>]) = match self {
            Models::Builtin(l) => (l, &[]),
            Models::Owned(v) => (&[], v),
        };
        builtin.iter().copied().chain(owned.iter().map(|m| m.as_ref()))
    }

    pub fn contains(&self, model: &str) -> bool {
        self.iter().any(|m| m == model)
    }

    pub fn len(&self) -> usize {
        match self {
            Models::Builtin(l) => l.len(),
            Models::Owned(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// These models followed by those of `extra` not among them yet.
    pub fn extended(&self, extra: &[String]) -> Models {
        let mut list: Vec<Cow<'static, str>> = match self {
            Models::Builtin(l) => l.iter().map(|m| Cow::Borrowed(*m)).collect(),
            Models::Owned(v) => v.clone(),
        };
        for m in extra {
            if !list.iter().any(|have| have == m) {
                list.push(Cow::Owned(m.clone()));
            }
        }
        Models::Owned(list)
    }
}

impl PartialEq for Models {
    fn eq(&self, other: &Models) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Models {}

impl Serialize for Models {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A provider of a tenant's catalog: a built-in spec, or one the catalog owns (cloning it is a
/// reference-count increment). Reads as a [`ProviderSpec`].
#[derive(Clone)]
pub enum ProviderRef {
    Builtin(&'static ProviderSpec),
    Owned(Rc<ProviderSpec>),
}

impl Deref for ProviderRef {
    type Target = ProviderSpec;
    fn deref(&self) -> &ProviderSpec {
        match self {
            ProviderRef::Builtin(spec) => spec,
            ProviderRef::Owned(spec) => spec,
        }
    }
}

impl PartialEq for ProviderRef {
    fn eq(&self, other: &ProviderRef) -> bool {
        **self == **other
    }
}

impl fmt::Debug for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Finds a provider by id or alias prefix (case-insensitive).
pub fn find(id_or_alias: &str) -> Option<&'static ProviderSpec> {
    let key = id_or_alias.to_ascii_lowercase();
    catalog::ALL.iter().find(|p| p.answers_to(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_aliases_are_unique_and_lowercase() {
        let mut seen = HashSet::new();
        for p in catalog::ALL {
            for name in std::iter::once(p.id.as_ref()).chain(p.aliases.iter().copied()) {
                assert_eq!(name, name.to_ascii_lowercase());
                assert!(!name.contains('/'), "{name}");
                assert!(seen.insert(name), "duplicate provider name {name}");
            }
        }
    }

    #[test]
    fn models_read_the_same_borrowed_or_owned() {
        let builtin = Models::Builtin(&["a", "b"]);
        let extended = builtin.extended(&["b".into(), "c".into(), "c".into()]);
        assert_eq!(extended.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(extended.contains("c") && !builtin.contains("c") && builtin.contains("b"));
        assert_eq!((builtin.len(), extended.len()), (2, 3));
        assert_eq!(builtin, Models::Owned(vec![Cow::Owned("a".into()), Cow::Borrowed("b")]));
        assert_eq!(serde_json::to_value(&extended).unwrap(), serde_json::json!(["a", "b", "c"]));
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
        assert_eq!(find("DS").map(|p| p.id.as_ref()), Some("deepseek"));
        assert_eq!(find("openai").map(|p| p.id.as_ref()), Some("openai"));
        assert_eq!(find("nope"), None);
    }
}
