//! Assignment (T1): a client's responsible manager, set by a manager, a funnel step or a
//! channel's rule. Automatic assignment is decided inside the write transaction that stores
//! the client's message, so two new clients at once are counted one after the other and a
//! manager's cap holds; "online" is a manager with an open WebSocket (`realtime::Hub`).

use super::{Channels, Inbox, emit_row, notification_view};
use crate::config::AssignMode;
use crate::domain::event::Event;
use crate::domain::inbox::{Chat, Contact, Notification};
use crate::error::{Error, Result};
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W, meta};

/// Clients a manager coming online takes at most in one go (they are handed over in
/// transactions of `TAKE_BATCH`, so other writes wait for one batch at most).
const TAKE_MAX: usize = 500;
const TAKE_BATCH: usize = 50;
/// Waiting clients looked at per batch (oldest unread first) to find unassigned ones.
const TAKE_SCAN: usize = 2_000;
/// Open conversations counted at most per manager: beyond any sensible cap.
const COUNT_LIMIT: usize = 100_000;

/// Who made an assignment, for the history and the client log.
#[derive(Clone, Copy)]
pub(crate) enum By<'a> {
    /// A manager ("Anna") or a funnel ("Funnel Leads").
    Named(&'a str),
    /// A channel's rule ("round robin", "fewest open", "came online").
    Rule(&'a str),
}

/// Make `to` the client's responsible manager (T1), or nobody: a system message in their
/// latest chat, a client-log entry, and a notification for the new one unless they did it
/// themselves. `who` says who did it (a manager, a funnel, the channel's rule). The caller stores the
/// contact, and `chat` when it passes one (the message goes there instead). A manager who
/// does not exist or is disabled is a 422 on `assignee`.
pub(crate) fn assign(
    w: &W,
    c: &mut Contact,
    to: Option<u64>,
    by: Option<u64>,
    who: By<'_>,
    chat: Option<&mut Chat>,
) -> Result<()> {
    let now = store::now_ms();
    let text = match to {
        Some(id) => {
            let m = w
                .manager(id)?
                .filter(|m| !m.disabled)
                .ok_or_else(|| Error::invalid("assignee", format!("no active manager {id}")))?;
            match who {
                By::Named(who) => format!("{who} assigned the client to {}", m.name),
                By::Rule(how) => format!("Assigned to {} automatically ({how})", m.name),
            }
        }
        None => {
            let was = match c.assignee {
                Some(id) => super::manager_name(w, id)?,
                None => return Ok(()),
            };
            match who {
                By::Named(who) => format!("{who} unassigned the client (was {was})"),
                By::Rule(how) => format!("Unassigned automatically ({how}; was {was})"),
            }
        }
    };
    c.assignee = to;
    db::add_log(w, c.id, "assigned", &text, by, now)?;
    let mut latest = None;
    let own = chat.is_none();
    let chat = match chat {
        Some(ch) => ch,
        None => match w
            .contact_chats(c.id)?
            .into_iter()
            .max_by_key(|ch| ch.last_activity_ms)
        {
            Some(ch) => latest.insert(ch),
            None => return Ok(()),
        },
    };
    let m = super::append_system_message(w, chat, c, "assigned", &text, by, now)?;
    if own {
        db::put_chat(w, chat)?;
    }
    if let Some(id) = to
        && Some(id) != by
    {
        let n = Notification {
            id: w.next_id("notification")?,
            manager_id: id,
            chat_id: chat.id,
            contact_id: c.id,
            message_id: m.id,
            from: by.unwrap_or(0),
            text,
            read: false,
            created_ms: now,
        };
        db::put_notification(w, &n, None)?;
        let view = notification_view(w, &n)?;
        w.emit(Some(id), Event::NotificationCreated(view))?;
    }
    Ok(())
}

/// The manager the chat's channel rule picks among `online` (ids, sorted), if any: active,
/// under the channel's cap; round robin goes on from the last one it picked on this channel,
/// fewest open takes the one with the fewest open conversations (then the lowest id).
fn pick(
    w: &W,
    channels: &Channels,
    online: &[u64],
    chat: &Chat,
) -> Result<Option<(u64, &'static str)>> {
    let Some(cfg) = channels.get(&chat.channel_id) else {
        return Ok(None);
    };
    let how = match cfg.assign {
        AssignMode::Off => return Ok(None),
        AssignMode::RoundRobin => "round robin",
        AssignMode::FewestOpen => "fewest open",
    };
    let mut candidates: Vec<(u64, u64)> = Vec::new();
    for &id in online {
        if w.manager(id)?.is_none_or(|m| m.disabled) {
            continue;
        }
        let open = db::open_conversations(w, id, COUNT_LIMIT)?;
        if cfg.assign_cap.is_some_and(|cap| open >= u64::from(cap)) {
            continue;
        }
        candidates.push((id, open));
    }
    let chosen = match cfg.assign {
        AssignMode::FewestOpen => candidates.iter().min_by_key(|(id, open)| (*open, *id)),
        _ => {
            let key = format!("assign_rr:{}", chat.channel_id);
            let last = meta::get(w, key.as_bytes())?
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map_or(0, u64::from_be_bytes);
            let next = candidates
                .iter()
                .find(|(id, _)| *id > last)
                .or_else(|| candidates.first());
            if let Some((id, _)) = next {
                meta::put(w, key.as_bytes(), &id.to_be_bytes())?;
            }
            next
        }
    };
    Ok(chosen.map(|(id, _)| (*id, how)))
}

/// Give an unassigned client whose message just came in to a manager by the channel's rule.
/// Nobody online (or everyone at the cap): the client stays unassigned until a manager comes
/// online (`Inbox::take_waiting`).
pub(crate) fn auto_assign(
    w: &W,
    channels: &Channels,
    online: &[u64],
    chat: &mut Chat,
    contact: &mut Contact,
) -> Result<()> {
    if contact.assignee.is_some() || online.is_empty() {
        return Ok(());
    }
    if let Some((id, how)) = pick(w, channels, online, chat)? {
        assign(w, contact, Some(id), None, By::Rule(how), Some(chat))?;
    }
    Ok(())
}

impl Inbox {
    /// A manager came online: they take the unassigned clients who wrote meanwhile in
    /// channels with automatic assignment (oldest first), up to the channel's cap. Returns
    /// how many they took.
    pub async fn take_waiting(&self, manager: u64) -> Result<usize> {
        let mut taken = 0;
        let mut after: Option<Vec<u8>> = None;
        while taken < TAKE_MAX {
            let channels = self.channels.clone();
            let from = after.clone();
            let (n, next) = self
                .store
                .write(move |w| {
                    if w.manager(manager)?.is_none_or(|m| m.disabled) {
                        return Ok((0, None));
                    }
                    let rows = db::unread_oldest(w, from.as_deref(), TAKE_SCAN)?;
                    let next = (rows.len() == TAKE_SCAN)
                        .then(|| rows.last().map(|(k, _)| k.clone()))
                        .flatten();
                    let mut n = 0;
                    let mut prev: Option<Vec<u8>> = from.clone();
                    for (key, id) in rows {
                        if n >= TAKE_BATCH {
                            // Go on from the last one looked at, in the next transaction.
                            return Ok((n, prev));
                        }
                        prev = Some(key);
                        let Some(old) = w.contact(id)? else { continue };
                        if old.assignee.is_some() || old.archived {
                            continue;
                        }
                        let Some(mut chat) = w
                            .contact_chats(id)?
                            .into_iter()
                            .max_by_key(|ch| ch.last_inbound_ms)
                        else {
                            continue;
                        };
                        let Some(cfg) = channels.get(&chat.channel_id) else {
                            continue;
                        };
                        if cfg.assign == AssignMode::Off {
                            continue;
                        }
                        if let Some(cap) = cfg.assign_cap
                            && db::open_conversations(w, manager, COUNT_LIMIT)? >= u64::from(cap)
                        {
                            continue;
                        }
                        let mut c = old.clone();
                        assign(
                            w,
                            &mut c,
                            Some(manager),
                            None,
                            By::Rule("came online"),
                            Some(&mut chat),
                        )?;
                        db::put_chat(w, &chat)?;
                        db::put_contact(w, Some(&old), &c)?;
                        w.emit(None, Event::ContactUpdated(c.clone()))?;
                        emit_row(w, &c, &channels)?;
                        n += 1;
                    }
                    Ok((n, next))
                })
                .await?;
            taken += n;
            match next {
                Some(k) => after = Some(k),
                None => break,
            }
        }
        Ok(taken)
    }
}
