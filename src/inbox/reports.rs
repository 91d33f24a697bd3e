//! Reports (T3): figures recorded as messages happen (in the transaction that stores each
//! one), summed per day, channel and manager when asked. The definitions are in
//! `domain::report`; a report reads only the rollups of the hours it spans, never history.

use std::collections::{BTreeMap, HashMap};

use super::Inbox;
use crate::domain::inbox::{Dialog, Kind, Message};
use crate::domain::report::{self as rep, Flow, Rollup};
use crate::error::Result;
use crate::store::W;
use crate::store::inbox::InboxReads;
use crate::store::prelude::*;
use crate::store::reports as db_rep;

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
    db_rep::add(w, rep::hour_of(m.created_ms), &channel, manager, |r| {
        match flow {
            Flow::In => r.messages_in += 1,
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
    db_rep::add(w, rep::hour_of(closed), &channel, d.manager_id, |r| {
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
    pub total: Rollup,
    /// Every day of the span, in order (days without activity included).
    pub by_day: Vec<(String, Rollup)>,
    pub by_channel: Vec<(String, Rollup)>,
    /// (manager id, name; 0 is "bot or nobody"), figures.
    pub by_manager: Vec<(u64, String, Rollup)>,
    /// Client messages by local weekday (0 Monday) × hour.
    pub heatmap: [[u64; 24]; 7],
}

impl Inbox {
    /// Sum the rollups of the span in the business's time zone (UTC without one).
    pub async fn report(&self, q: ReportQuery) -> Result<Report> {
        let tz_name = self
            .business
            .as_ref()
            .map_or("UTC".to_string(), |b| b.hours.tz.clone());
        let tz = jiff::tz::TimeZone::get(&tz_name).unwrap_or(jiff::tz::TimeZone::UTC);
        let (from, to) = rep::day_span(&tz, &q.from, &q.to)?;
        self.store
            .query(move |r| {
                let mut total = Rollup::default();
                let mut days: BTreeMap<String, Rollup> = BTreeMap::new();
                let mut channels: BTreeMap<String, Rollup> = BTreeMap::new();
                let mut managers: BTreeMap<u64, Rollup> = BTreeMap::new();
                let mut heatmap = [[0u64; 24]; 7];
                let mut local: HashMap<i64, Option<(String, u8, u8)>> = HashMap::new();
                // Every day of the span, so a chart has its gaps.
                let mut h = from;
                while h < to {
                    if let Some((day, _, _)) = rep::local_hour(&tz, h) {
                        days.entry(day).or_default();
                    }
                    h += 24;
                }
                if let Some((day, _, _)) = rep::local_hour(&tz, to - 1) {
                    days.entry(day).or_default();
                }
                db_rep::rows(r, from, to, |row| {
                    if q.channel.as_ref().is_some_and(|c| *c != row.channel)
                        || q.manager.is_some_and(|m| m != row.manager)
                    {
                        return;
                    }
                    let Some((day, weekday, hour)) = local
                        .entry(row.hour)
                        .or_insert_with(|| rep::local_hour(&tz, row.hour))
                        .clone()
                    else {
                        return;
                    };
                    let f = &row.figures;
                    total.merge(f);
                    days.entry(day).or_default().merge(f);
                    channels.entry(row.channel.clone()).or_default().merge(f);
                    managers.entry(row.manager).or_default().merge(f);
                    heatmap[usize::from(weekday.min(6))][usize::from(hour.min(23))] +=
                        f.messages_in;
                })?;
                let mut by_manager = Vec::with_capacity(managers.len());
                for (id, f) in managers {
                    let name = match id {
                        0 => String::new(),
                        id => r.manager(id)?.map(|m| m.name).unwrap_or_default(),
                    };
                    by_manager.push((id, name, f));
                }
                Ok(Report {
                    time_zone: tz_name,
                    total,
                    by_day: days.into_iter().collect(),
                    by_channel: channels.into_iter().collect(),
                    by_manager,
                    heatmap,
                })
            })
            .await
    }
}
