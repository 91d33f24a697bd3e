//! Broadcasts (B3) and one row per client of each, so the sender resumes after a restart
//! where it stopped and the report counts what became of every client.

use super::tables::*;
use super::{Key, Read, Record, W, codec};
use crate::domain::broadcast::{Broadcast, Target};
use crate::error::Result;

impl Record for Broadcast {
    const NAME: &'static str = "broadcast";
}

impl Record for Target {
    const NAME: &'static str = "broadcast target";
}

fn k(id: u64) -> [u8; 8] {
    codec::u64_key(id)
}

fn target_key(broadcast: u64, contact: u64) -> Vec<u8> {
    Key::new().u64(broadcast).u64(contact).build()
}

pub fn broadcast<T: Read>(r: &T, id: u64) -> Result<Option<Broadcast>> {
    r.get(BROADCASTS, &k(id))
}

/// Every broadcast, newest first.
pub fn broadcasts<T: Read>(r: &T) -> Result<Vec<Broadcast>> {
    let rows = r.scan(BROADCASTS, &[], None, true, 1000)?;
    rows.iter().map(|(_, v)| codec::decode(v)).collect()
}

/// Store a broadcast; a new one (id 0) gets the next id.
pub fn put_broadcast(w: &W, b: &mut Broadcast) -> Result<()> {
    if b.id == 0 {
        b.id = w.next_id("broadcast")?;
    }
    w.put(BROADCASTS, &k(b.id), b)
}

pub fn put_target(w: &W, broadcast: u64, contact: u64, t: &Target) -> Result<()> {
    w.put(BROADCAST_TARGETS, &target_key(broadcast, contact), t)
}

pub fn target<T: Read>(r: &T, broadcast: u64, contact: u64) -> Result<Option<Target>> {
    r.get(BROADCAST_TARGETS, &target_key(broadcast, contact))
}

/// Up to `limit` clients of a broadcast after `after` (a contact id), with their state.
pub fn targets<T: Read>(
    r: &T,
    broadcast: u64,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, Target)>> {
    let from = after.map(|c| target_key(broadcast, c));
    r.scan(
        BROADCAST_TARGETS,
        &k(broadcast),
        from.as_deref(),
        false,
        limit,
    )?
    .iter()
    .map(|(key, v)| Ok((codec::read_u64(key, 8)?, codec::decode(v)?)))
    .collect()
}
