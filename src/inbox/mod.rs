//! Inbox use cases: everything that creates or changes contacts, chats and messages. Each
//! use case is one write through the store's group-commit writer, and emits the live events
//! that describe it in the same transaction.

pub mod channel_io;
pub mod clients;
pub mod ingest;
pub mod lists;
pub mod reply;
pub mod visitors;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::config::{ChannelConfig, Config};
use crate::domain::inbox::{Attachment, Chat, Contact, Message, Status};
use crate::error::Result;
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
}

impl Inbox {
    pub fn new(store: Store, channels: Arc<Channels>) -> Inbox {
        Inbox {
            store,
            channels,
            outbox_wake: Arc::new(Notify::new()),
        }
    }
}

pub fn attachment_json(a: &Attachment) -> Value {
    json!({
        "id": a.sha256,
        "name": a.name,
        "mime": a.mime,
        "size": a.size,
        "url": format!("/api/v1/blobs/{}", a.sha256),
    })
}

pub fn message_json<T: Read>(r: &T, m: &Message) -> Result<Value> {
    let author = match m.author {
        Some(id) => r
            .manager(id)?
            .map(|a| json!({"id": a.id, "name": a.name, "avatar_url": a.avatar_url()})),
        None => None,
    };
    // A reply between failed attempts says why and when the next one comes.
    let delivery = match m.status {
        Some(Status::Queued) => crate::store::inbox::pending_delivery(r, m.id)?
            .filter(|d| d.attempts > 0)
            .map(|d| {
                json!({
                    "attempts": d.attempts,
                    "next_attempt_ms": d.due_ms,
                    "last_error": d.last_error,
                })
            }),
        _ => None,
    };
    Ok(json!({
        "id": m.id,
        "chat_id": m.chat_id,
        "kind": m.kind.as_str(),
        "delivery": delivery,
        "text": m.text,
        "attachments": m.attachments.iter().map(attachment_json).collect::<Vec<_>>(),
        "author": author,
        "created_ms": m.created_ms,
        "status": m.status.map(|s| s.as_str()),
        "error": m.error,
        "edited": m.edited,
        "mentions": m.mentions,
        "event": m.event,
        "external_id": m.external_id,
    }))
}

pub fn chat_json(c: &Chat, channels: &Channels) -> Value {
    json!({
        "id": c.id,
        "contact_id": c.contact_id,
        "channel_id": c.channel_id,
        "channel_kind": c.channel_kind,
        "channel_name": channels.name(&c.channel_id),
        "unread": c.unread,
        "last_activity_ms": c.last_activity_ms,
        "disabled": c.disabled,
        "bot_disabled": c.bot_disabled,
        "assistant_on": c.assistant_on,
        "assistant": c.assistant,
        "unreachable": c.unreachable,
        "created_ms": c.created_ms,
    })
}

pub fn contact_json(c: &Contact) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "phones": c.phones,
        "emails": c.emails,
        "tags": c.tags,
        "custom_fields": c.custom_fields,
        "sales_plan": c.sales_plan,
        "archived": c.archived,
        "blacklisted": c.blacklisted,
        "marked": c.marked,
        "created_ms": c.created_ms,
        "last_activity_ms": c.last_activity_ms,
        "unread": c.unread,
        "open_tasks": c.open_tasks,
    })
}

/// Emit what changed about a contact's list row: the row itself and the section counts.
pub fn emit_row(w: &W, contact: &Contact, channels: &Channels) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Updated {
        contact_id: u64,
        row: lists::Row,
    }
    let row = lists::row(w, contact, None, channels)?;
    w.emit(
        "chat.updated",
        None,
        Updated {
            contact_id: contact.id,
            row,
        },
    )?;
    w.emit_latest("counts", w.counts()?)?;
    Ok(())
}
