//! Reports (T3): figures recorded as messages happen (in the transaction that stores each
//! one), summed per day, channel and manager when asked. The definitions are in
//! `domain::report`; a report reads only the rollups of the hours it spans, never history.

use std::collections::BTreeMap;

use super::Inbox;
use crate::domain::inbox::{Dialog, Kind, Message};
use crate::domain::report::{self as rep, Flow, Totals};
use crate::error::Result;
use crate::store::W;
use crate::store::inbox::InboxReads;
use crate::store::prelude::*;
use crate::store::reports as db_rep;

thread_local! {
    /// The zone by name, so a message does not look it up in the bundled database again.
    static ZONE: std::cell::RefCell<Option<(String, jiff::tz::TimeZone)>> =
        const { std::cell::RefCell::new(None) };
}

/// The time zone days are cut in: the one the store was told at start (UTC if none).
fn zone(w: &W) -> Result<jiff::tz::TimeZone> {
    let name = db_rep::time_zone(w)?.unwrap_or_else(|| "UTC".into());
    Ok(ZONE.with(|z| {
        let mut z = z.borrow_mut();
        match &*z {
            Some((n, tz)) if *n == name => tz.clone(),
            _ => {
                let tz = jiff::tz::TimeZone::get(&name).unwrap_or(jiff::tz::TimeZone::UTC);
                *z = Some((name, tz.clone()));
                tz
            }
        }
    }))
}

/// Count a message just stored (a client, manager or bot one; notes and system messages do
/// not count).
pub(crate) fn record_message(w: &W, contact_id: u64, m: &Message) -> Result<()> {
    let flow = match m.kind {
        Kind::Client => Flow::In,
        Kind::Manager | Kind::Bot => Flow::Out,
        Kind::Note | Kind::System => return Ok(()),
    };
    let channel = w.chat(m.chat_id)?.map(|c| c.channel_id).unwrap_or_default();
    let mut state = db_rep::chat_state(w, m.chat_id)?;
    let facts = state.on(flow, m.created_ms);
    db_rep::put_chat_state(w, m.chat_id, &state)?;
    // A client's message counts for their responsible manager; an answer for whoever wrote
    // it (0: a bot or nobody).
    let manager = match flow {
        Flow::In => w.contact(contact_id)?.and_then(|c| c.assignee).unwrap_or(0),
        Flow::Out => m.author.unwrap_or(0),
    };
    let Some((day, hour)) = rep::local_day_hour(&zone(w)?, m.created_ms) else {
        return Ok(());
    };
    db_rep::add(w, &day, &channel, manager, |r| {
        match flow {
            Flow::In => {
                r.messages_in += 1;
                r.hours_in[usize::from(hour.min(23))] += 1;
            }
            Flow::Out => r.messages_out += 1,
        }
        if facts.conversation {
            r.conversations += 1;
        }
        if let Some(ms) = facts.first_response_ms {
            r.first_response.add(ms);
        }
        if let Some(ms) = facts.reply_ms {
            r.reply.add(ms);
        }
    })
}

/// Count a dialog just closed: its resolution time, for the manager who had it, in the
/// client's latest chat's channel.
pub(crate) fn record_resolution(w: &W, d: &Dialog) -> Result<()> {
    let Some(closed) = d.closed_ms else {
        return Ok(());
    };
    let channel = w
        .contact_chats(d.contact_id)?
        .into_iter()
        .max_by_key(|c| c.last_activity_ms)
        .map(|c| c.channel_id)
        .unwrap_or_default();
    let Some((day, _)) = rep::local_day_hour(&zone(w)?, closed) else {
        return Ok(());
    };
    db_rep::add(w, &day, &channel, d.manager_id, |r| {
        r.resolution.add(closed - d.opened_ms)
    })
}

/// What a report is asked for.
pub struct ReportQuery {
    /// Local days, inclusive ("YYYY-MM-DD").
    pub from: String,
    pub to: String,
    pub channel: Option<String>,
    pub manager: Option<u64>,
}

/// A report's figures.
pub struct Report {
    pub time_zone: String,
    pub total: Totals,
    /// Every day of the span, in order (days without activity included).
    pub by_day: Vec<(String, Totals)>,
    pub by_channel: Vec<(String, Totals)>,
    /// (manager id, name; 0 is "bot or nobody"), figures.
    pub by_manager: Vec<(u64, String, Totals)>,
    /// Client messages by local weekday (0 Monday) × hour.
    pub heatmap: [[u64; 24]; 7],
}

impl Inbox {
    /// Tell the store which time zone cuts report days from now on: the business's, or UTC.
    pub async fn set_report_time_zone(&self) -> Result<()> {
        let name = self
            .business
            .as_ref()
            .map_or("UTC".to_string(), |b| b.hours.tz.clone());
        self.store
            .write(move |w| {
                if db_rep::time_zone(w)?.as_deref() != Some(name.as_str()) {
                    db_rep::set_time_zone(w, &name)?;
                }
                Ok(())
            })
            .await
    }

    /// Sum the rollups of the span's local days.
    pub async fn report(&self, q: ReportQuery) -> Result<Report> {
        let days = rep::day_span(&q.from, &q.to)?;
        self.store
            .query(move |r| {
                let time_zone = db_rep::time_zone(r)?.unwrap_or_else(|| "UTC".into());
                let mut total = Totals::default();
                // Every day of the span, so a chart has its gaps.
                let mut by_day: Vec<(String, Totals)> = days
                    .iter()
                    .map(|d| (d.clone(), Totals::default()))
                    .collect();
                let mut channels: BTreeMap<String, Totals> = BTreeMap::new();
                let mut managers: BTreeMap<u64, Totals> = BTreeMap::new();
                let mut heatmap = [[0u64; 24]; 7];
                let mut at = 0usize;
                db_rep::rows(r, &q.from, &q.to, |row| {
                    if q.channel.as_ref().is_some_and(|c| *c != row.channel)
                        || q.manager.is_some_and(|m| m != row.manager)
                    {
                        return;
                    }
                    // Rows come in day order, so the day's slot is at or after the last one.
                    while at < by_day.len() && by_day[at].0 < row.day {
                        at += 1;
                    }
                    let Some((_, slot)) = by_day.get_mut(at).filter(|(d, _)| *d == row.day) else {
                        return;
                    };
                    let f = &row.figures;
                    slot.add(f);
                    match channels.get_mut(&row.channel) {
                        Some(c) => c.add(f),
                        None => {
                            let mut t = Totals::default();
                            t.add(f);
                            channels.insert(row.channel.clone(), t);
                        }
                    }
                    managers.entry(row.manager).or_default().add(f);
                })?;
                // The span and the busiest hours from the days: one merge per day.
                for (day, t) in &by_day {
                    total.merge(t);
                    if let Some(wd) = rep::weekday(day) {
                        for (h, n) in t.hours_in.iter().enumerate() {
                            heatmap[usize::from(wd.min(6))][h] += n;
                        }
                    }
                }
                let mut by_manager = Vec::with_capacity(managers.len());
                for (id, f) in managers {
                    let name = match id {
                        0 => String::new(),
                        id => r.manager(id)?.map(|m| m.name).unwrap_or_default(),
                    };
                    by_manager.push((id, name, f));
                }
                Ok(Report {
                    time_zone,
                    total,
                    by_day,
                    by_channel: channels.into_iter().collect(),
                    by_manager,
                    heatmap,
                })
            })
            .await
    }
}
