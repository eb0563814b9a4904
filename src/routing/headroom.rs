//! Quota headroom: after the tenant's account strategy has ordered a provider's accounts, those
//! running low on quota go after the others, so requests go where quota is left. Pure: the fraction
//! each account has left comes from the caller (`ResilienceView::quota_left`).

/// Below this fraction of its allowance left, an account counts as running low. At that point a
/// burst of requests is likely to spend the rest, and a spent account cools until its window
/// resets (hours, for a subscription): other accounts serve first, and the low one keeps its
/// remainder for when they run low too. Above it, the strategy's order stands, so that priority
/// (a subscription first) and round-robin stickiness are not undone by small differences.
pub const LOW_QUOTA: f64 = 0.10;

/// `ordered` (the strategy's order) with the accounts running low moved after the others, the ones
/// with more left first among them. Otherwise the order is kept: the sort is stable, and an account
/// whose quota is unknown ranks with those that have quota left.
pub fn prefer_headroom<T>(ordered: Vec<T>, left: impl Fn(&T) -> Option<f64>) -> Vec<T> {
    let low = |f: Option<f64>| f.filter(|&f| f < LOW_QUOTA);
    let mut keyed: Vec<(Option<f64>, T)> = ordered.into_iter().map(|t| (low(left(&t)), t)).collect();
    if keyed.iter().any(|(k, _)| k.is_some()) {
        // `None` (not low) first; among the low, descending by what is left.
        keyed.sort_by(|(a, _), (b, _)| match (a, b) {
            (Some(a), Some(b)) => b.total_cmp(a),
            _ => a.is_some().cmp(&b.is_some()),
        });
    }
    keyed.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(left: &[Option<f64>]) -> Vec<usize> {
        prefer_headroom((0..left.len()).collect(), |&i| left[i])
    }

    #[test]
    fn low_accounts_go_last_with_the_most_left_first() {
        assert_eq!(order(&[Some(0.01), None, Some(0.5)]), [1, 2, 0], "unknown ranks with quota left");
        assert_eq!(order(&[Some(0.05), Some(0.02), Some(0.8)]), [2, 0, 1]);
        assert_eq!(order(&[Some(0.02), Some(0.05)]), [1, 0], "both low: the one with more left first");
        assert_eq!(order(&[Some(0.3), Some(0.9), None]), [0, 1, 2], "none low: the strategy's order");
        assert_eq!(order(&[Some(LOW_QUOTA), Some(0.0)]), [0, 1], "exactly the threshold is not low");
    }

    proptest! {
        #[test]
        fn a_stable_permutation_that_puts_the_low_last(
            left in proptest::collection::vec(proptest::option::of(0.0f64..=1.0), 0..12),
        ) {
            let out = order(&left);
            let mut sorted = out.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..left.len()).collect::<Vec<_>>(), "a permutation");
            let low = |i: usize| left[i].is_some_and(|f| f < LOW_QUOTA);
            let first_low = out.iter().position(|&i| low(i)).unwrap_or(out.len());
            prop_assert!(out[first_low..].iter().all(|&i| low(i)), "every low account after the others");
            for pair in out[..first_low].windows(2) {
                prop_assert!(pair[0] < pair[1], "the others keep the strategy's order");
            }
            for pair in out[first_low..].windows(2) {
                let (a, b) = (left[pair[0]].unwrap(), left[pair[1]].unwrap());
                prop_assert!(a > b || (a == b && pair[0] < pair[1]), "low: most left first, ties in order");
            }
        }
    }
}
