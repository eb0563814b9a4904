//! Selection strategies: in which order a request tries the candidates of a combo or the accounts of
//! a provider. Follows OmniRoute's seed strategies (omniroute.md §3.1, §3.2): fill-first/priority,
//! round-robin with a sticky limit, random, weighted, least-used, cost-optimized and power-of-two
//! choices.
//!
//! [`order`] is pure: randomness comes from the caller's `rng` seed (expanded with a local splitmix64),
//! and round-robin progress lives in a [`RoundRobinState`] the caller keeps per group (one per combo or
//! provider, see [`RoundRobinStates`]). Invariant: `order` always returns a permutation of
//! `0..candidates.len()`; the first index is tried first, the rest is the fallback order.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How to order candidates. Stored in snake_case; OmniRoute's names (`fill-first`, `round-robin`,
/// `least-used`, `usage`, `cost-optimized`) are accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Fill-first: lowest `priority`, then the order given.
    #[default]
    #[serde(alias = "fill-first", alias = "fill_first")]
    Priority,
    /// Stay on one candidate for `sticky_limit` requests, then move to the next.
    #[serde(alias = "round-robin")]
    RoundRobin,
    /// Uniform shuffle.
    Random,
    /// Weighted random draw without replacement; weight 0 only after every weighted candidate.
    Weighted,
    /// Fewest recent uses first.
    #[serde(alias = "least-used", alias = "usage")]
    LeastUsed,
    /// Cheapest known cost first, unknown cost last.
    #[serde(alias = "cost-optimized")]
    CostOptimized,
    /// Power of two choices: of two random candidates the healthier goes first, the rest by health.
    P2c,
}

/// One thing that can serve the request: a combo target or a provider account.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Candidate {
    /// Stable identity (model or connection id); round-robin follows it across list changes.
    pub key: String,
    pub weight: u32,
    /// Lower goes first (fill-first).
    pub priority: i64,
    /// Recent use count.
    pub uses: u64,
    /// 0 (broken) ..= 1 (healthy), from breaker/cooldown state.
    pub health: f64,
    /// Blended $ per 1M tokens, when known.
    pub cost: Option<f64>,
}

/// Default requests a round-robin candidate serves before the next one takes over (OmniRoute: 3).
pub const DEFAULT_STICKY_LIMIT: u32 = 3;
/// Sticky limits are clamped to this range, as in OmniRoute.
pub const MAX_STICKY_LIMIT: u32 = 1000;

/// Round-robin progress of one group (a combo or a provider's accounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRobinState {
    pub sticky_limit: u32,
    /// Key of the candidate currently served.
    pub current: Option<String>,
    /// Requests the current candidate has been given.
    pub served: u32,
    /// Where to start when the current candidate is gone from the list.
    pub cursor: u64,
}

impl Default for RoundRobinState {
    fn default() -> Self {
        RoundRobinState::new(DEFAULT_STICKY_LIMIT)
    }
}

impl RoundRobinState {
    pub fn new(sticky_limit: u32) -> Self {
        RoundRobinState { sticky_limit: sticky_limit.clamp(1, MAX_STICKY_LIMIT), current: None, served: 0, cursor: 0 }
    }
}

/// Bound on stored groups, so a stream of made-up combo names cannot grow an isolate's memory
/// (OmniRoute keeps at most 500 counters).
pub const MAX_GROUPS: usize = 500;

/// Round-robin states keyed by group (`combo:<name>`, `provider:<id>`…), so groups never share counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoundRobinStates {
    groups: BTreeMap<String, RoundRobinState>,
}

impl RoundRobinStates {
    /// The state of `group`, created with `sticky_limit` if new; a changed limit is applied.
    /// When full, an unknown group evicts the smallest key (deterministic; state is only a hint).
    pub fn group(&mut self, group: &str, sticky_limit: u32) -> &mut RoundRobinState {
        if !self.groups.contains_key(group) && self.groups.len() >= MAX_GROUPS {
            if let Some(first) = self.groups.keys().next().cloned() {
                self.groups.remove(&first);
            }
        }
        let state = self.groups.entry(group.to_string()).or_insert_with(|| RoundRobinState::new(sticky_limit));
        state.sticky_limit = sticky_limit.clamp(1, MAX_STICKY_LIMIT);
        state
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// Orders `candidates` for one request: a permutation of their indexes, first tried first.
/// Only [`Strategy::RoundRobin`] reads or changes `state`; `rng` seeds the random strategies.
pub fn order(strategy: Strategy, candidates: &[Candidate], state: &mut RoundRobinState, rng: u64) -> Vec<usize> {
    let n = candidates.len();
    let mut idx: Vec<usize> = (0..n).collect();
    if n <= 1 {
        return idx;
    }
    let mut rng = SplitMix64(rng);
    match strategy {
        Strategy::Priority => idx.sort_by_key(|&i| candidates[i].priority),
        Strategy::RoundRobin => idx = round_robin(candidates, state),
        Strategy::Random => shuffle(&mut idx, &mut rng),
        Strategy::Weighted => idx = weighted(candidates, &mut rng),
        Strategy::LeastUsed => idx.sort_by_key(|&i| candidates[i].uses),
        Strategy::CostOptimized => idx.sort_by(|&a, &b| cmp_cost(candidates[a].cost, candidates[b].cost)),
        Strategy::P2c => idx = p2c(candidates, &mut rng),
    }
    idx
}

fn round_robin(candidates: &[Candidate], state: &mut RoundRobinState) -> Vec<usize> {
    let n = candidates.len();
    let limit = state.sticky_limit.clamp(1, MAX_STICKY_LIMIT);
    let at = state.current.as_deref().and_then(|k| candidates.iter().position(|c| c.key == k));
    let first = match at {
        Some(i) if state.served < limit => {
            state.served += 1;
            i
        }
        _ => {
            // Advance past the current one, or resume at the cursor if it left the list.
            let next = match at {
                Some(i) => (i + 1) % n,
                None => (state.cursor % n as u64) as usize,
            };
            state.current = Some(candidates[next].key.clone());
            state.served = 1;
            state.cursor = next as u64 + 1;
            next
        }
    };
    // Fallback order continues the rotation.
    (0..n).map(|k| (first + k) % n).collect()
}

fn weighted(candidates: &[Candidate], rng: &mut SplitMix64) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..candidates.len()).collect();
    let mut out = Vec::with_capacity(pool.len());
    loop {
        let total: u64 = pool.iter().map(|&i| u64::from(candidates[i].weight)).sum();
        if total == 0 {
            break;
        }
        let mut pick = rng.below(total);
        let mut chosen = 0;
        for (pos, &i) in pool.iter().enumerate() {
            let w = u64::from(candidates[i].weight);
            if pick < w {
                chosen = pos;
                break;
            }
            pick -= w;
        }
        out.push(pool.remove(chosen));
    }
    // Only weight-0 candidates remain: last resorts, in a random order.
    shuffle(&mut pool, rng);
    out.extend(pool);
    out
}

fn p2c(candidates: &[Candidate], rng: &mut SplitMix64) -> Vec<usize> {
    let n = candidates.len() as u64;
    let a = rng.below(n) as usize;
    let b = (a + 1 + rng.below(n - 1) as usize) % candidates.len();
    let first = if health(&candidates[b]) > health(&candidates[a]) { b } else { a };
    let mut rest: Vec<usize> = (0..candidates.len()).filter(|&i| i != first).collect();
    rest.sort_by(|&x, &y| health(&candidates[y]).total_cmp(&health(&candidates[x])));
    std::iter::once(first).chain(rest).collect()
}

/// Health clamped to 0..=1; NaN counts as broken.
fn health(c: &Candidate) -> f64 {
    if c.health.is_nan() {
        0.0
    } else {
        c.health.clamp(0.0, 1.0)
    }
}

fn cmp_cost(a: Option<f64>, b: Option<f64>) -> Ordering {
    let known = |c: Option<f64>| c.filter(|v| v.is_finite());
    match (known(a), known(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn shuffle(v: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// splitmix64: tiny, well-distributed, enough to spread load (not for secrets).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`); the modulo bias is negligible for candidate counts.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::Strategy as _;

    fn c(key: &str) -> Candidate {
        Candidate { key: key.into(), weight: 1, health: 1.0, ..Default::default() }
    }

    fn keys(cands: &[Candidate], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| cands[i].key.clone()).collect()
    }

    #[test]
    fn serde_names_and_input_aliases() {
        let s: Strategy = serde_json::from_str("\"fill-first\"").unwrap();
        assert_eq!(s, Strategy::Priority);
        let s: Strategy = serde_json::from_str("\"usage\"").unwrap();
        assert_eq!(s, Strategy::LeastUsed);
        let s: Strategy = serde_json::from_str("\"round-robin\"").unwrap();
        assert_eq!(s, Strategy::RoundRobin);
        let s: Strategy = serde_json::from_str("\"cost-optimized\"").unwrap();
        assert_eq!(s, Strategy::CostOptimized);
        assert_eq!(serde_json::to_string(&Strategy::RoundRobin).unwrap(), "\"round_robin\"");
        assert_eq!(serde_json::to_string(&Strategy::P2c).unwrap(), "\"p2c\"");
        assert!(serde_json::from_str::<Strategy>("\"nonsense\"").is_err());
        assert_eq!(Strategy::default(), Strategy::Priority);
    }

    #[test]
    fn priority_sorts_stably() {
        let mut cs = vec![c("a"), c("b"), c("c"), c("d")];
        cs[0].priority = 2;
        cs[1].priority = 1;
        cs[2].priority = 2;
        cs[3].priority = 1;
        let o = order(Strategy::Priority, &cs, &mut RoundRobinState::default(), 0);
        assert_eq!(keys(&cs, &o), ["b", "d", "a", "c"]);
    }

    #[test]
    fn round_robin_sticks_then_advances_and_wraps() {
        let cs = vec![c("a"), c("b"), c("c")];
        let mut st = RoundRobinState::new(2);
        let firsts: Vec<String> =
            (0..7).map(|_| cs[order(Strategy::RoundRobin, &cs, &mut st, 0)[0]].key.clone()).collect();
        assert_eq!(firsts, ["a", "a", "b", "b", "c", "c", "a"]);
        // The fallback order continues the rotation.
        let o = order(Strategy::RoundRobin, &cs, &mut st, 0);
        assert_eq!(keys(&cs, &o), ["a", "b", "c"]);
    }

    #[test]
    fn round_robin_follows_keys_when_the_list_changes() {
        let cs = vec![c("a"), c("b"), c("c")];
        let mut st = RoundRobinState::new(1);
        assert_eq!(order(Strategy::RoundRobin, &cs, &mut st, 0)[0], 0);
        assert_eq!(order(Strategy::RoundRobin, &cs, &mut st, 0)[0], 1);
        // "b" is in cooldown and left the list: continue at the cursor (position 2, wrapping to "a").
        let fewer = vec![c("a"), c("c")];
        assert_eq!(fewer[order(Strategy::RoundRobin, &fewer, &mut st, 0)[0]].key, "a");
        let mut st = RoundRobinState::new(3);
        order(Strategy::RoundRobin, &cs, &mut st, 0);
        let reordered = vec![c("c"), c("a")];
        assert_eq!(reordered[order(Strategy::RoundRobin, &reordered, &mut st, 0)[0]].key, "a", "sticky by key");
    }

    #[test]
    fn sticky_limit_is_clamped() {
        assert_eq!(RoundRobinState::new(0).sticky_limit, 1);
        assert_eq!(RoundRobinState::new(5000).sticky_limit, MAX_STICKY_LIMIT);
        assert_eq!(RoundRobinState::default().sticky_limit, DEFAULT_STICKY_LIMIT);
    }

    #[test]
    fn groups_do_not_share_counters_and_are_bounded() {
        let cs = vec![c("a"), c("b")];
        let mut all = RoundRobinStates::default();
        order(Strategy::RoundRobin, &cs, all.group("combo:x", 1), 0);
        order(Strategy::RoundRobin, &cs, all.group("combo:x", 1), 0);
        assert_eq!(all.group("combo:x", 1).current.as_deref(), Some("b"));
        assert_eq!(all.group("provider:openai", 1).current, None);
        for i in 0..MAX_GROUPS + 10 {
            all.group(&format!("g{i}"), 3);
        }
        assert_eq!(all.len(), MAX_GROUPS);
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(serde_json::from_str::<RoundRobinStates>(&json).unwrap(), all);
    }

    #[test]
    fn other_strategies_leave_round_robin_state_alone() {
        let cs = vec![c("a"), c("b")];
        let mut st = RoundRobinState::default();
        for s in [Strategy::Priority, Strategy::Random, Strategy::Weighted, Strategy::P2c] {
            order(s, &cs, &mut st, 7);
        }
        assert_eq!(st, RoundRobinState::default());
    }

    #[test]
    fn least_used_and_cost_optimized() {
        let mut cs = vec![c("a"), c("b"), c("c"), c("d")];
        cs[0].uses = 5;
        cs[1].uses = 1;
        cs[2].uses = 3;
        cs[3].uses = 1;
        let o = order(Strategy::LeastUsed, &cs, &mut RoundRobinState::default(), 0);
        assert_eq!(keys(&cs, &o), ["b", "d", "c", "a"]);
        cs[0].cost = Some(3.0);
        cs[1].cost = None;
        cs[2].cost = Some(0.5);
        cs[3].cost = Some(f64::NAN);
        let o = order(Strategy::CostOptimized, &cs, &mut RoundRobinState::default(), 0);
        assert_eq!(keys(&cs, &o), ["c", "a", "b", "d"], "unknown (and NaN) last, in order");
    }

    #[test]
    fn weighted_follows_weights() {
        let mut cs = vec![c("a"), c("b")];
        cs[0].weight = 90;
        cs[1].weight = 10;
        let a_first = (0..1000u64)
            .filter(|&r| order(Strategy::Weighted, &cs, &mut RoundRobinState::default(), r)[0] == 0)
            .count();
        assert!((850..=950).contains(&a_first), "{a_first}");
        // All zero: still a permutation.
        let zero = vec![Candidate { weight: 0, ..c("a") }, Candidate { weight: 0, ..c("b") }];
        assert_eq!(order(Strategy::Weighted, &zero, &mut RoundRobinState::default(), 1).len(), 2);
    }

    #[test]
    fn p2c_prefers_the_healthier_of_two_and_ranks_the_rest_by_health() {
        let mut cs = vec![c("a"), c("b")];
        cs[0].health = 0.1;
        for r in 0..50 {
            assert_eq!(order(Strategy::P2c, &cs, &mut RoundRobinState::default(), r), [1, 0]);
        }
        let mut cs = vec![c("a"), c("b"), c("c"), c("d")];
        cs[0].health = 0.2;
        cs[1].health = 0.9;
        cs[2].health = 0.5;
        cs[3].health = f64::NAN;
        for r in 0..50 {
            let o = order(Strategy::P2c, &cs, &mut RoundRobinState::default(), r);
            let rest: Vec<f64> = o[1..].iter().map(|&i| health(&cs[i])).collect();
            assert!(rest.windows(2).all(|w| w[0] >= w[1]), "{rest:?}");
            assert_ne!(cs[o[0]].key, "d", "NaN health never beats a sampled rival");
        }
    }

    #[test]
    fn random_depends_on_the_seed() {
        let cs: Vec<_> = (0..8).map(|i| c(&i.to_string())).collect();
        let a = order(Strategy::Random, &cs, &mut RoundRobinState::default(), 1);
        let b = order(Strategy::Random, &cs, &mut RoundRobinState::default(), 2);
        assert_ne!(a, b);
        let firsts: std::collections::HashSet<usize> =
            (0..200).map(|r| order(Strategy::Random, &cs, &mut RoundRobinState::default(), r)[0]).collect();
        assert_eq!(firsts.len(), 8, "every candidate gets to go first");
    }

    #[test]
    fn empty_and_single() {
        for s in [Strategy::RoundRobin, Strategy::P2c, Strategy::Weighted] {
            assert!(order(s, &[], &mut RoundRobinState::default(), 0).is_empty());
            assert_eq!(order(s, &[c("a")], &mut RoundRobinState::default(), 0), [0]);
        }
    }

    fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
        prop_oneof![
            Just(Strategy::Priority),
            Just(Strategy::RoundRobin),
            Just(Strategy::Random),
            Just(Strategy::Weighted),
            Just(Strategy::LeastUsed),
            Just(Strategy::CostOptimized),
            Just(Strategy::P2c),
        ]
    }

    fn candidates() -> impl proptest::strategy::Strategy<Value = Vec<Candidate>> {
        proptest::collection::vec((0u32..=3, -2i64..2, 0u64..4, -0.5f64..1.5, proptest::option::of(0.0f64..10.0)), 0..8)
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (weight, priority, uses, health, cost))| Candidate {
                        key: format!("k{i}"),
                        weight,
                        priority,
                        uses,
                        health,
                        cost,
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn always_a_permutation(s in strategy(), cs in candidates(), rng in any::<u64>(), limit in 0u32..4, calls in 1usize..5) {
            let mut st = RoundRobinState::new(limit);
            for k in 0..calls {
                let mut o = order(s, &cs, &mut st, rng.wrapping_add(k as u64));
                o.sort_unstable();
                prop_assert_eq!(o, (0..cs.len()).collect::<Vec<_>>());
            }
        }

        #[test]
        fn same_seed_same_order(s in strategy(), cs in candidates(), rng in any::<u64>()) {
            let a = order(s, &cs, &mut RoundRobinState::default(), rng);
            let b = order(s, &cs, &mut RoundRobinState::default(), rng);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn priority_is_stable(cs in candidates()) {
            let o = order(Strategy::Priority, &cs, &mut RoundRobinState::default(), 0);
            for w in o.windows(2) {
                let (x, y) = (&cs[w[0]], &cs[w[1]]);
                prop_assert!(x.priority < y.priority || (x.priority == y.priority && w[0] < w[1]));
            }
        }

        #[test]
        fn weighted_never_starts_with_weight_zero_when_others_have_weight(cs in candidates(), rng in any::<u64>()) {
            let o = order(Strategy::Weighted, &cs, &mut RoundRobinState::default(), rng);
            if cs.iter().any(|c| c.weight > 0) {
                prop_assert!(cs[o[0]].weight > 0);
                // More strongly: every weighted candidate precedes every weight-0 one.
                let first_zero = o.iter().position(|&i| cs[i].weight == 0).unwrap_or(o.len());
                prop_assert!(o[first_zero..].iter().all(|&i| cs[i].weight == 0));
            }
        }
    }
}
