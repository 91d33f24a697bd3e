//! Business hours (B4): opening hours per weekday, holidays and the business's time zone, as
//! plain data with two questions — is it open at an instant, and when does it next open. The
//! away reply and "until business hours" delays ask them; nothing here reads a clock.
//!
//! Hours are wall-clock times in the business's zone, so a shop open 09:00–18:00 stays open
//! 09:00–18:00 local across a daylight-saving switch (Europe/Berlin), while the UTC instants
//! move. The zone rules come from jiff's bundled IANA database, so the static binary needs
//! no /usr/share/zoneinfo.

use std::fmt;

use jiff::civil::{self, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Minutes in a day; `24:00` is allowed as the end of a range ("open until midnight").
const DAY_MINUTES: u16 = 24 * 60;
/// How far ahead `next_open` looks. A year and a bit covers every weekday and a run of
/// holidays as long as any calendar has; a schedule closed for longer counts as never open.
const LOOKAHEAD_DAYS: i32 = 400;
const MAX_RANGES_PER_DAY: usize = 8;
const MAX_HOLIDAYS: usize = 400;

/// A wall-clock time of day, minute precision, `00:00` to `24:00` (the latter only as the end
/// of a range). On the wire and in storage it is the string "HH:MM", so the JSON the UI sends
/// and the stored value read the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// From hours and minutes; None unless it is a time of day (or exactly 24:00).
    pub fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        let minutes = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && minutes <= DAY_MINUTES).then_some(TimeOfDay { minutes })
    }

    /// Parse "9:00", "09:00" or "24:00".
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let (h, m) = s.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        TimeOfDay::new(h.parse().ok()?, m.parse().ok()?)
    }

    /// Minutes since midnight (0..=1440).
    pub fn minutes(self) -> u16 {
        self.minutes
    }

    /// True for 24:00, which only makes sense as the end of a range.
    pub fn is_end_of_day(self) -> bool {
        self.minutes == DAY_MINUTES
    }

    fn civil(self) -> civil::Time {
        // 24:00 has no civil::Time; callers handle it as the next day's midnight first.
        let m = self.minutes.min(DAY_MINUTES - 1);
        civil::Time::constant((m / 60) as i8, (m % 60) as i8, 0, 0)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeOfDay::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a time like \"09:00\"")))
    }
}

/// A calendar day (a holiday), "YYYY-MM-DD" on the wire and in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(civil::Date);

impl Date {
    pub fn new(year: i16, month: i8, day: i8) -> Option<Date> {
        civil::Date::new(year, month, day).ok().map(Date)
    }

    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        // jiff's parser accepts more (week dates, signs); a holiday is always Y-M-D.
        let mut parts = s.splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a date like \"2026-12-31\""))
        })
    }
}

/// The opening hours. `week[0]` is Monday, `week[6]` Sunday; each day holds `(open, close)`
/// ranges. A range whose close is not after its open runs overnight (22:00–02:00 is open
/// from 22:00 on that weekday until 02:00 the next morning). A holiday closes every range
/// that starts on it, including the overnight tail into the next day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// IANA zone name, e.g. "Europe/Berlin".
    pub tz: String,
    pub week: [Vec<(TimeOfDay, TimeOfDay)>; 7],
    pub holidays: Vec<Date>,
}

impl BusinessHours {
    /// Check what `is_open` and `next_open` rely on; the error names the field
    /// (`week[2][0]`), for a 422.
    pub fn validate(&self) -> Result<()> {
        if TimeZone::get(&self.tz).is_err() {
            return Err(Error::invalid(
                "tz",
                format!(
                    "{:?} is not a time zone (use an IANA name like Europe/Berlin)",
                    self.tz
                ),
            ));
        }
        for (day, ranges) in self.week.iter().enumerate() {
            if ranges.len() > MAX_RANGES_PER_DAY {
                return Err(Error::invalid(
                    format!("week[{day}]"),
                    format!("at most {MAX_RANGES_PER_DAY} ranges a day"),
                ));
            }
            for (i, (open, close)) in ranges.iter().enumerate() {
                let at = format!("week[{day}][{i}]");
                if open.is_end_of_day() {
                    return Err(Error::invalid(at, "24:00 can only close a range"));
                }
                if open == close {
                    return Err(Error::invalid(
                        at,
                        "opens and closes at the same time (use 00:00–24:00 for all day)",
                    ));
                }
            }
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            return Err(Error::invalid(
                "holidays",
                format!("at most {MAX_HOLIDAYS}"),
            ));
        }
        Ok(())
    }

    /// The zone; an unknown name (which `validate` refuses) counts as UTC rather than
    /// failing a send or a delay at run time.
    fn zone(&self) -> TimeZone {
        TimeZone::get(&self.tz).unwrap_or(TimeZone::UTC)
    }

    fn is_holiday(&self, d: civil::Date) -> bool {
        self.holidays.iter().any(|h| h.0 == d)
    }

    fn ranges(&self, d: civil::Date) -> &[(TimeOfDay, TimeOfDay)] {
        if self.is_holiday(d) {
            return &[];
        }
        let i = usize::from(d.weekday().to_monday_zero_offset().unsigned_abs());
        self.week.get(i).map_or(&[], Vec::as_slice)
    }

    /// Open at `at_ms` (milliseconds since 1970)? Judged on the local wall clock, so during the
    /// repeated hour of an autumn switch both instants of 02:30 count as 02:30.
    pub fn is_open(&self, at_ms: i64) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(at_ms) else {
            return false;
        };
        let local = self.zone().to_datetime(ts);
        let (date, now) = (local.date(), minutes_of(local));
        let today = self.ranges(date).iter().any(|&(o, c)| {
            if o < c {
                o.minutes <= now && now < c.minutes
            } else {
                o.minutes <= now
            }
        });
        let overnight = date.yesterday().is_ok_and(|y| {
            self.ranges(y)
                .iter()
                .any(|&(o, c)| c <= o && now < c.minutes)
        });
        today || overnight
    }

    /// The first instant at or after `at_ms` when it is open: `at_ms` itself when open now,
    /// else the start of the next range. None when no range opens within about a year (no
    /// hours at all, or everything a holiday). An opening inside a spring-forward gap
    /// (02:30 on the night clocks jump from 02:00 to 03:00) resolves to the later offset,
    /// i.e. 03:30 local.
    pub fn next_open(&self, at_ms: i64) -> Option<i64> {
        if self.is_open(at_ms) {
            return Some(at_ms);
        }
        let tz = self.zone();
        let ts = Timestamp::from_millisecond(at_ms).ok()?;
        let start = tz.to_datetime(ts).date();
        let mut day = start;
        for _ in 0..LOOKAHEAD_DAYS {
            let mut best: Option<i64> = None;
            for &(open, _) in self.ranges(day) {
                let dt = DateTime::from_parts(day, open.civil());
                let Ok(when) = tz.to_ambiguous_timestamp(dt).compatible() else {
                    continue;
                };
                let ms = when.as_millisecond();
                if ms > at_ms && best.is_none_or(|b| ms < b) {
                    best = Some(ms);
                }
            }
            if best.is_some() {
                return best;
            }
            day = day.checked_add(1.day()).ok()?;
        }
        None
    }
}

/// The next instant after `at_ms` when the clock in zone `tz` shows `at` (a "delay until
/// 09:00" step): today if that is still ahead, else tomorrow. An unknown zone counts as
/// UTC; a time inside a spring-forward gap resolves to just after it. None only for
/// instants outside jiff's range (far past or future).
pub fn next_time_of_day(tz: &str, at_ms: i64, at: TimeOfDay) -> Option<i64> {
    let zone = TimeZone::get(tz).unwrap_or(TimeZone::UTC);
    let now = Timestamp::from_millisecond(at_ms).ok()?;
    let mut day = zone.to_datetime(now).date();
    // Two days cover "later today" and "tomorrow"; the third is slack for a zone that
    // skipped a calendar day (Samoa, 2011-12-30), where "tomorrow" resolves past a gap.
    for _ in 0..3 {
        let dt = DateTime::from_parts(day, at.civil());
        let ms = zone
            .to_ambiguous_timestamp(dt)
            .compatible()
            .ok()?
            .as_millisecond();
        if ms > at_ms {
            return Some(ms);
        }
        day = day.tomorrow().ok()?;
    }
    None
}

fn minutes_of(dt: DateTime) -> u16 {
    // hour() is 0..=23 and minute() 0..=59, so this fits and is never negative.
    (dt.hour().unsigned_abs() as u16) * 60 + u16::from(dt.minute().unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).expect(s)
    }

    /// Milliseconds of a UTC wall-clock time.
    fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        DateTime::from_parts(
            civil::Date::new(y, mo, d).expect("date"),
            civil::Time::new(h, mi, 0, 0).expect("time"),
        )
        .to_zoned_datetime(TimeZone::UTC)
        .expect("utc")
        .timestamp()
        .as_millisecond()
    }

    fn weekdays(tz: &str, open: &str, close: &str) -> BusinessHours {
        let day = vec![(t(open), t(close))];
        BusinessHours {
            tz: tz.into(),
            week: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                vec![],
                vec![],
            ],
            holidays: vec![],
        }
    }

    #[test]
    fn times_and_dates_parse_and_print() {
        assert_eq!(t("9:00").to_string(), "09:00");
        assert_eq!(t("23:59").minutes(), 23 * 60 + 59);
        assert!(t("24:00").is_end_of_day());
        for bad in [
            "24:01",
            "12:60",
            "noon",
            "1:5",
            "-1:00",
            "12:00:00",
            "",
            "१२:००",
        ] {
            assert!(TimeOfDay::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Date::parse("2026-12-31").expect("date").to_string(),
            "2026-12-31"
        );
        assert!(Date::parse("2026-02-30").is_none());
        assert!(Date::parse("26-1-1").is_none());
    }

    #[test]
    fn serde_is_the_same_strings_in_json_and_postcard() {
        let mut h = weekdays("Europe/Berlin", "09:00", "18:00");
        h.holidays.push(Date::parse("2026-12-25").expect("date"));
        let json = serde_json::to_value(&h).expect("json");
        assert_eq!(json["week"][0][0], serde_json::json!(["09:00", "18:00"]));
        assert_eq!(json["holidays"][0], "2026-12-25");
        let back: BusinessHours = serde_json::from_value(json).expect("from json");
        assert_eq!(back, h);
        let bytes = postcard::to_allocvec(&h).expect("postcard");
        assert_eq!(
            postcard::from_bytes::<BusinessHours>(&bytes).expect("back"),
            h
        );
        let bad = serde_json::json!({"tz": "UTC", "week": [[["9", "18:00"]],[],[],[],[],[],[]], "holidays": []});
        assert!(serde_json::from_value::<BusinessHours>(bad).is_err());
    }

    #[test]
    fn moscow_has_no_daylight_saving() {
        let h = weekdays("Europe/Moscow", "09:00", "18:00");
        // Monday 2026-01-12 and Monday 2026-07-13: 09:00 MSK is 06:00 UTC, winter and summer.
        for (mo, d) in [(1, 12), (7, 13)] {
            assert!(!h.is_open(utc(2026, mo, d, 5, 59)));
            assert!(h.is_open(utc(2026, mo, d, 6, 0)));
            assert!(h.is_open(utc(2026, mo, d, 14, 59)));
            assert!(!h.is_open(utc(2026, mo, d, 15, 0)));
        }
    }

    #[test]
    fn berlin_hours_follow_the_local_clock_across_the_switch() {
        // Every day 09:00–17:00. Clocks go forward on Sunday 2026-03-29 (CET +1 → CEST +2).
        let mut h = weekdays("Europe/Berlin", "09:00", "17:00");
        h.week[5] = h.week[0].clone();
        h.week[6] = h.week[0].clone();
        // Saturday: 08:30 UTC is 09:30 CET, open; 07:30 UTC is 08:30, closed.
        assert!(h.is_open(utc(2026, 3, 28, 8, 30)));
        assert!(!h.is_open(utc(2026, 3, 28, 7, 30)));
        // Monday after: 07:30 UTC is 09:30 CEST, open; 15:30 UTC is 17:30, closed.
        assert!(h.is_open(utc(2026, 3, 30, 7, 30)));
        assert!(!h.is_open(utc(2026, 3, 30, 15, 30)));
        // Saturday evening: the next opening is Sunday 09:00 CEST = 07:00 UTC, not 08:00.
        assert_eq!(
            h.next_open(utc(2026, 3, 28, 18, 0)),
            Some(utc(2026, 3, 29, 7, 0))
        );
        // Back in October (2026-10-25): Monday 09:00 CET is 08:00 UTC again.
        assert_eq!(
            h.next_open(utc(2026, 10, 25, 17, 0)),
            Some(utc(2026, 10, 26, 8, 0))
        );
    }

    #[test]
    fn an_opening_inside_the_spring_gap_moves_to_after_it() {
        let mut h = weekdays("Europe/Berlin", "09:00", "17:00");
        h.week[6] = vec![(t("02:30"), t("05:00"))];
        // 02:30 does not exist on 2026-03-29; it opens at 03:30 CEST = 01:30 UTC.
        assert_eq!(
            h.next_open(utc(2026, 3, 28, 20, 0)),
            Some(utc(2026, 3, 29, 1, 30))
        );
    }

    #[test]
    fn holidays_close_the_day_and_next_open_skips_them() {
        let mut h = weekdays("UTC", "09:00", "18:00");
        h.holidays = vec![
            Date::parse("2026-12-25").expect("d"), // Friday
            Date::parse("2026-12-28").expect("d"), // Monday
        ];
        assert!(!h.is_open(utc(2026, 12, 25, 12, 0)));
        assert!(h.is_open(utc(2026, 12, 24, 12, 0)));
        assert_eq!(
            h.next_open(utc(2026, 12, 24, 18, 0)),
            Some(utc(2026, 12, 29, 9, 0))
        );
        assert_eq!(
            h.next_open(utc(2026, 12, 24, 12, 0)),
            Some(utc(2026, 12, 24, 12, 0))
        );
    }

    #[test]
    fn overnight_ranges_run_into_the_next_morning() {
        let mut h = weekdays("UTC", "09:00", "18:00");
        h.week = Default::default();
        h.week[4] = vec![(t("22:00"), t("02:00"))]; // Friday night
        // Friday 2026-12-04 23:00 and Saturday 01:59 are open; Saturday 02:00 is not.
        assert!(h.is_open(utc(2026, 12, 4, 23, 0)));
        assert!(h.is_open(utc(2026, 12, 5, 1, 59)));
        assert!(!h.is_open(utc(2026, 12, 5, 2, 0)));
        assert!(!h.is_open(utc(2026, 12, 4, 1, 0)));
        assert_eq!(
            h.next_open(utc(2026, 12, 5, 3, 0)),
            Some(utc(2026, 12, 11, 22, 0))
        );
        // A holiday on Friday closes its night too.
        h.holidays = vec![Date::parse("2026-12-04").expect("d")];
        assert!(!h.is_open(utc(2026, 12, 5, 1, 0)));
        // Open until midnight with 24:00.
        h.week[0] = vec![(t("20:00"), t("24:00"))];
        assert!(h.is_open(utc(2026, 12, 7, 23, 59)));
        assert!(!h.is_open(utc(2026, 12, 8, 0, 0)));
    }

    #[test]
    fn delay_until_a_time_of_day_follows_the_zone() {
        // Saturday 2026-03-28 12:00 UTC in Berlin (13:00 CET): next 09:00 is Sunday, after
        // the switch, so 07:00 UTC; next 14:00 is the same day, 13:00 UTC.
        let from = utc(2026, 3, 28, 12, 0);
        assert_eq!(
            next_time_of_day("Europe/Berlin", from, t("09:00")),
            Some(utc(2026, 3, 29, 7, 0))
        );
        assert_eq!(
            next_time_of_day("Europe/Berlin", from, t("14:00")),
            Some(utc(2026, 3, 28, 13, 0))
        );
        // Exactly at the time: the next day's, never "now" twice.
        assert_eq!(
            next_time_of_day("Europe/Moscow", utc(2026, 1, 1, 6, 0), t("09:00")),
            Some(utc(2026, 1, 2, 6, 0))
        );
    }

    #[test]
    fn never_open_and_bad_schedules() {
        let mut h = weekdays("UTC", "09:00", "18:00");
        h.week = Default::default();
        assert_eq!(h.next_open(utc(2026, 1, 1, 0, 0)), None);
        assert!(!h.is_open(utc(2026, 1, 1, 12, 0)));
        let bad = |f: &dyn Fn(&mut BusinessHours)| {
            let mut h = weekdays("Europe/Berlin", "09:00", "18:00");
            f(&mut h);
            h.validate().expect_err("refused").to_string()
        };
        assert!(
            weekdays("Europe/Berlin", "09:00", "18:00")
                .validate()
                .is_ok()
        );
        assert!(bad(&|h| h.tz = "Mars/Olympus".into()).starts_with("tz:"));
        assert!(bad(&|h| h.week[2] = vec![(t("10:00"), t("10:00"))]).starts_with("week[2][0]"));
        assert!(bad(&|h| h.week[1] = vec![(t("24:00"), t("10:00"))]).starts_with("week[1][0]"));
    }
}
