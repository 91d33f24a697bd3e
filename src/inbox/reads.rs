//! What the screens read: a chat and its client, a chat's history, the client card, the
//! Audience pages, tasks, the client log, drafts and notifications. Each is one snapshot,
//! run off the async workers.

use super::visitors::{MergeCandidate, merge_suggestions};
use super::{Inbox, chat_view, message_view};
use crate::domain::event::{ChatView, Counts, MessageView, NotificationView, Row};
use crate::domain::inbox::{Contact, Dialog, Draft, Kind, LogEntry, Task};
use crate::domain::manager::ManagerId;
use crate::error::Result;
use crate::store::inbox::{InboxReads, contacts_page};

/// The client card: the client, their chats, tasks, dialogs and possible duplicates.
pub struct Card {
    pub contact: Contact,
    pub chats: Vec<ChatView>,
    pub tasks: Vec<Task>,
    pub dialogs: Vec<Dialog>,
    pub merge_suggestions: Vec<MergeCandidate>,
}

/// List rows for search results, each with its client (for what matched), and the counts.
pub struct Rows {
    pub items: Vec<(Row, Contact)>,
    pub counts: Counts,
}

pub struct History {
    pub items: Vec<MessageView>,
    pub has_more: bool,
}

pub struct Notifications {
    pub items: Vec<NotificationView>,
    pub unread: u64,
}

impl Inbox {
    /// One chat and its client.
    pub async fn chat(&self, id: u64) -> Result<(ChatView, Contact)> {
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let chat = r.chat_or_404(id)?;
                let contact = r.contact_or_404(chat.contact_id)?;
                Ok((chat_view(&chat, &channels), contact))
            })
            .await
    }

    /// 404 unless the chat exists.
    pub async fn chat_exists(&self, id: u64) -> Result<()> {
        self.store
            .query(move |r| r.chat_or_404(id).map(|_| ()))
            .await
    }

    /// A page of a chat's history, oldest first, ending before message `before`. With
    /// `kinds`, only those kinds: history is read further back until the page is full.
    pub async fn history(
        &self,
        id: u64,
        before: Option<u64>,
        limit: usize,
        kinds: Option<Vec<Kind>>,
    ) -> Result<History> {
        self.store
            .query(move |r| {
                r.chat_or_404(id)?;
                let mut items = Vec::new();
                let mut before = before;
                let mut has_more;
                loop {
                    let (page, more) = r.history(id, before, limit)?;
                    has_more = more;
                    before = page.first().map(|m| m.id);
                    let mut chunk = page
                        .into_iter()
                        .filter(|m| kinds.as_ref().is_none_or(|k| k.contains(&m.kind)))
                        .collect::<Vec<_>>();
                    chunk.append(&mut items);
                    items = chunk;
                    if items.len() >= limit || !more || kinds.is_none() {
                        break;
                    }
                }
                if items.len() > limit {
                    items.drain(..items.len() - limit);
                    has_more = true;
                }
                let items = items
                    .iter()
                    .map(|m| message_view(r, m))
                    .collect::<Result<Vec<_>>>()?;
                Ok(History { items, has_more })
            })
            .await
    }

    /// The list rows of these clients, in this order (search results); missing ones are left
    /// out. `manager` decides the draft marks.
    pub async fn rows(&self, manager: ManagerId, ids: Vec<u64>) -> Result<Rows> {
        let manager = manager.0;
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let rows = super::lists::RowMaker::new(r, Some(manager), &channels)?;
                let mut items = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(c) = r.contact(id)? {
                        let row = rows.row(r, &c)?;
                        items.push((row, c));
                    }
                }
                Ok(Rows {
                    items,
                    counts: r.counts()?,
                })
            })
            .await
    }

    pub async fn card(&self, id: u64) -> Result<Card> {
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let contact = r.contact_or_404(id)?;
                Ok(Card {
                    contact,
                    chats: r
                        .contact_chats(id)?
                        .iter()
                        .map(|ch| chat_view(ch, &channels))
                        .collect(),
                    tasks: r.tasks(id)?,
                    dialogs: r.dialogs(id)?,
                    merge_suggestions: merge_suggestions(r, id)?,
                })
            })
            .await
    }

    /// These clients, in this order; missing ones are left out.
    pub async fn contacts(&self, ids: Vec<u64>) -> Result<Vec<Contact>> {
        self.store
            .query(move |r| {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(c) = r.contact(id)? {
                        out.push(c);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Every client in creation order, a page after `cursor`; and the next cursor.
    pub async fn contacts_page(
        &self,
        cursor: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Contact>, Option<u64>)> {
        self.store
            .query(move |r| contacts_page(r, cursor, limit, usize::MAX, |_| true))
            .await
    }

    pub async fn contact_log(
        &self,
        id: u64,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LogEntry>> {
        self.store
            .query(move |r| {
                r.contact_or_404(id)?;
                r.contact_log(id, before, limit)
            })
            .await
    }

    pub async fn tasks(&self, contact_id: u64) -> Result<Vec<Task>> {
        self.store
            .query(move |r| {
                r.contact_or_404(contact_id)?;
                r.tasks(contact_id)
            })
            .await
    }

    /// The manager's draft in a chat (404 unless the chat exists).
    pub async fn draft(&self, manager: ManagerId, chat: u64) -> Result<Option<Draft>> {
        let manager = manager.0;
        self.store
            .query(move |r| {
                r.chat_or_404(chat)?;
                r.draft(manager, chat)
            })
            .await
    }

    /// The manager's newest notifications (only unread ones with `unread_only`).
    pub async fn notifications(
        &self,
        manager: ManagerId,
        unread_only: bool,
    ) -> Result<Notifications> {
        let manager = manager.0;
        self.store
            .query(move |r| {
                let items = r
                    .notifications(manager, 200)?
                    .iter()
                    .filter(|n| !unread_only || !n.read)
                    .map(|n| super::clients::notification_view(r, n))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Notifications {
                    items,
                    unread: r.unread_notifications(manager)?,
                })
            })
            .await
    }

    /// Managers other than `except` typing in the chat now (404 unless the chat exists).
    pub async fn typers(&self, chat: u64, except: u64) -> Result<Vec<(u64, String)>> {
        self.chat_exists(chat).await?;
        Ok(self.hub.typers(chat, except))
    }

    /// A message as readers see it (its author's name, retry state).
    pub async fn message_view(&self, m: crate::domain::inbox::Message) -> Result<MessageView> {
        self.store.query(move |r| message_view(r, &m)).await
    }
}

impl Inbox {
    /// Whether the store answers a read (the health check).
    pub async fn store_answers(&self) -> bool {
        self.store
            .query(|r| crate::store::meta::get(r, b"health"))
            .await
            .is_ok()
    }
}
