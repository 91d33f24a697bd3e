//! The person-centric chat list: one row per client, by section, newest or oldest first.

use serde::Serialize;
use serde_json::Value;

use super::{Channels, Inbox, attachment_json};
use crate::domain::inbox::Contact;
use crate::error::{Error, Result};
use crate::store::inbox::{Counts, InboxReads, Section};
use crate::store::prelude::*;

pub const MAX_PAGE: usize = 200;

/// One list row. `manager` decides the draft mark (drafts are per manager); events sent to
/// everyone carry `draft: false` and the browser keeps its own draft marks.
pub fn row<T: Read>(r: &T, c: &Contact, manager: Option<u64>, channels: &Channels) -> Result<Row> {
    let chats = r.contact_chats(c.id)?;
    let default = chats.first();
    let last_message = match default.and_then(|ch| ch.last_message.map(|m| (ch.id, m))) {
        Some((chat_id, id)) => match r.message(chat_id, id)? {
            Some(m) => Some(LastMessage {
                author_name: match m.author {
                    Some(a) => r.manager(a)?.map(|a| a.name),
                    None => None,
                },
                id: m.id,
                kind: m.kind.as_str(),
                text: crate::domain::normalise::preview(&m.text),
                attachments: m.attachments.iter().map(attachment_json).collect(),
                created_ms: m.created_ms,
                status: m.status.map(|s| s.as_str()),
            }),
            None => None,
        },
        None => None,
    };
    let mut draft = false;
    if let Some(mid) = manager {
        for ch in &chats {
            if r.draft(mid, ch.id)?.is_some() {
                draft = true;
                break;
            }
        }
    }
    Ok(Row {
        contact_id: c.id,
        name: c.name.clone(),
        avatar: None,
        default_chat_id: default.map(|ch| ch.id),
        channel_kind: default.map(|ch| ch.channel_kind.clone()),
        channel_id: default.map(|ch| ch.channel_id.clone()),
        unreachable: default.is_some_and(|ch| ch.unreachable),
        chats: chats
            .iter()
            .map(|ch| RowChat {
                id: ch.id,
                channel_name: channels.name(&ch.channel_id),
                channel_id: ch.channel_id.clone(),
                channel_kind: ch.channel_kind.clone(),
                unread: ch.unread,
                last_activity_ms: ch.last_activity_ms,
            })
            .collect(),
        last_message,
        last_activity_ms: c.last_activity_ms,
        unread: c.unread,
        open_task: c.open_tasks > 0,
        draft,
        marked: c.marked,
        archived: c.archived,
        blacklisted: c.blacklisted,
    })
}

// Rows are serialised straight from these structs: a list page or search result has 50 of
// them, and building serde_json::Value maps first took about a fifth of such a request.

#[derive(Serialize)]
pub struct Row {
    pub contact_id: u64,
    name: String,
    avatar: Option<String>,
    default_chat_id: Option<u64>,
    channel_kind: Option<String>,
    channel_id: Option<String>,
    chats: Vec<RowChat>,
    last_message: Option<LastMessage>,
    last_activity_ms: i64,
    unread: u32,
    open_task: bool,
    draft: bool,
    marked: bool,
    archived: bool,
    blacklisted: bool,
    unreachable: bool,
}

#[derive(Serialize)]
struct RowChat {
    id: u64,
    channel_id: String,
    channel_kind: String,
    channel_name: String,
    unread: u32,
    last_activity_ms: i64,
}

#[derive(Serialize)]
struct LastMessage {
    id: u64,
    kind: &'static str,
    text: String,
    attachments: Vec<Value>,
    created_ms: i64,
    author_name: Option<String>,
    status: Option<&'static str>,
}

#[derive(Serialize)]
pub struct Page {
    pub items: Vec<Row>,
    pub next_cursor: Option<String>,
    pub counts: Counts,
}

impl Inbox {
    pub fn list(
        &self,
        manager: u64,
        section: &str,
        sort: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let section = Section::parse(section).ok_or_else(|| {
            Error::invalid("section", "must be all, unread, important or dialogs")
        })?;
        let newest = match sort {
            "newest" | "" => true,
            "oldest" => false,
            _ => return Err(Error::invalid("sort", "must be newest or oldest")),
        };
        let cursor = cursor
            .filter(|c| !c.is_empty())
            .map(|c| {
                hex::decode(c)
                    .ok()
                    .filter(|b| b.len() == 16)
                    .ok_or_else(|| Error::invalid("cursor", "is not a cursor this server gave out"))
            })
            .transpose()?;
        let limit = limit.clamp(1, MAX_PAGE);
        self.store.read(|r| {
            let (ids, next) = r.section_page(section, newest, cursor.as_deref(), limit)?;
            let mut items = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(c) = r.contact(id)? {
                    items.push(row(r, &c, Some(manager), &self.channels)?);
                }
            }
            Ok(Page {
                items,
                next_cursor: next.map(hex::encode),
                counts: r.counts()?,
            })
        })
    }

    pub fn counts(&self) -> Result<Counts> {
        self.store.read(|r| r.counts())
    }
}
