//! Combos: a named, ordered list of targets a request may be served by, with a selection strategy
//! (omniroute.md §3.1). A target is a `provider/model`, an alias or another combo's name; nested
//! combos are flattened in order ([`expand`]), at most [`MAX_COMBO_DEPTH`] levels deep, never in a
//! cycle.
//!
//! Admin input is strict (`config::input::parse_strict` refuses unknown keys); stored combos are read
//! leniently, as another version may have written them. What is left out takes OmniRoute's defaults:
//! weight 1, one retry, a 120 s first-byte timeout per target and a sticky limit of 3.

use super::alias::validate_name;
use super::strategy::{Strategy, MAX_STICKY_LIMIT};
use crate::error::{GatewayError, Result};
use serde::{Deserialize, Serialize};

/// Nesting depth OmniRoute allows (`maxComboDepth`); the top combo counts as 1.
pub const MAX_COMBO_DEPTH: usize = 3;
pub const MAX_TARGETS: usize = 20;
pub const MAX_WEIGHT: u32 = 100;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_RETRIES: u32 = 10;
/// Bounds of the per-target first-byte timeout (1 s ..= 10 min).
pub const TARGET_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1_000..=600_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Combo {
    pub name: String,
    pub targets: Vec<ComboTarget>,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub config: ComboConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboTarget {
    /// `provider/model`, an alias or another combo's name.
    pub model: String,
    /// Share for [`Strategy::Weighted`]; 0 = only when every weighted target failed.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComboConfig {
    /// Retries of the same target before moving on.
    pub max_retries: u32,
    /// Time to the first response byte per target before it counts as failed.
    pub target_timeout_ms: u64,
    /// Requests a round-robin target serves before the next takes over.
    pub sticky_limit: u32,
    /// A stream whose target dies after its first byte continues from the next target (see
    /// `engine::continuation`); off by default because the answer then comes from two models.
    pub continue_streams: bool,
}

impl Default for ComboConfig {
    fn default() -> Self {
        ComboConfig { max_retries: 1, target_timeout_ms: 120_000, sticky_limit: 3, continue_streams: false }
    }
}

fn default_weight() -> u32 {
    1
}

impl ComboTarget {
    pub fn new(model: impl Into<String>) -> Self {
        ComboTarget { model: model.into(), weight: 1 }
    }
}

fn invalid(param: &str, message: String) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

/// `[A-Za-z0-9._-]{1,64}`: safe in URLs and log lines, and never mistaken for `provider/model`.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Combo {
    /// Checks admin input: the name, 1..=20 targets with valid names and weights, config bounds.
    pub fn validate(&self) -> Result<()> {
        if !valid_name(&self.name) {
            return Err(invalid(
                "name",
                format!(
                    "The combo name `{}` must be 1 to {MAX_NAME_CHARS} letters, digits, `.`, `_` or `-` (no `/`).",
                    self.name
                ),
            ));
        }
        if self.targets.is_empty() || self.targets.len() > MAX_TARGETS {
            return Err(invalid("targets", format!("A combo needs 1 to {MAX_TARGETS} targets.")));
        }
        for (i, t) in self.targets.iter().enumerate() {
            validate_name(&format!("targets[{i}].model"), &t.model)?;
            if t.weight > MAX_WEIGHT {
                return Err(invalid("targets", format!("Target {i}: weight {} is not in 0..={MAX_WEIGHT}.", t.weight)));
            }
            if t.model == self.name {
                return Err(invalid(
                    "targets",
                    format!("Target {i}: the combo `{}` cannot contain itself.", self.name),
                ));
            }
        }
        if self.strategy == Strategy::Weighted && self.targets.iter().all(|t| t.weight == 0) {
            return Err(invalid("targets", "A weighted combo needs at least one target with a weight above 0.".into()));
        }
        let c = &self.config;
        if c.max_retries > MAX_RETRIES {
            return Err(invalid("config.max_retries", format!("`max_retries` must be at most {MAX_RETRIES}.")));
        }
        if !TARGET_TIMEOUT_MS.contains(&c.target_timeout_ms) {
            return Err(invalid(
                "config.target_timeout_ms",
                format!(
                    "`target_timeout_ms` must be between {} and {}.",
                    TARGET_TIMEOUT_MS.start(),
                    TARGET_TIMEOUT_MS.end()
                ),
            ));
        }
        if !(1..=MAX_STICKY_LIMIT).contains(&c.sticky_limit) {
            return Err(invalid(
                "config.sticky_limit",
                format!("`sticky_limit` must be between 1 and {MAX_STICKY_LIMIT}."),
            ));
        }
        Ok(())
    }
}

/// Flattens combo `name` into its models in order, each with its weight. A target that `lookup`
/// knows as a combo is expanded in place, its targets' weights multiplied by the reference's weight
/// (so relative shares inside the nested combo survive; across levels this is an approximation).
/// Refuses (400) cycles and nesting deeper than `max_depth` (the top combo is level 1); an unknown
/// `name` is a 404.
pub fn expand<'a>(
    name: &str,
    lookup: impl Fn(&str) -> Option<&'a Combo>,
    max_depth: usize,
) -> Result<Vec<(String, u32)>> {
    let top = lookup(name).ok_or_else(|| {
        GatewayError::not_found(format!("There is no combo named `{name}`."))
            .with_param("model")
            .with_code("model_not_found")
    })?;
    let mut out = Vec::new();
    let mut path = vec![top.name.as_str()];
    walk(top, 1, &lookup, max_depth.max(1), &mut path, &mut out)?;
    Ok(out)
}

fn walk<'a>(
    combo: &'a Combo,
    scale: u32,
    lookup: &impl Fn(&str) -> Option<&'a Combo>,
    max_depth: usize,
    path: &mut Vec<&'a str>,
    out: &mut Vec<(String, u32)>,
) -> Result<()> {
    for t in &combo.targets {
        let weight = scale.saturating_mul(t.weight);
        let Some(inner) = lookup(&t.model) else {
            out.push((t.model.clone(), weight));
            continue;
        };
        if path.contains(&inner.name.as_str()) {
            return Err(invalid(
                "model",
                format!("The combo `{}` refers back to itself: {} -> {}.", path[0], path.join(" -> "), inner.name),
            )
            .with_code("combo_cycle"));
        }
        if path.len() >= max_depth {
            return Err(invalid(
                "model",
                format!(
                    "The combo `{}` nests combos more than {max_depth} levels deep: {} -> {}.",
                    path[0],
                    path.join(" -> "),
                    inner.name
                ),
            )
            .with_code("combo_too_deep"));
        }
        path.push(&inner.name);
        walk(inner, weight, lookup, max_depth, path, out)?;
        path.pop();
    }
    Ok(())
}

/// A cycle among `combos` (a combo that reaches itself through the combos it names), as the names
/// along it, the first repeated at the end: `["a", "b", "a"]`. Depth-first with three colours, so
/// a diamond is not a cycle and no combo is walked twice.
pub fn find_cycle(combos: &[Combo]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit<'a>(i: usize, combos: &'a [Combo], marks: &mut [Mark], path: &mut Vec<&'a str>) -> Option<Vec<String>> {
        marks[i] = Mark::OnPath;
        path.push(&combos[i].name);
        for t in &combos[i].targets {
            let Some(j) = combos.iter().position(|c| c.name == t.model) else { continue };
            match marks[j] {
                Mark::OnPath => {
                    let from = path.iter().position(|n| *n == combos[j].name).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..].iter().map(|n| n.to_string()).collect();
                    cycle.push(combos[j].name.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(j, combos, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; combos.len()];
    (0..combos.len()).find_map(|i| match marks[i] {
        Mark::New => visit(i, combos, &mut marks, &mut Vec::new()),
        _ => None,
    })
}

/// Refuses (400, naming the cycle) a set of combos in which one reaches itself: it could never be
/// served, so it is refused when saved rather than at every request.
pub fn refuse_cycles(combos: &[Combo], param: &str) -> Result<()> {
    match find_cycle(combos) {
        None => Ok(()),
        Some(cycle) => Err(invalid(
            param,
            format!("These combos name each other in a cycle: {}. A combo may not reach itself.", cycle.join(" -> ")),
        )
        .with_code("combo_cycle")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn combo(name: &str, targets: &[&str]) -> Combo {
        Combo {
            name: name.into(),
            targets: targets.iter().map(|m| ComboTarget::new(*m)).collect(),
            strategy: Strategy::Priority,
            config: ComboConfig::default(),
        }
    }

    fn table(combos: Vec<Combo>) -> HashMap<String, Combo> {
        combos.into_iter().map(|c| (c.name.clone(), c)).collect()
    }

    #[test]
    fn defaults_from_minimal_json() {
        let c: Combo = serde_json::from_str(r#"{"name":"coding","targets":[{"model":"openai/gpt-4o"}]}"#).unwrap();
        assert_eq!(c.strategy, Strategy::Priority);
        assert_eq!(c.targets[0].weight, 1);
        assert_eq!(
            c.config,
            ComboConfig { max_retries: 1, target_timeout_ms: 120_000, sticky_limit: 3, continue_streams: false }
        );
        let c: Combo = serde_json::from_str(
            r#"{"name":"c","targets":[{"model":"m","weight":5}],"strategy":"fill-first","config":{"sticky_limit":9}}"#,
        )
        .unwrap();
        assert_eq!((c.targets[0].weight, c.config.sticky_limit, c.config.max_retries), (5, 9, 1));
        let back: Combo = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_fields_are_refused_in_admin_input_and_ignored_in_storage() {
        use crate::config::input::parse_strict;
        for (json, path) in [
            (r#"{"name":"c","targets":[],"extra":1}"#, "extra"),
            (r#"{"name":"c","targets":[{"model":"m"},{"model":"m","wieght":2}]}"#, "targets[1].wieght"),
            (r#"{"name":"c","targets":[],"config":{"maxRetries":2}}"#, "config.maxRetries"),
        ] {
            let e = parse_strict::<Combo>(json.as_bytes()).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(path)), "{json}");
            assert!(serde_json::from_str::<Combo>(json).is_ok(), "stored: {json}");
        }
        let ok =
            r#"{"name":"c","targets":[{"model":"m","weight":2}],"strategy":"fill-first","config":{"max_retries":2}}"#;
        assert_eq!(parse_strict::<Combo>(ok.as_bytes()).unwrap(), serde_json::from_str::<Combo>(ok).unwrap());
        let typed = |v: &str| {
            serde_json::from_str::<Combo>(&format!(
                r#"{{"name":"c","targets":[],"config":{{"continue_streams":{v}}}}}"#
            ))
        };
        assert!(typed("\"yes\"").is_err() && typed("1").is_err());
        assert!(typed("true").unwrap().config.continue_streams);
    }

    #[test]
    fn validation_rules() {
        assert!(combo("coding.v2_fast-1", &["openai/gpt-4o"]).validate().is_ok());
        let e = combo("a/b", &["m"]).validate().unwrap_err();
        assert_eq!((e.status, e.param.as_deref()), (400, Some("name")));
        assert!(combo("", &["m"]).validate().is_err());
        assert!(combo(&"n".repeat(65), &["m"]).validate().is_err());
        assert!(combo(&"n".repeat(64), &["m"]).validate().is_ok());
        assert!(combo("has space", &["m"]).validate().is_err());
        assert_eq!(combo("c", &[]).validate().unwrap_err().param.as_deref(), Some("targets"));
        assert!(combo("c", &["m"; 21]).validate().is_err());
        assert!(combo("c", &["m"; 20]).validate().is_ok());
        assert_eq!(combo("c", &["m", ""]).validate().unwrap_err().param.as_deref(), Some("targets[1].model"));
        assert!(combo("c", &["a b"]).validate().is_err());
        assert!(combo("c", &["c"]).validate().is_err(), "contains itself");

        let mut c = combo("c", &["m"]);
        c.targets[0].weight = 101;
        assert!(c.validate().is_err());
        c.targets[0].weight = 0;
        assert!(c.validate().is_ok());
        c.strategy = Strategy::Weighted;
        assert!(c.validate().is_err(), "weighted with all weights 0");

        let mut c = combo("c", &["m"]);
        c.config.sticky_limit = 0;
        assert_eq!(c.validate().unwrap_err().param.as_deref(), Some("config.sticky_limit"));
        c.config = ComboConfig { target_timeout_ms: 10, ..ComboConfig::default() };
        assert_eq!(c.validate().unwrap_err().param.as_deref(), Some("config.target_timeout_ms"));
        c.config = ComboConfig { max_retries: 11, ..ComboConfig::default() };
        assert_eq!(c.validate().unwrap_err().param.as_deref(), Some("config.max_retries"));
    }

    #[test]
    fn expand_flattens_in_order_with_weights() {
        let mut outer = combo("outer", &["a/1", "inner", "a/4"]);
        outer.targets[1].weight = 3;
        let mut inner = combo("inner", &["b/2", "b/3"]);
        inner.targets[1].weight = 2;
        let t = table(vec![outer, inner]);
        let got = expand("outer", |n| t.get(n), MAX_COMBO_DEPTH).unwrap();
        let want: Vec<(String, u32)> = vec![("a/1".into(), 1), ("b/2".into(), 3), ("b/3".into(), 6), ("a/4".into(), 1)];
        assert_eq!(got, want);
    }

    #[test]
    fn expand_allows_the_same_combo_twice_side_by_side() {
        let t = table(vec![combo("top", &["x", "x"]), combo("x", &["m"])]);
        assert_eq!(expand("top", |n| t.get(n), 3).unwrap().len(), 2, "a diamond is not a cycle");
    }

    #[test]
    fn expand_refuses_cycles() {
        let t = table(vec![combo("a", &["m", "b"]), combo("b", &["c"]), combo("c", &["a"])]);
        let e = expand("a", |n| t.get(n), 10).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("combo_cycle")));
        assert!(e.message.contains("a -> b -> c -> a"), "{}", e.message);
        let t = table(vec![combo("self", &["self"])]);
        assert_eq!(expand("self", |n| t.get(n), 3).unwrap_err().code.as_deref(), Some("combo_cycle"));
    }

    #[test]
    fn expand_refuses_depth_overflow() {
        let t = table(vec![combo("l1", &["l2"]), combo("l2", &["l3"]), combo("l3", &["l4"]), combo("l4", &["m"])]);
        assert_eq!(expand("l2", |n| t.get(n), 3).unwrap(), vec![("m".to_string(), 1)]);
        let e = expand("l1", |n| t.get(n), 3).unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (400, Some("combo_too_deep")));
        assert!(expand("l1", |n| t.get(n), 4).is_ok());
    }

    /// Combos `c0`, `c1`, … whose targets are the given indexes: an index of a combo names it,
    /// any other a model `p/m<index>`.
    fn graph(edges: &[Vec<usize>]) -> Vec<Combo> {
        let name = |t: usize| if t < edges.len() { format!("c{t}") } else { format!("p/m{t}") };
        let combo_of = |(i, ts): (usize, &Vec<usize>)| {
            let names: Vec<String> = ts.iter().map(|&t| name(t)).collect();
            combo(&name(i), &names.iter().map(String::as_str).collect::<Vec<_>>())
        };
        edges.iter().enumerate().map(combo_of).collect()
    }

    proptest::proptest! {
        /// Any graph of combos either flattens within the depth bound or is refused; never loops.
        #[test]
        fn expand_terminates(edges in proptest::collection::vec(proptest::collection::vec(0usize..6, 1..4), 4)) {
            let t = table(graph(&edges));
            if let Ok(models) = expand("c0", |n| t.get(n), MAX_COMBO_DEPTH) {
                proptest::prop_assert!(models.iter().all(|(m, _)| m.starts_with("p/")));
            }
        }
    }

    #[test]
    fn a_cycle_among_combos_is_found_and_named() {
        let combos = vec![combo("a", &["m", "b"]), combo("b", &["c"]), combo("c", &["a"]), combo("d", &["a"])];
        assert_eq!(find_cycle(&combos).unwrap(), ["a", "b", "c", "a"]);
        let e = refuse_cycles(&combos, "targets").unwrap_err();
        assert_eq!((e.status, e.code.as_deref(), e.param.as_deref()), (400, Some("combo_cycle"), Some("targets")));
        assert!(e.message.contains("a -> b -> c -> a"), "{}", e.message);
        assert_eq!(find_cycle(&[combo("self", &["self"])]).unwrap(), ["self", "self"]);
        // A diamond and plain models are not cycles.
        let diamond = vec![combo("top", &["x", "y"]), combo("x", &["z"]), combo("y", &["z"]), combo("z", &["p/m"])];
        assert_eq!(find_cycle(&diamond), None);
        assert!(refuse_cycles(&diamond, "targets").is_ok());
    }

    proptest::proptest! {
        /// `find_cycle` agrees with what a request meets: some combo's expansion (without a depth
        /// bound) refuses a cycle exactly when a cycle is found.
        #[test]
        fn find_cycle_agrees_with_expand(edges in proptest::collection::vec(proptest::collection::vec(0usize..7, 1..4), 5)) {
            let combos = graph(&edges);
            let found = find_cycle(&combos);
            let t = table(combos.clone());
            let refused = combos.iter().any(|c| {
                expand(&c.name, |n| t.get(n), combos.len() + 1).is_err_and(|e| e.code.as_deref() == Some("combo_cycle"))
            });
            proptest::prop_assert_eq!(found.is_some(), refused);
            if let Some(cycle) = found {
                proptest::prop_assert_eq!(cycle.first(), cycle.last());
            }
        }
    }

    #[test]
    fn expand_of_an_unknown_name_is_not_found() {
        let t: HashMap<String, Combo> = HashMap::new();
        assert_eq!(expand("nope", |n| t.get(n), 3).unwrap_err().status, 404);
    }
}
