//! Full-text search over messages, as the search screen shows it: the index's hits with
//! their client's name and a highlighted snippet.

use std::sync::Arc;

use super::Inbox;
use crate::error::{Error, Result};
use crate::search::Search;
use crate::store::inbox::InboxReads;

/// One message that matched.
pub struct FoundMessage {
    pub message_id: u64,
    pub chat_id: u64,
    pub contact_id: u64,
    /// Empty when the client is gone.
    pub contact_name: String,
    pub kind: String,
    pub created_ms: i64,
    /// A window of the text around the first match.
    pub snippet: String,
    /// Character ranges in `snippet` of the matched words.
    pub highlights: Vec<(usize, usize)>,
}

/// A page of matches and how many there are in all.
pub struct FoundMessages {
    pub items: Vec<FoundMessage>,
    pub total: usize,
}

impl Inbox {
    /// Messages matching `q` (the last word as a prefix), best first, `limit` from `offset`.
    /// The index and the store are read off the async workers.
    pub async fn search_messages(
        &self,
        search: Arc<Search>,
        q: String,
        offset: usize,
        limit: usize,
    ) -> Result<FoundMessages> {
        let store = self.store.clone();
        let run = move || {
            let (hits, total, words) = search.messages(&q, offset, limit)?;
            let items = store.read(|r| {
                let mut out = Vec::with_capacity(hits.len());
                for h in hits {
                    // The chat's client now: a merge moves chats without re-indexing their
                    // messages, so the index may still name the merged-away client.
                    let contact_id = r.chat(h.chat_id)?.map_or(h.contact_id, |c| c.contact_id);
                    let contact_name = r.contact(contact_id)?.map(|c| c.name).unwrap_or_default();
                    let (snippet, highlights) = crate::search::query::highlight(&h.text, &words);
                    out.push(FoundMessage {
                        message_id: h.message_id,
                        chat_id: h.chat_id,
                        contact_id,
                        contact_name,
                        kind: h.kind,
                        created_ms: h.created_ms,
                        snippet,
                        highlights,
                    });
                }
                Ok(out)
            })?;
            Ok(FoundMessages { items, total })
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(r) => r,
            Err(e) => Err(Error::Internal(format!("message search task: {e}"))),
        }
    }
}
