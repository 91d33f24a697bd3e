//! The person-centric chat list: one row per client, by section, newest or oldest first.

use super::{Channels, Inbox};
use crate::domain::event::{LastMessage, Row, RowChat};
use crate::domain::inbox::Contact;
use crate::domain::manager::ManagerId;
use crate::error::{Error, Result};
use crate::store::inbox::{Counts, InboxReads, Section};
use crate::store::prelude::*;

pub const MAX_PAGE: usize = 200;
/// A manager's clients looked at for one "assigned to" page (and its total).
const MAX_ASSIGNED: usize = 100_000;

/// Builds the rows of one page. The chats the requesting manager keeps drafts in come from
/// one scan instead of a lookup per chat of every row, and each author's name is looked up
/// once: of the eight or so B-tree lookups a row took, those were three.
pub struct RowMaker<'a> {
    channels: &'a Channels,
    drafts: Drafts,
    names: std::cell::RefCell<std::collections::HashMap<u64, Option<String>>>,
}

/// Where a row's draft mark comes from.
enum Drafts {
    /// Rows sent to every manager carry `draft: false`; browsers keep their own marks.
    Unmarked,
    Chats(std::collections::HashSet<u64>),
    /// A manager with more drafts than one scan takes: looked up per chat.
    Lookup(u64),
}

/// Drafts read in one scan; a manager with more is rare enough to look up per chat.
const DRAFT_SCAN: usize = 1000;

impl<'a> RowMaker<'a> {
    /// `manager` decides the draft marks (drafts are per manager).
    pub fn new<T: Read>(r: &T, manager: Option<u64>, channels: &'a Channels) -> Result<Self> {
        Self::with_scan(r, manager, channels, DRAFT_SCAN)
    }

    fn with_scan<T: Read>(
        r: &T,
        manager: Option<u64>,
        channels: &'a Channels,
        scan: usize,
    ) -> Result<Self> {
        let drafts = match manager {
            None => Drafts::Unmarked,
            Some(m) => {
                let chats = r.drafted_chats(m, scan)?;
                if chats.len() < scan {
                    Drafts::Chats(chats.into_iter().collect())
                } else {
                    Drafts::Lookup(m)
                }
            }
        };
        Ok(RowMaker {
            channels,
            drafts,
            names: Default::default(),
        })
    }

    fn name<T: Read>(&self, r: &T, manager: u64) -> Result<Option<String>> {
        if let Some(n) = self.names.borrow().get(&manager) {
            return Ok(n.clone());
        }
        let n = r.manager(manager)?.map(|m| m.name);
        self.names.borrow_mut().insert(manager, n.clone());
        Ok(n)
    }

    pub fn row<T: Read>(&self, r: &T, c: &Contact) -> Result<Row> {
        let chats = r.contact_chats(c.id)?;
        let default = chats.first();
        let last_message = match default.and_then(|ch| ch.last_message.map(|m| (ch.id, m))) {
            Some((chat_id, id)) => match r.message(chat_id, id)? {
                Some(m) => Some(LastMessage {
                    author_name: match m.author {
                        Some(a) => self.name(r, a)?,
                        None => None,
                    },
                    id: m.id,
                    kind: m.kind,
                    text: crate::domain::normalise::preview(&m.text),
                    attachments: m.attachments,
                    created_ms: m.created_ms,
                    status: m.status,
                }),
                None => None,
            },
            None => None,
        };
        let draft = match &self.drafts {
            Drafts::Unmarked => false,
            Drafts::Chats(set) => chats.iter().any(|ch| set.contains(&ch.id)),
            Drafts::Lookup(m) => {
                let mut any = false;
                for ch in &chats {
                    if r.draft(*m, ch.id)?.is_some() {
                        any = true;
                        break;
                    }
                }
                any
            }
        };
        let channels = self.channels;
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
}

/// One list row as every manager gets it (in events): no draft mark.
pub fn row<T: Read>(r: &T, c: &Contact, channels: &Channels) -> Result<Row> {
    RowMaker::new(r, None, channels)?.row(r, c)
}

pub struct Page {
    pub items: Vec<Row>,
    pub next_cursor: Option<String>,
    pub counts: Counts,
}

impl Inbox {
    pub async fn list(
        &self,
        manager: ManagerId,
        section: &str,
        sort: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let manager = manager.0;
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
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let (ids, next) = r.section_page(section, newest, cursor.as_deref(), limit)?;
                let rows = RowMaker::new(r, Some(manager), &channels)?;
                let mut items = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(c) = r.contact(id)? {
                        items.push(rows.row(r, &c)?);
                    }
                }
                Ok(Page {
                    items,
                    next_cursor: next.map(hex::encode),
                    counts: r.counts()?,
                })
            })
            .await
    }

    /// One page of `assignee`'s clients in a section, straight from the store (the list's
    /// `assigned=<manager>` without search text or a filter), with how many there are.
    pub async fn assigned_list(
        &self,
        manager: ManagerId,
        assignee: u64,
        section: Section,
        newest: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(Page, usize)> {
        let manager = manager.0;
        let limit = limit.clamp(1, MAX_PAGE);
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let ids = crate::store::inbox::assigned_ids(r, assignee, newest, MAX_ASSIGNED)?;
                let rows = RowMaker::new(r, Some(manager), &channels)?;
                let mut total = 0;
                let mut items = Vec::new();
                for id in ids {
                    let Some(c) = r.contact(id)? else { continue };
                    if section != Section::All && !section.holds(&c) {
                        continue;
                    }
                    if total >= offset && items.len() < limit {
                        items.push(rows.row(r, &c)?);
                    }
                    total += 1;
                }
                let next =
                    (offset + items.len() < total).then(|| (offset + items.len()).to_string());
                Ok((
                    Page {
                        items,
                        next_cursor: next,
                        counts: r.counts()?,
                    },
                    total,
                ))
            })
            .await
    }

    pub async fn counts(&self) -> Result<Counts> {
        self.store.query(|r| r.counts()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inbox::{Chat, Draft};
    use crate::store::inbox as db;

    #[test]
    fn draft_marks_are_the_same_from_one_scan_and_from_lookups() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        let contacts = store
            .write_blocking(|w| {
                let mut out = Vec::new();
                for name in ["Ann", "Bob"] {
                    let mut c = db::new_contact(
                        w,
                        Contact {
                            name: name.into(),
                            ..Default::default()
                        },
                    )?;
                    let mut chats = Vec::new();
                    for ext in ["a", "b"] {
                        let chat = Chat {
                            channel_id: "crm".into(),
                            external_id: format!("{name}-{ext}"),
                            ..Default::default()
                        };
                        chats.push(db::new_chat(w, &mut c, chat)?.id);
                    }
                    out.push((c, chats));
                }
                let d = Draft {
                    text: "half".into(),
                    blocks: None,
                    updated_ms: 1,
                };
                // Manager 7: a draft in Ann's second chat, and some in chats that are gone.
                db::put_draft(w, 7, out[0].1[1], Some(&d))?;
                for gone in 1000..1005 {
                    db::put_draft(w, 7, gone, Some(&d))?;
                }
                db::put_draft(w, 8, out[1].1[0], Some(&d))?;
                Ok(out)
            })
            .unwrap();
        let channels = Channels::default();
        let marks = |manager: Option<u64>, scan: usize| -> Vec<bool> {
            store
                .read(|r| {
                    let rows = RowMaker::with_scan(r, manager, &channels, scan)?;
                    contacts
                        .iter()
                        .map(|(c, _)| Ok(rows.row(r, c)?.draft))
                        .collect::<Result<Vec<bool>>>()
                })
                .unwrap()
        };
        // One scan (all six drafts fit) and per-chat lookups (two do not) agree.
        assert_eq!(marks(Some(7), DRAFT_SCAN), vec![true, false]);
        assert_eq!(marks(Some(7), 2), vec![true, false]);
        assert_eq!(marks(Some(8), DRAFT_SCAN), vec![false, true]);
        assert_eq!(marks(Some(8), 1), vec![false, true]);
        assert_eq!(marks(Some(9), DRAFT_SCAN), vec![false, false]);
        assert_eq!(marks(None, DRAFT_SCAN), vec![false, false]);
    }
}
