//! Broadcasts (B3) and one row per client of each, so the sender resumes after a restart
//! where it stopped and the report counts what became of every client.

use super::tables::*;
use super::{Key, Read, Record, W, codec};
use crate::domain::broadcast::{Broadcast, Target};
use crate::error::{Error, Result};

impl Record for Broadcast {
    /// 2 added the WhatsApp template payload.
    const VERSION: u8 = 2;
    const NAME: &'static str = "broadcast";
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self> {
        appended_variants(version, bytes)
    }
}

impl Record for Target {
    /// 2 added `Failed`.
    const VERSION: u8 = 2;
    const NAME: &'static str = "broadcast target";
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self> {
        appended_variants(version, bytes)
    }
}

/// Version 1 of a record whose version 2 only appended enum variants: postcard numbers
/// variants in order, so the old bytes read as they are.
fn appended_variants<V: Record>(version: u8, bytes: &[u8]) -> Result<V> {
    if version != 1 {
        return Err(Error::Corrupt(format!(
            "{} row has unknown format version {version}",
            V::NAME
        )));
    }
    postcard::from_bytes(bytes)
        .map_err(|e| Error::Corrupt(format!("{} row (version 1): {e}", V::NAME)))
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

/// An id for a broadcast whose row is written later (after its clients).
pub fn next_broadcast_id(w: &W) -> Result<u64> {
    w.next_id("broadcast")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::broadcast::{BroadcastState, Payload};

    #[test]
    fn rows_of_the_previous_version_are_read() {
        let b = Broadcast {
            id: 3,
            name: "Sale".into(),
            payload: Payload::Funnel(9),
            state: BroadcastState::Paused,
            total: 10,
            handled: 4,
            cursor: 77,
            created_ms: 1_700_000_000_000,
            created_by: 1,
            finished_ms: None,
        };
        // Version 1 had the same layout without the appended variants.
        let mut old = codec::encode(&b).unwrap();
        old[0] = 1;
        assert_eq!(codec::decode::<Broadcast>(&old).unwrap(), b);
        let mut old = codec::encode(&Target::Skipped { reason: "x".into() }).unwrap();
        old[0] = 1;
        assert_eq!(
            codec::decode::<Target>(&old).unwrap(),
            Target::Skipped { reason: "x".into() }
        );
        old[0] = 7;
        assert!(codec::decode::<Target>(&old).is_err());
    }
}
