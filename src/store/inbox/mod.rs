//! Storage of the inbox aggregates and their indexes. Every function that changes a contact
//! goes through `put_contact`, which keeps the list sections and the phone/e-mail indexes in
//! step within the same transaction, so counts and order are never recomputed by scanning.

use super::tables::*;
use super::{Key, Read, Record, codec};
use crate::domain::inbox::*;
use crate::error::{Error, Result};

mod chats;
mod contacts;
mod files;
mod merge;
mod messages;
mod orders;
mod outbox;
mod tokens;
mod visitors;
mod work;

pub use chats::*;
pub use contacts::*;
pub use files::*;
pub use merge::*;
pub use messages::*;
pub use orders::*;
pub use outbox::*;
pub use tokens::*;
pub use visitors::*;
pub use work::*;

macro_rules! record {
    ($($t:ty => $n:literal),* $(,)?) => {$(
        impl Record for $t {
            const NAME: &'static str = $n;
        }
    )*};
}
record!(
    Chat => "chat", Message => "message", Task => "task",
    Dialog => "dialog", Notification => "notification", LogEntry => "log entry",
    Draft => "draft", Blob => "blob", Visitor => "visitor", Upload => "upload",
    MergeSuggestion => "merge suggestion",
);

fn k(id: u64) -> [u8; 8] {
    codec::u64_key(id)
}

fn pair(a: u64, b: u64) -> Vec<u8> {
    Key::new().u64(a).u64(b).build()
}

pub use crate::domain::inbox::Section;

pub use crate::domain::event::Counts;

/// Inbox lookups on any snapshot or the write transaction.
pub trait InboxReads: Read {
    fn contact(&self, id: u64) -> Result<Option<Contact>> {
        self.get(CONTACTS, &k(id))
    }

    /// The contact, or NotFound; a merged-away id answers `Merged` with where it went.
    fn contact_or_404(&self, id: u64) -> Result<Contact> {
        if let Some(c) = self.contact(id)? {
            return Ok(c);
        }
        match merged_into(self, id)? {
            Some(into) => Err(Error::Merged { id, into }),
            None => Err(Error::NotFound(format!("contact {id}"))),
        }
    }

    fn chat(&self, id: u64) -> Result<Option<Chat>> {
        self.get(CHATS, &k(id))
    }

    fn chat_or_404(&self, id: u64) -> Result<Chat> {
        self.chat(id)?
            .ok_or_else(|| Error::NotFound(format!("chat {id}")))
    }

    /// The contact's chats, most recently active first.
    fn contact_chats(&self, contact_id: u64) -> Result<Vec<Chat>> {
        let mut chats = Vec::new();
        for (key, _) in self.scan(CONTACT_CHATS, &k(contact_id), None, false, 1000)? {
            if let Some(c) = self.chat(codec::read_u64(&key, 8)?)? {
                chats.push(c);
            }
        }
        chats.sort_by(|a, b| {
            b.last_activity_ms
                .cmp(&a.last_activity_ms)
                .then(b.id.cmp(&a.id))
        });
        Ok(chats)
    }

    fn message(&self, chat_id: u64, id: u64) -> Result<Option<Message>> {
        self.get(MESSAGES, &pair(chat_id, id))
    }

    fn message_by_id(&self, id: u64) -> Result<Option<Message>> {
        match self.get_raw(MESSAGE_CHATS, &k(id))? {
            Some(b) => self.message(codec::read_u64(&b, 0)?, id),
            None => Ok(None),
        }
    }

    /// A page of history, oldest first, ending before message `before` (or at the newest).
    fn history(
        &self,
        chat_id: u64,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Message>, bool)> {
        let after = before.map(|b| pair(chat_id, b));
        let rows = self.scan(MESSAGES, &k(chat_id), after.as_deref(), true, limit + 1)?;
        let has_more = rows.len() > limit;
        let mut out = rows
            .into_iter()
            .take(limit)
            .map(|(_, v)| codec::decode::<Message>(&v))
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok((out, has_more))
    }

    fn chat_for_client(&self, channel_id: &str, external: &str) -> Result<Option<u64>> {
        let key = Key::new().str(channel_id).str(external).build();
        self.get_raw(CHANNEL_CHATS, &key)?
            .map(|b| codec::read_u64(&b, 0))
            .transpose()
    }

    /// (message id, chat id) of an already stored inbound message.
    fn ext_message(&self, channel_id: &str, external: &str) -> Result<Option<(u64, u64)>> {
        let key = Key::new().str(channel_id).str(external).build();
        match self.get_raw(EXT_MESSAGES, &key)? {
            Some(b) => Ok(Some((codec::read_u64(&b, 0)?, codec::read_u64(&b, 8)?))),
            None => Ok(None),
        }
    }

    fn contacts_by_phone(&self, phone: &str) -> Result<Vec<u64>> {
        let p = Key::new().str(phone).build();
        self.scan(PHONE_CONTACTS, &p, None, false, 100)?
            .into_iter()
            .map(|(key, _)| codec::read_u64(&key, p.len()))
            .collect()
    }

    fn contacts_by_email(&self, email: &str) -> Result<Vec<u64>> {
        let p = Key::new().str(email).build();
        self.scan(EMAIL_CONTACTS, &p, None, false, 100)?
            .into_iter()
            .map(|(key, _)| codec::read_u64(&key, p.len()))
            .collect()
    }

    /// Contact ids of one page of a section, and the cursor of the next page.
    fn section_page(
        &self,
        section: Section,
        newest_first: bool,
        cursor: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<u64>, Option<Vec<u8>>)> {
        let rows = self.scan(section_table(section), &[], cursor, newest_first, limit + 1)?;
        let more = rows.len() > limit;
        let rows: Vec<_> = rows.into_iter().take(limit).collect();
        let next = if more {
            rows.last().map(|(key, _)| key.clone())
        } else {
            None
        };
        let ids = rows
            .iter()
            .map(|(key, _)| codec::read_u64(key, 8))
            .collect::<Result<Vec<_>>>()?;
        Ok((ids, next))
    }

    fn counts(&self) -> Result<Counts> {
        Ok(Counts {
            all: self.len(SEC_ALL)?,
            unread: self.len(SEC_UNREAD)?,
            important: self.len(SEC_IMPORTANT)?,
            dialogs: self.len(SEC_DIALOGS)?,
        })
    }

    fn task(&self, id: u64) -> Result<Option<Task>> {
        self.get(TASKS, &k(id))
    }

    fn tasks(&self, contact_id: u64) -> Result<Vec<Task>> {
        let mut out = Vec::new();
        for (key, _) in self.scan(CONTACT_TASKS, &k(contact_id), None, false, 10_000)? {
            if let Some(t) = self.task(codec::read_u64(&key, 8)?)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    fn dialog(&self, id: u64) -> Result<Option<Dialog>> {
        self.get(DIALOGS, &k(id))
    }

    fn dialogs(&self, contact_id: u64) -> Result<Vec<Dialog>> {
        let mut out = Vec::new();
        for (key, _) in self.scan(CONTACT_DIALOGS, &k(contact_id), None, true, 100)? {
            if let Some(d) = self.dialog(codec::read_u64(&key, 8)?)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn notification(&self, manager_id: u64, id: u64) -> Result<Option<Notification>> {
        self.get(NOTIFICATIONS, &pair(manager_id, id))
    }

    /// A manager's notifications, newest first.
    fn notifications(&self, manager_id: u64, limit: usize) -> Result<Vec<Notification>> {
        self.values(NOTIFICATIONS, &k(manager_id), true, limit)
    }

    fn unread_notifications(&self, manager_id: u64) -> Result<u64> {
        match self.get_raw(META, &unread_key(manager_id))? {
            Some(b) => codec::read_u64(&b, 0),
            None => Ok(0),
        }
    }

    /// Client log, newest first, before log id `before`.
    fn contact_log(
        &self,
        contact_id: u64,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LogEntry>> {
        let after = before.map(|b| pair(contact_id, b));
        self.scan(CONTACT_LOG, &k(contact_id), after.as_deref(), true, limit)?
            .into_iter()
            .map(|(_, v)| codec::decode(&v))
            .collect()
    }

    fn draft(&self, manager_id: u64, chat_id: u64) -> Result<Option<Draft>> {
        self.get(DRAFTS, &pair(manager_id, chat_id))
    }

    /// Chats `manager_id` keeps a draft in, up to `limit`.
    fn drafted_chats(&self, manager_id: u64, limit: usize) -> Result<Vec<u64>> {
        self.scan(DRAFTS, &k(manager_id), None, false, limit)?
            .iter()
            .map(|(key, _)| codec::read_u64(key, 8))
            .collect()
    }

    fn blob(&self, sha256: &str) -> Result<Option<Blob>> {
        self.get(BLOBS, &Key::new().str(sha256).build())
    }
}

impl<T: Read> InboxReads for T {}
