//! Each channel's runtime state, for Settings and the outbox: connected or not, when it last
//! heard from its platform, its last error, and a pause a platform asked for. It belongs to
//! the channels layer (adapters set it); what outlives the process is saved through the
//! inbox service.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::now_ms;
use crate::inbox::Inbox;
use crate::inbox::channel_io::SavedChannelState;

/// Each channel's state for Settings. The process-bound part (connected, polling…) lives in
/// memory only; what happened (last inbound, last error, a pause a platform asked for) is
/// also written to the store by `run`, when it changes, and loaded at start.
#[derive(Default)]
pub struct States {
    by_id: Mutex<HashMap<String, ChannelState>>,
    /// Where states are saved; None keeps them in memory only.
    saver: Option<Inbox>,
    /// Channel → when its state should be written next; a channel is here while unsaved.
    dirty: Mutex<HashMap<String, i64>>,
    /// Channel → the last inbound time the store holds for it.
    saved_inbound: Mutex<HashMap<String, i64>>,
    wake: tokio::sync::Notify,
}

/// A busy channel hears something every few milliseconds; its "last inbound" is written at
/// most this often, so Settings stays right to within seconds at no cost per message.
pub const INBOUND_SAVE_EVERY_MS: i64 = 5_000;

#[derive(Clone, Default, Debug)]
pub struct ChannelState {
    /// "ready", "connected", "polling", "error", "not started", …
    pub state: String,
    pub detail: Option<String>,
    pub last_inbound_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    /// Sending is paused until then (a platform asked us to slow down).
    pub paused_until_ms: Option<i64>,
}

impl ChannelState {
    fn saved(&self) -> SavedChannelState {
        SavedChannelState {
            last_inbound_ms: self.last_inbound_ms,
            last_error: self.last_error.clone(),
            last_error_ms: self.last_error_ms,
            paused_until_ms: self.paused_until_ms,
        }
    }
}

impl States {
    /// The states saved by an earlier run. A store that cannot be read starts them empty:
    /// this is what Settings shows, not something to refuse to start over.
    pub fn load(inbox: Inbox) -> States {
        let saved = match inbox.saved_channel_states() {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("channel states could not be loaded: {e}");
                Vec::new()
            }
        };
        let by_id: HashMap<String, ChannelState> = saved
            .into_iter()
            .map(|(id, s)| {
                let state = ChannelState {
                    last_inbound_ms: s.last_inbound_ms,
                    last_error: s.last_error,
                    last_error_ms: s.last_error_ms,
                    paused_until_ms: s.paused_until_ms,
                    ..ChannelState::default()
                };
                (id, state)
            })
            .collect();
        let saved_inbound = by_id
            .iter()
            .filter_map(|(id, s)| Some((id.clone(), s.last_inbound_ms?)))
            .collect();
        States {
            by_id: Mutex::new(by_id),
            saved_inbound: Mutex::new(saved_inbound),
            saver: Some(inbox),
            ..States::default()
        }
    }

    fn with<R>(&self, id: &str, f: impl FnOnce(&mut ChannelState) -> R) -> R {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(id.to_string()).or_default())
    }

    /// Have `run` write this channel's state at `at` (or sooner, if already asked).
    fn mark(&self, id: &str, at: i64) {
        if self.saver.is_none() {
            return;
        }
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        let due = dirty.entry(id.to_string()).or_insert(at);
        *due = (*due).min(at);
        drop(dirty);
        self.wake.notify_one();
    }

    fn saved_inbound(&self, id: &str) -> Option<i64> {
        let saved = self.saved_inbound.lock().unwrap_or_else(|p| p.into_inner());
        saved.get(id).copied()
    }

    /// Write every state that is due (all of them with `all`); returns when the next is due.
    async fn flush(&self, all: bool) -> Option<i64> {
        let inbox = self.saver.as_ref()?;
        let now = now_ms();
        let ids: Vec<String> = {
            let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
            let ids: Vec<String> = dirty
                .iter()
                .filter(|(_, due)| all || **due <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &ids {
                dirty.remove(id);
            }
            ids
        };
        if !ids.is_empty() {
            // Taken after the ids left `dirty`, so a change made meanwhile marks them again.
            let rows: Vec<(String, SavedChannelState)> = ids
                .iter()
                .map(|id| (id.clone(), self.with(id, |s| s.saved())))
                .collect();
            let inbound: Vec<(String, Option<i64>)> = rows
                .iter()
                .map(|(id, s)| (id.clone(), s.last_inbound_ms))
                .collect();
            let written = inbox.save_channel_states(rows).await;
            match written {
                Ok(()) => {
                    let mut saved = self.saved_inbound.lock().unwrap_or_else(|p| p.into_inner());
                    for (id, t) in inbound {
                        if let Some(t) = t {
                            saved.insert(id, t);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("channel states not saved, trying again shortly: {e}");
                    for id in &ids {
                        self.mark(id, now + 5_000);
                    }
                }
            }
        }
        let dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        dirty.values().min().copied()
    }

    /// Write changed states as they become due, and whatever is left when the server stops.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        loop {
            let next = self.flush(false).await;
            let wait = next.map_or(Duration::from_secs(3600), |t| {
                Duration::from_millis((t - now_ms()).clamp(10, 60_000) as u64)
            });
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {
                    self.flush(true).await;
                    return;
                }
            }
        }
    }

    pub fn set_state(&self, id: &str, state: &str, detail: Option<String>) {
        self.with(id, |s| {
            s.state = state.to_string();
            s.detail = detail;
        });
    }

    pub fn inbound(&self, id: &str) {
        let now = now_ms();
        self.with(id, |s| s.last_inbound_ms = Some(now));
        // The stored time is never more than this far behind the real one.
        let at = self
            .saved_inbound(id)
            .map_or(now, |t| (t + INBOUND_SAVE_EVERY_MS).max(now));
        self.mark(id, at);
    }

    /// Record an error; secrets must already be out of `msg`.
    pub fn error(&self, id: &str, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::warn!(channel = id, "{msg}");
        self.with(id, |s| {
            s.last_error = Some(msg);
            s.last_error_ms = Some(now_ms());
        });
        self.mark(id, now_ms());
    }

    pub fn pause(&self, id: &str, for_: Duration) {
        let until = now_ms() + for_.as_millis() as i64;
        self.with(id, |s| {
            s.paused_until_ms = Some(s.paused_until_ms.map_or(until, |u| u.max(until)))
        });
        self.mark(id, now_ms());
    }

    /// When sending through the channel may resume, if it is paused now.
    pub fn paused_until(&self, id: &str) -> Option<i64> {
        let now = now_ms();
        self.with(id, |s| s.paused_until_ms.filter(|&u| u > now))
    }

    pub fn get(&self, id: &str) -> ChannelState {
        self.with(id, |s| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn inbox(dir: &std::path::Path) -> Inbox {
        Inbox::open_in(dir).unwrap()
    }

    fn saved(st: &Inbox, id: &str) -> Option<SavedChannelState> {
        st.saved_channel_states()
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == id)
            .map(|(_, s)| s)
    }

    async fn until(mut f: impl FnMut() -> bool) -> bool {
        for _ in 0..200 {
            if f() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_are_written_while_running_and_inbound_is_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let st = inbox(dir.path());
        let states = Arc::new(States::load(st.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let runner = {
            let s = states.clone();
            tokio::spawn(async move { s.run(stop_rx).await })
        };

        // An error is written at once, without waiting for shutdown.
        states.error("tg", "HTTP 502 from the platform");
        assert!(
            until(|| saved(&st, "tg").is_some_and(|s| s.last_error.is_some())).await,
            "the error reached the store while the server runs"
        );
        // The first inbound is written at once; those right after it are not (one write per
        // few seconds per channel), but are kept in memory.
        states.inbound("tg");
        let first = states.get("tg").last_inbound_ms;
        assert!(until(|| saved(&st, "tg").unwrap().last_inbound_ms == first).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
        for _ in 0..50 {
            states.inbound("tg");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let latest = states.get("tg").last_inbound_ms;
        assert!(latest > first);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            saved(&st, "tg").unwrap().last_inbound_ms,
            first,
            "inbound writes are throttled"
        );

        // Stopping writes what is still pending; a new run loads it.
        stop.send(true).unwrap();
        runner.await.unwrap();
        assert_eq!(saved(&st, "tg").unwrap().last_inbound_ms, latest);
        let again = States::load(st.clone());
        let s = again.get("tg");
        assert_eq!(s.last_inbound_ms, latest);
        assert_eq!(s.last_error.as_deref(), Some("HTTP 502 from the platform"));
        assert!(s.last_error_ms.is_some());
        assert_eq!(s.state, "", "the process-bound state is not carried over");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pause_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let st = inbox(dir.path());
        let states = Arc::new(States::load(st.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let runner = {
            let s = states.clone();
            tokio::spawn(async move { s.run(stop_rx).await })
        };
        states.pause("wa", Duration::from_secs(60));
        let until_ms = states.paused_until("wa");
        assert!(until(|| saved(&st, "wa").is_some_and(|s| s.paused_until_ms.is_some())).await);
        stop.send(true).unwrap();
        runner.await.unwrap();
        assert_eq!(States::load(st).paused_until("wa"), until_ms);
    }
}
