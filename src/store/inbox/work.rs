//! What managers do around a client: tasks, dialogs, notifications, the client log and drafts.

use super::InboxReads;
use super::{k, pair};
use crate::domain::inbox::*;
use crate::error::Result;
use crate::store::tables::*;
use crate::store::{Key, W};

pub fn put_task(w: &W, t: &Task) -> Result<()> {
    w.put(TASKS, &k(t.id), t)?;
    w.put_raw(CONTACT_TASKS, &pair(t.contact_id, t.id), &[])
}

pub fn put_dialog(w: &W, d: &Dialog) -> Result<()> {
    w.put(DIALOGS, &k(d.id), d)?;
    w.put_raw(CONTACT_DIALOGS, &pair(d.contact_id, d.id), &[])
}

pub fn put_notification(w: &W, n: &Notification, was_unread: Option<bool>) -> Result<()> {
    let delta: i64 = match (was_unread, !n.read) {
        (None, true) | (Some(false), true) => 1,
        (Some(true), false) => -1,
        _ => 0,
    };
    if delta != 0 {
        let cur = w.unread_notifications(n.manager_id)? as i64;
        let next = (cur + delta).max(0) as u64;
        w.put_raw(META, &unread_key(n.manager_id), &next.to_be_bytes())?;
    }
    w.put(NOTIFICATIONS, &pair(n.manager_id, n.id), n)
}

pub fn add_log(
    w: &W,
    contact_id: u64,
    event: &str,
    text: &str,
    manager_id: Option<u64>,
    now: i64,
) -> Result<LogEntry> {
    let e = LogEntry {
        id: w.next_id("log")?,
        contact_id,
        created_ms: now,
        event: event.to_string(),
        text: text.to_string(),
        manager_id,
    };
    w.put(CONTACT_LOG, &pair(contact_id, e.id), &e)?;
    Ok(e)
}

pub fn put_draft(w: &W, manager_id: u64, chat_id: u64, d: Option<&Draft>) -> Result<()> {
    let key = pair(manager_id, chat_id);
    match d {
        Some(d) => w.put(DRAFTS, &key, d),
        None => w.del(DRAFTS, &key).map(|_| ()),
    }
}

pub(super) fn unread_key(manager_id: u64) -> Vec<u8> {
    Key::new().str("notif_unread").u64(manager_id).build()
}
