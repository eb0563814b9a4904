//! A fixed log-scale latency histogram, so percentiles over any time range come from summed hourly
//! counts instead of a scan of the request log.
//!
//! Bucket bounds follow the R5 preferred numbers (five steps per decade, each ≈ ×1.585) from 10 ms to
//! 250 s: bucket 0 is `[0, 10)`, bucket `i` is `[BOUNDS_MS[i-1], BOUNDS_MS[i])`, the last is
//! `[250 000, ∞)`. An estimate therefore lands in the same bucket as the true percentile, within one
//! step (< 60 %) of it; streams longer than 250 s all report 250 s.

/// Upper bounds (exclusive) of every bucket but the last, in milliseconds.
pub const BOUNDS_MS: [u64; 23] = [
    10, 16, 25, 40, 63, 100, 160, 250, 400, 630, 1_000, 1_600, 2_500, 4_000, 6_300, 10_000, 16_000, 25_000, 40_000,
    63_000, 100_000, 160_000, 250_000,
];

pub const BUCKETS: usize = BOUNDS_MS.len() + 1;

/// Counts per bucket.
pub type Counts = [u64; BUCKETS];

/// The bucket a latency falls in.
pub fn bucket(latency_ms: u64) -> usize {
    BOUNDS_MS.partition_point(|&b| b <= latency_ms)
}

/// `[lower, upper)` of bucket `i`; the last bucket's upper bound is `None` (unbounded).
pub fn range(i: usize) -> (u64, Option<u64>) {
    let lower = if i == 0 { 0 } else { BOUNDS_MS[i - 1] };
    (lower, BOUNDS_MS.get(i).copied())
}

/// The column holding bucket `i` in `usage_hourly` (`lat_00` … `lat_23`).
pub fn column(i: usize) -> String {
    format!("lat_{i:02}")
}

/// Estimates the `q`-quantile (0 < q ≤ 1) of the counted latencies: finds the bucket holding the
/// observation of rank ⌈q·n⌉ and interpolates linearly within it. The open last bucket reports its
/// lower bound. `None` when nothing was counted.
pub fn percentile(counts: &Counts, q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
    let mut below = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        if n > 0 && below + n >= rank {
            let (lower, upper) = range(i);
            let Some(upper) = upper else { return Some(lower) };
            let within = (rank - below) as f64 / n as f64; // in (0, 1]
            return Some(lower + ((upper - lower) as f64 * within).round() as u64);
        }
        below += n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts_of(latencies: &[u64]) -> Counts {
        let mut c = [0; BUCKETS];
        for &l in latencies {
            c[bucket(l)] += 1;
        }
        c
    }

    #[test]
    fn bounds_are_log_scale_and_buckets_partition_the_line() {
        for w in BOUNDS_MS.windows(2) {
            let ratio = w[1] as f64 / w[0] as f64;
            assert!((1.5..1.7).contains(&ratio), "{w:?}");
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(9), 0);
        assert_eq!(bucket(10), 1);
        assert_eq!(bucket(249_999), BUCKETS - 2);
        assert_eq!(bucket(250_000), BUCKETS - 1);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!((column(0), column(23)), ("lat_00".to_string(), "lat_23".to_string()));
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        assert_eq!(percentile(&[0; BUCKETS], 0.5), None);
        // 90 fast (bucket [100,160)), 10 slow (bucket [1000,1600)).
        let mut l = vec![120; 90];
        l.extend([1200; 10]);
        let c = counts_of(&l);
        let p50 = percentile(&c, 0.5).unwrap();
        let p95 = percentile(&c, 0.95).unwrap();
        assert!((100..=160).contains(&p50), "{p50}");
        assert!((1000..=1600).contains(&p95), "{p95}");
        assert_eq!(percentile(&counts_of(&[300_000]), 0.99), Some(250_000));
    }

    proptest! {
        #[test]
        fn an_estimate_lies_in_the_bucket_of_the_true_percentile(
            mut latencies in prop::collection::vec(prop_oneof![0u64..2_000, 0u64..400_000], 1..300),
            q in 0.001f64..=1.0,
        ) {
            let est = percentile(&counts_of(&latencies), q).unwrap();
            latencies.sort_unstable();
            let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            let truth = latencies[rank - 1];
            let (lower, upper) = range(bucket(truth));
            prop_assert!(est >= lower && upper.is_none_or(|u| est <= u), "{} for {} in [{}, {:?})", est, truth, lower, upper);
        }

        #[test]
        fn estimates_are_monotone_in_q(counts in proptest::array::uniform24(0u64..1_000), a in 0.0f64..=1.0, b in 0.0f64..=1.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(percentile(&counts, lo) <= percentile(&counts, hi));
        }
    }
}
