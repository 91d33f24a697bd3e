//! The inbox vocabulary: contacts (clients), chats, messages, tasks, dialogs, notifications.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The longest message text (bytes) a manager, a funnel or a broadcast may send.
pub const MAX_MESSAGE_TEXT: usize = 16 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: u64,
    pub name: String,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, String>,
    pub sales_plan: Option<String>,
    pub archived: bool,
    pub blacklisted: bool,
    /// The flag Ctrl+Shift+A sets in the list.
    pub marked: bool,
    pub created_ms: i64,
    /// Last client, manager or bot message in any of the contact's chats; orders the list.
    pub last_activity_ms: i64,
    /// Unread client messages over all the contact's chats.
    pub unread: u32,
    pub open_tasks: u32,
    /// Number of chats (a contact without chats has no row in the list).
    pub chat_count: u32,
    /// Id of the open dialog, if any.
    pub open_dialog: Option<u64>,
    /// The responsible manager (T1), if any.
    pub assignee: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Chat {
    pub id: u64,
    pub contact_id: u64,
    pub channel_id: String,
    pub channel_kind: String,
    /// The client's id on the channel (Telegram chat id, WhatsApp number, …).
    pub external_id: String,
    pub created_ms: i64,
    pub last_activity_ms: i64,
    pub last_inbound_ms: i64,
    pub unread: u32,
    /// Newest message that counts as activity, for the list preview.
    pub last_message: Option<u64>,
    pub disabled: bool,
    pub bot_disabled: bool,
    pub assistant_on: bool,
    pub assistant: Option<String>,
    /// The client blocked the bot or unsubscribed; sends will fail.
    pub unreachable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Client,
    Manager,
    Bot,
    System,
    Note,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Manager => "manager",
            Kind::Bot => "bot",
            Kind::System => "system",
            Kind::Note => "note",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "client" => Kind::Client,
            "manager" => Kind::Manager,
            "bot" => Kind::Bot,
            "system" => Kind::System,
            "note" => Kind::Note,
            _ => return None,
        })
    }
    /// Messages that move the chat to the top of the list.
    pub fn is_activity(self) -> bool {
        matches!(self, Kind::Client | Kind::Manager | Kind::Bot)
    }
    /// Messages that go out through the channel.
    pub fn is_outbound(self) -> bool {
        matches!(self, Kind::Manager | Kind::Bot)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Read => "read",
            Status::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// SHA-256 of the content, hex; the blob's name on disk.
    pub sha256: String,
    pub name: String,
    pub mime: String,
    pub size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub chat_id: u64,
    pub kind: Kind,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub author: Option<u64>,
    pub created_ms: i64,
    pub status: Option<Status>,
    pub error: Option<String>,
    pub edited: bool,
    pub mentions: Vec<u64>,
    /// For system messages: what happened (`subscribed`, `blocked`, `task_added`, …).
    pub event: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub contact_id: u64,
    pub title: String,
    pub due_ms: Option<i64>,
    pub assignee: Option<u64>,
    pub done: bool,
    pub created_ms: i64,
    pub created_by: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dialog {
    pub id: u64,
    pub contact_id: u64,
    pub manager_id: u64,
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notification {
    pub id: u64,
    pub manager_id: u64,
    pub chat_id: u64,
    pub contact_id: u64,
    pub message_id: u64,
    pub from: u64,
    pub text: String,
    pub read: bool,
    pub created_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    pub id: u64,
    pub contact_id: u64,
    pub created_ms: i64,
    pub event: String,
    pub text: String,
    pub manager_id: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Draft {
    pub text: String,
    /// Constructor blocks as the UI sent them (JSON text); opaque to the server.
    pub blocks: Option<String>,
    pub updated_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: u64,
    pub name: String,
    pub created_by: u64,
    pub created_ms: i64,
    pub scope: TokenScope,
    /// The token that created this one, when it was made with a token: deleting that one
    /// ends this one too, so a leaked token leaves no way back in.
    pub parent: Option<u64>,
}

/// What an API token may do. `Integration` works the inbox (channels, chats, messages,
/// contacts and what hangs off them) as its admin would; `Admin` may also manage people and
/// tokens, and is only given when asked for by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenScope {
    Integration,
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Integration => "integration",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<TokenScope> {
        match s {
            "integration" => Some(TokenScope::Integration),
            "admin" => Some(TokenScope::Admin),
            _ => None,
        }
    }
}

/// The first layout of `ApiToken`, before scopes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiTokenV1 {
    pub id: u64,
    pub name: String,
    pub created_by: u64,
    pub created_ms: i64,
}

/// A pending outbound delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub message_id: u64,
    pub chat_id: u64,
    pub attempts: u32,
    pub due_ms: i64,
    pub last_error: Option<String>,
    /// Platform messages of this one already accepted (a long text goes out in pieces, files
    /// one by one): a retry resumes after them instead of sending them again.
    pub parts_sent: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Blob {
    pub mime: String,
    pub size: u64,
    pub created_ms: i64,
}

/// Someone's claim on an uploaded file: only they may attach it to a message.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Upload {
    pub created_ms: i64,
    /// The upload put the file on disk (it was not stored before), so sweeping an unattached
    /// upload may delete it.
    pub fresh: bool,
    /// Attached to a message at least once.
    pub attached: bool,
}

/// Two clients who may be one person (same phone or e-mail, one side unverified). Managers
/// decide; nothing is merged on its own.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MergeSuggestion {
    /// "same phone" or "same e-mail".
    pub reason: String,
    pub created_ms: i64,
    /// A manager said no: kept so the same pair is not suggested again.
    pub dismissed: bool,
}

/// A website-widget visitor: one browser's session on one widget channel. Stored under the
/// SHA-256 of the visitor's token; the chat is found by (channel, `client_id()`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Visitor {
    pub id: u64,
    pub channel_id: String,
    pub created_ms: i64,
    /// Contact details the visitor left (applied to the contact once there is a chat).
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Visitor {
    /// The visitor's id on the channel (the chat's external id).
    pub fn client_id(&self) -> String {
        format!("visitor-{}", self.id)
    }

    /// The visitor id in a widget chat's external id.
    pub fn id_of_client(client_id: &str) -> Option<u64> {
        client_id.strip_prefix("visitor-")?.parse().ok()
    }
}

/// A list of the Chats screen: every chat, unread, important (open tasks), open dialogs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    All,
    Unread,
    Important,
    Dialogs,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::All,
        Section::Unread,
        Section::Important,
        Section::Dialogs,
    ];

    pub fn parse(s: &str) -> Option<Section> {
        Some(match s {
            "all" => Section::All,
            "unread" => Section::Unread,
            "important" => Section::Important,
            "dialogs" => Section::Dialogs,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Section::All => "all",
            Section::Unread => "unread",
            Section::Important => "important",
            Section::Dialogs => "dialogs",
        }
    }

    pub fn holds(self, c: &Contact) -> bool {
        let listed = !c.archived && c.chat_count > 0;
        listed
            && match self {
                Section::All => true,
                Section::Unread => c.unread > 0,
                Section::Important => c.open_tasks > 0,
                Section::Dialogs => c.open_dialog.is_some(),
            }
    }
}

/// A client's message as a channel received it, before the inbox stores it.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    pub channel_id: String,
    pub channel_kind: String,
    /// The client's id on the channel.
    pub client_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The platform's id of this message; the dedupe key within the channel.
    pub message_id: Option<String>,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub created_ms: Option<i64>,
}

/// Receipts only move a message forward: sent < delivered < read; failed ends a message that
/// was not yet delivered, and a later delivered/read overrides a failure.
pub fn receipt_applies(current: Option<Status>, new: Status) -> bool {
    match (current, new) {
        (None, _) => true,
        (Some(cur), Status::Failed) => matches!(cur, Status::Queued | Status::Sent),
        (Some(Status::Failed), _) => new > Status::Sent,
        (Some(cur), _) => new > cur,
    }
}

/// A chat template (A3) made in the UI; those in the config file's `[[templates]]` are not
/// stored and cannot be changed from the UI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub text: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub created_by: Option<u64>,
}

/// A saved reply (T2): typed in the composer by its shortcut after `/`. Personal replies
/// belong to their owner; shared ones are everyone's and admins manage them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuickReply {
    pub id: u64,
    /// Lowercase letters, digits, `-` and `_`, without the leading `/`.
    pub shortcut: String,
    /// May hold variables (`{client.name}`), filled when it is inserted.
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub shared: bool,
    pub owner: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
}
