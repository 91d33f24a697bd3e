//! The one typed domain event. A use case records it in the same write transaction as the
//! change it describes (the store keeps it in the event log, for replay after a reconnect or
//! a restart); after commit the one hub in `realtime` fans it out. Its wire form (JSON for
//! browsers) is made only by the HTTP layer, so what happened and how a browser is told
//! are kept apart.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::inbox::{Attachment, Chat, Contact, Dialog, Draft, Kind, Message, Status, Task};
use super::order::OrderView;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    MessageCreated(MessageChange),
    MessageUpdated(MessageChange),
    /// A client's list row changed (`chat.updated` on the wire).
    RowChanged(Row),
    /// The section counts after the batch (absolute: a later one replaces an earlier one).
    Counts(Counts),
    ContactUpdated(Contact),
    /// A chat's switches changed (disabled, bot messages, assistant).
    ChatFlags(ChatView),
    TaskUpdated(Task),
    DialogUpdated(Dialog),
    NotificationCreated(NotificationView),
    NotificationsRead {
        unread: u64,
    },
    DraftUpdated {
        chat_id: u64,
        draft: Option<Draft>,
    },
    /// An order was created or changed (boards and client cards follow it).
    OrderUpdated(OrderView),
    OrderDeleted {
        id: u64,
        contact_id: u64,
        plan: String,
    },
}

impl Event {
    /// The event's name on the wire and in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::MessageCreated(_) => "message.created",
            Event::MessageUpdated(_) => "message.updated",
            Event::RowChanged(_) => "chat.updated",
            Event::Counts(_) => "counts",
            Event::ContactUpdated(_) => "contact.updated",
            Event::ChatFlags(_) => "chat.flags",
            Event::TaskUpdated(_) => "task.updated",
            Event::DialogUpdated(_) => "dialog.updated",
            Event::NotificationCreated(_) => "notification.created",
            Event::NotificationsRead { .. } => "notifications.read",
            Event::DraftUpdated { .. } => "draft.updated",
            Event::OrderUpdated(_) => "order.updated",
            Event::OrderDeleted { .. } => "order.deleted",
        }
    }

    /// Events that carry absolute values: a later one of the same batch replaces the earlier.
    pub fn is_absolute(&self) -> bool {
        matches!(self, Event::Counts(_))
    }
}

/// A message as readers see it: the stored message with its author's name and, between
/// failed delivery attempts, why and when the next one comes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageView {
    pub message: Message,
    pub author: Option<Person>,
    pub retry: Option<Retrying>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageChange {
    pub chat_id: u64,
    pub contact_id: u64,
    pub message: MessageView,
}

/// A manager as other people see them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Person {
    pub id: u64,
    pub name: String,
    pub avatar_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Retrying {
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
}

/// A chat with its channel's display name (from the config).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatView {
    pub chat: Chat,
    pub channel_name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: u64,
    pub chat_id: u64,
    pub contact_id: u64,
    pub message_id: u64,
    pub from: Option<Person>,
    /// The client the notification is about (id, name), so a list of them can be told apart.
    pub contact: Option<(u64, String)>,
    pub text: String,
    pub read: bool,
    pub created_ms: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub all: u64,
    pub unread: u64,
    pub important: u64,
    pub dialogs: u64,
}

/// One client's row in the chat list. `draft` is per manager: rows sent to everyone carry
/// false and each browser keeps its own draft marks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub contact_id: u64,
    pub name: String,
    pub avatar: Option<String>,
    pub default_chat_id: Option<u64>,
    pub channel_kind: Option<String>,
    pub channel_id: Option<String>,
    pub chats: Vec<RowChat>,
    pub last_message: Option<LastMessage>,
    pub last_activity_ms: i64,
    pub unread: u32,
    pub open_task: bool,
    pub draft: bool,
    pub marked: bool,
    pub archived: bool,
    pub blacklisted: bool,
    pub unreachable: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowChat {
    pub id: u64,
    pub channel_id: String,
    pub channel_kind: String,
    pub channel_name: String,
    pub unread: u32,
    pub last_activity_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LastMessage {
    pub id: u64,
    pub kind: Kind,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub created_ms: i64,
    pub author_name: Option<String>,
    pub status: Option<Status>,
}

/// A committed event as the hub carries it to every subscriber.
#[derive(Debug)]
pub struct Published {
    pub seq: u64,
    /// Only this manager may see it (notifications, drafts); None = every manager.
    pub audience: Option<u64>,
    /// Unix microseconds of the commit for a live event; None when replayed from the log.
    pub committed_us: Option<u64>,
    pub event: Event,
    /// The wire form, made once by the first connection that sends it and shared by all.
    pub wire: OnceLock<Arc<str>>,
}

impl Published {
    pub fn new(seq: u64, audience: Option<u64>, event: Event) -> Published {
        Published {
            seq,
            audience,
            committed_us: None,
            event,
            wire: OnceLock::new(),
        }
    }

    pub fn visible_to(&self, manager: u64) -> bool {
        self.audience.is_none_or(|a| a == manager)
    }
}
