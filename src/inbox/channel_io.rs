//! What the channel adapters and the outbox worker need from the store, as inbox methods:
//! the "already stored?" check of the inbound pipeline, the outbox's reads, the channel
//! states Settings shows, a multi-part send's progress and the files a platform sent. The
//! channels layer calls these instead of reading tables, so it never names the store.

use super::Inbox;
use super::ingest::Ingested;
use crate::domain::broadcast::WaTemplate;
use crate::domain::inbox::{Chat, Contact, Delivery, Message};
use crate::error::Result;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::{codec, meta};

/// What a channel's state keeps across restarts (the rest belongs to the running process).
pub use crate::store::channels::SavedState as SavedChannelState;

/// A queued message with what its delivery needs.
pub struct OutgoingRow {
    pub message: Message,
    pub chat: Chat,
    pub contact: Option<Contact>,
    /// Send it as this WhatsApp template rather than as its text (a broadcast's template).
    pub wa_template: Option<WaTemplate>,
}

impl Inbox {
    /// The message a channel already delivered under this id, answered as the duplicate
    /// `ingest` would report. The inbound pipeline asks before downloading any file, so a
    /// platform's redelivery costs no download and no write.
    pub fn known_message(&self, channel_id: &str, external_id: &str) -> Result<Option<Ingested>> {
        self.store.read(|r| {
            let Some((message_id, chat_id)) = r.ext_message(channel_id, external_id)? else {
                return Ok(None);
            };
            let contact_id = r.chat(chat_id)?.map(|c| c.contact_id).unwrap_or(0);
            Ok(Some(Ingested {
                contact_id,
                chat_id,
                message_id,
                duplicate: true,
            }))
        })
    }

    /// Up to `limit` queued deliveries, soonest due first.
    pub async fn due_deliveries(&self, limit: usize) -> Result<Vec<Delivery>> {
        self.store.query(move |r| db::due(r, i64::MAX, limit)).await
    }

    /// Whether `d` is still queued as it was read (not delivered or rescheduled since).
    pub fn delivery_queued(&self, d: &Delivery) -> Result<bool> {
        self.store.read(|r| db::queued(r, d))
    }

    /// The channel a chat is on.
    pub fn chat_channel(&self, chat_id: u64) -> Result<Option<String>> {
        self.store
            .read(|r| Ok(r.chat(chat_id)?.map(|c| c.channel_id)))
    }

    /// What a delivery sends; None when the message or the chat is gone.
    pub fn outgoing(&self, d: &Delivery) -> Result<Option<OutgoingRow>> {
        self.store.read(|r| {
            let Some(message) = r.message(d.chat_id, d.message_id)? else {
                return Ok(None);
            };
            let Some(chat) = r.chat(d.chat_id)? else {
                return Ok(None);
            };
            let contact = r.contact(chat.contact_id)?;
            let wa_template = db::wa_template(r, message.id)?;
            Ok(Some(OutgoingRow {
                message,
                chat,
                contact,
                wa_template,
            }))
        })
    }

    /// Every channel's saved state, by channel id.
    pub fn saved_channel_states(&self) -> Result<Vec<(String, SavedChannelState)>> {
        self.store.read(crate::store::channels::saved_states)
    }

    /// Write these channels' states in one transaction.
    pub async fn save_channel_states(&self, rows: Vec<(String, SavedChannelState)>) -> Result<()> {
        self.store
            .write(move |w| {
                for (id, s) in &rows {
                    crate::store::channels::save_state(w, id, s)?;
                }
                Ok(())
            })
            .await
    }

    /// How many parts of a multi-part message a platform already accepted, by the adapter's
    /// own bookkeeping (Viber's), so a retry even after a restart resumes after them.
    pub fn sent_parts(&self, channel_id: &str, chat_id: u64, message_id: u64) -> Result<usize> {
        let key = sent_parts_key(channel_id, chat_id, message_id);
        let v = self.store.read(|r| meta::get(r, &key))?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, |b| u64::from_be_bytes(b) as usize))
    }

    pub async fn set_sent_parts(
        &self,
        channel_id: &str,
        chat_id: u64,
        message_id: u64,
        n: usize,
    ) -> Result<()> {
        let key = sent_parts_key(channel_id, chat_id, message_id);
        self.store
            .write(move |w| meta::put(w, &key, &(n as u64).to_be_bytes()))
            .await
    }

    pub async fn clear_sent_parts(
        &self,
        channel_id: &str,
        chat_id: u64,
        message_id: u64,
    ) -> Result<()> {
        let key = sent_parts_key(channel_id, chat_id, message_id);
        self.store
            .write(move |w| meta::delete(w, &key).map(|_| ()))
            .await
    }
}

/// The key Viber's part counter has always had, so a send in progress across an upgrade
/// resumes where it was.
fn sent_parts_key(channel_id: &str, chat_id: u64, message_id: u64) -> Vec<u8> {
    codec::Key::new()
        .str("viber_sent_parts")
        .str(channel_id)
        .u64(chat_id)
        .u64(message_id)
        .build()
}
