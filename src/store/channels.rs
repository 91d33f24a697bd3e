//! Channel bookkeeping that must outlive a restart: what Settings shows about each channel,
//! and platform receipts that arrived before the send they confirm was recorded.

use serde::{Deserialize, Serialize};

use super::tables::{CHANNEL_STATES, EARLY_RECEIPTS};
use super::{Key, Read, Record, W, codec};
use crate::domain::inbox::Status;
use crate::error::Result;

/// The part of a channel's state that describes its history rather than this process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub last_inbound_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub paused_until_ms: Option<i64>,
}

impl Record for SavedState {
    const NAME: &'static str = "channel state";
}

pub fn saved_states<T: Read>(r: &T) -> Result<Vec<(String, SavedState)>> {
    // One row per configured (or once configured) channel: a handful.
    r.scan(CHANNEL_STATES, &[], None, false, 100_000)?
        .into_iter()
        .map(|(k, v)| Ok((String::from_utf8_lossy(&k).into_owned(), codec::decode(&v)?)))
        .collect()
}

pub fn save_state(w: &W, channel_id: &str, s: &SavedState) -> Result<()> {
    w.put(CHANNEL_STATES, channel_id.as_bytes(), s)
}

/// A delivery receipt (delivered, read, failed) for an id no message carries yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyReceipt {
    pub status: Status,
    pub error: Option<String>,
    pub received_ms: i64,
}

impl Record for EarlyReceipt {
    const NAME: &'static str = "early receipt";
}

fn receipt_key(channel_id: &str, external: &str) -> Vec<u8> {
    Key::new().str(channel_id).str(external).build()
}

pub fn early_receipt<T: Read>(
    r: &T,
    channel_id: &str,
    external: &str,
) -> Result<Option<EarlyReceipt>> {
    r.get(EARLY_RECEIPTS, &receipt_key(channel_id, external))
}

pub fn put_early_receipt(w: &W, channel_id: &str, external: &str, e: &EarlyReceipt) -> Result<()> {
    w.put(EARLY_RECEIPTS, &receipt_key(channel_id, external), e)
}

pub fn take_early_receipt(w: &W, channel_id: &str, external: &str) -> Result<Option<EarlyReceipt>> {
    let key = receipt_key(channel_id, external);
    let found = w.get(EARLY_RECEIPTS, &key)?;
    if found.is_some() {
        w.del(EARLY_RECEIPTS, &key)?;
    }
    Ok(found)
}

pub fn early_receipt_count<T: Read>(r: &T) -> Result<u64> {
    r.len(EARLY_RECEIPTS)
}

/// Drop receipts received before `older_than` (their send never recorded the id: another
/// part of a multi-part message, or a message sent from outside Parley). At most `limit`
/// rows are looked at, so the transaction stays small; returns how many were dropped.
pub fn expire_early_receipts(w: &W, older_than: i64, limit: usize) -> Result<usize> {
    let rows = w.scan(EARLY_RECEIPTS, &[], None, false, limit)?;
    let mut dropped = 0;
    for (k, v) in rows {
        let stale = match codec::decode::<EarlyReceipt>(&v) {
            Ok(e) => e.received_ms < older_than,
            // A row this version cannot read is of no use to it.
            Err(_) => true,
        };
        if stale {
            w.del(EARLY_RECEIPTS, &k)?;
            dropped += 1;
        }
    }
    Ok(dropped)
}
