//! The search feed: `search::Source` over the store. The change log is written by the inbox
//! writes in each change's own transaction (`store::search_log`); this reads it back, along
//! with the rows it names, decoded and resolved to what a search document needs, so that
//! search never reads the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::domain::inbox::Contact;
use crate::error::Result;
use crate::search::{Changes, ContactDoc, MessageDoc, Source};
use crate::store::inbox::{self as db, InboxReads, Section};
use crate::store::{Read, Store, search_log};

/// Rows read per page of a rebuild scan.
const CONTACT_PAGE: usize = 5000;
const MESSAGE_PAGE: usize = 10_000;

/// Feeds the search indexes from the store.
struct SearchFeed {
    store: Store,
}

/// The source `Search` is opened with.
pub fn source(store: Store) -> Arc<dyn Source> {
    Arc::new(SearchFeed { store })
}

fn contact_doc<T: Read>(r: &T, contact: Contact) -> Result<ContactDoc> {
    Ok(ContactDoc {
        chats: r.contact_chats(contact.id)?,
        sections: Section::ALL
            .iter()
            .filter(|s| s.holds(&contact))
            .map(|s| s.name())
            .collect(),
        contact,
    })
}

/// The contact a chat belongs to (0 when the chat is gone), looked up once per chat.
fn owner<T: Read>(r: &T, cache: &mut HashMap<u64, u64>, chat: u64) -> Result<u64> {
    if let Some(c) = cache.get(&chat) {
        return Ok(*c);
    }
    let c = r.chat(chat)?.map_or(0, |c| c.contact_id);
    cache.insert(chat, c);
    Ok(c)
}

impl Source for SearchFeed {
    fn changes(&self, after: u64, limit: usize) -> Result<Changes> {
        self.store.read(|r| {
            let entries = search_log::since(r, after, limit)?;
            let last = entries.last().map_or(after, |e| e.0);
            // A row changed many times in a batch is read and indexed once, as it is now.
            let mut contacts = HashSet::new();
            let mut msgs = HashSet::new();
            for (_, e) in &entries {
                match e {
                    search_log::Entry::Contact(id) => {
                        contacts.insert(*id);
                    }
                    search_log::Entry::Message(chat, id) => {
                        msgs.insert((*chat, *id));
                    }
                }
            }
            let contacts = contacts
                .into_iter()
                .map(|id| {
                    let doc = r.contact(id)?.map(|c| contact_doc(r, c)).transpose()?;
                    Ok((id, doc))
                })
                .collect::<Result<Vec<_>>>()?;
            let mut owners = HashMap::new();
            let messages = msgs
                .into_iter()
                .map(|(chat, id)| {
                    let doc = match r.message(chat, id)? {
                        Some(message) => Some(MessageDoc {
                            message,
                            contact_id: owner(r, &mut owners, chat)?,
                        }),
                        None => None,
                    };
                    Ok((id, doc))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Changes {
                last,
                entries: entries.len(),
                contacts,
                messages,
            })
        })
    }

    fn last_change(&self) -> Result<u64> {
        self.store.read(search_log::last)
    }

    fn sizes(&self) -> Result<(u64, u64)> {
        self.store
            .read(|r| Ok((db::contact_count(r)?, db::message_count(r)?)))
    }

    fn scan_contacts(
        &self,
        page: &mut dyn FnMut(Vec<ContactDoc>, u64) -> Result<()>,
    ) -> Result<u64> {
        // One snapshot: the rows and the log position they correspond to.
        self.store.read(|r| {
            let seq = search_log::last(r)?;
            let total = db::contact_count(r)?;
            let mut after: Option<Vec<u8>> = None;
            loop {
                let rows = db::contacts_after(r, after.as_deref(), CONTACT_PAGE)?;
                let Some((last, _)) = rows.last() else { break };
                after = Some(last.clone());
                let docs = rows
                    .into_iter()
                    .map(|(_, c)| contact_doc(r, c))
                    .collect::<Result<Vec<_>>>()?;
                page(docs, total)?;
            }
            Ok(seq)
        })
    }

    fn scan_messages(
        &self,
        page: &mut dyn FnMut(Vec<MessageDoc>, u64) -> Result<()>,
    ) -> Result<u64> {
        self.store.read(|r| {
            let seq = search_log::last(r)?;
            let total = db::message_count(r)?;
            let mut owners = HashMap::new();
            let mut after: Option<Vec<u8>> = None;
            loop {
                let rows = db::messages_after(r, after.as_deref(), MESSAGE_PAGE)?;
                let Some((last, _)) = rows.last() else { break };
                after = Some(last.clone());
                let docs = rows
                    .into_iter()
                    .map(|(_, message)| {
                        let contact_id = owner(r, &mut owners, message.chat_id)?;
                        Ok(MessageDoc {
                            message,
                            contact_id,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                page(docs, total)?;
            }
            Ok(seq)
        })
    }

    fn trim(&self, upto: u64, max: usize) -> BoxFuture<'_, Result<bool>> {
        Box::pin(self.store.write(move |w| search_log::trim(w, upto, max)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Search;

    /// After a restore the index is missing: the server opens it at once; a search over it
    /// answers from what is indexed and is marked incomplete; once the rebuild is done, the
    /// same search finds the restored data.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_index_is_rebuilt_later_and_searches_say_so_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        crate::inbox::demo::generate(&store, 50, 300, 3, &|_| {})
            .await
            .unwrap();
        let feed = source(store.clone());
        // Any store counts as large here (a small one is re-indexed before serving).
        let s = tokio::task::block_in_place(|| {
            Search::open_deferred_above(dir.path(), feed.clone(), 0, 0, crate::search::WRITER_BYTES)
        })
        .unwrap();
        let r = s.rebuilding().expect("a rebuild is pending");
        assert_eq!(r.index, "contacts");
        // Lists answer from what is indexed (nothing yet) and say the index is incomplete;
        // what needs every match (a broadcast's recipients) is refused until it is done.
        let (ids, _) = s.contacts(None, None, None, true, 0, 10).unwrap();
        assert!(ids.is_empty());
        assert!(s.incomplete(false).is_some() && s.incomplete(true).is_some());
        let e = s
            .matching(None, None, 100)
            .expect_err("no partial recipients while rebuilding");
        assert_eq!(e.status(), 503);
        assert!(e.to_string().contains("being rebuilt"), "{e}");
        assert!(s.messages("hello", 0, 10).unwrap().0.is_empty());

        tokio::task::block_in_place(|| s.finish_rebuild(&|_, _, _| {})).unwrap();
        assert!(s.rebuilding().is_none() && s.incomplete(false).is_none());
        let (ids, total) = s.contacts(None, None, None, true, 0, 10).unwrap();
        assert_eq!(total, 50);
        assert_eq!(ids.len(), 10);
        assert_eq!(s.stats().0, 50);

        // An intact index opens without a pending rebuild.
        drop(s);
        let s = tokio::task::block_in_place(|| Search::open_deferred(dir.path(), feed)).unwrap();
        assert!(s.rebuilding().is_none());
        assert_eq!(s.stats().0, 50);
    }
}
