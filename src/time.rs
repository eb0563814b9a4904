//! Calendar arithmetic on milliseconds since the epoch (proleptic Gregorian, UTC), and reading the
//! times clients write: one place for the budgets' calendar windows, the sync answers' times and the
//! expiries clients send.

use serde_json::Value;

pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the epoch as `2026-11-22T03:15:31.000Z`, as JavaScript's `toISOString`.
pub fn iso(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let (y, m, d) = civil(days);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Days since 1970-01-01 → (year, month, day), by 400-year eras of 146 097 days.
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of the first day of month `m` of year `y`, the inverse of [`civil`] for day 1.
pub fn days_from_civil(y: i64, m: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How to read a date-time written without a zone: JavaScript reads it in the writer's own zone,
/// which the edge does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoZone {
    /// As UTC: good enough to compare with (an answer's `updatedAt`).
    Utc,
    /// Not at all: where being hours off matters (an expiry), fail closed.
    Refuse,
}

/// A client's time as JavaScript's `new Date(v).getTime()` reads the forms clients send:
/// milliseconds, or ISO 8601 ([`parse_iso`], zone-less times as UTC). `None` for anything else.
pub fn parse_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => parse_iso(s.trim(), NoZone::Utc),
        _ => None,
    }
}

/// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DD[T ]HH:MM[:SS[.fff…]]` with `Z`, `±HH:MM` or `±HHMM`
/// (or no zone, as `no_zone` says). `None` for anything else, 31 February included.
pub fn parse_iso(s: &str, no_zone: NoZone) -> Option<i64> {
    if !s.is_ascii() {
        return None; // so that every slice below is on a character boundary
    }
    let num =
        |t: &str| (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse::<i64>().ok()).flatten();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut ymd = date.split('-');
    let (y, m, d) = (num(ymd.next()?)?, num(ymd.next()?)?, num(ymd.next()?)?);
    if ymd.next().is_some() || !(1..=12).contains(&m) || y > 9999 {
        return None;
    }
    let first = days_from_civil(y, m as u32);
    let next = if m == 12 { days_from_civil(y + 1, 1) } else { days_from_civil(y, m as u32 + 1) };
    if d < 1 || first + d > next {
        return None;
    }
    let day_ms = (first + d - 1) * DAY_MS;
    let Some(time) = time else { return Some(day_ms) };
    let (clock, offset_min) = match (time.strip_suffix(['Z', 'z']), time.rfind(['+', '-'])) {
        (Some(c), _) => (c, 0),
        (None, Some(at)) => {
            let (c, off) = time.split_at(at);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':').or_else(|| (off.len() == 5).then(|| off[1..].split_at(2)))?;
            (c, sign * (num(oh)? * 60 + num(om)?))
        }
        (None, None) if no_zone == NoZone::Utc => (time, 0),
        (None, None) => return None,
    };
    let mut hms = clock.splitn(3, ':');
    let (h, mi) = (num(hms.next()?)?, num(hms.next()?)?);
    let (sec, frac) = match hms.next() {
        None => (0, 0),
        Some(sf) => match sf.split_once('.') {
            Some((sec, f)) => (num(sec)?, num(&format!("{f:0<3}")[..3])?),
            None => (num(sf)?, 0),
        },
    };
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(day_ms + ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_times_like_javascript() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_317_331_042), "2026-11-22T03:15:31.042Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn reads_times_as_javascript_does() {
        for (text, ms) in [
            ("2026-11-22T03:15:31.042Z", Some(1_795_317_331_042)),
            ("2026-11-22T03:15:31Z", Some(1_795_317_331_000)),
            ("2026-11-22T05:15:31.042+02:00", Some(1_795_317_331_042)),
            ("2026-11-22", Some(1_795_305_600_000)),
            ("2026-11-22T03:15:31", Some(1_795_317_331_000)),
            ("2026-02-30T00:00:00Z", None),
            ("2026-11-22T03:15:31.0é", None),
            ("yesterday", None),
            ("", None),
        ] {
            assert_eq!(parse_time(&json!(text)), ms, "{text}");
        }
        assert_eq!(parse_time(&json!(5)), Some(5));
        assert_eq!(parse_time(&json!(null)), None);
    }

    #[test]
    fn an_expiry_is_read_only_with_a_zone() {
        let refuse = |s| parse_iso(s, NoZone::Refuse);
        assert_eq!(refuse("2030-01-01"), Some(1_893_456_000_000));
        assert_eq!(refuse("2030-01-01T00:00Z"), Some(1_893_456_000_000));
        assert_eq!(refuse("2030-01-01T02:30:15.5+02:30"), Some(1_893_456_015_500));
        assert_eq!(refuse("2029-12-31 23:00:00-0100"), Some(1_893_456_000_000));
        assert_eq!(refuse("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        for bad in ["2030-01-01T00:00:00", "2023-02-29", "2030-13-01", "2030-01-01T24:00Z", "tomorrow", "2030-1-1x"] {
            assert_eq!(refuse(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// Consecutive days give consecutive dates: the day after is the next day of the month or
        /// the first of the next month (or year).
        #[test]
        fn dates_advance_one_day_at_a_time(day in -800_000i64..800_000) {
            let (y, m, d) = civil(day);
            let (y2, m2, d2) = civil(day + 1);
            let next_in_month = (y2, m2, d2) == (y, m, d + 1);
            let next_month = d2 == 1 && ((y2, m2) == (y, m + 1) || (y2, m2, m) == (y + 1, 1, 12));
            proptest::prop_assert!(next_in_month || next_month, "{:?} -> {:?}", (y, m, d), (y2, m2, d2));
            proptest::prop_assert!((28..=31).contains(&d) || !next_month);
        }

        /// Every time the edge writes reads back as itself.
        #[test]
        fn written_times_read_back(ms in 0i64..253_402_300_800_000) {
            proptest::prop_assert_eq!(parse_time(&json!(iso(ms))), Some(ms));
        }

        /// Any text reads as a time or as nothing, never a panic.
        #[test]
        fn any_text_reads_or_not(s in "\\PC{0,40}") {
            let _ = parse_iso(&s, NoZone::Utc);
            let _ = parse_iso(&s, NoZone::Refuse);
        }
    }
}
