//! The event log behind live updates. Events are written in the same transaction as the
//! change they describe and published only after that transaction commits, so a browser never
//! sees a fact that could still be rolled back; a browser that reconnects replays the log from
//! the last sequence number it saw, so no event is lost across a reconnect.

use std::sync::Arc;

use serde::Serialize;

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
    pub fn emit(&self, kind: &str, audience: Option<u64>, data: impl Serialize) -> Result<u64> {
        let seq = self.next_id("event")?;
        let json = envelope(seq, kind, data)?;
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

    /// Record an event that carries absolute values (the section counts): a later one of
    /// the same kind in this batch replaces it, stored row and all, so one commit of many
    /// messages sends every connection one such frame instead of one per message.
    pub fn emit_latest(&self, kind: &'static str, data: impl Serialize) -> Result<u64> {
        let earlier = self.latest.borrow().get(kind).copied();
        let Some(i) = earlier else {
            let seq = self.emit(kind, None, data)?;
            let at = self.events.borrow().len() - 1;
            self.latest.borrow_mut().insert(kind, at);
            return Ok(seq);
        };
        let seq = self.events.borrow()[i].seq;
        let json = envelope(seq, kind, data)?;
        let mut stored = Vec::with_capacity(json.len() + 8);
        stored.extend_from_slice(&0u64.to_be_bytes());
        stored.extend_from_slice(json.as_bytes());
        self.put_raw(EVENTS, &codec::u64_key(seq), &stored)?;
        self.events.borrow_mut()[i].json = Arc::from(json);
        Ok(seq)
    }
}

/// `{"seq":…,"type":…,"data":…}`, serialised straight from `data` (no Value tree in between).
fn envelope(seq: u64, kind: &str, data: impl Serialize) -> Result<String> {
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        seq: u64,
        #[serde(rename = "type")]
        kind: &'a str,
        data: T,
    }
    serde_json::to_string(&Envelope { seq, kind, data })
        .map_err(|e| Error::Internal(format!("event {kind}: {e}")))
}

pub(crate) fn decode(key: &[u8], v: &[u8]) -> Result<Event> {
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

/// Most events one pruning transaction removes.
pub const PRUNE_BATCH: usize = 5_000;

/// Drop up to `PRUNE_BATCH` events beyond the retention window; returns how many.
pub fn prune(w: &W) -> Result<usize> {
    prune_to(w, RETAIN, PRUNE_BATCH)
}

fn prune_to(w: &W, retain: u64, batch: usize) -> Result<usize> {
    let last = latest(w)?;
    if last <= retain {
        return Ok(0);
    }
    let cut = last - retain;
    let old = w.scan(EVENTS, &[], None, false, batch)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn pruning_keeps_the_window_and_replay_says_when_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|w| {
                for i in 0..50 {
                    w.emit("test", None, serde_json::json!({ "i": i }))?;
                }
                Ok(())
            })
            .await
            .unwrap();
        // Bounded batches: two rounds of 30 at most, 40 removed in all.
        let first = store.write(|w| prune_to(w, 10, 30)).await.unwrap();
        let second = store.write(|w| prune_to(w, 10, 30)).await.unwrap();
        assert_eq!((first, second), (30, 10));
        let r = store.read(|r| since(r, 45, 100)).unwrap().unwrap();
        assert_eq!(
            r.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [46, 47, 48, 49, 50]
        );
        assert!(
            store.read(|r| since(r, 5, 100)).unwrap().is_none(),
            "too old: resync"
        );
        assert_eq!(
            store.read(|r| since(r, 40, 100)).unwrap().unwrap().len(),
            10
        );
    }

    #[tokio::test]
    async fn a_later_absolute_event_replaces_the_earlier_one_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut live = store.subscribe();
        store
            .write(|w| {
                w.emit("message.created", None, serde_json::json!({ "n": 1 }))?;
                w.emit_latest("counts", serde_json::json!({ "all": 1 }))?;
                w.emit("message.created", None, serde_json::json!({ "n": 2 }))?;
                w.emit_latest("counts", serde_json::json!({ "all": 2 }))?;
                Ok(())
            })
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Ok(e) = live.try_recv() {
            // Live frames carry their commit time; the stored copies do not.
            let json = e.json.to_string();
            let (head, at) = json.rsplit_once(r#","committed_us":"#).unwrap();
            assert!(at.trim_end_matches('}').parse::<u128>().unwrap() > 0);
            got.push((e.seq, format!("{head}}}")));
        }
        let stored: Vec<_> = store
            .read(|r| since(r, 0, 100))
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|e| (e.seq, e.json.to_string()))
            .collect();
        // Three events in seq order; the counts carry the batch's last values, live and replayed.
        assert_eq!(got, stored);
        assert_eq!(got.len(), 3);
        assert!(got[1].1.contains(r#""all":2"#), "{got:?}");
        assert!(got.windows(2).all(|p| p[0].0 < p[1].0));
        // The next batch starts a new one.
        store
            .write(|w| w.emit_latest("counts", serde_json::json!({ "all": 3 })))
            .await
            .unwrap();
        assert_eq!(store.read(|r| since(r, 0, 100)).unwrap().unwrap().len(), 4);
    }
}
