//! Cooldowns: after an upstream says "slow down" (429), the gateway stops sending that connection
//! and model requests until the upstream's `Retry-After` has passed, instead of hammering it.
//!
//! A scope is `connection_id:model`, because providers enforce rate limits per model. The same
//! [`CooldownTable`] serves as the Durable Object's stored state and as each isolate's local view;
//! merging keeps the later deadline, so the order in which updates arrive does not matter.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Used when a 429 carries no usable `Retry-After`.
pub const DEFAULT_COOLDOWN_MS: i64 = 10_000;
/// No upstream hint may park a connection for longer than this.
pub const MAX_COOLDOWN_MS: i64 = 10 * 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    pub scope: String,
    pub until_ms: i64,
    pub reason: String,
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
    /// Adds a cooldown, keeping the later deadline if the scope already has one.
    pub fn record(&mut self, c: Cooldown) {
        match self.entries.get(&c.scope) {
            Some(old) if old.until_ms >= c.until_ms => {}
            _ => {
                self.entries.insert(c.scope.clone(), c);
            }
        }
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

    /// Drops expired entries.
    pub fn prune(&mut self, now_ms: i64) {
        self.entries.retain(|_, c| c.until_ms > now_ms);
    }

    pub fn clear(&mut self, scope: Option<&str>) {
        match scope {
            Some(s) => {
                self.entries.remove(s);
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
        Cooldown { scope: scope.into(), until_ms, reason: "429".into() }
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
    fn clear_one_or_all() {
        let mut t = CooldownTable::default();
        t.merge([cd("a", 9), cd("b", 9)]);
        t.clear(Some("a"));
        assert_eq!(t.active(0).len(), 1);
        t.clear(None);
        assert!(t.active(0).is_empty());
    }

    proptest! {
        /// Merging is order-independent: every replica ends with the latest deadline per scope.
        #[test]
        fn merge_order_does_not_matter(updates in proptest::collection::vec((0u8..4, 0i64..100), 0..20)) {
            let items: Vec<_> = updates.iter().map(|(s, u)| cd(&format!("s{s}"), *u)).collect();
            let mut forward = CooldownTable::default();
            forward.merge(items.clone());
            let mut backward = CooldownTable::default();
            backward.merge(items.into_iter().rev());
            prop_assert_eq!(forward.active(-1), backward.active(-1));
        }
    }
}
