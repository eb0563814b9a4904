//! `GET /v1/models`: every id the calling key may call, so that clients that pick models from this
//! list (Cursor, Cline, OpenCode, OmniRoute's own UI) see the combos, aliases and models of the
//! tenant, and nothing they would get a 404 for.
//!
//! Candidates are the tenant's combos, its exact aliases (a `*`/`?` pattern is not an id), the models
//! its fallback chains are set for, the known models of its connected providers (provider nodes' and
//! custom ids included, through the catalog), and the concrete `provider/model` targets its combos,
//! aliases and chains name (how a synced machine's node models are known: OmniRoute does not push
//! them). Each is kept only if the same planning a request goes through (`plan::Targets`) finds a
//! target for it whose provider has an active connection and is in the key's scope. Cooldowns and
//! breakers are not consulted here: that is `GET /v1/models/health`, over this same list.

use super::plan::Targets;
use crate::config::key_access::KeyAccess;
use crate::config::TenantSnapshot;
use crate::providers::ModelKind;
use crate::routing::alias::has_wildcard;
use crate::routing::combo;
use crate::routing::model::{available, resolve, Resolved};
use crate::routing::strategy::RoundRobinStates;
use std::collections::HashSet;

/// What an id of the list names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    Model,
    Combo,
    Alias,
}

impl Named {
    pub fn as_str(self) -> &'static str {
        match self {
            Named::Model => "model",
            Named::Combo => "combo",
            Named::Alias => "alias",
        }
    }
}

/// One id of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub named: Named,
    /// The provider that serves a model; `combo` or `alias` for those.
    pub owned_by: String,
    /// What it does: a model's own kind; a combo's or alias's is that of its first servable target.
    pub kind: ModelKind,
}

/// Every id `access` may call at this tenant, each once: combos, aliases, then models.
pub fn callable(snapshot: &TenantSnapshot, access: &KeyAccess) -> Vec<Listed> {
    let entries = snapshot.aliases.entries();
    let exact_alias = |name: &str| entries.iter().any(|a| !has_wildcard(&a.pattern) && a.pattern == name);
    // An alias is followed before a combo of the same name is looked up: the alias is what it names.
    let combos = snapshot.combos.iter().filter(|c| !exact_alias(&c.name)).map(|c| (c.name.as_str(), Named::Combo));
    let aliases = entries.iter().filter(|a| !has_wildcard(&a.pattern)).map(|a| (a.pattern.as_str(), Named::Alias));
    let chains = snapshot.fallback_chains.iter().map(|(m, _)| (m, Named::Model));

    let mut out: Vec<Listed> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut list = |id: &str, named: Named, targets: &[Resolved]| {
        let Some(first) = targets.first() else { return };
        if access.allows_model(id) && seen.insert(id.to_string()) {
            let owned_by = match named {
                Named::Model => first.provider.id.to_string(),
                other => other.as_str().to_string(),
            };
            let kind = first.provider.kind_of(&first.model).unwrap_or_default();
            out.push(Listed { id: id.to_string(), named, owned_by, kind });
        }
    };
    let mut named_targets: Vec<String> = Vec::new();
    for (name, named) in combos.chain(aliases).chain(chains) {
        let targets = servable(snapshot, name, access);
        named_targets.extend(targets.iter().map(|t| format!("{}/{}", t.provider.id, t.model)));
        list(name, named, &targets);
    }
    let models = available(&snapshot.connected_providers(), snapshot.catalog()).into_iter().map(|m| m.id);
    for id in models.chain(named_targets) {
        list(&id, Named::Model, &servable(snapshot, &id, access));
    }
    out
}

/// The targets of `name` a request with `access` could go to: resolved, of a provider with an
/// active connection, and in the key's provider and connection scopes.
fn servable(snapshot: &TenantSnapshot, name: &str, access: &KeyAccess) -> Vec<Resolved> {
    // Scratch round-robin positions: looking must not move a request's turn.
    let mut rr = RoundRobinStates::default();
    let Ok(targets) = Targets::for_model(snapshot, name, &mut rr, 0) else { return Vec::new() };
    let connected = |id: &str| snapshot.connections.iter().any(|c| c.is_active && c.provider == id);
    targets.list.into_iter().filter(|t| connected(&t.provider.id) && access.reaches(snapshot, &t.provider.id)).collect()
}

/// Why a request for `name` cannot be served at this tenant (whatever the key), naming each target
/// that fails and why; `None` when it can. The verdict is [`callable`]'s; this only explains it.
pub fn why_unservable(snapshot: &TenantSnapshot, name: &str) -> Option<String> {
    if !servable(snapshot, name, &KeyAccess::default()).is_empty() {
        return None;
    }
    let target = snapshot.aliases.resolve(name).unwrap_or(name);
    let mut names: Vec<String> = match snapshot.combo(target) {
        Some(_) => match combo::expand(target, |n| snapshot.combo(n), combo::MAX_COMBO_DEPTH) {
            Ok(expanded) => expanded.into_iter().map(|(m, _)| m).collect(),
            Err(e) => return Some(e.message),
        },
        None => vec![target.to_string()],
    };
    for after in [name, target] {
        names.extend(snapshot.fallback_chains.after(after).into_iter().map(str::to_string));
    }
    let connected = snapshot.connected_providers();
    let mut why: Vec<String> = Vec::new();
    for n in &names {
        let r = snapshot.aliases.resolve(n).unwrap_or(n);
        let shown = if r == n { format!("`{n}`") } else { format!("`{n}` (alias of `{r}`)") };
        let problem = match resolve(r, &connected, snapshot.catalog()) {
            Ok(t) => format!("{shown}: no active connection of `{}` is served", t.provider.id),
            Err(_) => match r.split_once('/') {
                Some((p, _)) if snapshot.catalog().find(p).is_none() => {
                    format!("{shown}: `{p}` is not a provider this gateway serves")
                }
                _ if snapshot.combo(r).is_some() => format!("{shown}: a combo reached through an alias inside a combo"),
                _ => format!("{shown}: no combo has that name and no connected provider offers it"),
            },
        };
        if !why.contains(&problem) {
            why.push(problem);
        }
    }
    Some(format!("nothing it names can be served: {}", why.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::key_access::Scopes;
    use crate::engine::scripted::{conn, snapshot};
    use crate::providers::ProviderNode;
    use crate::routing::alias::Aliases;
    use crate::routing::combo::Combo;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn combo(name: &str, targets: &[&str]) -> Combo {
        let targets: Vec<_> = targets.iter().map(|m| json!({"model": m})).collect();
        serde_json::from_value(json!({"name": name, "targets": targets})).unwrap()
    }

    fn tenant() -> TenantSnapshot {
        let mut s = snapshot(vec![conn("o", "openai", 1), conn("l", "lab", 2)]);
        s.nodes = vec![serde_json::from_value::<ProviderNode>(json!({
            "id": "lab", "format": "openai", "base_url": "https://lab.example.com/v1", "models": ["qwen3-coder"]
        }))
        .unwrap()];
        s.custom_models = BTreeMap::from([("openai".to_string(), vec!["gpt-9".to_string()])]);
        s.combos = vec![
            combo("coding", &["lab/qwen3-coder", "openai/o9-preview"]),
            combo("embed", &["openai/text-embedding-3-small"]),
            combo("nowhere", &["anthropic/claude-sonnet-4-5", "antigravity/gemini-3-pro-preview"]),
            combo("outer", &["nowhere", "coding"]),
            combo("loop-a", &["loop-b"]),
            combo("loop-b", &["loop-a"]),
        ];
        s.aliases = Aliases::new([
            ("fast", "lab/qwen3-turbo"),
            ("best", "coding"),
            ("gemini-3-pro-high", "antigravity/gemini-3-pro-preview"),
            ("claude-*", "openai/gpt-4o"),
            ("to-missing-combo", "no-such-combo"),
        ]);
        s.fallback_chains.set("gpt-5", vec!["anthropic/claude-sonnet-4-5".into(), "openai/gpt-4o-mini".into()]);
        s
    }

    fn ids(list: &[Listed]) -> Vec<&str> {
        list.iter().map(|l| l.id.as_str()).collect()
    }

    fn find<'a>(list: &'a [Listed], id: &str) -> Option<&'a Listed> {
        list.iter().find(|l| l.id == id)
    }

    #[test]
    fn lists_servable_combos_aliases_chains_and_models_once_each() {
        let s = tenant();
        let list = callable(&s, &KeyAccess::default());
        let first: Vec<_> = list.iter().take(6).map(|l| (l.id.as_str(), l.named, l.owned_by.as_str())).collect();
        assert_eq!(
            first,
            [
                ("coding", Named::Combo, "combo"),
                ("embed", Named::Combo, "combo"),
                ("outer", Named::Combo, "combo"),
                ("fast", Named::Alias, "alias"),
                ("best", Named::Alias, "alias"),
                ("gpt-5", Named::Model, "openai"),
            ],
            "combos, aliases and chains first; unservable ones, cycles and patterns left out"
        );
        for gone in ["nowhere", "loop-a", "loop-b", "gemini-3-pro-high", "claude-*", "to-missing-combo"] {
            assert!(find(&list, gone).is_none(), "{gone}");
        }
        let model = |id: &str| find(&list, id).map(|l| (l.named, l.owned_by.as_str(), l.kind));
        assert_eq!(model("openai/gpt-4o"), Some((Named::Model, "openai", ModelKind::Chat)));
        assert_eq!(model("openai/gpt-9"), Some((Named::Model, "openai", ModelKind::Chat)), "a custom id");
        assert_eq!(model("lab/qwen3-coder"), Some((Named::Model, "lab", ModelKind::Chat)), "a node's model");
        assert_eq!(model("openai/o9-preview"), Some((Named::Model, "openai", ModelKind::Chat)), "named by a combo");
        assert_eq!(model("lab/qwen3-turbo"), Some((Named::Model, "lab", ModelKind::Chat)), "named by an alias");
        assert_eq!(model("embed").map(|m| m.2), Some(ModelKind::Embedding), "a combo has its targets' kind");
        assert!(find(&list, "anthropic/claude-sonnet-4-5").is_none(), "not connected");
        let unique: HashSet<&str> = ids(&list).into_iter().collect();
        assert_eq!(unique.len(), list.len(), "no duplicates");
    }

    #[test]
    fn every_listed_id_plans_to_a_connected_provider() {
        let s = tenant();
        for l in callable(&s, &KeyAccess::default()) {
            let t = Targets::for_model(&s, &l.id, &mut RoundRobinStates::default(), 0).unwrap();
            assert!(t.list.iter().any(|r| !s.connections_for(&r.provider.id).is_empty()), "{}", l.id);
        }
    }

    #[test]
    fn an_alias_shadows_a_combo_of_its_name_and_is_listed_as_the_alias() {
        let mut s = tenant();
        s.aliases = Aliases::new([("coding", "openai/gpt-4o")]);
        let list = callable(&s, &KeyAccess::default());
        let coding: Vec<_> = list.iter().filter(|l| l.id == "coding").map(|l| l.named).collect();
        assert_eq!(coding, [Named::Alias]);
    }

    #[test]
    fn a_key_sees_only_its_scope() {
        let s = tenant();
        let models = KeyAccess {
            scopes: Scopes { models: vec!["openai/*".into(), "coding".into()], ..Scopes::default() },
            ..KeyAccess::default()
        };
        let list = callable(&s, &models);
        assert!(list.iter().all(|l| l.id == "coding" || l.id.starts_with("openai/")), "{:?}", ids(&list));
        assert!(find(&list, "coding").is_some() && find(&list, "openai/o9-preview").is_some());
        let providers =
            KeyAccess { scopes: Scopes { providers: vec!["lab".into()], ..Scopes::default() }, ..KeyAccess::default() };
        let list = callable(&s, &providers);
        assert!(find(&list, "coding").is_some(), "served from its lab target");
        assert!(find(&list, "embed").is_none() && find(&list, "gpt-5").is_none());
        assert!(list.iter().filter(|l| l.named == Named::Model).all(|l| l.owned_by == "lab"), "{:?}", ids(&list));
    }

    #[test]
    fn says_why_naming_each_target() {
        let s = tenant();
        assert_eq!(why_unservable(&s, "coding"), None);
        assert_eq!(why_unservable(&s, "best"), None, "an alias of a servable combo");
        let why = why_unservable(&s, "gemini-3-pro-high").unwrap();
        assert!(why.contains("`antigravity/gemini-3-pro-preview`: `antigravity` is not a provider"), "{why}");
        let why = why_unservable(&s, "nowhere").unwrap();
        assert!(why.contains("`anthropic/claude-sonnet-4-5`: no active connection of `anthropic`"), "{why}");
        assert!(why.contains("antigravity"), "{why}");
        assert!(why_unservable(&s, "loop-a").unwrap().contains("refers back to itself"));
        let why = why_unservable(&s, "to-missing-combo").unwrap();
        assert!(why.contains("`no-such-combo`: no combo has that name"), "{why}");
        assert_eq!(why_unservable(&s, "outer"), None, "one servable nested combo is enough");
    }
}
