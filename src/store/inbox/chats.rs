//! Chats: one per client per channel, found again by the client's id on the channel.

use super::*;
use crate::store::{Key, W};

pub fn put_chat(w: &W, c: &Chat) -> Result<()> {
    w.put(CHATS, &k(c.id), c)
}

/// Create a chat of `contact` on a channel (the caller stores the contact afterwards).
pub fn new_chat(w: &W, contact: &mut Contact, mut chat: Chat) -> Result<Chat> {
    chat.id = w.next_id("chat")?;
    chat.contact_id = contact.id;
    put_chat(w, &chat)?;
    w.put_raw(CONTACT_CHATS, &pair(contact.id, chat.id), &[])?;
    let key = Key::new()
        .str(&chat.channel_id)
        .str(&chat.external_id)
        .build();
    w.put_raw(CHANNEL_CHATS, &key, &k(chat.id))?;
    contact.chat_count += 1;
    Ok(chat)
}

/// How many chats are stored.
pub fn chat_count<T: Read>(r: &T) -> Result<u64> {
    r.len(CHATS)
}
