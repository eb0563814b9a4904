//! Cooldowns: after an upstream says "slow down" (429), the gateway stops sending that connection
//! and model requests until the upstream's `Retry-After` has passed, instead of hammering it.
//!
//! A scope is `connection_id:model`, because providers enforce rate limits per model. The same
//! [`CooldownTable`] serves as the Durable Object's stored state and as each isolate's local view;
//! merging keeps the later deadline, so the order in which updates arrive does not matter.
//!
//! Repeated failures back off exponentially (omniroute.md §3.4): [`CooldownTable::fail`] raises the
//! scope's level and parks it for the rule's fixed time, the upstream's hint, or
//! [`backoff_ms`]`(level)`; [`CooldownTable::succeed`] forgets both. Invariants:
//! - every deadline `fail` sets lies within `[now + 1 s, now + MAX_COOLDOWN_MS]`;
//! - merging keeps the later deadline and the higher level per scope (order-independent);
//! - failures that arrive while the scope is already cooling down (requests sent before the cooldown
//!   was known) do not raise the level again;
//! - a level outlives its cooldown by [`LEVEL_MEMORY_MS`], so a connection that fails again right
//!   after its cooldown ends backs off longer; `prune` forgets it after that.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Used when a 429 carries no usable `Retry-After`.
pub const DEFAULT_COOLDOWN_MS: i64 = 10_000;
/// No upstream hint may park a connection for longer than this.
pub const MAX_COOLDOWN_MS: i64 = 10 * 60_000;
/// How long a backoff level is remembered after its cooldown ended without a success.
pub const LEVEL_MEMORY_MS: i64 = 10 * 60_000;
/// The shortest cooldown `fail` sets, so a zero or negative hint still parks the scope briefly.
const MIN_FAIL_COOLDOWN_MS: i64 = 1_000;

/// Exponential backoff for one kind of connection: `base_ms × 2^(level-1)`, at most `max_ms`; levels
/// beyond `max_level` count as `max_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffProfile {
    pub base_ms: i64,
    pub max_ms: i64,
    pub max_level: u32,
}

impl BackoffProfile {
    /// API-key connections: 3 s, 6 s, 12 s, … up to 2 min.
    pub const API_KEY: BackoffProfile = BackoffProfile { base_ms: 3_000, max_ms: 120_000, max_level: 7 };
    /// OAuth (subscription) connections: 5 s, 10 s, 20 s, … up to 2 min.
    pub const OAUTH: BackoffProfile = BackoffProfile { base_ms: 5_000, max_ms: 120_000, max_level: 6 };
}

/// The wait after the `level`-th consecutive failure; level 0 (no failure) waits nothing.
pub fn backoff_ms(level: u32, p: &BackoffProfile) -> i64 {
    if level == 0 {
        return 0;
    }
    // Capping the exponent keeps the shift defined; max_ms caps the result anyway.
    let exp = level.min(p.max_level.max(1)).saturating_sub(1).min(40);
    p.base_ms.max(0).saturating_mul(1i64 << exp).min(p.max_ms.max(0))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    pub scope: String,
    pub until_ms: i64,
    pub reason: String,
    /// Consecutive failures of this scope (0 for plain `record`ed cooldowns); drives the backoff.
    #[serde(default)]
    pub level: u32,
}

pub fn scope(connection_id: &str, model: &str) -> String {
    format!("{connection_id}:{model}")
}

/// The deadline for a rate limit reported at `now_ms` with an optional `Retry-After`.
pub fn until(now_ms: i64, retry_after_secs: Option<u64>) -> i64 {
    let wait = retry_after_secs
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000))
        .unwrap_or(DEFAULT_COOLDOWN_MS);
    now_ms + wait.clamp(1000, MAX_COOLDOWN_MS)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CooldownTable {
    entries: HashMap<String, Cooldown>,
}

impl CooldownTable {
    /// Adds a cooldown, keeping the later deadline (and its reason) and the higher level if the scope
    /// already has one.
    pub fn record(&mut self, c: Cooldown) {
        match self.entries.get_mut(&c.scope) {
            Some(old) => {
                let level = old.level.max(c.level);
                // Ties go to the greater reason so that merging stays order-independent.
                if (c.until_ms, &c.reason) > (old.until_ms, &old.reason) {
                    *old = c;
                }
                old.level = level;
            }
            None => {
                self.entries.insert(c.scope.clone(), c);
            }
        }
    }

    /// Records a failure of `scope` at `now_ms` and returns the resulting cooldown (to report to the
    /// shared copy). The wait is `rule_ms` (a fixed rule or the upstream's hint) if given, otherwise
    /// the backoff for the raised level; it is clamped to `[1 s, MAX_COOLDOWN_MS]`.
    pub fn fail(
        &mut self,
        scope: &str,
        now_ms: i64,
        rule_ms: Option<i64>,
        reason: &str,
        p: &BackoffProfile,
    ) -> Cooldown {
        let old = self.entries.get(scope);
        let still_cooling = old.is_some_and(|c| c.until_ms > now_ms);
        let old_level = old.map_or(0, |c| c.level);
        let level = if still_cooling { old_level.max(1) } else { old_level.saturating_add(1).min(p.max_level.max(1)) };
        let wait = rule_ms.unwrap_or_else(|| backoff_ms(level, p)).clamp(MIN_FAIL_COOLDOWN_MS, MAX_COOLDOWN_MS);
        let until_ms = now_ms.saturating_add(wait).max(old.map_or(i64::MIN, |c| c.until_ms));
        let c = Cooldown { scope: scope.to_string(), until_ms, reason: reason.to_string(), level };
        self.entries.insert(scope.to_string(), c.clone());
        c
    }

    /// A success: the scope is usable again and its next failure starts from the base backoff.
    pub fn succeed(&mut self, scope: &str) {
        self.entries.remove(scope);
    }

    /// Whether `scope` has an entry (cooling, or remembering its backoff level).
    pub fn has(&self, scope: &str) -> bool {
        self.entries.contains_key(scope)
    }

    /// The backoff level of `scope` (0 if it has none).
    pub fn level(&self, scope: &str) -> u32 {
        self.entries.get(scope).map_or(0, |c| c.level)
    }

    pub fn merge(&mut self, others: impl IntoIterator<Item = Cooldown>) {
        for c in others {
            self.record(c);
        }
    }

    /// Milliseconds left on `scope`'s cooldown, if any.
    pub fn remaining(&self, scope: &str, now_ms: i64) -> Option<i64> {
        self.entries.get(scope).map(|c| c.until_ms - now_ms).filter(|ms| *ms > 0)
    }

    /// Drops expired entries; an expired entry with a backoff level is kept for `LEVEL_MEMORY_MS`.
    pub fn prune(&mut self, now_ms: i64) {
        self.entries
            .retain(|_, c| c.until_ms > now_ms || (c.level > 0 && c.until_ms.saturating_add(LEVEL_MEMORY_MS) > now_ms));
    }

    /// Every entry still held (active cooldowns and remembered levels), by scope: what a persistent
    /// copy should store so backoff levels survive a restart. Call `prune` first to bound it.
    pub fn snapshot(&self) -> Vec<Cooldown> {
        let mut v: Vec<_> = self.entries.values().cloned().collect();
        v.sort_by(|a, b| a.scope.cmp(&b.scope));
        v
    }

    /// Clears one scope — a connection's scope also clears its per-model scopes (`conn:model`) —
    /// or every scope.
    pub fn clear(&mut self, scope: Option<&str>) {
        match scope {
            Some(s) => {
                let children = format!("{s}:");
                self.entries.retain(|k, _| k != s && !k.starts_with(&children));
            }
            None => self.entries.clear(),
        }
    }

    /// Active cooldowns, soonest to end first.
    pub fn active(&self, now_ms: i64) -> Vec<Cooldown> {
        let mut v: Vec<_> = self.entries.values().filter(|c| c.until_ms > now_ms).cloned().collect();
        v.sort_by(|a, b| (a.until_ms, &a.scope).cmp(&(b.until_ms, &b.scope)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cd(scope: &str, until_ms: i64) -> Cooldown {
        Cooldown { scope: scope.into(), until_ms, reason: "429".into(), level: 0 }
    }

    #[test]
    fn deadline_follows_retry_after_within_bounds() {
        assert_eq!(until(1_000, Some(7)), 8_000);
        assert_eq!(until(1_000, None), 1_000 + DEFAULT_COOLDOWN_MS);
        assert_eq!(until(1_000, Some(0)), 2_000, "at least a second");
        assert_eq!(until(0, Some(u64::MAX)), MAX_COOLDOWN_MS);
    }

    #[test]
    fn remaining_counts_down_and_expires() {
        let mut t = CooldownTable::default();
        t.record(cd("c1:m", 5_000));
        assert_eq!(t.remaining("c1:m", 1_000), Some(4_000));
        assert_eq!(t.remaining("c1:m", 5_000), None);
        assert_eq!(t.remaining("c1:other", 1_000), None);
        t.prune(6_000);
        assert!(t.active(0).is_empty());
    }

    #[test]
    fn clearing_a_connection_clears_its_models() {
        let mut t = CooldownTable::default();
        t.merge([cd("c1", 9), cd("c1:m", 9), cd("c10:m", 9)]);
        t.clear(Some("c1"));
        assert_eq!(t.active(0).iter().map(|c| c.scope.as_str()).collect::<Vec<_>>(), ["c10:m"]);
    }

    #[test]
    fn clear_one_or_all() {
        let mut t = CooldownTable::default();
        t.merge([cd("a", 9), cd("b", 9)]);
        t.clear(Some("a"));
        assert_eq!(t.active(0).len(), 1);
        t.clear(None);
        assert!(t.active(0).is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let api: Vec<_> = (0..10).map(|l| backoff_ms(l, &BackoffProfile::API_KEY)).collect();
        assert_eq!(api, [0, 3_000, 6_000, 12_000, 24_000, 48_000, 96_000, 120_000, 120_000, 120_000]);
        let oauth: Vec<_> = (0..8).map(|l| backoff_ms(l, &BackoffProfile::OAUTH)).collect();
        assert_eq!(oauth, [0, 5_000, 10_000, 20_000, 40_000, 80_000, 120_000, 120_000]);
        assert_eq!(backoff_ms(u32::MAX, &BackoffProfile::API_KEY), 120_000);
        let odd = BackoffProfile { base_ms: i64::MAX, max_ms: i64::MAX, max_level: u32::MAX };
        assert_eq!(backoff_ms(u32::MAX, &odd), i64::MAX, "saturates instead of overflowing");
    }

    #[test]
    fn repeated_failures_back_off_and_success_resets() {
        let p = BackoffProfile::API_KEY;
        let mut t = CooldownTable::default();
        let c = t.fail("c1:m", 0, None, "500", &p);
        assert_eq!((c.until_ms, c.level, c.reason.as_str()), (3_000, 1, "500"));
        assert_eq!(t.remaining("c1:m", 1_000), Some(2_000));
        // Fails again once the cooldown is over: the level rises and the wait doubles.
        let c = t.fail("c1:m", 3_000, None, "500", &p);
        assert_eq!((c.until_ms, c.level), (9_000, 2));
        let c = t.fail("c1:m", 9_000, None, "500", &p);
        assert_eq!((c.until_ms, c.level), (21_000, 3));
        t.succeed("c1:m");
        assert_eq!((t.remaining("c1:m", 10_000), t.level("c1:m")), (None, 0));
        let c = t.fail("c1:m", 30_000, None, "500", &p);
        assert_eq!((c.until_ms, c.level), (33_000, 1), "starts over after a success");
    }

    #[test]
    fn failures_during_a_cooldown_do_not_escalate() {
        let p = BackoffProfile::API_KEY;
        let mut t = CooldownTable::default();
        t.fail("s", 0, None, "503", &p);
        // A request already in flight fails too: same level, deadline not shortened.
        let c = t.fail("s", 500, None, "503", &p);
        assert_eq!((c.until_ms, c.level), (3_500, 1));
        // A plain recorded 429 (level 0) that fails again while cooling counts as level 1.
        t.record(Cooldown { scope: "r".into(), until_ms: 10_000, reason: "429".into(), level: 0 });
        let c = t.fail("r", 1_000, None, "429", &p);
        assert_eq!((c.until_ms, c.level), (10_000, 1));
    }

    #[test]
    fn fixed_rules_and_hints_win_over_backoff_within_bounds() {
        let p = BackoffProfile::OAUTH;
        let mut t = CooldownTable::default();
        assert_eq!(t.fail("a", 0, Some(120_000), "401", &p).until_ms, 120_000);
        assert_eq!(t.fail("b", 0, Some(0), "429", &p).until_ms, 1_000, "at least a second");
        assert_eq!(t.fail("c", 0, Some(-5), "429", &p).until_ms, 1_000);
        assert_eq!(t.fail("d", 0, Some(i64::MAX), "quota", &p).until_ms, MAX_COOLDOWN_MS);
        // The level still rises under fixed rules, so a later backoff starts higher.
        assert_eq!(t.level("a"), 1);
        let c = t.fail("a", 120_000, None, "500", &p);
        assert_eq!((c.until_ms, c.level), (130_000, 2));
    }

    #[test]
    fn levels_outlive_their_cooldown_for_a_while_and_survive_snapshots() {
        let p = BackoffProfile::API_KEY;
        let mut t = CooldownTable::default();
        t.fail("s", 0, None, "500", &p);
        t.record(cd("plain", 3_000));
        t.prune(4_000);
        assert!(t.active(4_000).is_empty());
        assert_eq!(t.level("s"), 1, "remembered after the cooldown ended");
        assert_eq!(t.snapshot().len(), 1, "a level-0 entry is dropped once expired");
        let mut copy = CooldownTable::default();
        copy.merge(t.snapshot());
        assert_eq!(copy.fail("s", 5_000, None, "500", &p).level, 2);
        t.prune(3_000 + LEVEL_MEMORY_MS);
        assert!(t.snapshot().is_empty());
    }

    #[test]
    fn merge_keeps_the_higher_level_and_the_later_deadline() {
        let mut t = CooldownTable::default();
        t.record(Cooldown { scope: "s".into(), until_ms: 9_000, reason: "a".into(), level: 1 });
        t.record(Cooldown { scope: "s".into(), until_ms: 5_000, reason: "b".into(), level: 4 });
        let c = &t.snapshot()[0];
        assert_eq!((c.until_ms, c.reason.as_str(), c.level), (9_000, "a", 4));
    }

    #[test]
    fn old_stored_cooldowns_without_a_level_still_load() {
        let c: Cooldown = serde_json::from_str(r#"{"scope":"s","until_ms":5,"reason":"429"}"#).unwrap();
        assert_eq!(c.level, 0);
    }

    proptest! {
        #[test]
        fn backoff_is_monotonic_and_bounded(base in 0i64..100_000, max in 0i64..1_000_000, max_level in 0u32..70, l in 0u32..100) {
            let p = BackoffProfile { base_ms: base, max_ms: max, max_level };
            prop_assert!(backoff_ms(l, &p) <= backoff_ms(l + 1, &p));
            prop_assert!((0..=max).contains(&backoff_ms(l, &p)));
        }

        /// Whatever happens, `fail` parks the scope from 1 s to MAX_COOLDOWN_MS from now.
        #[test]
        fn fail_deadline_is_bounded(ops in proptest::collection::vec((0i64..200_000, proptest::option::of(-10i64..i64::MAX), any::<bool>()), 1..30)) {
            let mut t = CooldownTable::default();
            let mut now = 0i64;
            for (step, rule, ok) in ops {
                now += step;
                if ok {
                    t.succeed("s");
                    continue;
                }
                let c = t.fail("s", now, rule, "x", &BackoffProfile::API_KEY);
                prop_assert!(c.until_ms >= now + 1_000 && c.until_ms <= now + MAX_COOLDOWN_MS);
                prop_assert!(c.level >= 1 && c.level <= BackoffProfile::API_KEY.max_level);
            }
        }

        /// Merging is order-independent: every replica ends with the latest deadline per scope.
        #[test]
        fn merge_order_does_not_matter(updates in proptest::collection::vec((0u8..4, 0i64..100, 0u32..5), 0..20)) {
            let items: Vec<_> = updates
                .iter()
                .map(|(s, u, l)| Cooldown { level: *l, ..cd(&format!("s{s}"), *u) })
                .collect();
            let mut forward = CooldownTable::default();
            forward.merge(items.clone());
            let mut backward = CooldownTable::default();
            backward.merge(items.into_iter().rev());
            prop_assert_eq!(forward.active(-1), backward.active(-1));
            prop_assert_eq!(forward.snapshot(), backward.snapshot());
        }
    }
}
