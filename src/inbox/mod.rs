//! Inbox use cases: everything that creates or changes contacts, chats and messages. Each
//! use case is one write through the store's group-commit writer, and emits the live events
//! that describe it in the same transaction.

pub mod assignment;
pub mod assistant;
pub mod audience;
pub mod automation;
pub mod blobs;
pub mod broadcasts;
pub mod bulk;
pub mod channel_io;
pub mod clients;
pub mod demo;
pub mod hours;
pub mod identity;
pub mod indexing;
pub mod ingest;
pub mod jobs;
pub mod lists;
pub mod message_search;
pub mod orders;
pub mod reads;
pub mod replies;
pub mod reply;
pub mod reports;
pub mod saved;
pub mod templates;
pub mod visitors;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::{ChannelConfig, Config};
use crate::domain::event::{
    ChatView, Event, MessageChange, MessageView, Person, Published, Retrying,
};
use crate::domain::inbox::{Chat, Contact, Message, Status};
use crate::error::{Error, Result};
use crate::realtime::Hub;
use crate::store::inbox::InboxReads;
use crate::store::prelude::*;
use crate::store::{Store, W};

/// The channels from the config, by id.
#[derive(Default)]
pub struct Channels {
    by_id: HashMap<String, ChannelConfig>,
}

impl Channels {
    pub fn from_config(c: &Config) -> Channels {
        Channels {
            by_id: c
                .channels
                .iter()
                .map(|ch| (ch.id.clone(), ch.clone()))
                .collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&ChannelConfig> {
        self.by_id.get(id)
    }

    pub fn name(&self, id: &str) -> String {
        self.by_id
            .get(id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    pub fn all(&self) -> impl Iterator<Item = &ChannelConfig> {
        self.by_id.values()
    }
}

#[derive(Clone)]
pub struct Inbox {
    pub store: Store,
    pub channels: Arc<Channels>,
    /// Wakes the outbox worker when a delivery is queued.
    pub outbox_wake: Arc<Notify>,
    /// Where committed events and typing signals go out.
    pub hub: Arc<Hub>,
    /// Wakes the funnel scheduler when a run becomes due now.
    pub automation_wake: Arc<Notify>,
    /// Wakes the broadcast sender when a broadcast starts or resumes.
    pub broadcast_wake: Arc<Notify>,
    /// The enabled funnels, for the triggers.
    funnels: Arc<automation::Funnels>,
    /// Business hours and the away reply, when configured.
    pub business: Option<Arc<automation::Business>>,
    /// Automated messages one funnel may send one client within an hour.
    pub sends_per_hour: u32,
    /// Chat templates (name, text) funnels' send steps and broadcasts may name.
    pub templates: Arc<templates::Templates>,
    /// The configured AI assistants, as the use cases need them (B2).
    pub assistant_rules: Arc<assistant::AssistantRules>,
    /// Wakes the assistant worker when an answer becomes due.
    pub assistant_wake: Arc<Notify>,
    /// Long jobs (imports, bulk actions) and their progress.
    pub jobs: Arc<jobs::Jobs>,
}

impl Inbox {
    /// The inbox over `store`; every event a use case records is published through `hub`
    /// once its transaction commits.
    pub fn new(store: Store, channels: Arc<Channels>, hub: Arc<Hub>) -> Inbox {
        let publish = hub.clone();
        store.on_commit(Arc::new(move |e| publish.publish(e)));
        Inbox {
            store,
            channels,
            outbox_wake: Arc::new(Notify::new()),
            hub,
            automation_wake: Arc::new(Notify::new()),
            broadcast_wake: Arc::new(Notify::new()),
            funnels: Arc::default(),
            business: None,
            templates: Arc::default(),
            sends_per_hour: 20,
            assistant_rules: Arc::default(),
            assistant_wake: Arc::new(Notify::new()),
            jobs: Arc::default(),
        }
    }

    /// Events after `since` from the log, for a connection that reconnects or fell behind;
    /// None when the log no longer reaches back that far (the browser resyncs).
    pub async fn events_since(&self, since: u64, limit: usize) -> Result<Option<Vec<Published>>> {
        self.store
            .query(move |r| crate::store::events::since(r, since, limit))
            .await
    }

    /// The newest event's sequence number.
    pub async fn latest_event(&self) -> Result<u64> {
        self.store.query(crate::store::events::latest).await
    }

    /// Someone typed in a chat: managers with it open (and the widget visitor) see it.
    pub fn typing(&self, chat_id: u64, manager_id: u64, name: &str) {
        self.hub.typing(chat_id, manager_id, name);
    }
}

/// A message as readers see it, with its author and, between failed attempts, why and when
/// the next one comes.
pub fn message_view<T: Read>(r: &T, m: &Message) -> Result<MessageView> {
    let author = match m.author {
        Some(id) => r.manager(id)?.map(|a| person(&a)),
        None => None,
    };
    let retry = match m.status {
        Some(Status::Queued) => crate::store::inbox::pending_delivery(r, m.id)?
            .filter(|d| d.attempts > 0)
            .map(|d| Retrying {
                attempts: d.attempts,
                next_attempt_ms: d.due_ms,
                last_error: d.last_error,
            }),
        _ => None,
    };
    Ok(MessageView {
        message: m.clone(),
        author,
        retry,
    })
}

pub fn person(m: &crate::domain::manager::Manager) -> Person {
    Person {
        id: m.id,
        name: m.name.clone(),
        avatar_url: m.avatar_url(),
    }
}

pub fn chat_view(c: &Chat, channels: &Channels) -> ChatView {
    ChatView {
        chat: c.clone(),
        channel_name: channels.name(&c.channel_id),
    }
}

/// Record that a message was created (or changed) in its chat.
/// Append a `system` message to `chat` (`manager` as its author, if any) and emit its live
/// event; the caller stores the chat and the contact.
pub(crate) fn append_system(
    w: &W,
    chat: &mut Chat,
    contact: &mut Contact,
    event: &str,
    text: &str,
    manager: Option<u64>,
    now: i64,
) -> Result<()> {
    append_system_message(w, chat, contact, event, text, manager, now).map(|_| ())
}

/// `append_system`, returning the message.
pub(crate) fn append_system_message(
    w: &W,
    chat: &mut Chat,
    contact: &mut Contact,
    event: &str,
    text: &str,
    manager: Option<u64>,
    now: i64,
) -> Result<Message> {
    let m = crate::store::inbox::append_message(
        w,
        chat,
        contact,
        Message {
            id: 0,
            chat_id: 0,
            kind: crate::domain::inbox::Kind::System,
            text: text.to_string(),
            attachments: vec![],
            author: manager,
            created_ms: now,
            status: None,
            error: None,
            edited: false,
            mentions: vec![],
            event: Some(event.to_string()),
            external_id: None,
        },
    )?;
    emit_message(w, true, contact.id, &m)?;
    Ok(m)
}

pub(crate) fn emit_message(w: &W, created: bool, contact_id: u64, m: &Message) -> Result<()> {
    if created {
        reports::record_message(w, contact_id, m)?;
    }
    let change = MessageChange {
        chat_id: m.chat_id,
        contact_id,
        message: message_view(w, m)?,
    };
    w.emit(
        None,
        if created {
            Event::MessageCreated(change)
        } else {
            Event::MessageUpdated(change)
        },
    )?;
    Ok(())
}

/// Record what changed about a contact's list row: the row itself and the section counts.
pub fn emit_row(w: &W, contact: &Contact, channels: &Channels) -> Result<()> {
    let row = lists::row(w, contact, channels)?;
    w.emit(None, Event::RowChanged(row))?;
    w.emit(None, Event::Counts(w.counts()?))?;
    Ok(())
}

impl Inbox {
    /// Drop live events older than the log keeps, in bounded transactions so a large backlog
    /// never stalls the writer.
    pub async fn prune_events(&self) -> Result<()> {
        while self.store.write(crate::store::events::prune).await?
            >= crate::store::events::PRUNE_BATCH
        {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// The key that signs public file links; kept in the store so links survive a restart.
    pub async fn link_key(&self) -> Result<Vec<u8>> {
        const KEY: &[u8] = b"blob_link_key";
        let store = &self.store;
        if let Some(k) = store.query(|r| crate::store::meta::get(r, KEY)).await? {
            return Ok(k);
        }
        let mut k = vec![0u8; 32];
        getrandom::fill(&mut k).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let v = k.clone();
        store
            .write(move |w| crate::store::meta::put(w, KEY, &v))
            .await?;
        Ok(k)
    }
}

#[cfg(test)]
impl Inbox {
    /// An inbox over a fresh store in `dir`, with no channels and its own hub.
    pub fn open_in(dir: &std::path::Path) -> Result<Inbox> {
        Ok(Inbox::new(
            Store::open(dir)?,
            Arc::new(Channels::default()),
            Arc::new(Hub::default()),
        ))
    }
}

/// A notification as its reader sees it: who it is from and which client it is about, so a
/// list of mentions can be told apart without opening each chat.
pub fn notification_view<T: Read>(
    r: &T,
    n: &crate::domain::inbox::Notification,
) -> Result<crate::domain::event::NotificationView> {
    Ok(crate::domain::event::NotificationView {
        id: n.id,
        chat_id: n.chat_id,
        contact_id: n.contact_id,
        message_id: n.message_id,
        from: r.manager(n.from)?.map(|m| person(&m)),
        contact: r.contact(n.contact_id)?.map(|c| (c.id, c.name)),
        text: n.text.clone(),
        read: n.read,
        created_ms: n.created_ms,
    })
}

/// A manager's name for system messages ("manager 7" when they are gone).
pub(crate) fn manager_name<T: Read>(r: &T, id: u64) -> Result<String> {
    Ok(r.manager(id)?
        .map(|m| m.name)
        .unwrap_or_else(|| format!("manager {id}")))
}
