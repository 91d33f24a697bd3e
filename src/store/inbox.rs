//! Storage of the inbox aggregates and their indexes. Every function that changes a contact
//! goes through `put_contact`, which keeps the list sections and the phone/e-mail indexes in
//! step within the same transaction, so counts and order are never recomputed by scanning.

use super::tables::*;
use super::{Key, Read, Record, W, codec};
use crate::domain::inbox::*;
use crate::error::{Error, Result};

macro_rules! record {
    ($($t:ty => $n:literal),* $(,)?) => {$(
        impl Record for $t {
            const NAME: &'static str = $n;
        }
    )*};
}
record!(
    Contact => "contact", Chat => "chat", Message => "message", Task => "task",
    Dialog => "dialog", Notification => "notification", LogEntry => "log entry",
    Draft => "draft", Blob => "blob", Visitor => "visitor", Upload => "upload",
    MergeSuggestion => "merge suggestion",
);

impl Record for ApiToken {
    const VERSION: u8 = 2;
    const NAME: &'static str = "api token";
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self> {
        match version {
            // Tokens made before scopes acted with every power of their admin; they keep it
            // (an integration may depend on it), and admins can replace them with narrower ones.
            1 => {
                let v1: ApiTokenV1 = postcard::from_bytes(bytes)
                    .map_err(|e| Error::Corrupt(format!("api token row (v1): {e}")))?;
                Ok(ApiToken {
                    id: v1.id,
                    name: v1.name,
                    created_by: v1.created_by,
                    created_ms: v1.created_ms,
                    scope: TokenScope::Admin,
                    parent: None,
                })
            }
            v => Err(Error::Corrupt(format!(
                "api token row has unknown format version {v}"
            ))),
        }
    }
}

impl Record for Delivery {
    /// 2 added `parts_sent`.
    const VERSION: u8 = 2;
    const NAME: &'static str = "delivery";
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct V1 {
            message_id: u64,
            chat_id: u64,
            attempts: u32,
            due_ms: i64,
            last_error: Option<String>,
        }
        if version != 1 {
            return Err(Error::Corrupt(format!(
                "delivery row has unknown format version {version}"
            )));
        }
        let v: V1 = postcard::from_bytes(bytes)
            .map_err(|e| Error::Corrupt(format!("delivery row (version 1): {e}")))?;
        Ok(Delivery {
            message_id: v.message_id,
            chat_id: v.chat_id,
            attempts: v.attempts,
            due_ms: v.due_ms,
            last_error: v.last_error,
            parts_sent: 0,
        })
    }
}

fn k(id: u64) -> [u8; 8] {
    codec::u64_key(id)
}

fn pair(a: u64, b: u64) -> Vec<u8> {
    Key::new().u64(a).u64(b).build()
}

pub use crate::domain::inbox::Section;

/// The index table that lists a section.
fn section_table(section: Section) -> Table {
    match section {
        Section::All => SEC_ALL,
        Section::Unread => SEC_UNREAD,
        Section::Important => SEC_IMPORTANT,
        Section::Dialogs => SEC_DIALOGS,
    }
}

fn section_key(c: &Contact) -> Vec<u8> {
    Key::new().i64(c.last_activity_ms).u64(c.id).build()
}

pub use crate::domain::event::Counts;

/// Inbox lookups on any snapshot or the write transaction.
pub trait InboxReads: Read {
    fn contact(&self, id: u64) -> Result<Option<Contact>> {
        self.get(CONTACTS, &k(id))
    }

    fn contact_or_404(&self, id: u64) -> Result<Contact> {
        self.contact(id)?
            .ok_or_else(|| Error::NotFound(format!("contact {id}")))
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

    fn blob(&self, sha256: &str) -> Result<Option<Blob>> {
        self.get(BLOBS, &Key::new().str(sha256).build())
    }
}

impl<T: Read> InboxReads for T {}

fn unread_key(manager_id: u64) -> Vec<u8> {
    Key::new().str("notif_unread").u64(manager_id).build()
}

/// Store a contact and keep its section rows and phone/e-mail indexes in step.
pub fn put_contact(w: &W, old: Option<&Contact>, new: &Contact) -> Result<()> {
    let new_key = section_key(new);
    for s in Section::ALL {
        let was = old.filter(|o| s.holds(o)).map(section_key);
        let now = s.holds(new).then(|| new_key.clone());
        if was != now {
            if let Some(key) = &was {
                w.del(section_table(s), key)?;
            }
            if let Some(key) = &now {
                w.put_raw(section_table(s), key, &[])?;
            }
        }
    }
    let empty = Vec::new();
    let (old_phones, old_emails) = old.map_or((&empty, &empty), |o| (&o.phones, &o.emails));
    for (table, before, after) in [
        (PHONE_CONTACTS, old_phones, &new.phones),
        (EMAIL_CONTACTS, old_emails, &new.emails),
    ] {
        for gone in before.iter().filter(|p| !after.contains(p)) {
            w.del(table, &Key::new().str(gone).u64(new.id).build())?;
        }
        for added in after.iter().filter(|p| !before.contains(p)) {
            w.put_raw(table, &Key::new().str(added).u64(new.id).build(), &[])?;
        }
    }
    super::search_log::contact(w, new.id)?;
    w.put(CONTACTS, &k(new.id), new)
}

pub fn new_contact(w: &W, mut c: Contact) -> Result<Contact> {
    c.id = w.next_id("contact")?;
    put_contact(w, None, &c)?;
    Ok(c)
}

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
        super::search_log::message(w, chat.id, m.id)?;
    }
    Ok(m)
}

/// Store a changed message (status, edit). Only text changes concern search.
pub fn put_message(w: &W, m: &Message) -> Result<()> {
    if let Some(old) = w.message(m.chat_id, m.id)?
        && old.text != m.text
    {
        super::search_log::message(w, m.chat_id, m.id)?;
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

pub fn put_blob(w: &W, sha256: &str, b: &Blob) -> Result<()> {
    w.put(BLOBS, &Key::new().str(sha256).build(), b)
}

/// The blob is in a message (or came from a channel): never swept.
pub fn keep_blob(w: &W, sha256: &str) -> Result<()> {
    w.put_raw(KEPT_BLOBS, &Key::new().str(sha256).build(), &[])
}

pub fn blob_kept<T: Read>(r: &T, sha256: &str) -> Result<bool> {
    r.exists(KEPT_BLOBS, &Key::new().str(sha256).build())
}

pub fn delete_blob(w: &W, sha256: &str) -> Result<bool> {
    w.del(BLOBS, &Key::new().str(sha256).build())
}

fn upload_key(sha256: &str, owner: &str) -> Vec<u8> {
    Key::new().str(sha256).str(owner).build()
}

pub fn upload<T: Read>(r: &T, sha256: &str, owner: &str) -> Result<Option<Upload>> {
    r.get(UPLOADS, &upload_key(sha256, owner))
}

pub fn put_upload(w: &W, sha256: &str, owner: &str, u: &Upload) -> Result<()> {
    w.put(UPLOADS, &upload_key(sha256, owner), u)
}

pub fn delete_upload(w: &W, sha256: &str, owner: &str) -> Result<bool> {
    w.del(UPLOADS, &upload_key(sha256, owner))
}

/// Every claim on the blob (at most 100).
pub fn uploads_of<T: Read>(r: &T, sha256: &str) -> Result<Vec<Upload>> {
    r.values(UPLOADS, &Key::new().str(sha256).build(), false, 100)
}

/// Whether anyone holds a claim on the blob.
pub fn blob_claimed<T: Read>(r: &T, sha256: &str) -> Result<bool> {
    Ok(!r
        .scan(UPLOADS, &Key::new().str(sha256).build(), None, false, 1)?
        .is_empty())
}

/// Up to `limit` claims after `after` (a previous page's last key): (key, sha256, owner, upload).
#[allow(clippy::type_complexity)]
pub fn uploads_page<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, String, String, Upload)>> {
    let mut out = Vec::new();
    for (key, v) in r.scan(UPLOADS, &[], after, false, limit)? {
        let mut parts = key.split(|b| *b == 0);
        let sha = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let owner = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        out.push((key.clone(), sha, owner, codec::decode(&v)?));
    }
    Ok(out)
}

/// Up to `limit` visitors after `after` (a previous page's last token hash).
pub fn visitors_page<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Visitor)>> {
    r.scan(VISITORS, &[], after, false, limit)?
        .into_iter()
        .map(|(k, v)| Ok((k, codec::decode(&v)?)))
        .collect()
}

pub fn delete_visitor(w: &W, hash: &[u8]) -> Result<bool> {
    w.del(VISITORS, hash)
}

pub fn merge_suggestion<T: Read>(
    r: &T,
    contact: u64,
    other: u64,
) -> Result<Option<MergeSuggestion>> {
    r.get(MERGE_SUGGESTIONS, &pair(contact, other))
}

/// Record the suggestion on both clients.
pub fn put_merge_suggestion(w: &W, a: u64, b: u64, s: &MergeSuggestion) -> Result<()> {
    w.put(MERGE_SUGGESTIONS, &pair(a, b), s)?;
    w.put(MERGE_SUGGESTIONS, &pair(b, a), s)
}

/// The contact's suggestions: (other contact id, suggestion), dismissed ones included.
pub fn merge_suggestions<T: Read>(r: &T, contact: u64) -> Result<Vec<(u64, MergeSuggestion)>> {
    r.scan(MERGE_SUGGESTIONS, &k(contact), None, false, 100)?
        .into_iter()
        .map(|(key, v)| Ok((codec::read_u64(&key, 8)?, codec::decode(&v)?)))
        .collect()
}

/// Queue a delivery; `due_ms` orders the outbox.
pub fn enqueue(w: &W, d: &Delivery) -> Result<()> {
    w.put_raw(OUTBOX_DUE, &k(d.message_id), &k(d.due_ms as u64))?;
    w.put(OUTBOX, &pair(d.due_ms as u64, d.message_id), d)
}

pub fn dequeue(w: &W, d: &Delivery) -> Result<bool> {
    if w.get_raw(OUTBOX_DUE, &k(d.message_id))?.as_deref() == Some(&k(d.due_ms as u64)[..]) {
        w.del(OUTBOX_DUE, &k(d.message_id))?;
    }
    w.del(OUTBOX, &pair(d.due_ms as u64, d.message_id))
}

/// The delivery of this message still waiting in the outbox, if any.
pub fn pending_delivery<T: Read>(r: &T, message_id: u64) -> Result<Option<Delivery>> {
    let Some(due) = r.get_raw(OUTBOX_DUE, &k(message_id))? else {
        return Ok(None);
    };
    let due = codec::read_u64(&due, 0)?;
    r.get(OUTBOX, &pair(due, message_id))
}

/// Whether this delivery is still waiting in the outbox (not yet recorded or rescheduled).
pub fn queued<T: Read>(r: &T, d: &Delivery) -> Result<bool> {
    r.exists(OUTBOX, &pair(d.due_ms as u64, d.message_id))
}

/// The stored row of a delivery still waiting (its progress may be newer than `d`'s).
pub fn queued_row<T: Read>(r: &T, d: &Delivery) -> Result<Option<Delivery>> {
    r.get(OUTBOX, &pair(d.due_ms as u64, d.message_id))
}

/// Deliveries due at or before `now`, oldest first.
pub fn due<T: Read>(r: &T, now: i64, limit: usize) -> Result<Vec<Delivery>> {
    let mut out = Vec::new();
    for (key, v) in r.scan(OUTBOX, &[], None, false, limit)? {
        if codec::read_u64(&key, 0)? as i64 > now {
            break;
        }
        out.push(codec::decode(&v)?);
    }
    Ok(out)
}

/// When the next delivery is due, if any.
pub fn next_due<T: Read>(r: &T) -> Result<Option<i64>> {
    match r.scan(OUTBOX, &[], None, false, 1)?.first() {
        Some((key, _)) => Ok(Some(codec::read_u64(key, 0)? as i64)),
        None => Ok(None),
    }
}

pub fn visitor_by_hash<T: Read>(r: &T, hash: &[u8]) -> Result<Option<Visitor>> {
    r.get(VISITORS, hash)
}

pub fn put_visitor(w: &W, hash: &[u8], v: &Visitor) -> Result<()> {
    w.put(VISITORS, hash, v)
}

pub fn api_token_by_hash<T: Read>(r: &T, hash: &[u8]) -> Result<Option<ApiToken>> {
    r.get(API_TOKENS, hash)
}

pub fn api_tokens<T: Read>(r: &T) -> Result<Vec<ApiToken>> {
    r.values(API_TOKENS, &[], false, 10_000)
}

pub fn put_api_token(w: &W, hash: &[u8], t: &ApiToken) -> Result<()> {
    w.put(API_TOKENS, hash, t)?;
    w.put_raw(TOKEN_IDS, &k(t.id), hash)
}

/// Delete the token with this id and every token made with it (and with those, and so on);
/// the hashes of all deleted tokens, empty when there was no such token.
pub fn delete_api_token(w: &W, id: u64) -> Result<Vec<Vec<u8>>> {
    let all = api_tokens(w)?;
    let mut doomed = vec![id];
    let mut hashes = Vec::new();
    while let Some(next) = doomed.pop() {
        let Some(hash) = w.get_raw(TOKEN_IDS, &k(next))? else {
            continue;
        };
        w.del(API_TOKENS, &hash)?;
        w.del(TOKEN_IDS, &k(next))?;
        hashes.push(hash);
        doomed.extend(all.iter().filter(|t| t.parent == Some(next)).map(|t| t.id));
    }
    Ok(hashes)
}

/// A page of contacts by id after `cursor` that satisfy `keep`, looking at no more than
/// `budget` contacts (so a filter that matches nothing cannot scan the whole store).
pub fn contacts_page<T: Read>(
    r: &T,
    cursor: Option<u64>,
    limit: usize,
    budget: usize,
    keep: impl Fn(&Contact) -> bool,
) -> Result<(Vec<Contact>, Option<u64>)> {
    let mut out = Vec::new();
    let mut after = cursor.map(k);
    let mut seen = 0;
    loop {
        let rows = r.scan(
            CONTACTS,
            &[],
            after.as_ref().map(|a| a.as_slice()),
            false,
            500,
        )?;
        if rows.is_empty() {
            return Ok((out, None));
        }
        for (key, v) in &rows {
            seen += 1;
            let c: Contact = codec::decode(v)?;
            if keep(&c) {
                out.push(c);
                if out.len() >= limit {
                    return Ok((out, Some(codec::read_u64(key, 0)?)));
                }
            }
            if seen >= budget {
                return Ok((out, Some(codec::read_u64(key, 0)?)));
            }
        }
        after = rows
            .last()
            .and_then(|(key, _)| key.as_slice().try_into().ok());
    }
}

#[cfg(test)]
mod delivery_tests {
    use super::*;

    #[test]
    fn a_delivery_row_of_the_previous_version_is_read() {
        #[derive(serde::Serialize)]
        struct V1 {
            message_id: u64,
            chat_id: u64,
            attempts: u32,
            due_ms: i64,
            last_error: Option<String>,
        }
        let mut old = vec![1u8];
        old.extend(
            postcard::to_allocvec(&V1 {
                message_id: 7,
                chat_id: 3,
                attempts: 2,
                due_ms: 1_700_000_000_000,
                last_error: Some("HTTP 502".into()),
            })
            .unwrap(),
        );
        let d: Delivery = codec::decode(&old).unwrap();
        assert_eq!((d.message_id, d.chat_id, d.attempts), (7, 3, 2));
        assert_eq!(d.last_error.as_deref(), Some("HTTP 502"));
        assert_eq!(d.parts_sent, 0);
        let new = codec::encode(&Delivery { parts_sent: 2, ..d }).unwrap();
        assert_eq!(new[0], 2);
        assert_eq!(codec::decode::<Delivery>(&new).unwrap().parts_sent, 2);
    }
}
