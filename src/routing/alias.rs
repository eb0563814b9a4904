//! Model aliases and global fallback chains (omniroute.md §3.3).
//!
//! An alias maps a name a client sends to another model name (`fast` → `groq/llama-3.1-8b-instant`).
//! A pattern without `*`/`?` is exact and always wins. Otherwise glob patterns (`*` any run, `?` one
//! character, case-sensitive) compete by specificity, as in OmniRoute's wildcard router:
//! `10×literal chars − 50×'*' − 5×'?' + length`; ties go to the first defined. A target may itself be
//! an alias: resolution follows at most [`MAX_HOPS`] hops and stops at a cycle, returning the last
//! target reached.
//!
//! Fallback chains name, per model, the other models to try after it has failed.

use crate::error::{GatewayError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Alias hops followed before giving up (a chain longer than this is a misconfiguration).
pub const MAX_HOPS: usize = 5;
/// Longest alias pattern, target or model name accepted from admin input.
pub const MAX_NAME_LEN: usize = 200;
/// Longest fallback chain accepted from admin input.
pub const MAX_CHAIN_LEN: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub pattern: String,
    pub target: String,
}

/// The aliases of a tenant, in definition order (the order breaks specificity ties).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Aliases {
    entries: Vec<Alias>,
}

impl Aliases {
    pub fn new<P: Into<String>, T: Into<String>>(pairs: impl IntoIterator<Item = (P, T)>) -> Self {
        Aliases { entries: pairs.into_iter().map(|(p, t)| Alias { pattern: p.into(), target: t.into() }).collect() }
    }

    pub fn entries(&self) -> &[Alias] {
        &self.entries
    }

    /// What `model` finally names, following alias targets; `None` when no alias matches `model`.
    pub fn resolve(&self, model: &str) -> Option<&str> {
        let mut seen: Vec<&str> = vec![model];
        let mut last = None;
        let mut current = model;
        for _ in 0..MAX_HOPS {
            match self.resolve_once(current) {
                Some(next) if !seen.contains(&next) => {
                    seen.push(next);
                    last = Some(next);
                    current = next;
                }
                // No further alias, or a cycle: stop at the last target reached.
                _ => break,
            }
        }
        last
    }

    /// A loop among the aliases: names that lead back to one another (`a` → `b` → `a`), the first
    /// repeated at the end. A name an alias maps to itself (`claude-*` → `claude-sonnet-4-5`, which
    /// `claude-*` matches) is where resolution stops, not a loop. Each alias is followed from its
    /// exact pattern, or from its target for a wildcard pattern.
    pub fn find_loop(&self) -> Option<Vec<String>> {
        for a in &self.entries {
            let start = if has_wildcard(&a.pattern) { a.target.as_str() } else { a.pattern.as_str() };
            let mut path = vec![start];
            while let Some(next) = self.resolve_once(path[path.len() - 1]) {
                if next == path[path.len() - 1] || path.len() > self.entries.len() {
                    break;
                }
                if let Some(from) = path.iter().position(|n| *n == next) {
                    let mut cycle: Vec<String> = path[from..].iter().map(|n| n.to_string()).collect();
                    cycle.push(next.to_string());
                    return Some(cycle);
                }
                path.push(next);
            }
        }
        None
    }

    /// Refuses (400, naming the loop) aliases that lead back to one another: resolving them would
    /// stop half-way at a name nothing serves, so they are refused when saved.
    pub fn refuse_loops(&self, param: &str) -> Result<()> {
        match self.find_loop() {
            None => Ok(()),
            Some(cycle) => Err(GatewayError::invalid_request(format!(
                "These aliases lead back to one another: {}. An alias may not reach its own name.",
                cycle.join(" -> ")
            ))
            .with_param(param)
            .with_code("alias_loop")),
        }
    }

    /// `entries` with `alias` put as saving it would (replacing its pattern's, last in order).
    pub fn with(&self, alias: Alias) -> Aliases {
        let mut entries: Vec<Alias> = self.entries.iter().filter(|a| a.pattern != alias.pattern).cloned().collect();
        entries.push(alias);
        Aliases { entries }
    }

    /// One hop: the exact alias of `model`, else the most specific matching pattern.
    pub fn resolve_once(&self, model: &str) -> Option<&str> {
        if let Some(a) = self.entries.iter().find(|a| !has_wildcard(&a.pattern) && a.pattern == model) {
            return Some(&a.target);
        }
        let mut best: Option<(i64, &Alias)> = None;
        for a in self.entries.iter().filter(|a| has_wildcard(&a.pattern) && glob_match(&a.pattern, model)) {
            let s = specificity(&a.pattern);
            // Strictly greater: the first defined keeps a tie.
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, a));
            }
        }
        best.map(|(_, a)| a.target.as_str())
    }
}

/// Whether an alias pattern is a glob (`*`/`?`), matching many names, rather than one name.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// `10×literal chars − 50×'*' − 5×'?' + length` (characters, not bytes).
pub fn specificity(pattern: &str) -> i64 {
    let (mut literal, mut stars, mut marks, mut len) = (0i64, 0i64, 0i64, 0i64);
    for ch in pattern.chars() {
        len += 1;
        match ch {
            '*' => stars += 1,
            '?' => marks += 1,
            _ => literal += 1,
        }
    }
    10 * literal - 50 * stars - 5 * marks + len
}

/// Glob match over characters: `*` any run (also empty), `?` exactly one character. Linear-ish
/// backtracking (only the last `*` is revisited), so hostile patterns cannot blow up.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Per model, the other models to try (in order) after it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FallbackChains {
    chains: BTreeMap<String, Vec<String>>,
}

impl FallbackChains {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or, with an empty chain, removes) the chain of `model`.
    pub fn set(&mut self, model: impl Into<String>, chain: Vec<String>) {
        let model = model.into();
        if chain.is_empty() {
            self.chains.remove(&model);
        } else {
            self.chains.insert(model, chain);
        }
    }

    /// The models to try after `model`, in order, without `model` itself or repeats.
    pub fn after(&self, model: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in self.chains.get(model).into_iter().flatten() {
            if m != model && !out.contains(&m.as_str()) {
                out.push(m);
            }
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.chains.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// Checks a model name, alias pattern or target from admin input: non-empty, at most
/// [`MAX_NAME_LEN`] characters, no whitespace, no control or format characters. `param` names the field in the error.
pub fn validate_name(param: &str, value: &str) -> Result<()> {
    let bad = |why: &str| Err(GatewayError::invalid_request(format!("`{param}` {why}.")).with_param(param));
    if value.is_empty() {
        return bad("must not be empty");
    }
    if value.chars().count() > MAX_NAME_LEN {
        return bad(&format!("must be at most {MAX_NAME_LEN} characters"));
    }
    if value.chars().any(char::is_whitespace) {
        return bad("must not contain whitespace");
    }
    crate::security::names::check_visible(param, value)
}

/// Checks one alias from admin input. The target must be a concrete name, not a pattern.
pub fn validate_alias(pattern: &str, target: &str) -> Result<()> {
    validate_name("pattern", pattern)?;
    validate_name("target", target)?;
    if has_wildcard(target) {
        return Err(GatewayError::invalid_request("`target` must be a model name, not a pattern.").with_param("target"));
    }
    if target == pattern {
        return Err(GatewayError::invalid_request("An alias cannot point at itself.").with_param("target"));
    }
    Ok(())
}

/// Checks one fallback chain from admin input: 1..=[`MAX_CHAIN_LEN`] valid names, not the model itself.
pub fn validate_chain(model: &str, chain: &[String]) -> Result<()> {
    validate_name("model", model)?;
    if chain.is_empty() || chain.len() > MAX_CHAIN_LEN {
        return Err(GatewayError::invalid_request(format!(
            "`chain` must list 1 to {MAX_CHAIN_LEN} models to try after `{model}`."
        ))
        .with_param("chain"));
    }
    for m in chain {
        validate_name("chain", m)?;
        if m == model {
            return Err(GatewayError::invalid_request(format!(
                "The fallback chain of `{model}` lists `{model}` itself."
            ))
            .with_param("chain"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn alias_loops_are_found_and_named_but_a_fixed_point_is_not_a_loop() {
        let a = Aliases::new([("a", "b"), ("b", "c"), ("c", "a")]);
        assert_eq!(a.find_loop().unwrap(), ["a", "b", "c", "a"]);
        let e = a.refuse_loops("target").unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("alias_loop")));
        assert!(e.message.contains("a -> b -> c -> a"), "{}", e.message);
        // Through a wildcard: `y` → `x-1`, which `x-*` sends back to `y`.
        assert_eq!(Aliases::new([("x-*", "y"), ("y", "x-1")]).find_loop().unwrap(), ["y", "x-1", "y"]);
        // A pattern whose target it matches itself is where resolution stops.
        let fixed = Aliases::new([("claude-*", "claude-sonnet-4-5"), ("fast", "claude-haiku")]);
        assert_eq!(fixed.find_loop(), None);
        assert_eq!(fixed.resolve("fast"), Some("claude-sonnet-4-5"));
        // Saving replaces the pattern's alias: a loop closed by the new target is found.
        let chain = Aliases::new([("a", "b"), ("b", "openai/gpt-4o")]);
        assert!(chain.refuse_loops("target").is_ok());
        let looped = chain.with(Alias { pattern: "b".into(), target: "a".into() });
        assert_eq!(looped.entries().len(), 2);
        assert_eq!(looped.find_loop().unwrap(), ["a", "b", "a"]);
    }

    proptest! {
        /// A set without a loop resolves every name to one nothing aliases further (or to a name
        /// where a pattern maps onto itself), within the hop bound's reach.
        #[test]
        fn without_a_loop_resolution_ends_where_no_alias_leads_elsewhere(
            pairs in proptest::collection::vec((0u8..5, 0u8..5), 0..5)
        ) {
            let a = Aliases::new(pairs.iter().filter(|(p, t)| p != t).map(|(p, t)| (format!("n{p}"), format!("n{t}"))));
            if a.find_loop().is_none() && a.entries().len() < MAX_HOPS {
                for i in 0..5 {
                    let name = format!("n{i}");
                    let end = a.resolve(&name).unwrap_or(&name);
                    prop_assert!(a.resolve_once(end).is_none_or(|n| n == end), "{name} ends at {end}");
                }
            }
        }
    }

    #[test]
    fn glob_rules() {
        assert!(glob_match("gpt-*", "gpt-4o"));
        assert!(glob_match("gpt-*", "gpt-"));
        assert!(!glob_match("gpt-*", "gpt"));
        assert!(glob_match("*", ""));
        assert!(glob_match("claude-?-5", "claude-4-5"));
        assert!(!glob_match("claude-?-5", "claude-45-5"));
        assert!(glob_match("*sonnet*", "anthropic/claude-sonnet-4-5"));
        assert!(glob_match("a*b*c", "aXXbYYbc"));
        assert!(!glob_match("a*b*c", "aXXbYYb"));
        assert!(glob_match("é?", "éü"), "characters, not bytes");
        assert!(!glob_match("GPT-*", "gpt-4o"), "case-sensitive");
    }

    #[test]
    fn specificity_score() {
        assert_eq!(specificity("gpt-4o"), 60 + 6);
        assert_eq!(specificity("gpt-*"), 40 - 50 + 5);
        assert_eq!(specificity("gpt-?o"), 50 - 5 + 6);
        assert!(specificity("claude-sonnet-*") > specificity("claude-*"));
    }

    #[test]
    fn exact_wins_then_most_specific_then_first_defined() {
        let a = Aliases::new([
            ("*", "openai/gpt-4o-mini"),
            ("claude-*", "anthropic/claude-haiku-4-5"),
            ("claude-sonnet-*", "anthropic/claude-sonnet-4-5"),
            ("claude-sonnet-x", "exact/target"),
            ("dup-*", "first"),
            ("dup-*", "second"),
        ]);
        assert_eq!(a.resolve_once("claude-sonnet-x"), Some("exact/target"));
        assert_eq!(a.resolve_once("claude-sonnet-4"), Some("anthropic/claude-sonnet-4-5"));
        assert_eq!(a.resolve_once("claude-opus"), Some("anthropic/claude-haiku-4-5"));
        assert_eq!(a.resolve_once("dup-1"), Some("first"));
        assert_eq!(a.resolve_once("anything"), Some("openai/gpt-4o-mini"));
        assert_eq!(Aliases::default().resolve("x"), None);
    }

    #[test]
    fn exact_beats_a_more_specific_looking_pattern_defined_first() {
        let a = Aliases::new([("gpt-4o-mini-*", "p"), ("gpt-4", "e")]);
        assert_eq!(a.resolve("gpt-4"), Some("e"));
    }

    #[test]
    fn targets_chain_up_to_five_hops() {
        let a = Aliases::new([("a", "b"), ("b", "c"), ("c", "openai/gpt-4o")]);
        assert_eq!(a.resolve("a"), Some("openai/gpt-4o"));
        assert_eq!(a.resolve("openai/gpt-4o"), None);
        let long = Aliases::new((0..10).map(|i| (format!("m{i}"), format!("m{}", i + 1))));
        assert_eq!(long.resolve("m0"), Some("m5"), "stops after MAX_HOPS");
    }

    #[test]
    fn cycles_stop_at_the_last_target() {
        let a = Aliases::new([("a", "b"), ("b", "a")]);
        assert_eq!(a.resolve("a"), Some("b"));
        assert_eq!(a.resolve("b"), Some("a"));
        let self_glob = Aliases::new([("x*", "xy")]);
        assert_eq!(self_glob.resolve("xa"), Some("xy"), "xy matches x* again but is already seen");
    }

    #[test]
    fn aliases_round_trip_as_a_list() {
        let a = Aliases::new([("fast", "groq/llama-3.1-8b-instant")]);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"[{"pattern":"fast","target":"groq/llama-3.1-8b-instant"}]"#);
        assert_eq!(serde_json::from_str::<Aliases>(&json).unwrap(), a);
    }

    #[test]
    fn fallback_chains() {
        let mut f = FallbackChains::new();
        f.set(
            "openai/gpt-4o",
            vec!["anthropic/claude-sonnet-4-5".into(), "openai/gpt-4o".into(), "x".into(), "x".into()],
        );
        assert_eq!(f.after("openai/gpt-4o"), ["anthropic/claude-sonnet-4-5", "x"]);
        assert!(f.after("other").is_empty());
        f.set("openai/gpt-4o", vec![]);
        assert_eq!(f.iter().count(), 0);
        f.set("m", vec!["n".into()]);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"{"m":["n"]}"#);
        assert_eq!(serde_json::from_str::<FallbackChains>(&json).unwrap(), f);
    }

    #[test]
    fn validation() {
        assert!(validate_name("pattern", "gpt-*").is_ok());
        assert_eq!(validate_name("pattern", "").unwrap_err().param.as_deref(), Some("pattern"));
        assert!(validate_name("target", "a b").is_err());
        assert!(validate_name("target", "a\tb").is_err());
        assert!(validate_name("target", &"x".repeat(200)).is_ok());
        assert!(validate_name("target", &"x".repeat(201)).is_err());
        for hidden in ["gpt\u{202E}-4o", "fast\0", "a\u{2066}*"] {
            assert_eq!(validate_name("pattern", hidden).unwrap_err().code.as_deref(), Some("invalid_characters"));
        }
        assert_eq!(validate_alias("fast", "gpt\u{200B}4").unwrap_err().param.as_deref(), Some("target"));
        assert!(validate_alias("fast", "groq/llama-3.1-8b-instant").is_ok());
        assert_eq!(validate_alias("fast", "").unwrap_err().status, 400);
        assert!(validate_alias("fast", "gpt-*").is_err());
        assert!(validate_alias("fast", "fast").is_err());
        assert!(validate_chain("m", &["n".into()]).is_ok());
        assert!(validate_chain("m", &[]).is_err());
        assert!(validate_chain("m", &["m".into()]).is_err());
        assert!(validate_chain("m", &["".into()]).is_err());
        assert!(validate_chain("m", &vec!["n".to_string(); 21]).is_err());
    }

    proptest! {
        #[test]
        fn glob_never_panics(p in "[a-c*?é]{0,12}", t in "[a-cé]{0,16}") {
            let _ = glob_match(&p, &t);
        }

        #[test]
        fn literal_patterns_only_match_themselves(p in "[a-c/.-]{0,8}", t in "[a-c/.-]{0,8}") {
            prop_assert_eq!(glob_match(&p, &t), p == t);
        }

        #[test]
        fn star_matches_everything(t in "\\PC{0,20}") {
            prop_assert!(glob_match("*", &t));
        }

        #[test]
        fn resolve_terminates(pairs in proptest::collection::vec(("[a-c*?]{1,3}", "[a-c]{1,3}"), 0..10), m in "[a-c]{1,3}") {
            let a = Aliases::new(pairs);
            if let Some(t) = a.resolve(&m) {
                prop_assert!(t != m.as_str());
            }
        }
    }
}
