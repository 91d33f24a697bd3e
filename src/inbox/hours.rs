//! Business hours (B4) in use: `[business_hours]` read and checked at start, and the away
//! reply a client gets when writing while the business is closed. Funnels' "until business
//! hours" and "until 09:00" delays read the same hours (`automation`).

use super::automation::{manager_name, queue_bot};
use crate::config::BusinessHoursConfig;
use crate::domain::automation as auto;
use crate::domain::hours::{BusinessHours, Date, TimeOfDay};
use crate::domain::inbox::{Chat, Contact};
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::W;

/// The business's hours and away reply (B4), from `[business_hours]`.
#[derive(Clone, Debug)]
pub struct Business {
    pub hours: BusinessHours,
    pub away_message: Option<String>,
}

impl Business {
    /// Read `[business_hours]`; an error names the key (the server does not start).
    pub fn from_config(c: &BusinessHoursConfig) -> Result<Business> {
        let bad = |key: String, why: String| Error::Config(format!("business_hours.{key}: {why}"));
        let days = [
            ("monday", &c.monday),
            ("tuesday", &c.tuesday),
            ("wednesday", &c.wednesday),
            ("thursday", &c.thursday),
            ("friday", &c.friday),
            ("saturday", &c.saturday),
            ("sunday", &c.sunday),
        ];
        let mut week: [Vec<(TimeOfDay, TimeOfDay)>; 7] = Default::default();
        for (i, (name, ranges)) in days.iter().enumerate() {
            for (j, r) in ranges.iter().enumerate() {
                let parsed = r.split_once('-').and_then(|(a, b)| {
                    Some((TimeOfDay::parse(a.trim())?, TimeOfDay::parse(b.trim())?))
                });
                match parsed {
                    Some(p) => week[i].push(p),
                    None => {
                        return Err(bad(
                            format!("{name}[{j}]"),
                            format!("{r:?} is not a range like \"09:00-18:00\""),
                        ));
                    }
                }
            }
        }
        let mut holidays = Vec::new();
        for (j, d) in c.holidays.iter().enumerate() {
            holidays.push(Date::parse(d).ok_or_else(|| {
                bad(
                    format!("holidays[{j}]"),
                    format!("{d:?} is not a date like \"2026-12-31\""),
                )
            })?);
        }
        let hours = BusinessHours {
            tz: c.time_zone.clone(),
            week,
            holidays,
        };
        hours.validate().map_err(|e| match e {
            Error::Invalid { field, message } => {
                let field = field.replace("tz", "time_zone");
                bad(field, message)
            }
            other => other,
        })?;
        let away_message = c
            .away_message
            .as_deref()
            .map(|m| normalise::text(m, 4096))
            .filter(|m| !m.is_empty());
        if let Some(m) = &away_message {
            auto::check_template(m).map_err(|why| bad("away_message".into(), why))?;
        }
        Ok(Business {
            hours,
            away_message,
        })
    }
}

/// The away reply (B4) to a client who writes while the business is closed: once per closed
/// period (not again until the hours have opened since the last one), never to a chat that
/// takes no bot messages. Returns whether one was queued.
pub(crate) fn away_reply(
    w: &W,
    business: &Business,
    chat: &mut Chat,
    contact: &mut Contact,
    now: i64,
) -> Result<bool> {
    let Some(text) = &business.away_message else {
        return Ok(false);
    };
    if business.hours.is_open(now)
        || chat.disabled
        || chat.bot_disabled
        || chat.unreachable
        || contact.blacklisted
    {
        return Ok(false);
    }
    let key = crate::store::codec::Key::new()
        .str("away_reply")
        .u64(chat.id)
        .build();
    let last =
        crate::store::meta::get(w, &key)?.and_then(|b| crate::store::codec::read_i64(&b, 0).ok());
    if !away_again(&business.hours, last, now) {
        return Ok(false);
    }
    let body = normalise::text(
        &auto::render(
            text,
            &auto::Vars::of(contact, manager_name(w, contact)?.as_deref()),
        ),
        crate::domain::inbox::MAX_MESSAGE_TEXT,
    );
    if body.is_empty() {
        return Ok(false);
    }
    queue_bot(w, chat, contact, body, "away_reply", now)?;
    let stamp = crate::store::codec::Key::new().i64(now).build();
    crate::store::meta::put(w, &key, &stamp)?;
    Ok(true)
}

/// Whether a closed period has begun since the last away reply (`last`): the hours opened
/// at some point after it, and it is closed now.
fn away_again(hours: &BusinessHours, last: Option<i64>, now: i64) -> bool {
    if hours.is_open(now) {
        return false;
    }
    match last {
        None => true,
        Some(last) => hours.next_open(last).is_some_and(|opened| opened <= now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn the_away_reply_comes_once_per_closed_period() {
        let c = BusinessHoursConfig {
            time_zone: "Europe/Moscow".into(),
            monday: vec!["09:00-18:00".into()],
            tuesday: vec!["09:00-18:00".into()],
            away_message: Some("We answer from 9:00, {client.name}".into()),
            ..Default::default()
        };
        let b = Business::from_config(&c).unwrap();
        let h = &b.hours;
        // Monday 2026-12-07, Moscow is UTC+3.
        let mon_evening = ms("2026-12-07T17:00:00Z"); // 20:00 local
        assert!(
            away_again(h, None, mon_evening),
            "first message after closing"
        );
        assert!(
            !away_again(h, Some(mon_evening), ms("2026-12-07T19:00:00Z")),
            "not again the same night"
        );
        assert!(
            !away_again(h, None, ms("2026-12-07T08:00:00Z")),
            "never while open (11:00 local)"
        );
        assert!(
            away_again(h, Some(mon_evening), ms("2026-12-08T16:00:00Z")),
            "Tuesday evening: the hours opened since"
        );
    }

    #[test]
    fn business_hours_config_errors_name_the_key() {
        let bad = |c: BusinessHoursConfig| Business::from_config(&c).unwrap_err().to_string();
        let base = BusinessHoursConfig {
            time_zone: "Europe/Moscow".into(),
            ..Default::default()
        };
        let e = bad(BusinessHoursConfig {
            friday: vec!["9 to 5".into()],
            ..base.clone()
        });
        assert!(e.contains("business_hours.friday[0]"), "{e}");
        let e = bad(BusinessHoursConfig {
            time_zone: "Mars/Olympus".into(),
            ..base.clone()
        });
        assert!(e.contains("business_hours.time_zone"), "{e}");
        let e = bad(BusinessHoursConfig {
            holidays: vec!["31.12.2026".into()],
            ..base.clone()
        });
        assert!(e.contains("business_hours.holidays[0]"), "{e}");
        let e = bad(BusinessHoursConfig {
            away_message: Some("Hi {client.nmae}".into()),
            ..base
        });
        assert!(e.contains("business_hours.away_message"), "{e}");
    }
}
