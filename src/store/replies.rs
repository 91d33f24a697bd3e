//! Quick replies (T2), by id. A business has tens to hundreds of them, so a list is a scan.

use super::tables::REPLIES;
use super::{Read, Record, W, codec};
use crate::domain::inbox::QuickReply;
use crate::error::Result;

impl Record for QuickReply {
    const NAME: &'static str = "quick reply";
}

/// At most this many are kept; a list reads them all.
pub const MAX_REPLIES: usize = 5_000;

pub fn reply<T: Read>(r: &T, id: u64) -> Result<Option<QuickReply>> {
    r.get(REPLIES, &codec::u64_key(id))
}

pub fn replies<T: Read>(r: &T) -> Result<Vec<QuickReply>> {
    r.scan(REPLIES, &[], None, false, MAX_REPLIES)?
        .iter()
        .map(|(_, v)| codec::decode(v))
        .collect()
}

pub fn count<T: Read>(r: &T) -> Result<u64> {
    r.len(REPLIES)
}

pub fn put_reply(w: &W, q: &QuickReply) -> Result<()> {
    w.put(REPLIES, &codec::u64_key(q.id), q)
}

pub fn delete_reply(w: &W, id: u64) -> Result<bool> {
    w.del(REPLIES, &codec::u64_key(id))
}
