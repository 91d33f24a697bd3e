//! The change log the search indexer follows: written in the same transaction as the change,
//! trimmed once both indexes have committed past it.

use super::tables::SEARCH_LOG;
use super::{Read, W, codec};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Contact(u64),
    /// (chat id, message id)
    Message(u64, u64),
}

fn append(w: &W, value: &[u8]) -> Result<()> {
    let seq = w.next_id("search")?;
    w.put_raw(SEARCH_LOG, &codec::u64_key(seq), value)
}

pub fn contact(w: &W, id: u64) -> Result<()> {
    let mut v = vec![b'c'];
    v.extend_from_slice(&id.to_be_bytes());
    append(w, &v)
}

pub fn message(w: &W, chat: u64, id: u64) -> Result<()> {
    let mut v = vec![b'm'];
    v.extend_from_slice(&chat.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    append(w, &v)
}

pub(crate) fn decode(v: &[u8]) -> Result<Entry> {
    match v.first() {
        Some(b'c') => Ok(Entry::Contact(codec::read_u64(v, 1)?)),
        Some(b'm') => Ok(Entry::Message(
            codec::read_u64(v, 1)?,
            codec::read_u64(v, 9)?,
        )),
        _ => Err(Error::Corrupt("search log entry".into())),
    }
}

/// Entries after `after`, oldest first.
pub fn since<T: Read>(r: &T, after: u64, limit: usize) -> Result<Vec<(u64, Entry)>> {
    let a = codec::u64_key(after);
    r.scan(SEARCH_LOG, &[], Some(&a), false, limit)?
        .into_iter()
        .map(|(k, v)| Ok((codec::read_u64(&k, 0)?, decode(&v)?)))
        .collect()
}

/// The sequence of the newest change, including trimmed ones.
pub fn last<T: Read>(r: &T) -> Result<u64> {
    let key = super::Key::new().str("seq").str("search").build();
    match r.get_raw(super::tables::META, &key)? {
        Some(b) => codec::read_u64(&b, 0),
        None => Ok(0),
    }
}

/// Drop up to `max` entries with sequence ≤ `upto`; true when none are left. Bounded so a
/// large backlog is trimmed in many small transactions, never one that stalls the writer.
pub fn trim(w: &W, upto: u64, max: usize) -> Result<bool> {
    let rows = w.scan(SEARCH_LOG, &[], None, false, max)?;
    for (k, _) in &rows {
        if codec::read_u64(k, 0)? > upto {
            return Ok(true);
        }
        w.del(SEARCH_LOG, k)?;
    }
    Ok(rows.len() < max)
}
