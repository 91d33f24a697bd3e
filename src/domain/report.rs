//! Reports (T3): what counts, decided as messages happen, and the rollups the figures are
//! summed from. Definitions (also shown on the Reports page):
//! - a **conversation** starts with a client message in a chat where nobody wrote for
//!   `CONVERSATION_GAP_MS` (or ever);
//! - **messages in** are client messages; **messages out** are manager and bot messages (notes
//!   and system messages are neither);
//! - a client message **waits** from the first client message that no manager or bot message
//!   followed; the next manager or bot message answers it: its **reply time** is the wait;
//!   the first answer of a conversation is its **first response time**;
//! - **resolution time** is from a dialog's opening to its closing.
//!
//! Rollups are kept per local day × channel × manager (days cut in the business's time zone
//! in force when the message was stored), with client messages per local hour for the busiest
//! hours, so a year's report sums at most 366 rows per channel and manager.

use serde::{Deserialize, Serialize};

/// Quiet time after which a client message starts a new conversation.
pub const CONVERSATION_GAP_MS: i64 = 24 * 3_600_000;

/// Where a chat stands, for the next message's figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatState {
    /// When the last client, manager or bot message was.
    pub last_ms: Option<i64>,
    /// Since when a client message waits for an answer.
    pub waiting_since: Option<i64>,
    /// The current conversation had its first answer.
    pub answered: bool,
}

/// A message as reports see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    In,
    Out,
}

/// What one message adds to the figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub conversation: bool,
    pub first_response_ms: Option<i64>,
    pub reply_ms: Option<i64>,
}

impl ChatState {
    /// Take a message at `at` into account; returns what it counts for.
    pub fn on(&mut self, flow: Flow, at: i64) -> Facts {
        let mut f = Facts::default();
        match flow {
            Flow::In => {
                if self
                    .last_ms
                    .is_none_or(|last| at - last >= CONVERSATION_GAP_MS)
                {
                    f.conversation = true;
                    self.answered = false;
                    self.waiting_since = None;
                }
                if self.waiting_since.is_none() {
                    self.waiting_since = Some(at);
                }
            }
            Flow::Out => {
                if let Some(since) = self.waiting_since.take() {
                    let wait = (at - since).max(0);
                    f.reply_ms = Some(wait);
                    if !self.answered {
                        f.first_response_ms = Some(wait);
                    }
                    self.answered = true;
                }
            }
        }
        self.last_ms = Some(self.last_ms.map_or(at, |l| l.max(at)));
        f
    }
}

/// Durations kept as count, sum and a histogram with ~5 % wide buckets, so the average is
/// exact and the median within a bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub count: u64,
    pub sum_ms: u64,
    /// (bucket, count), sorted by bucket.
    pub buckets: Vec<(u16, u32)>,
}

const GROWTH: f64 = 1.05;

fn bucket(ms: i64) -> u16 {
    let v = (ms.max(0) + 1) as f64;
    (v.ln() / GROWTH.ln()).floor().min(f64::from(u16::MAX)) as u16
}

/// The middle of a bucket, in ms.
fn bucket_value(b: u16) -> i64 {
    let lo = GROWTH.powi(i32::from(b));
    ((lo * GROWTH).sqrt() * lo.sqrt() - 1.0).round().max(0.0) as i64
}

impl Durations {
    pub fn add(&mut self, ms: i64) {
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms.max(0) as u64);
        let b = bucket(ms);
        match self.buckets.binary_search_by_key(&b, |(k, _)| *k) {
            Ok(i) => self.buckets[i].1 += 1,
            Err(i) => self.buckets.insert(i, (b, 1)),
        }
    }
}

/// The figures of one local day × channel × manager.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Client messages per local hour of the day.
    pub hours_in: [u32; 24],
    pub conversations: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub first_response: Durations,
    pub reply: Durations,
    pub resolution: Durations,
}

/// Durations summed over many rollups, with a dense histogram: adding a row costs one pass
/// over its few buckets, whatever the span.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub count: u64,
    pub sum_ms: u64,
    dense: Vec<u64>,
}

impl Tally {
    pub fn add(&mut self, d: &Durations) {
        self.count += d.count;
        self.sum_ms = self.sum_ms.saturating_add(d.sum_ms);
        for &(b, n) in &d.buckets {
            let i = usize::from(b);
            if self.dense.len() <= i {
                self.dense.resize(i + 1, 0);
            }
            self.dense[i] += u64::from(n);
        }
    }

    pub fn merge(&mut self, o: &Tally) {
        self.count += o.count;
        self.sum_ms = self.sum_ms.saturating_add(o.sum_ms);
        if self.dense.len() < o.dense.len() {
            self.dense.resize(o.dense.len(), 0);
        }
        for (a, b) in self.dense.iter_mut().zip(&o.dense) {
            *a += b;
        }
    }

    pub fn avg(&self) -> Option<i64> {
        (self.count > 0).then(|| (self.sum_ms / self.count) as i64)
    }

    /// The median, within ~5 %.
    pub fn p50(&self) -> Option<i64> {
        let half = self.count.div_ceil(2);
        let mut seen = 0u64;
        for (b, n) in self.dense.iter().enumerate() {
            seen += n;
            if *n > 0 && seen >= half {
                return Some(bucket_value(u16::try_from(b).unwrap_or(u16::MAX)));
            }
        }
        None
    }
}

/// The figures of a report's day, channel, manager or whole span.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub hours_in: [u64; 24],
    pub conversations: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub first_response: Tally,
    pub reply: Tally,
    pub resolution: Tally,
}

impl Totals {
    pub fn add(&mut self, r: &Rollup) {
        for (a, b) in self.hours_in.iter_mut().zip(r.hours_in) {
            *a += u64::from(b);
        }
        self.conversations += r.conversations;
        self.messages_in += r.messages_in;
        self.messages_out += r.messages_out;
        self.first_response.add(&r.first_response);
        self.reply.add(&r.reply);
        self.resolution.add(&r.resolution);
    }

    pub fn merge(&mut self, o: &Totals) {
        for (a, b) in self.hours_in.iter_mut().zip(o.hours_in) {
            *a += b;
        }
        self.conversations += o.conversations;
        self.messages_in += o.messages_in;
        self.messages_out += o.messages_out;
        self.first_response.merge(&o.first_response);
        self.reply.merge(&o.reply);
        self.resolution.merge(&o.resolution);
    }
}

/// A time in ms seen in a time zone: its local date ("2026-12-07") and hour.
pub fn local_day_hour(tz: &jiff::tz::TimeZone, ms: i64) -> Option<(String, u8)> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    let dt = tz.to_datetime(ts);
    Some((dt.date().to_string(), dt.hour() as u8))
}

/// The weekday of a local date (0 Monday … 6 Sunday).
pub fn weekday(day: &str) -> Option<u8> {
    let d: jiff::civil::Date = day.parse().ok()?;
    Some(d.weekday().to_monday_zero_offset() as u8)
}

/// Every local date from `from_day` to `to_day` inclusive ("YYYY-MM-DD"), checked; an error
/// names the parameter.
pub fn day_span(from_day: &str, to_day: &str) -> crate::error::Result<Vec<String>> {
    use crate::error::Error;
    let parse = |name: &str, v: &str| {
        v.parse::<jiff::civil::Date>()
            .map_err(|_| Error::invalid(name, format!("{v:?} is not a date (YYYY-MM-DD)")))
    };
    let (a, b) = (parse("from", from_day)?, parse("to", to_day)?);
    if b < a {
        return Err(Error::invalid("to", "is before from"));
    }
    let mut out = Vec::new();
    let mut d = a;
    while d <= b {
        if out.len() > 731 {
            return Err(Error::invalid("to", "a report spans at most two years"));
        }
        out.push(d.to_string());
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// A scripted day in one chat with a fixed clock: every figure as the definitions say.
    #[test]
    fn a_scripted_timeline_counts_as_defined() {
        let t0 = 1_700_000_000_000;
        let mut s = ChatState::default();
        // 10:00 client, 10:01 client again (still the same wait), 10:05 manager → first
        // response and reply 5 min; 10:06 manager again → nothing waits.
        assert_eq!(
            s.on(Flow::In, t0),
            Facts {
                conversation: true,
                ..Facts::default()
            }
        );
        assert_eq!(s.on(Flow::In, t0 + MIN), Facts::default());
        assert_eq!(
            s.on(Flow::Out, t0 + 5 * MIN),
            Facts {
                conversation: false,
                first_response_ms: Some(5 * MIN),
                reply_ms: Some(5 * MIN),
            }
        );
        assert_eq!(s.on(Flow::Out, t0 + 6 * MIN), Facts::default());
        // 11:00 client, 11:02 bot → a reply of 2 min, not a first response.
        s.on(Flow::In, t0 + 60 * MIN);
        assert_eq!(
            s.on(Flow::Out, t0 + 62 * MIN),
            Facts {
                reply_ms: Some(2 * MIN),
                ..Facts::default()
            }
        );
        // The next day after 24 h of quiet: a new conversation, with its own first response.
        let next = t0 + 62 * MIN + CONVERSATION_GAP_MS;
        assert!(s.on(Flow::In, next).conversation);
        assert_eq!(
            s.on(Flow::Out, next + 3 * MIN).first_response_ms,
            Some(3 * MIN)
        );
        // A manager who writes first starts no conversation and answers nothing.
        let mut quiet = ChatState::default();
        assert_eq!(quiet.on(Flow::Out, t0), Facts::default());
        assert!(!quiet.on(Flow::In, t0 + MIN).conversation, "within the gap");
    }

    #[test]
    fn days_are_cut_in_the_business_time_zone() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        // 2026-12-06 23:30 UTC is already Monday 00:30 in Berlin (UTC+1).
        let ms = "2026-12-06T23:30:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond();
        assert_eq!(
            local_day_hour(&berlin, ms).unwrap(),
            ("2026-12-07".to_string(), 0)
        );
        assert_eq!(weekday("2026-12-07"), Some(0));
        assert_eq!(
            day_span("2026-12-30", "2027-01-02").unwrap(),
            vec!["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"]
        );
        assert!(day_span("2026-12-08", "2026-12-07").is_err());
        assert!(day_span("yesterday", "2026-12-07").is_err());
        assert!(day_span("2020-01-01", "2026-01-01").is_err());
    }

    #[test]
    fn durations_give_an_exact_average_and_a_close_median() {
        let tally = |ds: &[&Durations]| {
            let mut t = Tally::default();
            for d in ds {
                t.add(d);
            }
            t
        };
        let mut d = Durations::default();
        for ms in [1_000, 2_000, 3_000, 60_000, 120_000] {
            d.add(ms);
        }
        let one = tally(&[&d]);
        assert_eq!(one.avg(), Some(37_200));
        let p50 = one.p50().unwrap();
        assert!((2_850..=3_150).contains(&p50), "{p50}");
        let mut all = tally(&[&d]);
        all.merge(&tally(&[&d]));
        assert_eq!(
            (all.count, all.avg(), all.p50()),
            (10, Some(37_200), Some(p50))
        );
        assert_eq!(tally(&[&Durations::default()]).p50(), None);
        let mut zero = Durations::default();
        zero.add(0);
        assert_eq!(tally(&[&zero]).p50(), Some(0));
    }
}
