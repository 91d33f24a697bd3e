//! Small values kept across restarts, each under a key of its own: the key that signs file
//! links, a channel's polling offset, how far a multi-part send got. The table is private to
//! the store; these three calls are its only door.

use super::tables::META;
use super::{Read, W};
use crate::error::Result;

pub fn get<T: Read>(r: &T, key: &[u8]) -> Result<Option<Vec<u8>>> {
    r.get_raw(META, key)
}

pub fn put(w: &W, key: &[u8], value: &[u8]) -> Result<()> {
    w.put_raw(META, key, value)
}

/// Whether there was a value.
pub fn delete(w: &W, key: &[u8]) -> Result<bool> {
    w.del(META, key)
}
