//! The event log behind live updates. Events are written in the same transaction as the
//! change they describe and published only after that transaction commits, so a browser never
//! sees a fact that could still be rolled back; a browser that reconnects replays the log from
//! the last sequence number it saw, so no event is lost across a reconnect.

use std::sync::Arc;

use super::tables::EVENTS;
use super::{Read, W, codec};
use crate::domain::event::{Event, Published};
use crate::error::{Error, Result};

/// Events kept for replay; older ones are pruned (a browser that was away longer resyncs).
pub const RETAIN: u64 = 200_000;

/// Format of a stored event after its audience: bump with `Event`'s layout. A row of another
/// format is not replayed (browsers that need it resync), which is what an event log is for.
const FORMAT: u8 = 3;

pub(super) type Pending = Published;

/// Called with each committed event, in commit order, from the writer thread.
pub type OnCommit = Arc<dyn Fn(Arc<Published>) + Send + Sync>;

impl W<'_> {
    /// Record an event to be published after this transaction commits. Events that carry
    /// absolute values (the section counts) replace an earlier one of the same kind in this
    /// batch, stored row and all, so one commit of many messages sends every connection one
    /// such frame instead of one per message.
    pub fn emit(&self, audience: Option<u64>, event: Event) -> Result<u64> {
        let kind = event.kind();
        let earlier = if event.is_absolute() {
            self.latest.borrow().get(kind).copied()
        } else {
            None
        };
        let stored = encode(audience, &event)?;
        if let Some(i) = earlier {
            let seq = self.events.borrow()[i].seq;
            self.put_raw(EVENTS, &codec::u64_key(seq), &stored)?;
            self.events.borrow_mut()[i] = Published::new(seq, audience, event);
            return Ok(seq);
        }
        let seq = self.next_id("event")?;
        self.put_raw(EVENTS, &codec::u64_key(seq), &stored)?;
        let mut events = self.events.borrow_mut();
        if event.is_absolute() {
            self.latest.borrow_mut().insert(kind, events.len());
        }
        events.push(Published::new(seq, audience, event));
        Ok(seq)
    }
}

fn encode(audience: Option<u64>, event: &Event) -> Result<Vec<u8>> {
    let mut stored = Vec::with_capacity(128);
    stored.extend_from_slice(&audience.unwrap_or(0).to_be_bytes());
    stored.push(FORMAT);
    postcard::to_io(event, &mut stored)
        .map_err(|e| Error::Internal(format!("event {}: {e}", event.kind())))?;
    Ok(stored)
}

/// A stored event; None for a row of an older format.
pub(crate) fn decode(key: &[u8], v: &[u8]) -> Result<Option<Published>> {
    let seq = codec::read_u64(key, 0)?;
    let audience = codec::read_u64(v, 0)?;
    match v.get(8) {
        Some(&FORMAT) => {}
        _ => return Ok(None),
    }
    let event: Event =
        postcard::from_bytes(&v[9..]).map_err(|e| Error::Corrupt(format!("event {seq}: {e}")))?;
    Ok(Some(Published::new(
        seq,
        (audience != 0).then_some(audience),
        event,
    )))
}

/// Events after `since`, oldest first, at most `limit`. None when `since` is older than the
/// retained log, or reaches rows of an older format (the caller must resync from the REST API).
pub fn since<T: Read>(r: &T, since: u64, limit: usize) -> Result<Option<Vec<Published>>> {
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
        .collect::<Result<Option<Vec<_>>>>()
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
    use crate::domain::event::Counts;
    use crate::store::Store;

    fn read(n: u64) -> Event {
        Event::NotificationsRead { unread: n }
    }

    fn counts(all: u64) -> Event {
        Event::Counts(Counts {
            all,
            ..Counts::default()
        })
    }

    #[tokio::test]
    async fn pruning_keeps_the_window_and_replay_says_when_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|w| {
                for i in 0..50 {
                    w.emit(None, read(i))?;
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
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        store.on_commit(Arc::new(move |p: Arc<Published>| {
            sink.lock().unwrap().push(p);
        }));
        store
            .write(|w| {
                w.emit(None, read(1))?;
                w.emit(None, counts(1))?;
                w.emit(Some(7), read(2))?;
                w.emit(None, counts(2))?;
                Ok(())
            })
            .await
            .unwrap();
        let live: Vec<_> = got.lock().unwrap().drain(..).collect();
        // Live events carry their commit time; replayed ones do not.
        assert!(live.iter().all(|p| p.committed_us.is_some_and(|t| t > 0)));
        let stored = store.read(|r| since(r, 0, 100)).unwrap().unwrap();
        assert!(stored.iter().all(|p| p.committed_us.is_none()));
        let view = |v: &[Arc<Published>]| {
            v.iter()
                .map(|p| (p.seq, p.audience, format!("{:?}", p.event)))
                .collect::<Vec<_>>()
        };
        let stored: Vec<Arc<Published>> = stored.into_iter().map(Arc::new).collect();
        // Three events in seq order; the counts carry the batch's last values, live and replayed.
        assert_eq!(view(&live), view(&stored));
        assert_eq!(live.len(), 3);
        assert!(matches!(
            live[1].event,
            Event::Counts(Counts { all: 2, .. })
        ));
        assert_eq!(live[2].audience, Some(7));
        assert!(live.windows(2).all(|p| p[0].seq < p[1].seq));
        // The next batch starts a new one.
        store.write(|w| w.emit(None, counts(3))).await.unwrap();
        assert_eq!(store.read(|r| since(r, 0, 100)).unwrap().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_row_of_an_older_format_is_not_replayed_but_asks_for_a_resync() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|w| {
                w.emit(None, read(1))?;
                // What version 1 stored: audience, then JSON.
                let seq = w.next_id("event")?;
                let mut old = 0u64.to_be_bytes().to_vec();
                old.extend_from_slice(br#"{"seq":2,"type":"x","data":{}}"#);
                w.put_raw(EVENTS, &codec::u64_key(seq), &old)
            })
            .await
            .unwrap();
        assert_eq!(store.read(|r| since(r, 0, 1)).unwrap().unwrap().len(), 1);
        assert!(store.read(|r| since(r, 0, 100)).unwrap().is_none());
    }
}
