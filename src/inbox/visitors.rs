//! Website-widget visitors: anonymous sessions on a widget channel, the contact details they
//! leave, what they have seen, and the part of their own chat they may read (client, manager
//! and bot messages; never notes, system messages or delivery errors).

use super::identity::suggest_merges;
use super::{Inbox, emit_message, emit_row};
use crate::accounts::{random_token, sha256};
use crate::domain::event::{Event, MessageView};
use crate::domain::inbox::{Attachment, Inbound, Kind, Message, Status, Visitor};
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W};

/// Contact details a visitor typed into the widget; absent fields stay as they were.
#[derive(Clone, Debug, Default)]
pub struct VisitorProfile {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl VisitorProfile {
    /// Normal forms, or an error naming the field a person has to correct.
    fn validated(&self) -> Result<VisitorProfile> {
        let name = self
            .name
            .as_deref()
            .map(|n| normalise::text(n, 200))
            .filter(|n| !n.is_empty());
        let phone = match self.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(
                normalise::phone(p)
                    .ok_or_else(|| Error::invalid("phone", "is not a phone number"))?,
            ),
        };
        let email = match self.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) => Some(
                normalise::email(e)
                    .ok_or_else(|| Error::invalid("email", "is not an e-mail address"))?,
            ),
        };
        Ok(VisitorProfile { name, phone, email })
    }
}

/// Whether a visitor sees this message of their chat.
pub fn visible_to_visitor(m: &Message) -> bool {
    match m.kind {
        Kind::Client => true,
        // A reply that was never sent (blacklisted client) stays between the managers.
        Kind::Manager | Kind::Bot => m.status != Some(Status::Failed),
        Kind::System | Kind::Note => false,
    }
}

/// A message as the visitor's browser gets it: no notes, system messages or delivery errors,
/// manager names only for manager replies.
#[derive(Clone, Debug)]
pub struct VisitorMessage {
    pub id: u64,
    pub kind: Kind,
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub author: Option<String>,
    pub created_ms: i64,
    pub edited: bool,
    /// The id the visitor's browser chose for its own message, so it can match its pending
    /// copy.
    pub client_message_id: Option<String>,
}

/// A message as the visitor's browser gets it; None when it is not for their eyes.
pub fn visitor_message<T: Read>(
    r: &T,
    visitor_id: u64,
    m: &Message,
) -> Result<Option<VisitorMessage>> {
    if !visible_to_visitor(m) {
        return Ok(None);
    }
    let author = match (m.kind, m.author) {
        (Kind::Manager, Some(id)) => r.manager(id)?.map(|a| a.name),
        _ => None,
    };
    Ok(Some(for_visitor(visitor_id, m, author)))
}

/// `visitor_message` of a message in a live event, which already names its author.
pub fn visitor_view(visitor_id: u64, v: &MessageView) -> Option<VisitorMessage> {
    let m = &v.message;
    if !visible_to_visitor(m) {
        return None;
    }
    let author = match m.kind {
        Kind::Manager => v.author.as_ref().map(|a| a.name.clone()),
        _ => None,
    };
    Some(for_visitor(visitor_id, m, author))
}

fn for_visitor(visitor_id: u64, m: &Message, author: Option<String>) -> VisitorMessage {
    let prefix = format!("{visitor_id}:");
    let client_message_id = match m.kind {
        Kind::Client => m
            .external_id
            .as_deref()
            .and_then(|e| e.strip_prefix(&prefix))
            .map(String::from),
        _ => None,
    };
    VisitorMessage {
        id: m.id,
        kind: m.kind,
        text: m.text.clone(),
        attachments: m.attachments.clone(),
        author,
        created_ms: m.created_ms,
        edited: m.edited,
        client_message_id,
    }
}

/// How a visitor's message enters the inbox. `client_message_id` is scoped to the visitor,
/// so one visitor can never collide with (or probe for) another's message ids.
pub fn visitor_inbound(
    v: &Visitor,
    client_message_id: &str,
    text: String,
    attachments: Vec<Attachment>,
) -> Inbound {
    let anonymous = v.name.is_none() && v.phone.is_none() && v.email.is_none();
    Inbound {
        channel_id: v.channel_id.clone(),
        channel_kind: "widget".into(),
        client_id: v.client_id(),
        name: if anonymous {
            Some(format!("Website visitor {}", v.id))
        } else {
            v.name.clone()
        },
        phone: v.phone.clone(),
        email: v.email.clone(),
        message_id: Some(format!("{}:{client_message_id}", v.id)),
        text,
        attachments,
        created_ms: None,
    }
}

/// Another client who may be the same person, for the client card.
#[derive(Clone, Debug)]
pub struct MergeCandidate {
    pub contact_id: u64,
    pub name: String,
    pub reason: String,
    pub created_ms: i64,
}

/// A contact's open merge suggestions, for the client card.
pub fn merge_suggestions<T: Read>(r: &T, contact_id: u64) -> Result<Vec<MergeCandidate>> {
    let mut out = Vec::new();
    for (other, s) in db::merge_suggestions(r, contact_id)? {
        if s.dismissed {
            continue;
        }
        let Some(c) = r.contact(other)? else {
            continue;
        };
        out.push(MergeCandidate {
            contact_id: other,
            name: c.name,
            reason: s.reason,
            created_ms: s.created_ms,
        });
    }
    Ok(out)
}

impl Inbox {
    /// A manager says the two clients are different people: the suggestion goes from both
    /// cards and is not made again.
    pub async fn dismiss_merge_suggestion(
        &self,
        manager: ManagerId,
        contact_id: u64,
        other: u64,
    ) -> Result<()> {
        let manager = manager.0;
        self.store
            .write(move |w| {
                w.contact_or_404(contact_id)?;
                let mut s = db::merge_suggestion(w, contact_id, other)?.ok_or_else(|| {
                    Error::NotFound(format!(
                        "merge suggestion for client {contact_id} and client {other}"
                    ))
                })?;
                if s.dismissed {
                    return Ok(());
                }
                s.dismissed = true;
                db::put_merge_suggestion(w, contact_id, other, &s)?;
                let text = format!("merge suggestion with client {other} dismissed");
                db::add_log(
                    w,
                    contact_id,
                    "merge_dismissed",
                    &text,
                    Some(manager),
                    store::now_ms(),
                )?;
                Ok(())
            })
            .await
    }

    /// Forget visitors created before `cutoff_ms` who never wrote (no chat): their tokens stop
    /// working. Returns how many went.
    pub async fn sweep_visitors(&self, cutoff_ms: i64) -> Result<usize> {
        let mut swept = 0;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let from = after.take();
            let page = self
                .store
                .query(move |r| db::visitors_page(r, from.as_deref(), 500))
                .await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            let idle: Vec<Vec<u8>> = self
                .store
                .query(move |r| {
                    let mut out = Vec::new();
                    for (hash, v) in &page {
                        if v.created_ms < cutoff_ms
                            && r.chat_for_client(&v.channel_id, &v.client_id())?.is_none()
                        {
                            out.push(hash.clone());
                        }
                    }
                    Ok(out)
                })
                .await?;
            if idle.is_empty() {
                continue;
            }
            swept += self
                .store
                .write(move |w| {
                    let mut n = 0;
                    for hash in &idle {
                        // Looked at again: the visitor may have written since the read.
                        let Some(v) = db::visitor_by_hash(w, hash)? else {
                            continue;
                        };
                        if w.chat_for_client(&v.channel_id, &v.client_id())?.is_none()
                            && db::delete_visitor(w, hash)?
                        {
                            n += 1;
                        }
                    }
                    Ok(n)
                })
                .await?;
        }
        Ok(swept)
    }

    /// A new visitor on a widget channel. The token is returned once; only its SHA-256 is kept.
    pub async fn create_visitor(&self, channel_id: &str) -> Result<(String, Visitor)> {
        let token = random_token(32);
        let hash = sha256(token.as_bytes());
        let channel_id = channel_id.to_string();
        let v = self
            .store
            .write(move |w| {
                let v = Visitor {
                    id: w.next_id("visitor")?,
                    channel_id: channel_id.clone(),
                    created_ms: store::now_ms(),
                    ..Default::default()
                };
                db::put_visitor(w, &hash, &v)?;
                Ok(v)
            })
            .await?;
        Ok((token, v))
    }

    /// The visitor holding `token` on `channel_id` (a token of another channel is unknown here).
    pub fn visitor(&self, channel_id: &str, token: &str) -> Result<Option<Visitor>> {
        let hash = sha256(token.as_bytes());
        Ok(self
            .store
            .read(|r| db::visitor_by_hash(r, &hash))?
            .filter(|v| v.channel_id == channel_id))
    }

    /// The visitor's chat, once they have written.
    pub fn visitor_chat(&self, v: &Visitor) -> Result<Option<u64>> {
        self.store
            .read(|r| r.chat_for_client(&v.channel_id, &v.client_id()))
    }

    /// One page of the visitor's chat, oldest first, ending before message `before`; and the
    /// cursor for the page before it.
    pub fn visitor_history(
        &self,
        v: &Visitor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<VisitorMessage>, Option<u64>)> {
        let Some(chat_id) = self.visitor_chat(v)? else {
            return Ok((vec![], None));
        };
        self.store.read(|r| {
            let (page, more) = r.history(chat_id, before, limit)?;
            let next = if more {
                page.first().map(|m| m.id)
            } else {
                None
            };
            let mut items = Vec::with_capacity(page.len());
            for m in &page {
                if let Some(j) = visitor_message(r, v.id, m)? {
                    items.push(j);
                }
            }
            Ok((items, next))
        })
    }

    /// One stored message as the visitor sees it (None when it is not for their eyes).
    pub async fn visitor_message(
        &self,
        v: &Visitor,
        chat_id: u64,
        message_id: u64,
    ) -> Result<Option<VisitorMessage>> {
        let visitor = v.id;
        self.store
            .query(move |r| match r.message(chat_id, message_id)? {
                Some(m) => visitor_message(r, visitor, &m),
                None => Ok(None),
            })
            .await
    }

    /// The name managers see for the client of a chat.
    pub async fn client_name(&self, chat_id: u64) -> Result<Option<String>> {
        self.store
            .query(move |r| {
                let c = r.chat(chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                Ok(r.contact(c)?.map(|c| c.name))
            })
            .await
    }

    /// Whether a file is attached to a message the visitor can see (the only files they may
    /// download). Looks through the newest `budget` messages of their chat.
    pub fn visitor_file(&self, v: &Visitor, sha256: &str, budget: usize) -> Result<bool> {
        let Some(chat_id) = self.visitor_chat(v)? else {
            return Ok(false);
        };
        self.store.read(|r| {
            let mut before = None;
            let mut seen = 0;
            while seen < budget {
                let (page, more) = r.history(chat_id, before, 500)?;
                seen += page.len();
                if page.iter().any(|m| {
                    visible_to_visitor(m) && m.attachments.iter().any(|a| a.sha256 == sha256)
                }) {
                    return Ok(true);
                }
                match (more, page.first()) {
                    (true, Some(m)) => before = Some(m.id),
                    _ => break,
                }
            }
            Ok(false)
        })
    }

    /// Keep the details a visitor left; once they have a chat, put them on the contact too,
    /// with a system message so managers see what changed.
    pub async fn update_visitor_profile(
        &self,
        token: &str,
        profile: VisitorProfile,
    ) -> Result<Visitor> {
        let p = profile.validated()?;
        let hash = sha256(token.as_bytes());
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let mut v = db::visitor_by_hash(w, &hash)?.ok_or(Error::Unauthenticated)?;
                if p.name.is_some() {
                    v.name.clone_from(&p.name);
                }
                if p.phone.is_some() {
                    v.phone.clone_from(&p.phone);
                }
                if p.email.is_some() {
                    v.email.clone_from(&p.email);
                }
                db::put_visitor(w, &hash, &v)?;
                if let Some(chat_id) = w.chat_for_client(&v.channel_id, &v.client_id())? {
                    profile_to_contact(w, chat_id, &p, &channels)?;
                }
                Ok(v)
            })
            .await
    }

    /// The visitor's panel showed everything up to message `up_to`: replies up to there are
    /// read. Returns how many changed.
    pub async fn visitor_seen(&self, chat_id: u64, up_to: u64) -> Result<usize> {
        // Browsers repeat this on every reload; most calls change nothing and need no write.
        let unread = |m: &Message| {
            m.kind.is_outbound()
                && m.status != Some(Status::Failed)
                && super::ingest::receipt_applies(m.status, Status::Read)
        };
        let newest_outbound = self.store.read(|r| {
            let (page, _) = r.history(chat_id, up_to.checked_add(1), 200)?;
            Ok(page.into_iter().rev().find(|m| m.kind.is_outbound()))
        })?;
        if !newest_outbound.as_ref().is_some_and(unread) {
            return Ok(0);
        }
        self.store
            .write(move |w| {
                let (page, _) = w.history(chat_id, up_to.checked_add(1), 200)?;
                let mut changed = 0;
                for mut m in page.into_iter().rev() {
                    if !m.kind.is_outbound() {
                        continue;
                    }
                    // Everything older was marked when this one was.
                    if m.status == Some(Status::Read) {
                        break;
                    }
                    if !unread(&m) {
                        continue;
                    }
                    m.status = Some(Status::Read);
                    m.error = None;
                    db::put_message(w, &m)?;
                    let contact_id = w.chat(chat_id)?.map(|c| c.contact_id).unwrap_or(0);
                    emit_message(w, false, contact_id, &m)?;
                    changed += 1;
                }
                Ok(changed)
            })
            .await
    }
}

/// Apply a visitor's details to the contact of their chat. The name replaces the contact's
/// only when the contact is the visitor's alone (a contact linked by phone or e-mail to other
/// chats keeps the name managers gave it); phone and e-mail are added.
fn profile_to_contact(
    w: &W,
    chat_id: u64,
    p: &VisitorProfile,
    channels: &super::Channels,
) -> Result<()> {
    let mut chat = w.chat_or_404(chat_id)?;
    let old = w.contact_or_404(chat.contact_id)?;
    let mut c = old.clone();
    let mut said = Vec::new();
    if let Some(n) = &p.name {
        said.push(format!("name {n}"));
        if c.chat_count <= 1 {
            c.name.clone_from(n);
        }
    }
    if let Some(ph) = &p.phone {
        said.push(format!("phone +{ph}"));
        if !c.phones.contains(ph) {
            c.phones.push(ph.clone());
        }
    }
    if let Some(e) = &p.email {
        said.push(format!("e-mail {e}"));
        if !c.emails.contains(e) {
            c.emails.push(e.clone());
        }
    }
    if said.is_empty() {
        return Ok(());
    }
    suggest_merges(w, c.id, p.phone.as_deref(), p.email.as_deref())?;
    let now = store::now_ms();
    let text = format!("The visitor left their details: {}", said.join(", "));
    db::add_log(w, c.id, "contact_details", &text, None, now)?;
    let m = db::append_message(
        w,
        &mut chat,
        &mut c,
        Message {
            id: 0,
            chat_id: 0,
            kind: Kind::System,
            text,
            attachments: vec![],
            author: None,
            created_ms: now,
            status: None,
            error: None,
            edited: false,
            mentions: vec![],
            event: Some("contact_details".into()),
            external_id: None,
        },
    )?;
    db::put_chat(w, &chat)?;
    db::put_contact(w, Some(&old), &c)?;
    emit_message(w, true, c.id, &m)?;
    w.emit(None, Event::ContactUpdated(c.clone()))?;
    emit_row(w, &c, channels)
}
