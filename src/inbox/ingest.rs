//! Inbound messages from any channel: find or create the client and their chat, store the
//! message once (a platform's retry is answered as a duplicate), and tell every manager.

use super::assistant::Reaction;
use super::{Inbox, emit_message, emit_row};
use crate::domain::event::Event;
use crate::domain::inbox::{Chat, Contact, Kind, Message, Status};
use crate::domain::normalise;
use crate::error::Result;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::{self, W};

pub use crate::domain::inbox::Inbound;

#[derive(Clone, Copy, Debug)]
pub struct Ingested {
    pub contact_id: u64,
    pub chat_id: u64,
    pub message_id: u64,
    pub duplicate: bool,
}

/// Find the client's chat on this channel, or create it (linking to an existing contact with
/// the same phone or e-mail, else a new contact). Returns the chat and the contact as stored
/// before this call (None when the contact is new).
pub(crate) fn find_or_create_chat(
    w: &W,
    inb: &Inbound,
    now: i64,
) -> Result<(Chat, Contact, Option<Contact>)> {
    let phone = inb.phone.as_deref().and_then(normalise::phone);
    let email = inb.email.as_deref().and_then(normalise::email);
    if let Some(chat_id) = w.chat_for_client(&inb.channel_id, &inb.client_id)?
        && let Some(chat) = w.chat(chat_id)?
        && let Some(contact) = w.contact(chat.contact_id)?
    {
        return Ok((chat, contact.clone(), Some(contact)));
    }
    // A website visitor types any phone or e-mail: details nobody verified never put them
    // into someone else's row (a merge suggestion is recorded instead, `learn_identifiers`).
    let anonymous = super::identity::anonymous_source(inb);
    let mut linked = None;
    if !anonymous && let Some(p) = &phone {
        linked = super::identity::first_linkable(w, &w.contacts_by_phone(p)?)?;
    }
    if !anonymous
        && linked.is_none()
        && let Some(e) = &email
    {
        linked = super::identity::first_linkable(w, &w.contacts_by_email(e)?)?;
    }
    let (mut contact, old) = match linked.map(|id| w.contact(id)).transpose()?.flatten() {
        Some(c) => (c.clone(), Some(c)),
        None => {
            let name = inb
                .name
                .as_deref()
                .map(|n| normalise::text(n, 200))
                .filter(|n| !n.is_empty())
                .or_else(|| inb.phone.clone())
                .or_else(|| email.clone())
                .unwrap_or_else(|| format!("Client {}", normalise::text(&inb.client_id, 40)));
            let c = Contact {
                name,
                created_ms: now,
                ..Default::default()
            };
            let stored = db::new_contact(w, c)?;
            (stored.clone(), Some(stored))
        }
    };
    let chat = db::new_chat(
        w,
        &mut contact,
        Chat {
            channel_id: inb.channel_id.clone(),
            channel_kind: inb.channel_kind.clone(),
            external_id: inb.client_id.clone(),
            created_ms: now,
            ..Default::default()
        },
    )?;
    Ok((chat, contact, old))
}

/// Add a phone or e-mail the channel told us about to the contact, and suggest a merge with
/// an unverified client who gave the same.
fn learn_identifiers(w: &W, contact: &mut Contact, inb: &Inbound) -> Result<()> {
    let phone = inb.phone.as_deref().and_then(normalise::phone);
    let email = inb.email.as_deref().and_then(normalise::email);
    if let Some(p) = &phone
        && !contact.phones.contains(p)
    {
        contact.phones.push(p.clone());
    }
    if let Some(e) = &email
        && !contact.emails.contains(e)
    {
        contact.emails.push(e.clone());
    }
    super::identity::suggest_merges(w, contact.id, phone.as_deref(), email.as_deref())
}

impl Inbox {
    pub async fn ingest(&self, inb: Inbound) -> Result<Ingested> {
        let channels = self.channels.clone();
        let funnels = self.live_funnels();
        let any_funnel = !funnels.is_empty();
        let business = self.business.clone();
        let rules = self.assistant_rules.clone();
        let online = self.hub.online();
        let (r, ai) = self
            .store
            .write(move |w| {
                if let Some(ext) = &inb.message_id
                    && let Some((message_id, chat_id)) = w.ext_message(&inb.channel_id, ext)?
                {
                    let contact_id = w.chat(chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                    return Ok((
                        Ingested {
                            contact_id,
                            chat_id,
                            message_id,
                            duplicate: true,
                        },
                        Reaction::None,
                    ));
                }
                let now = store::now_ms();
                let (mut chat, mut contact, old) = find_or_create_chat(w, &inb, now)?;
                learn_identifiers(w, &mut contact, &inb)?;
                // A client who writes again is back in the list, and reachable (a Viber
                // user's first message subscribes them).
                contact.archived = false;
                chat.unreachable = false;
                let m = db::append_message(
                    w,
                    &mut chat,
                    &mut contact,
                    Message {
                        id: 0,
                        chat_id: 0,
                        kind: Kind::Client,
                        text: normalise::text(&inb.text, 64 * 1024),
                        attachments: inb.attachments.clone(),
                        author: None,
                        created_ms: now,
                        status: None,
                        error: None,
                        edited: false,
                        mentions: vec![],
                        event: None,
                        external_id: inb.message_id.clone(),
                    },
                )?;
                if let Some(ext) = &inb.message_id {
                    db::remember_ext_message(w, &inb.channel_id, ext, m.id, chat.id)?;
                }
                emit_message(w, true, contact.id, &m)?;
                super::assignment::auto_assign(w, &channels, &online, &mut chat, &mut contact)?;
                if !funnels.is_empty() {
                    // The client's first message in this chat: no client message before it.
                    let (earlier, _) = w.history(chat.id, Some(m.id), 50)?;
                    let first = !earlier.iter().any(|x| x.kind == Kind::Client);
                    let fired = super::automation::Fired::Message {
                        text: &m.text,
                        first,
                    };
                    super::automation::on_fired(w, &funnels, &fired, &mut chat, &mut contact, now)?;
                }
                if let Some(b) = &business {
                    super::hours::away_reply(w, b, &mut chat, &mut contact, now)?;
                }
                let ai = super::assistant::on_client_message(
                    w,
                    &rules,
                    &mut chat,
                    &mut contact,
                    &m,
                    now,
                )?;
                db::put_chat(w, &chat)?;
                db::put_contact(w, old.as_ref(), &contact)?;
                if ai == Reaction::HandedOver {
                    w.emit(None, Event::ChatFlags(super::chat_view(&chat, &channels)))?;
                }
                emit_row(w, &contact, &channels)?;
                Ok((
                    Ingested {
                        contact_id: contact.id,
                        chat_id: chat.id,
                        message_id: m.id,
                        duplicate: false,
                    },
                    ai,
                ))
            })
            .await?;
        match ai {
            Reaction::Scheduled => self.assistant_wake.notify_one(),
            Reaction::HandedOver => self.outbox_wake.notify_one(),
            Reaction::None => {}
        }
        if any_funnel && !r.duplicate {
            self.automation_wake.notify_one();
        }
        if self.business.is_some() && !r.duplicate {
            self.outbox_wake.notify_one();
        }
        Ok(r)
    }
}

/// Store a changed message and tell every manager.
fn store_updated(w: &W, m: &Message) -> Result<()> {
    db::put_message(w, m)?;
    let contact_id = w.chat(m.chat_id)?.map(|c| c.contact_id).unwrap_or(0);
    emit_message(w, false, contact_id, m)
}

/// Something a client did on a platform besides writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Subscribed to the bot or started it (Telegram /start, Viber subscribed).
    Subscribed,
    /// Opened the conversation without writing (Viber conversation_started).
    Started,
    Unsubscribed,
    Blocked,
    Unblocked,
}

impl ClientEvent {
    fn event(self) -> &'static str {
        match self {
            ClientEvent::Subscribed => "subscribed",
            ClientEvent::Started => "conversation_started",
            ClientEvent::Unsubscribed => "unsubscribed",
            ClientEvent::Blocked => "blocked",
            ClientEvent::Unblocked => "unblocked",
        }
    }
    fn text(self) -> &'static str {
        match self {
            ClientEvent::Subscribed => "The client subscribed",
            ClientEvent::Started => "The client opened the conversation",
            ClientEvent::Unsubscribed => "The client unsubscribed; messages cannot be delivered",
            ClientEvent::Blocked => "The client blocked the bot; messages cannot be delivered",
            ClientEvent::Unblocked => "The client unblocked the bot",
        }
    }
    /// Whether the client can receive messages afterwards (None: unchanged).
    fn reachable(self) -> Option<bool> {
        match self {
            ClientEvent::Subscribed | ClientEvent::Unblocked => Some(true),
            ClientEvent::Unsubscribed | ClientEvent::Blocked => Some(false),
            ClientEvent::Started => None,
        }
    }
}

pub use crate::domain::inbox::receipt_applies;

/// Receipts kept for ids no message carries yet; beyond this, new ones are dropped (and
/// `expire_early_receipts` frees the space as they age).
pub const MAX_EARLY_RECEIPTS: u64 = 10_000;
/// A send is recorded within seconds of its answer (the request times out after 30 s): a
/// receipt older than this names a message Parley did not send, or a part of a multi-part one.
pub const EARLY_RECEIPT_TTL_MS: i64 = 10 * 60 * 1000;

fn keep_early_receipt(
    w: &W,
    channel_id: &str,
    external_id: &str,
    status: Status,
    error: Option<String>,
) -> Result<()> {
    use crate::store::channels::{self as ch, EarlyReceipt};
    let existing = ch::early_receipt(w, channel_id, external_id)?;
    match &existing {
        Some(e) if !receipt_applies(Some(e.status), status) => return Ok(()),
        Some(_) => {}
        None if ch::early_receipt_count(w)? >= MAX_EARLY_RECEIPTS => {
            tracing::warn!(
                channel = channel_id,
                "a receipt for unknown message {external_id:?} was dropped: {MAX_EARLY_RECEIPTS} are waiting already"
            );
            return Ok(());
        }
        None => {}
    }
    let e = EarlyReceipt {
        status,
        error,
        received_ms: store::now_ms(),
    };
    ch::put_early_receipt(w, channel_id, external_id, &e)
}

/// Apply a receipt kept by `keep_early_receipt` now that message `m` carries its id.
pub(crate) fn apply_early_receipt(
    w: &W,
    channel_id: &str,
    external_id: &str,
    m: &mut Message,
) -> Result<()> {
    let Some(e) = crate::store::channels::take_early_receipt(w, channel_id, external_id)? else {
        return Ok(());
    };
    if e.received_ms + EARLY_RECEIPT_TTL_MS < store::now_ms()
        || !receipt_applies(m.status, e.status)
    {
        return Ok(());
    }
    m.status = Some(e.status);
    m.error = (e.status == Status::Failed).then(|| {
        e.error
            .unwrap_or_else(|| "the platform reported a failure".into())
    });
    Ok(())
}

impl Inbox {
    /// Drop early receipts no send claimed in time; returns how many.
    pub async fn expire_early_receipts(&self) -> Result<usize> {
        self.store
            .write(|w| {
                crate::store::channels::expire_early_receipts(
                    w,
                    store::now_ms() - EARLY_RECEIPT_TTL_MS,
                    MAX_EARLY_RECEIPTS as usize,
                )
            })
            .await
    }

    /// The client edited a message: the stored text changes and the message is marked edited.
    /// False when the message was never stored (an edit of something older than Parley).
    pub async fn edit_inbound(
        &self,
        channel_id: &str,
        external_id: &str,
        text: String,
    ) -> Result<bool> {
        let (channel_id, external_id) = (channel_id.to_string(), external_id.to_string());
        self.store
            .write(move |w| {
                let Some((message_id, chat_id)) = w.ext_message(&channel_id, &external_id)? else {
                    return Ok(false);
                };
                let Some(mut m) = w.message(chat_id, message_id)? else {
                    return Ok(false);
                };
                let text = normalise::text(&text, 64 * 1024);
                if m.text == text && m.edited {
                    return Ok(true);
                }
                m.text = text;
                m.edited = true;
                store_updated(w, &m)?;
                Ok(true)
            })
            .await
    }

    /// A platform receipt (delivered, read, failed) for one of our messages, by the id the
    /// platform gave it. False when unknown or when it would move the status backwards.
    pub async fn receipt(
        &self,
        channel_id: &str,
        external_id: &str,
        status: Status,
        error: Option<String>,
    ) -> Result<bool> {
        let (channel_id, external_id) = (channel_id.to_string(), external_id.to_string());
        self.store
            .write(move |w| {
                let Some((message_id, chat_id)) = w.ext_message(&channel_id, &external_id)? else {
                    // Platforms may report on a message before the answer to its send request
                    // reached us: kept, the send's result applies it (`delivery_result`).
                    keep_early_receipt(w, &channel_id, &external_id, status, error.clone())?;
                    return Ok(false);
                };
                let Some(mut m) = w.message(chat_id, message_id)? else {
                    return Ok(false);
                };
                if !m.kind.is_outbound() || !receipt_applies(m.status, status) {
                    return Ok(false);
                }
                m.status = Some(status);
                m.error = if status == Status::Failed {
                    Some(
                        error
                            .clone()
                            .unwrap_or_else(|| "the platform reported a failure".into()),
                    )
                } else {
                    None
                };
                store_updated(w, &m)?;
                Ok(true)
            })
            .await
    }

    /// The client subscribed, blocked, unblocked…: a system message in their chat on this
    /// channel (created for a new client) and the chat's reachability. `inb` names the client
    /// (text and attachments are ignored); `inb.message_id`, when set, is the platform's id of
    /// this event, so a redelivery changes nothing. Returns None for a duplicate.
    pub async fn client_event(&self, inb: Inbound, ev: ClientEvent) -> Result<Option<Ingested>> {
        let channels = self.channels.clone();
        let funnels = self.live_funnels();
        let any_funnel = !funnels.is_empty() && ev == ClientEvent::Subscribed;
        let r = self
            .store
            .write(move |w| {
                let dedupe = inb.message_id.as_ref().map(|id| format!("event:{id}"));
                if let Some(key) = &dedupe
                    && w.ext_message(&inb.channel_id, key)?.is_some()
                {
                    return Ok(None);
                }
                let now = store::now_ms();
                let (mut chat, mut contact, old) = find_or_create_chat(w, &inb, now)?;
                learn_identifiers(w, &mut contact, &inb)?;
                if let Some(reachable) = ev.reachable() {
                    chat.unreachable = !reachable;
                }
                let m = db::append_message(
                    w,
                    &mut chat,
                    &mut contact,
                    Message {
                        id: 0,
                        chat_id: 0,
                        kind: Kind::System,
                        text: ev.text().to_string(),
                        attachments: vec![],
                        author: None,
                        created_ms: now,
                        status: None,
                        error: None,
                        edited: false,
                        mentions: vec![],
                        event: Some(ev.event().to_string()),
                        external_id: None,
                    },
                )?;
                if let Some(key) = &dedupe {
                    db::remember_ext_message(w, &inb.channel_id, key, m.id, chat.id)?;
                }
                db::add_log(w, contact.id, ev.event(), ev.text(), None, now)?;
                emit_message(w, true, contact.id, &m)?;
                if ev == ClientEvent::Subscribed {
                    let fired = super::automation::Fired::Subscribed;
                    super::automation::on_fired(w, &funnels, &fired, &mut chat, &mut contact, now)?;
                }
                db::put_chat(w, &chat)?;
                db::put_contact(w, old.as_ref(), &contact)?;
                emit_row(w, &contact, &channels)?;
                Ok(Some(Ingested {
                    contact_id: contact.id,
                    chat_id: chat.id,
                    message_id: m.id,
                    duplicate: false,
                }))
            })
            .await?;
        if any_funnel {
            self.automation_wake.notify_one();
        }
        Ok(r)
    }

    /// A value a channel keeps across restarts (Telegram's polling offset).
    pub fn channel_value(&self, channel_id: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.store
            .read(|r| crate::store::meta::get(r, &channel_value_key(channel_id, key)))
    }

    pub async fn set_channel_value(
        &self,
        channel_id: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<()> {
        let k = channel_value_key(channel_id, key);
        self.store
            .write(move |w| crate::store::meta::put(w, &k, &value))
            .await
    }
}

fn channel_value_key(channel_id: &str, key: &str) -> Vec<u8> {
    crate::store::codec::Key::new()
        .str("channel")
        .str(channel_id)
        .str(key)
        .build()
}

#[cfg(test)]
mod tests {
    use super::receipt_applies;
    use crate::domain::inbox::Status::*;

    #[test]
    fn receipts_only_move_forward() {
        assert!(receipt_applies(Some(Sent), Delivered));
        assert!(receipt_applies(Some(Sent), Read));
        assert!(!receipt_applies(Some(Read), Delivered));
        assert!(!receipt_applies(Some(Delivered), Sent));
        assert!(receipt_applies(Some(Sent), Failed));
        assert!(!receipt_applies(Some(Read), Failed));
        assert!(receipt_applies(Some(Failed), Delivered));
        assert!(!receipt_applies(Some(Failed), Sent));
        assert!(receipt_applies(Some(Queued), Read));
    }
}
