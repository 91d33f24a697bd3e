//! What the search indexes are fed from, in search's own terms. Search never reads the
//! store: the service layer (`inbox::indexing`) implements `Source` over the durable change
//! log and the tables, and hands over rows already decoded and resolved to what a document
//! needs. The log stays durable (written in each change's own transaction), so an index that
//! was behind at a crash catches up from it after a restart.

use futures_util::future::BoxFuture;

use crate::domain::inbox::{Chat, Contact, Message};
use crate::error::Result;

/// A contact and what its search document holds besides the contact itself.
pub struct ContactDoc {
    pub contact: Contact,
    /// Its chats (their channels are searchable).
    pub chats: Vec<Chat>,
    /// Names of the list sections it is listed in, for section-scoped searches.
    pub sections: Vec<&'static str>,
}

/// A message and the contact its chat belongs to (0 when the chat is gone).
pub struct MessageDoc {
    pub message: Message,
    pub contact_id: u64,
}

/// One batch of the change log, reduced to the latest state of each changed row. `None`
/// means the row is gone: its document is deleted.
pub struct Changes {
    /// Sequence of the newest entry in the batch; the `after` asked for when it is empty.
    pub last: u64,
    /// Log entries the batch covers (a row changed twice counts twice).
    pub entries: usize,
    pub contacts: Vec<(u64, Option<ContactDoc>)>,
    pub messages: Vec<(u64, Option<MessageDoc>)>,
}

/// The feed search indexes from. Every scan reads one snapshot and returns the change-log
/// sequence of that same snapshot, so a rebuilt index plus the log after that sequence is
/// exactly the store, whatever was written meanwhile.
pub trait Source: Send + Sync {
    /// Up to `limit` log entries after sequence `after`, oldest first, with the rows they
    /// name as of one snapshot.
    fn changes(&self, after: u64, limit: usize) -> Result<Changes>;

    /// Sequence of the newest change ever logged (trimmed ones included); 0 when none.
    fn last_change(&self) -> Result<u64>;

    /// How many contacts and messages the store holds.
    fn sizes(&self) -> Result<(u64, u64)>;

    /// Every contact, page by page: `page(docs, total)`. Returns the log sequence of the
    /// snapshot the pages came from.
    fn scan_contacts(
        &self,
        page: &mut dyn FnMut(Vec<ContactDoc>, u64) -> Result<()>,
    ) -> Result<u64>;

    /// Every message, page by page: `page(docs, total)`, searchable or not (progress counts
    /// them all). Returns the log sequence of the snapshot the pages came from.
    fn scan_messages(
        &self,
        page: &mut dyn FnMut(Vec<MessageDoc>, u64) -> Result<()>,
    ) -> Result<u64>;

    /// Drop up to `max` log entries with sequence ≤ `upto`, once both indexes committed
    /// them; true when none are left. Bounded so a large backlog is trimmed in many small
    /// writes, never one that stalls the writer.
    fn trim(&self, upto: u64, max: usize) -> BoxFuture<'_, Result<bool>>;
}
