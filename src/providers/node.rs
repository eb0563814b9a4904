//! User-defined providers ("provider nodes"): any OpenAI Chat-, OpenAI Responses- or
//! Anthropic-compatible API, with its own id (used as the model prefix), base URL, request path and
//! extra headers; and custom model ids on any provider. Both become part of a tenant's [`Catalog`],
//! so routing treats them exactly like built-ins.
//!
//! The catalog owns the specs it makes for them (built once per snapshot) and drops them with the
//! snapshot: an edited or deleted node leaves nothing behind. Built-ins without custom models are
//! referenced, not copied.

use super::{catalog, service, AuthStyle, Models, ProviderRef, ProviderSpec, Service};
use crate::error::{GatewayError, Result};
use crate::formats::Format;
use crate::net_policy::validate_base_url;
use crate::security::names::check_visible;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeFormat {
    /// OpenAI Chat Completions, Bearer key.
    Openai,
    /// OpenAI Responses (`/responses`), Bearer key.
    OpenaiResponses,
    /// Anthropic Messages, `x-api-key`.
    Anthropic,
}

impl NodeFormat {
    /// The wire format, how the key is sent, and the APIs besides chat.
    fn spec(self) -> (Format, AuthStyle, &'static [Service]) {
        match self {
            NodeFormat::Openai => (Format::OpenAiChat, AuthStyle::Bearer, service::OPENAI_NODE),
            NodeFormat::OpenaiResponses => (Format::OpenAiResponses, AuthStyle::Bearer, service::OPENAI_NODE),
            NodeFormat::Anthropic => (Format::Anthropic, AuthStyle::Header("x-api-key"), &[]),
        }
    }

    /// The request path below the base URL when the node names none (`/chat/completions`, …).
    fn default_path(self) -> String {
        self.spec().0.upstream_path("", false)
    }
}

/// As stored: unknown fields are ignored (another version may have written them); admin input
/// comes through `config::input::parse_strict`, which refuses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderNode {
    /// Lowercase id, also the model prefix (`mylab/qwen3-coder`).
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub format: NodeFormat,
    pub base_url: String,
    /// Where chat requests go below `base_url` when not the format's own path (`/v4/chat/completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_path: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub models: Vec<String>,
}

impl ProviderNode {
    /// Checks the node before it is stored: a fresh id, a safe base URL, sane headers and models.
    pub fn validate(mut self, allow_private: bool) -> Result<ProviderNode> {
        let bad = |m: String, p: &str| GatewayError::invalid_request(m).with_param(p);
        self.id = self.id.trim().to_ascii_lowercase();
        let id_ok = (1..=40).contains(&self.id.len())
            && self.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(bad("`id` must be 1-40 characters of a-z, 0-9, - and _.".into(), "id"));
        }
        if super::find(&self.id).is_some() {
            return Err(bad(format!("`{}` is a built-in provider or alias; pick another id.", self.id), "id"));
        }
        self.base_url = validate_base_url(&self.base_url, allow_private)?;
        // The format's own path is no custom path.
        self.chat_path = match self.chat_path.take() {
            Some(path) if path == self.format.default_path() => None,
            Some(path) if !path_ok(&path) => {
                let rule = "must start with `/`, have at most 200 characters and hold only letters, digits and \
                            `/-._~!$&'()*+,;=:@` (no `..`, query or fragment)";
                return Err(bad(format!("`chat_path` {rule}."), "chat_path"));
            }
            path => path,
        };
        let reserved = ["authorization", "x-api-key", "x-goog-api-key", "host", "content-length", "content-type"];
        for (k, v) in &self.headers {
            let name_ok = !k.is_empty() && k.len() <= 100 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !name_ok
                || reserved.contains(&k.to_ascii_lowercase().as_str())
                || v.len() > 1000
                || v.contains(['\r', '\n'])
            {
                return Err(bad(format!("Header `{k}` is not allowed."), "headers"));
            }
        }
        if self.models.len() > 200
            || self.models.iter().any(|m| m.is_empty() || m.len() > 200 || m.contains(char::is_whitespace))
        {
            return Err(bad("`models` must be up to 200 ids without spaces.".into(), "models"));
        }
        if let Some(name) = &self.name {
            check_visible("name", name)?;
        }
        self.models.iter().try_for_each(|m| check_visible("models", m))?;
        Ok(self)
    }
}

/// Whether a node's request path may be appended to its base URL as it is: it stays below that
/// URL (no `..`), carries no query or fragment, and has nothing a URL parser would read differently
/// (no escapes, spaces or control characters: only what a path segment may hold unescaped).
fn path_ok(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 200
        && !path.contains("..")
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b))
}

/// Custom model ids for one provider (`POST /api/provider-models`).
pub fn validate_models(provider: &str, models: &[String]) -> Result<()> {
    if provider.is_empty() || models.is_empty() || models.len() > 200 {
        return Err(GatewayError::invalid_request("Give a provider and 1 to 200 model ids.").with_param("models"));
    }
    if models.iter().any(|m| m.is_empty() || m.len() > 200 || m.contains(char::is_whitespace)) {
        return Err(
            GatewayError::invalid_request("Model ids must be non-empty and without spaces.").with_param("models")
        );
    }
    models.iter().try_for_each(|m| check_visible("models", m))
}

fn node_spec(node: &ProviderNode) -> ProviderSpec {
    let (format, auth, services) = node.format.spec();
    let owned = |s: &str| Cow::Owned(s.to_string());
    ProviderSpec {
        id: owned(&node.id),
        name: owned(node.name.as_deref().unwrap_or(&node.id)),
        aliases: &[],
        base_url: owned(&node.base_url),
        format,
        chat_path: node.chat_path.as_deref().map(owned),
        auth,
        models: Models::Owned(node.models.iter().map(|m| owned(m)).collect()),
        headers: node.headers.iter().map(|(k, v)| (owned(k), owned(v))).collect(),
        services,
    }
}

/// The providers one tenant can route to: built-ins (with its custom model ids) and its nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    list: Vec<ProviderRef>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog { list: catalog::ALL.iter().map(ProviderRef::Builtin).collect() }
    }
}

impl Catalog {
    pub fn new(nodes: &[ProviderNode], custom_models: &BTreeMap<String, Vec<String>>) -> Catalog {
        let extra = |id: &str| custom_models.get(id).filter(|m| !m.is_empty());
        let mut list: Vec<ProviderRef> = catalog::ALL
            .iter()
            .map(|p| match extra(&p.id) {
                Some(extra) => {
                    ProviderRef::Owned(Rc::new(ProviderSpec { models: p.models.extended(extra), ..p.clone() }))
                }
                None => ProviderRef::Builtin(p),
            })
            .collect();
        for n in nodes {
            let mut spec = node_spec(n);
            if let Some(extra) = extra(&n.id) {
                spec.models = spec.models.extended(extra);
            }
            list.push(ProviderRef::Owned(Rc::new(spec)));
        }
        Catalog { list }
    }

    /// A provider by id or alias prefix (case-insensitive).
    pub fn find(&self, id_or_alias: &str) -> Option<&ProviderRef> {
        let key = id_or_alias.to_ascii_lowercase();
        self.list.iter().find(|p| p.answers_to(&key))
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProviderRef> + '_ {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> ProviderNode {
        ProviderNode {
            id: id.into(),
            name: None,
            format: NodeFormat::Anthropic,
            base_url: "https://llm.example.com/v1".into(),
            chat_path: None,
            headers: BTreeMap::from([("x-team".to_string(), "blue".to_string())]),
            models: vec!["big-model".into()],
        }
    }

    #[test]
    fn nodes_and_custom_models_join_the_catalog() {
        let custom = BTreeMap::from([("openai".to_string(), vec!["gpt-9-preview".to_string()])]);
        let c = Catalog::new(&[node("mylab")], &custom);
        let lab = c.find("MyLab").unwrap();
        assert_eq!(
            (lab.format, lab.auth, lab.base_url.as_ref()),
            (Format::Anthropic, AuthStyle::Header("x-api-key"), "https://llm.example.com/v1")
        );
        assert_eq!(lab.headers.as_ref(), &[("x-team".into(), "blue".into())]);
        assert!(c.find("openai").unwrap().models.contains("gpt-9-preview"));
        assert!(c.find("openai").unwrap().models.contains("gpt-4o"), "built-in models stay");
        assert!(Catalog::default().find("mylab").is_none());
        // Built-ins without custom models are the static specs themselves.
        assert!(matches!(c.find("anthropic"), Some(ProviderRef::Builtin(_))));
        assert!(Catalog::new(&[], &BTreeMap::new()).iter().all(|p| matches!(p, ProviderRef::Builtin(_))));
    }

    /// Every owned spec a catalog makes is freed with it: building catalogs from 10 000 distinct
    /// definitions in a row leaves none alive, so memory follows the configuration in use.
    #[test]
    fn dropping_a_catalog_frees_its_specs() {
        let mut dead = 0;
        for i in 0..10_000 {
            let mut n = node(&format!("lab{i}"));
            n.models = vec![format!("model-{i}")];
            let custom = BTreeMap::from([("openai".to_string(), vec![format!("gpt-{i}")])]);
            let catalog = Catalog::new(&[n], &custom);
            let owned: Vec<std::rc::Weak<ProviderSpec>> = catalog
                .iter()
                .filter_map(|p| match p {
                    ProviderRef::Owned(rc) => Some(Rc::downgrade(rc)),
                    ProviderRef::Builtin(_) => None,
                })
                .collect();
            assert_eq!(owned.len(), 2, "the node and openai with its custom model");
            let held = catalog.find(&format!("lab{i}")).cloned();
            drop(catalog);
            let alive: Vec<bool> = owned.iter().map(|w| w.upgrade().is_some()).collect();
            assert_eq!(alive, [false, true], "only the spec a handle (a request's target) holds outlives the catalog");
            drop(held);
            dead += owned.iter().filter(|w| w.upgrade().is_none()).count();
        }
        assert_eq!(dead, 20_000);
    }

    #[test]
    fn unknown_node_fields_are_refused_as_input_and_ignored_when_stored() {
        let json =
            r#"{"id":"lab","format":"openai","base_url":"https://lab.example.com","headers":{"x-a":"1"},"extra":1}"#;
        let e = crate::config::input::parse_strict::<ProviderNode>(json.as_bytes()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("extra"));
        let stored: ProviderNode = serde_json::from_str(json).unwrap();
        assert_eq!(
            (stored.id.as_str(), stored.headers.len(), stored.chat_path.as_deref()),
            ("lab", 1, None),
            "as older versions wrote it"
        );
        assert!(!serde_json::to_string(&stored).unwrap().contains("chat_path"), "and written back the same");
        let input = crate::config::input::parse_strict::<ProviderNode>(json.replace(r#","extra":1"#, "").as_bytes());
        assert_eq!(input.unwrap(), stored, "header names are data, not fields");
    }

    #[test]
    fn a_node_may_speak_responses_and_name_its_own_path() {
        let mut resp = node("resp");
        resp.format = NodeFormat::OpenaiResponses;
        let mut chat = node("chat");
        (chat.format, chat.chat_path) = (NodeFormat::Openai, Some("/v4/chat/completions".into()));
        let c = Catalog::new(&[resp, chat], &BTreeMap::new());
        let resp = c.find("resp").unwrap();
        assert_eq!((resp.format, resp.auth), (Format::OpenAiResponses, AuthStyle::Bearer));
        assert_eq!(resp.upstream_path("m", true), "/responses");
        assert!(resp.service(crate::providers::ModelKind::Embedding).is_some(), "an OpenAI-compatible API");
        let chat = c.find("chat").unwrap();
        assert_eq!(
            (chat.format, chat.upstream_path("m", false).as_ref()),
            (Format::OpenAiChat, "/v4/chat/completions")
        );
        assert_eq!(serde_json::to_value(NodeFormat::OpenaiResponses).unwrap(), "openai_responses");
    }

    #[test]
    fn a_chat_path_stays_below_the_base_url() {
        let with = |format: NodeFormat, path: &str| {
            let mut n = node("lab");
            (n.format, n.chat_path) = (format, Some(path.to_string()));
            n.validate(false)
        };
        for (format, path) in [
            (NodeFormat::Openai, "/v4/chat/completions"),
            (NodeFormat::Openai, "/chat"),
            (NodeFormat::Anthropic, "/chat/completions"),
            (NodeFormat::OpenaiResponses, "/api/v1/responses"),
            (NodeFormat::Openai, "/models/m:generate@v1"),
        ] {
            assert_eq!(with(format, path).unwrap().chat_path.as_deref(), Some(path));
        }
        for (format, path) in [
            (NodeFormat::Openai, "/chat/completions"),
            (NodeFormat::Anthropic, "/messages"),
            (NodeFormat::OpenaiResponses, "/responses"),
        ] {
            assert_eq!(with(format, path).unwrap().chat_path, None, "the format's own path is no custom path");
        }
        let long = format!("/{}", "a".repeat(200));
        for bad in
            ["chat", "", "/a/../b", "/..", "/a?x=1", "/a#f", "/a b", "/a\tb", "/a\n", "/%2e%2e/x", "/a\\b", "/é", &long]
        {
            assert_eq!(with(NodeFormat::Openai, bad).unwrap_err().param.as_deref(), Some("chat_path"), "{bad:?}");
        }
    }

    #[test]
    fn validates_nodes() {
        assert_eq!(node(" MyLab ").validate(false).unwrap().id, "mylab");
        let mut n = node("lab");
        n.name = Some("Lab\u{202E}".into());
        assert_eq!(n.clone().validate(false).unwrap_err().param.as_deref(), Some("name"));
        n.name = None;
        n.models = vec!["qwen\0".into()];
        assert_eq!(n.validate(false).unwrap_err().param.as_deref(), Some("models"));
        assert_eq!(
            validate_models("lab", &["m\u{2066}".into()]).unwrap_err().code.as_deref(),
            Some("invalid_characters")
        );
        for bad in [node("openai"), node("ds"), node("a/b"), node("")] {
            assert_eq!(bad.validate(false).unwrap_err().param.as_deref(), Some("id"));
        }
        let mut n = node("x");
        n.base_url = "http://127.0.0.1:9".into();
        assert!(n.clone().validate(false).is_err());
        assert!(n.validate(true).is_ok());
        let mut n = node("y");
        n.headers.insert("Authorization".into(), "Bearer z".into());
        assert_eq!(n.validate(false).unwrap_err().param.as_deref(), Some("headers"));
        assert!(validate_models("openai", &["a b".into()]).is_err());
        assert!(validate_models("openai", &[]).is_err());
    }
}
