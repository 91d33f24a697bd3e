//! Inbound messages from any channel: find or create the client and their chat, store the
//! message once (a platform's retry is answered as a duplicate), and tell every manager.

use serde_json::json;

use super::{Inbox, emit_row, message_json};
use crate::domain::inbox::{Attachment, Chat, Contact, Kind, Message};
use crate::domain::normalise;
use crate::error::Result;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::{self, W};

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
    let mut linked = None;
    if let Some(p) = &phone {
        linked = w.contacts_by_phone(p)?.first().copied();
    }
    if linked.is_none()
        && let Some(e) = &email
    {
        linked = w.contacts_by_email(e)?.first().copied();
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

/// Add a phone or e-mail the channel told us about to the contact.
fn learn_identifiers(contact: &mut Contact, inb: &Inbound) {
    if let Some(p) = inb.phone.as_deref().and_then(normalise::phone)
        && !contact.phones.contains(&p)
    {
        contact.phones.push(p);
    }
    if let Some(e) = inb.email.as_deref().and_then(normalise::email)
        && !contact.emails.contains(&e)
    {
        contact.emails.push(e);
    }
}

impl Inbox {
    pub async fn ingest(&self, inb: Inbound) -> Result<Ingested> {
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                if let Some(ext) = &inb.message_id
                    && let Some((message_id, chat_id)) = w.ext_message(&inb.channel_id, ext)?
                {
                    let contact_id = w.chat(chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                    return Ok(Ingested {
                        contact_id,
                        chat_id,
                        message_id,
                        duplicate: true,
                    });
                }
                let now = store::now_ms();
                let (mut chat, mut contact, old) = find_or_create_chat(w, &inb, now)?;
                learn_identifiers(&mut contact, &inb);
                // A client who writes again is back in the list.
                contact.archived = false;
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
                db::put_chat(w, &chat)?;
                db::put_contact(w, old.as_ref(), &contact)?;
                w.emit(
                    "message.created",
                    None,
                    json!({"chat_id": chat.id, "contact_id": contact.id, "message": message_json(w, &m)?}),
                )?;
                emit_row(w, &contact, &channels)?;
                Ok(Ingested {
                    contact_id: contact.id,
                    chat_id: chat.id,
                    message_id: m.id,
                    duplicate: false,
                })
            })
            .await
    }
}
