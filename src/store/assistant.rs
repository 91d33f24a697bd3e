//! The AI assistant's state per chat and its usage (B2). An owed answer has one row in
//! `ASSISTANT_DUE` keyed by when it is due, so the worker reads only the next few however
//! many chats wait; `put_chat_state` keeps that index in step with the state.

use super::inbox::InboxReads;
use super::tables::*;
use super::{Key, Read, Record, W, codec};
use crate::domain::assistant::{ChatState, Stats};
use crate::error::Result;

impl Record for ChatState {
    const NAME: &'static str = "assistant chat";
}

impl Record for Stats {
    const NAME: &'static str = "assistant stats";
}

fn due_key(due_ms: i64, chat: u64) -> Vec<u8> {
    Key::new().i64(due_ms).u64(chat).build()
}

/// A chat's state (a fresh one when the assistant never saw the chat).
pub fn chat_state<T: Read>(r: &T, chat_id: u64) -> Result<ChatState> {
    Ok(r.get(ASSISTANT_CHATS, &codec::u64_key(chat_id))?
        .unwrap_or(ChatState {
            chat_id,
            ..ChatState::default()
        }))
}

/// Store a chat's state and move its due row; `old` is the state as read before.
pub fn put_chat_state(w: &W, old: &ChatState, s: &ChatState) -> Result<()> {
    if let Some(j) = &old.job {
        w.del(ASSISTANT_DUE, &due_key(j.due_ms, old.chat_id))?;
    }
    if let Some(j) = &s.job {
        w.put_raw(ASSISTANT_DUE, &due_key(j.due_ms, s.chat_id), &[])?;
    }
    w.put(ASSISTANT_CHATS, &codec::u64_key(s.chat_id), s)
}

/// Chats whose answer is due at `now`, soonest first.
pub fn due<T: Read>(r: &T, now: i64, limit: usize) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for (key, _) in r.scan(ASSISTANT_DUE, &[], None, false, limit)? {
        if codec::read_i64(&key, 0)? > now {
            break;
        }
        out.push(codec::read_u64(&key, 8)?);
    }
    Ok(out)
}

/// When the next answer is due.
pub fn next_due<T: Read>(r: &T) -> Result<Option<i64>> {
    match r.scan(ASSISTANT_DUE, &[], None, false, 1)?.first() {
        Some((key, _)) => Ok(Some(codec::read_i64(key, 0)?)),
        None => Ok(None),
    }
}

pub fn stats<T: Read>(r: &T, assistant: &str) -> Result<Stats> {
    Ok(r.get(ASSISTANT_STATS, &Key::new().str(assistant).build())?
        .unwrap_or_default())
}

pub fn put_stats(w: &W, assistant: &str, s: &Stats) -> Result<()> {
    w.put(ASSISTANT_STATS, &Key::new().str(assistant).build(), s)
}

/// Every chat the assistant has served, up to `limit` (Settings sorts them).
pub fn chat_states<T: Read>(r: &T, limit: usize) -> Result<Vec<ChatState>> {
    r.values(ASSISTANT_CHATS, &[], false, limit)
}

/// The assistant was reset, switched off or switched to another one in `chat_id`: it owes
/// no answer any more, and a reset starts its history after the chat's newest message.
pub fn on_switch(w: &W, chat_id: u64, reset: bool) -> Result<()> {
    let old = chat_state(w, chat_id)?;
    let mut s = old.clone();
    s.job = None;
    if reset {
        s.since_msg = w.history(chat_id, None, 1)?.0.last().map_or(0, |m| m.id);
        s.paused_until_ms = 0;
        s.hour_start_ms = 0;
        s.hour_replies = 0;
    }
    put_chat_state(w, &old, &s)
}
