//! The event log behind live updates. Events are written in the same transaction as the
//! change they describe and published only after that transaction commits, so a browser never
//! sees a fact that could still be rolled back; a browser that reconnects replays the log from
//! the last sequence number it saw, so no event is lost across a reconnect.

use std::sync::Arc;

use serde_json::Value;

use super::tables::EVENTS;
use super::{Read, W, codec};
use crate::error::{Error, Result};

/// Events kept for replay; older ones are pruned (a browser that was away longer resyncs).
pub const RETAIN: u64 = 200_000;

#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    /// Only this manager may see it (notifications, drafts); None = every manager.
    pub audience: Option<u64>,
    /// `{"seq":…,"type":…,"data":…}`, serialised once for every connection.
    pub json: Arc<str>,
}

pub(super) type Pending = Event;

impl W<'_> {
    /// Record an event to be published after this transaction commits.
    pub fn emit(&self, kind: &str, audience: Option<u64>, data: Value) -> Result<u64> {
        let seq = self.next_id("event")?;
        let json = serde_json::json!({ "seq": seq, "type": kind, "data": data }).to_string();
        let mut stored = Vec::with_capacity(json.len() + 9);
        stored.extend_from_slice(&audience.unwrap_or(0).to_be_bytes());
        stored.extend_from_slice(json.as_bytes());
        self.put_raw(EVENTS, &codec::u64_key(seq), &stored)?;
        self.events.borrow_mut().push(Event {
            seq,
            audience,
            json: Arc::from(json),
        });
        Ok(seq)
    }
}

fn decode(key: &[u8], v: &[u8]) -> Result<Event> {
    let seq = codec::read_u64(key, 0)?;
    let audience = codec::read_u64(v, 0)?;
    let json =
        std::str::from_utf8(&v[8..]).map_err(|e| Error::Corrupt(format!("event {seq}: {e}")))?;
    Ok(Event {
        seq,
        audience: (audience != 0).then_some(audience),
        json: Arc::from(json),
    })
}

/// Events after `since`, oldest first, at most `limit`. None when `since` is older than the
/// retained log (the caller must resync from the REST API).
pub fn since<T: Read>(r: &T, since: u64, limit: usize) -> Result<Option<Vec<Event>>> {
    let first = r.scan(EVENTS, &[], None, false, 1)?;
    if let Some((k, _)) = first.first() {
        let oldest = codec::read_u64(k, 0)?;
        if since + 1 < oldest {
            return Ok(None);
        }
    }
    let after = codec::u64_key(since);
    r.scan(EVENTS, &[], Some(&after), false, limit)?
        .into_iter()
        .map(|(k, v)| decode(&k, &v))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub fn latest<T: Read>(r: &T) -> Result<u64> {
    match r.scan(EVENTS, &[], None, true, 1)?.first() {
        Some((k, _)) => codec::read_u64(k, 0),
        None => Ok(0),
    }
}

/// Drop events beyond the retention window; returns how many.
pub fn prune(w: &W) -> Result<usize> {
    let last = latest(w)?;
    if last <= RETAIN {
        return Ok(0);
    }
    let cut = last - RETAIN;
    let old = w.scan(EVENTS, &[], None, false, 10_000)?;
    let mut n = 0;
    for (k, _) in old {
        if codec::read_u64(&k, 0)? > cut {
            break;
        }
        w.del(EVENTS, &k)?;
        n += 1;
    }
    Ok(n)
}
