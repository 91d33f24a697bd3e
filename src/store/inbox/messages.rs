//! Messages of a chat, and the platform ids they are found again by (dedupe, receipts).

use super::*;
use crate::store::{Key, W};

/// Append a message to a chat, updating the chat's and contact's activity and unread counts.
/// The caller stores `chat` and `contact` (with `put_chat`/`put_contact`) afterwards.
pub fn append_message(
    w: &W,
    chat: &mut Chat,
    contact: &mut Contact,
    mut m: Message,
) -> Result<Message> {
    m.id = w.next_id("message")?;
    m.chat_id = chat.id;
    if m.kind.is_activity() {
        chat.last_activity_ms = m.created_ms;
        chat.last_message = Some(m.id);
        contact.last_activity_ms = contact.last_activity_ms.max(m.created_ms);
    }
    if m.kind == Kind::Client {
        chat.unread += 1;
        contact.unread += 1;
        chat.last_inbound_ms = m.created_ms;
    }
    w.put(MESSAGES, &pair(chat.id, m.id), &m)?;
    w.put_raw(MESSAGE_CHATS, &k(m.id), &k(chat.id))?;
    for a in &m.attachments {
        keep_blob(w, &a.sha256)?;
    }
    if !m.text.is_empty() && m.kind != Kind::System {
        crate::store::search_log::message(w, chat.id, m.id)?;
    }
    Ok(m)
}

/// Store a changed message (status, edit). Only text changes concern search.
pub fn put_message(w: &W, m: &Message) -> Result<()> {
    if let Some(old) = w.message(m.chat_id, m.id)?
        && old.text != m.text
    {
        crate::store::search_log::message(w, m.chat_id, m.id)?;
    }
    w.put(MESSAGES, &pair(m.chat_id, m.id), m)
}

pub fn remember_ext_message(
    w: &W,
    channel_id: &str,
    external: &str,
    msg_id: u64,
    chat_id: u64,
) -> Result<()> {
    let key = Key::new().str(channel_id).str(external).build();
    w.put_raw(EXT_MESSAGES, &key, &pair(msg_id, chat_id))
}

/// How many messages are stored.
pub fn message_count<T: Read>(r: &T) -> Result<u64> {
    r.len(MESSAGES)
}

/// Up to `limit` messages in key order (by chat, then id) after the key `after`, each with
/// its key.
pub fn messages_after<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Message)>> {
    r.scan(MESSAGES, &[], after, false, limit)?
        .into_iter()
        .map(|(k, v)| Ok((k, codec::decode::<Message>(&v)?)))
        .collect()
}
