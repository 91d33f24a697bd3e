//! Website-widget visitors (by token hash) and the merge suggestions between clients.

use super::{k, pair};
use crate::domain::inbox::*;
use crate::error::Result;
use crate::store::tables::*;
use crate::store::{Read, W, codec};

/// Up to `limit` visitors after `after` (a previous page's last token hash).
pub fn visitors_page<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Visitor)>> {
    r.scan(VISITORS, &[], after, false, limit)?
        .into_iter()
        .map(|(k, v)| Ok((k, codec::decode(&v)?)))
        .collect()
}

pub fn delete_visitor(w: &W, hash: &[u8]) -> Result<bool> {
    w.del(VISITORS, hash)
}

pub fn merge_suggestion<T: Read>(
    r: &T,
    contact: u64,
    other: u64,
) -> Result<Option<MergeSuggestion>> {
    r.get(MERGE_SUGGESTIONS, &pair(contact, other))
}

/// Record the suggestion on both clients.
pub fn put_merge_suggestion(w: &W, a: u64, b: u64, s: &MergeSuggestion) -> Result<()> {
    w.put(MERGE_SUGGESTIONS, &pair(a, b), s)?;
    w.put(MERGE_SUGGESTIONS, &pair(b, a), s)
}

/// The contact's suggestions: (other contact id, suggestion), dismissed ones included.
pub fn merge_suggestions<T: Read>(r: &T, contact: u64) -> Result<Vec<(u64, MergeSuggestion)>> {
    r.scan(MERGE_SUGGESTIONS, &k(contact), None, false, 100)?
        .into_iter()
        .map(|(key, v)| Ok((codec::read_u64(&key, 8)?, codec::decode(&v)?)))
        .collect()
}

pub fn visitor_by_hash<T: Read>(r: &T, hash: &[u8]) -> Result<Option<Visitor>> {
    r.get(VISITORS, hash)
}

pub fn put_visitor(w: &W, hash: &[u8], v: &Visitor) -> Result<()> {
    w.put(VISITORS, hash, v)
}
