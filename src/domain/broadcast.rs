//! Broadcasts (B3): one message, template or funnel start for every client of a filter,
//! sent at a pace each platform accepts, with a report of what became of each.

use serde::{Deserialize, Serialize};

/// What a broadcast sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// A bot message (variables rendered per client).
    Text(String),
    /// A chat template by name, rendered per client.
    Template(String),
    /// Start this funnel for each client.
    Funnel(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BroadcastState {
    Running,
    Paused,
    Cancelled,
    /// Every client was handled.
    Done,
}

impl BroadcastState {
    pub fn as_str(self) -> &'static str {
        match self {
            BroadcastState::Running => "running",
            BroadcastState::Paused => "paused",
            BroadcastState::Cancelled => "cancelled",
            BroadcastState::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Broadcast {
    pub id: u64,
    pub name: String,
    pub payload: Payload,
    pub state: BroadcastState,
    /// Clients the filter matched when it was created.
    pub total: u64,
    /// Clients handled so far (queued, started or skipped).
    pub handled: u64,
    /// The last client handled (targets go in contact id order), where the sender resumes.
    pub cursor: u64,
    pub created_ms: i64,
    pub created_by: u64,
    pub finished_ms: Option<i64>,
}

/// What became of one client of a broadcast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Target {
    Pending,
    /// A bot message was queued; its status tells sent / delivered / read / failed.
    Queued {
        chat_id: u64,
        message_id: u64,
    },
    /// The funnel was started for the client.
    Started {
        run_id: u64,
    },
    /// Not sent, and why (chat disabled, bot messages off, blacklisted, no chat, cancelled …).
    Skipped {
        reason: String,
    },
}

/// Messages per second each platform takes from one sender without refusing: Telegram's
/// broadcast limit is about 30 a second, the WhatsApp Cloud API's default throughput 80;
/// Viber publishes none, so it gets Telegram's pace; the API channel and the widget are
/// ours. Kept under the published figures so ordinary replies still get through.
pub fn per_second(channel_kind: &str) -> u32 {
    match channel_kind {
        "telegram" => 25,
        "whatsapp" => 60,
        "viber" => 25,
        _ => 500,
    }
}
