//! When in the week a gateway key may be used: days, a daily time window and the IANA time zone
//! both are in, as OmniRoute's `accessSchedule` means them. The check is pure: the platform turns
//! "now" into the zone's local weekday and minute (`LocalTime`, from the runtime's time-zone
//! database) and the schedule only compares.
//!
//! The window runs from `from` (inclusive) to `until` (exclusive); an `until` before `from` spans
//! midnight. The day that must be listed is the local day at the time of the request, also after
//! midnight in an overnight window (so `days: [5]`, 22:00–02:00 admits Friday 22:00–24:00 and
//! Friday 00:00–02:00, not Saturday 01:00), exactly as OmniRoute checks it.

use crate::error::{ErrorKind, GatewayError, Result};
use serde::{Deserialize, Serialize};

/// Admin input is strict through `config::input::parse_strict`; stored values ignore unknown fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The days the key may be used, 0 = Sunday … 6 = Saturday (JavaScript's `getDay`).
    pub days: Vec<u8>,
    /// `HH:MM` local time; `until` may be `24:00` (the end of the day).
    pub from: String,
    pub until: String,
    /// An IANA time zone, e.g. `Europe/Berlin` or `UTC`.
    pub time_zone: String,
}

/// A moment as a schedule sees it: the weekday (0 = Sunday) and minute of the day in its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: u8,
    pub minute: u16,
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MAX_ZONE_LEN: usize = 100;

impl LocalTime {
    /// The weekday of a 3-letter English day name (`Intl.DateTimeFormat`'s `weekday: "short"`).
    pub fn weekday_of(name: &str) -> Option<u8> {
        DAY_NAMES.iter().position(|d| *d == name).map(|i| i as u8)
    }
}

/// Minutes since midnight of `H:MM` or `HH:MM` (00:00 to 24:00).
pub fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u16>().ok()).flatten()
    };
    let (h, m) = (digits(h, 1..=2)?, digits(m, 2..=2)?);
    (m < 60 && (h < 24 || (h, m) == (24, 0))).then_some(h * 60 + m)
}

impl Schedule {
    /// Checks admin input (and a synced schedule): days 0–6, valid times that admit some time of
    /// day, a plausible zone name. Whether the zone exists only the platform's database can say.
    pub fn validate(&self) -> Result<()> {
        if self.days.is_empty() || self.days.len() > 7 || self.days.iter().any(|d| *d > 6) {
            return Err(bad("schedule.days", "`schedule.days` lists 1 to 7 days, 0 (Sunday) to 6 (Saturday)."));
        }
        for (name, time) in [("schedule.from", &self.from), ("schedule.until", &self.until)] {
            if minutes(time).is_none() {
                return Err(bad(name, &format!("`{name}` is a time `HH:MM` from 00:00 to 24:00.")));
            }
        }
        if minutes(&self.from) == minutes(&self.until) {
            return Err(bad(
                "schedule.until",
                "`schedule.from` and `schedule.until` are equal: the key could never be used.",
            ));
        }
        let zone = &self.time_zone;
        if zone.is_empty() || zone.len() > MAX_ZONE_LEN || !zone.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "schedule.time_zone",
                "`schedule.time_zone` is an IANA time zone such as `Europe/Berlin`.",
            ));
        }
        Ok(())
    }

    /// Whether the schedule admits a request at `at` (its zone's local time).
    pub fn admits(&self, at: LocalTime) -> bool {
        let (Some(from), Some(until)) = (minutes(&self.from), minutes(&self.until)) else { return false };
        if !self.days.contains(&at.weekday) {
            return false;
        }
        let now = at.minute;
        if until < from {
            now >= from || now < until
        } else {
            now >= from && now < until
        }
    }

    /// The 403 for a request at `at`, outside the schedule.
    pub fn refused(&self, at: LocalTime) -> GatewayError {
        let days: Vec<&str> = self.days.iter().filter_map(|d| DAY_NAMES.get(*d as usize).copied()).collect();
        let day = DAY_NAMES.get(at.weekday as usize).copied().unwrap_or("?");
        GatewayError::new(
            ErrorKind::PermissionDenied,
            format!(
                "This API key may be used only {} {}–{} ({}); it is {day} {:02}:{:02} there.",
                days.join(","),
                self.from,
                self.until,
                self.time_zone,
                at.minute / 60,
                at.minute % 60
            ),
        )
        .with_code("outside_schedule")
    }

    /// The 403 when the runtime does not know the schedule's zone: the key fails closed.
    pub fn unknown_zone(&self) -> GatewayError {
        GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("This API key's schedule is in the time zone `{}`, which is unknown here.", self.time_zone),
        )
        .with_code("outside_schedule")
    }
}

fn bad(param: &str, message: &str) -> GatewayError {
    GatewayError::invalid_request(message).with_param(param)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(days: &[u8], from: &str, until: &str) -> Schedule {
        Schedule { days: days.to_vec(), from: from.into(), until: until.into(), time_zone: "UTC".into() }
    }

    fn at(weekday: u8, hhmm: &str) -> LocalTime {
        LocalTime { weekday, minute: minutes(hhmm).unwrap() }
    }

    #[test]
    fn reads_times_from_midnight_to_the_end_of_the_day() {
        assert_eq!(minutes("00:00"), Some(0));
        assert_eq!(minutes("9:05"), Some(545));
        assert_eq!(minutes("23:59"), Some(1439));
        assert_eq!(minutes("24:00"), Some(1440));
        for bad in ["24:01", "25:00", "12:60", "12:5", "1200", "ab:cd", "-1:00", "123:00", ""] {
            assert_eq!(minutes(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_day_window_admits_its_days_from_inclusive_until_exclusive() {
        let office = schedule(&[1, 2, 3, 4, 5], "09:00", "17:00");
        assert!(office.admits(at(1, "09:00")) && office.admits(at(5, "16:59")));
        assert!(!office.admits(at(1, "08:59")) && !office.admits(at(1, "17:00")));
        assert!(!office.admits(at(0, "12:00")) && !office.admits(at(6, "12:00")), "weekends");
        let evening = schedule(&[0], "18:00", "24:00");
        assert!(evening.admits(at(0, "23:59")) && !evening.admits(at(1, "00:00")));
    }

    #[test]
    fn an_overnight_window_is_checked_against_the_local_day_of_the_request() {
        let night = schedule(&[5], "22:00", "02:00");
        assert!(night.admits(at(5, "22:00")) && night.admits(at(5, "23:59")));
        assert!(night.admits(at(5, "01:59")), "Friday after midnight: Friday is listed");
        assert!(!night.admits(at(6, "01:00")), "Saturday after midnight: Saturday is not");
        assert!(!night.admits(at(5, "02:00")) && !night.admits(at(5, "12:00")));
    }

    #[test]
    fn admin_input_is_checked() {
        assert!(schedule(&[1], "09:00", "17:00").validate().is_ok());
        for (s, param) in [
            (schedule(&[], "09:00", "17:00"), "schedule.days"),
            (schedule(&[7], "09:00", "17:00"), "schedule.days"),
            (schedule(&[1], "9", "17:00"), "schedule.from"),
            (schedule(&[1], "09:00", "24:30"), "schedule.until"),
            (schedule(&[1], "09:00", "09:00"), "schedule.until"),
            (Schedule { time_zone: "Europe/ Berlin".into(), ..schedule(&[1], "09:00", "17:00") }, "schedule.time_zone"),
        ] {
            assert_eq!(s.validate().unwrap_err().param.as_deref(), Some(param), "{s:?}");
        }
        let e = schedule(&[1, 2], "09:00", "17:00").refused(at(0, "10:30"));
        assert_eq!((e.status, e.code.as_deref()), (403, Some("outside_schedule")));
        assert!(e.message.contains("Mon,Tue 09:00–17:00 (UTC); it is Sun 10:30"), "{}", e.message);
        assert_eq!(LocalTime::weekday_of("Sat"), Some(6));
        assert_eq!(LocalTime::weekday_of("Sunday"), None);
    }
}
