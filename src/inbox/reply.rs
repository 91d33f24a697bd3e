//! What managers do in a chat: send (through the outbox), retry, mark read, comment with
//! mentions, keep drafts; and the delivery results the outbox reports back.

use super::{Inbox, chat_view, emit_message, emit_row, message_view};
use crate::domain::event::{ChatView, Event, MessageView};
use crate::domain::inbox::{Attachment, Delivery, Draft, Kind, Message, Notification, Status};
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;

pub use crate::domain::inbox::MAX_MESSAGE_TEXT as MAX_TEXT;

pub struct Outgoing {
    pub chat_id: u64,
    pub author: Option<u64>,
    pub kind: Kind,
    pub text: String,
    pub attachments: Vec<Attachment>,
}

impl Inbox {
    /// Store an outbound message and queue its delivery in the same transaction.
    pub async fn send(&self, out: Outgoing) -> Result<MessageView> {
        let text = normalise::text(&out.text, MAX_TEXT);
        if text.is_empty() && out.attachments.is_empty() {
            return Err(Error::invalid("text", "write something or attach a file"));
        }
        if !out.kind.is_outbound() {
            return Err(Error::invalid("kind", "must be manager or bot"));
        }
        let channels = self.channels.clone();
        let rules = self.assistant_rules.clone();
        let v = self
            .store
            .write(move |w| {
                let mut chat = w.chat_or_404(out.chat_id)?;
                // H2 and H3 hold for bot messages an integration posts, as for funnels.
                if out.kind == Kind::Bot && (chat.disabled || chat.bot_disabled) {
                    return Err(Error::Conflict(if chat.disabled {
                        "the chat is disabled: it receives no bot messages".into()
                    } else {
                        "bot messages are off for this chat".into()
                    }));
                }
                let old = w.contact_or_404(chat.contact_id)?;
                let mut contact = old.clone();
                let now = store::now_ms();
                // Nothing is sent to a blacklisted client; the message stays in the history.
                let (status, error) = if contact.blacklisted {
                    (
                        Status::Failed,
                        Some("the client is blacklisted; nothing was sent".to_string()),
                    )
                } else {
                    (Status::Queued, None)
                };
                let m = db::append_message(
                    w,
                    &mut chat,
                    &mut contact,
                    Message {
                        id: 0,
                        chat_id: 0,
                        kind: out.kind,
                        text: text.clone(),
                        attachments: out.attachments.clone(),
                        author: out.author,
                        created_ms: now,
                        status: Some(status),
                        error,
                        edited: false,
                        mentions: vec![],
                        event: None,
                        external_id: None,
                    },
                )?;
                if status == Status::Queued {
                    db::enqueue(
                        w,
                        &Delivery {
                            message_id: m.id,
                            chat_id: chat.id,
                            attempts: 0,
                            due_ms: now,
                            last_error: None,
                            parts_sent: 0,
                        },
                    )?;
                }
                if out.kind == Kind::Manager {
                    super::assistant::on_manager_message(w, &rules, &mut chat, &mut contact, now)?;
                }
                // Sending from a chat ends the sender's draft there.
                if let Some(a) = out.author
                    && w.draft(a, chat.id)?.is_some()
                {
                    db::put_draft(w, a, chat.id, None)?;
                    w.emit(
                        Some(a),
                        Event::DraftUpdated {
                            chat_id: chat.id,
                            draft: None,
                        },
                    )?;
                }
                db::put_chat(w, &chat)?;
                db::put_contact(w, Some(&old), &contact)?;
                emit_message(w, true, contact.id, &m)?;
                emit_row(w, &contact, &channels)?;
                message_view(w, &m)
            })
            .await?;
        self.outbox_wake.notify_one();
        Ok(v)
    }

    /// Cancel a delivery that is waiting for its next attempt: the message is marked failed,
    /// saying who cancelled it and why it had not gone out, and is never sent unless someone
    /// presses Retry.
    pub async fn cancel_delivery(&self, message_id: u64, by: ManagerId) -> Result<MessageView> {
        let by = by.0;
        let v = self
            .store
            .write(move |w| {
                let mut m = w
                    .message_by_id(message_id)?
                    .ok_or_else(|| Error::NotFound(format!("message {message_id}")))?;
                let pending = match m.status {
                    Some(Status::Queued) => db::pending_delivery(w, m.id)?,
                    _ => None,
                };
                let Some(d) = pending else {
                    return Err(Error::Conflict(
                        "this message is not waiting to be sent (already sent, failed or cancelled)"
                            .into(),
                    ));
                };
                db::dequeue(w, &d)?;
                let who = w
                    .manager(by)?
                    .map_or_else(|| "a manager".to_string(), |m| m.name);
                m.status = Some(Status::Failed);
                m.error = Some(match &d.last_error {
                    Some(last) => format!(
                        "cancelled by {who} after {} failed attempt{}; the last: {last}",
                        d.attempts,
                        if d.attempts == 1 { "" } else { "s" }
                    ),
                    None => format!("cancelled by {who} before it was sent"),
                });
                db::put_message(w, &m)?;
                let contact_id = w.chat(m.chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                emit_message(w, false, contact_id, &m)?;
                message_view(w, &m)
            })
            .await?;
        Ok(v)
    }

    /// Queue a failed message again, or try a message that is waiting between attempts now
    /// ("Retry now") instead of at its scheduled time.
    pub async fn retry(&self, message_id: u64) -> Result<MessageView> {
        let v = self
            .store
            .write(move |w| {
                let mut m = w
                    .message_by_id(message_id)?
                    .ok_or_else(|| Error::NotFound(format!("message {message_id}")))?;
                if m.status == Some(Status::Queued)
                    && let Some(d) = db::pending_delivery(w, m.id)?
                {
                    let now = store::now_ms();
                    if d.due_ms > now {
                        db::dequeue(w, &d)?;
                        db::enqueue(w, &Delivery { due_ms: now, ..d })?;
                        let contact_id = w.chat(m.chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                        emit_message(w, false, contact_id, &m)?;
                    }
                    return message_view(w, &m);
                }
                if m.status != Some(Status::Failed) {
                    return Err(Error::Conflict(
                        "only a failed message can be retried".into(),
                    ));
                }
                let chat = w.chat_or_404(m.chat_id)?;
                let contact = w.contact_or_404(chat.contact_id)?;
                if contact.blacklisted {
                    return Err(Error::Conflict("the client is blacklisted".into()));
                }
                m.status = Some(Status::Queued);
                m.error = None;
                db::put_message(w, &m)?;
                db::enqueue(
                    w,
                    &Delivery {
                        message_id: m.id,
                        chat_id: m.chat_id,
                        attempts: 0,
                        due_ms: store::now_ms(),
                        last_error: None,
                        parts_sent: 0,
                    },
                )?;
                emit_message(w, false, contact.id, &m)?;
                message_view(w, &m)
            })
            .await?;
        self.outbox_wake.notify_one();
        Ok(v)
    }

    /// Mark everything in a chat read (never done implicitly).
    pub async fn mark_read(&self, chat_id: u64) -> Result<ChatView> {
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let mut chat = w.chat_or_404(chat_id)?;
                let old = w.contact_or_404(chat.contact_id)?;
                if chat.unread > 0 {
                    let mut contact = old.clone();
                    contact.unread = contact.unread.saturating_sub(chat.unread);
                    chat.unread = 0;
                    db::put_chat(w, &chat)?;
                    db::put_contact(w, Some(&old), &contact)?;
                    emit_row(w, &contact, &channels)?;
                }
                Ok(chat_view(&chat, &channels))
            })
            .await
    }

    /// An internal note, optionally mentioning managers (each gets one notification).
    pub async fn add_note(
        &self,
        author: u64,
        chat_id: u64,
        text: String,
        mentions: Vec<u64>,
    ) -> Result<MessageView> {
        let text = normalise::text(&text, MAX_TEXT);
        if text.is_empty() {
            return Err(Error::invalid("text", "write the comment"));
        }
        let mut mentions = mentions;
        mentions.sort_unstable();
        mentions.dedup();
        self.store
            .write(move |w| {
                let mut chat = w.chat_or_404(chat_id)?;
                let old = w.contact_or_404(chat.contact_id)?;
                for id in &mentions {
                    match w.manager(*id)? {
                        Some(m) if !m.disabled => {}
                        _ => {
                            return Err(Error::invalid(
                                "mentions",
                                format!("no active manager with id {id}"),
                            ));
                        }
                    }
                }
                let mut contact = old.clone();
                let now = store::now_ms();
                let m = db::append_message(
                    w,
                    &mut chat,
                    &mut contact,
                    Message {
                        id: 0,
                        chat_id,
                        kind: Kind::Note,
                        text: text.clone(),
                        attachments: vec![],
                        author: Some(author),
                        created_ms: now,
                        status: None,
                        error: None,
                        edited: false,
                        mentions: mentions.clone(),
                        event: None,
                        external_id: None,
                    },
                )?;
                db::put_chat(w, &chat)?;
                emit_message(w, true, contact.id, &m)?;
                for id in &mentions {
                    let n = Notification {
                        id: w.next_id("notification")?,
                        manager_id: *id,
                        chat_id,
                        contact_id: contact.id,
                        message_id: m.id,
                        from: author,
                        text: text.clone(),
                        read: false,
                        created_ms: now,
                    };
                    db::put_notification(w, &n, None)?;
                    let view = super::clients::notification_view(w, &n)?;
                    w.emit(Some(*id), Event::NotificationCreated(view))?;
                }
                message_view(w, &m)
            })
            .await
    }

    pub async fn set_draft(
        &self,
        manager: ManagerId,
        chat_id: u64,
        draft: Option<Draft>,
    ) -> Result<()> {
        let manager = manager.0;
        self.store
            .write(move |w| {
                w.chat_or_404(chat_id)?;
                db::put_draft(w, manager, chat_id, draft.as_ref())?;
                w.emit(
                    Some(manager),
                    Event::DraftUpdated {
                        chat_id,
                        draft: draft.clone(),
                    },
                )?;
                Ok(())
            })
            .await
    }

    /// The outbox reports that the first `parts_sent` platform messages of a delivery were
    /// accepted, so a retry (after a failure or a restart) starts after them.
    pub async fn delivery_progress(&self, d: &Delivery, parts_sent: u32) -> Result<()> {
        let d = d.clone();
        self.store
            .write(move |w| {
                if let Some(mut q) = db::queued_row(w, &d)?
                    && q.parts_sent < parts_sent
                {
                    q.parts_sent = parts_sent;
                    db::enqueue(w, &q)?;
                }
                Ok(())
            })
            .await
    }

    /// The outbox reports a delivery result. `Ok(ext)` = sent (with the platform's id);
    /// `Err((reason, retry_at))` = failed, to be tried again at `retry_at` or never.
    pub async fn delivery_result(&self, d: Delivery, result: DeliveryOutcome) -> Result<()> {
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                // Parts recorded by `delivery_progress` during the attempt.
                let row = db::queued_row(w, &d)?;
                let parts_sent = row.as_ref().map_or(d.parts_sent, |q| q.parts_sent);
                db::dequeue(w, &d)?;
                let Some(mut m) = w.message(d.chat_id, d.message_id)? else {
                    return Ok(());
                };
                if row.is_none() && !matches!(result, DeliveryOutcome::Sent(_)) {
                    // A manager cancelled this delivery, or moved it to now ("Retry now"),
                    // while this attempt was under way: its failure changes nothing.
                    return Ok(());
                }
                if matches!(result, DeliveryOutcome::Sent(_))
                    && let Some(moved) = db::pending_delivery(w, m.id)?
                {
                    // Sent after all: a "Retry now" copy must not send it again.
                    db::dequeue(w, &moved)?;
                }
                match &result {
                    DeliveryOutcome::Sent(ext) => {
                        // Platform receipts may already have moved it further.
                        if m.status
                            .is_none_or(|s| s < Status::Sent || s == Status::Failed)
                        {
                            m.status = Some(Status::Sent);
                        }
                        m.error = None;
                        if let Some(ext) = ext {
                            m.external_id = Some(ext.clone());
                            // Receipts (delivered, read, failed) name the platform's id.
                            if let Some(chat) = w.chat(m.chat_id)? {
                                db::remember_ext_message(w, &chat.channel_id, ext, m.id, chat.id)?;
                                super::ingest::apply_early_receipt(
                                    w,
                                    &chat.channel_id,
                                    ext,
                                    &mut m,
                                )?;
                            }
                        }
                    }
                    DeliveryOutcome::Retry { reason, at } => {
                        let next = Delivery {
                            attempts: d.attempts + 1,
                            due_ms: *at,
                            last_error: Some(reason.clone()),
                            parts_sent,
                            ..d.clone()
                        };
                        db::enqueue(w, &next)?;
                        m.status = Some(Status::Queued);
                        m.error = Some(format!(
                            "attempt {} failed: {reason}; retrying",
                            d.attempts + 1
                        ));
                    }
                    DeliveryOutcome::Failed {
                        reason,
                        unreachable,
                    } => {
                        m.status = Some(Status::Failed);
                        m.error = Some(reason.clone());
                        if *unreachable
                            && let Some(mut chat) = w.chat(m.chat_id)?
                            && !chat.unreachable
                        {
                            chat.unreachable = true;
                            db::put_chat(w, &chat)?;
                            if let Some(contact) = w.contact(chat.contact_id)? {
                                emit_row(w, &contact, &channels)?;
                            }
                        }
                    }
                }
                db::put_message(w, &m)?;
                let contact_id = w.chat(m.chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                emit_message(w, false, contact_id, &m)
            })
            .await
    }
}

/// How one delivery attempt ended, as the outbox records it.
#[derive(Debug)]
pub enum DeliveryOutcome {
    /// Accepted by the platform; its id for this message when it gave one.
    Sent(Option<String>),
    Retry {
        reason: String,
        at: i64,
    },
    Failed {
        reason: String,
        /// The client blocked us or unsubscribed: mark the chat.
        unreachable: bool,
    },
}
