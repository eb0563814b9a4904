//! The calendar windows budgets count in, in UTC: a day, an ISO week (from Monday 00:00) and a
//! calendar month. Pure arithmetic on milliseconds since the epoch.

use crate::time::{civil, days_from_civil, DAY_MS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];

    /// `[start, end)` of the window holding `now_ms`.
    pub fn bounds(self, now_ms: i64) -> (i64, i64) {
        let day = now_ms.div_euclid(DAY_MS);
        match self {
            Period::Day => (day * DAY_MS, (day + 1) * DAY_MS),
            Period::Week => {
                // 1970-01-01 was a Thursday: three days after a Monday.
                let monday = day - (day + 3).rem_euclid(7);
                (monday * DAY_MS, (monday + 7) * DAY_MS)
            }
            Period::Month => {
                let (y, m, _) = civil(day);
                let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (days_from_civil(y, m) * DAY_MS, days_from_civil(next.0, next.1) * DAY_MS)
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::iso;
    use proptest::prelude::*;

    #[test]
    fn windows_of_a_known_instant() {
        let now = 1_795_317_331_042; // 2026-11-22T03:15:31Z, a Sunday
        let (s, e) = Period::Day.bounds(now);
        assert_eq!((iso(s).as_str(), iso(e).as_str()), ("2026-11-22T00:00:00.000Z", "2026-11-23T00:00:00.000Z"));
        let (s, e) = Period::Week.bounds(now);
        assert_eq!((iso(s).as_str(), iso(e).as_str()), ("2026-11-16T00:00:00.000Z", "2026-11-23T00:00:00.000Z"));
        let (s, e) = Period::Month.bounds(now);
        assert_eq!((iso(s).as_str(), iso(e).as_str()), ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"));
        let (s, e) = Period::Month.bounds(1_798_761_600_000 - 1); // 2026-12-31T23:59:59.999Z
        assert_eq!((iso(s).as_str(), iso(e).as_str()), ("2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"));
        let (s, _) = Period::Month.bounds(951_782_400_000); // 2000-02-29
        assert_eq!(iso(s), "2000-02-01T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn every_instant_lies_in_its_window_and_windows_tile(now in -4_000_000_000_000i64..20_000_000_000_000) {
            for p in Period::ALL {
                let (s, e) = p.bounds(now);
                prop_assert!(s <= now && now < e);
                prop_assert_eq!(p.bounds(s), (s, e));
                prop_assert_eq!(p.bounds(e).0, e, "the next window starts where this one ends");
                prop_assert_eq!(s.rem_euclid(DAY_MS), 0);
                let (_, _, day) = civil(s.div_euclid(DAY_MS));
                if p == Period::Month {
                    prop_assert_eq!(day, 1);
                }
                if p == Period::Week {
                    prop_assert_eq!((s.div_euclid(DAY_MS) + 3).rem_euclid(7), 0, "weeks start on Monday");
                }
            }
        }
    }
}
