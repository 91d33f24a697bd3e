//! The one event hub. Committed domain events come in from the store's writer (in commit
//! order, after commit) and go out to every subscriber: manager WebSockets, the widget's
//! visitor router, the search indexer's wake-up; ephemeral signals that are never stored (who
//! is typing where) go through the same hub. Subscribers that fall behind are told so
//! (`Lagged`) and catch up from the event log instead of being buffered for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::domain::event::Published;
use crate::domain::manager::Revoked;

pub mod visitors;

/// A typing signal counts for this long; browsers send one every couple of seconds.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

/// Live events buffered per subscriber before it counts as lagging.
const EVENT_BUFFER: usize = 4096;

/// Someone is typing in a chat. Manager 0 stands for the client (a widget visitor).
#[derive(Debug)]
pub struct Typing {
    pub chat_id: u64,
    pub manager_id: u64,
    pub name: String,
}

pub struct Hub {
    events: broadcast::Sender<Arc<Published>>,
    typing: Mutex<HashMap<(u64, u64), (Instant, String)>>,
    signals: broadcast::Sender<Arc<Typing>>,
    revoked: broadcast::Sender<Revoked>,
    /// Per manager: open WebSockets, and how many of them say the manager is idle (T1, T4).
    presence: Mutex<HashMap<u64, Conns>>,
    arrivals: broadcast::Sender<u64>,
    changes: broadcast::Sender<(u64, Presence)>,
}

#[derive(Clone, Copy, Default)]
struct Conns {
    open: usize,
    idle: usize,
}

impl Conns {
    fn state(self) -> Presence {
        match self {
            Conns { open: 0, .. } => Presence::Offline,
            Conns { open, idle } if idle >= open => Presence::Away,
            _ => Presence::Online,
        }
    }
}

/// Whether a manager can answer now: the app open and used (online), open but idle (away),
/// or not open anywhere (offline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Online,
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
}

/// A manager's open connection; while it lives they count as online (or away, while it
/// says they are idle).
pub struct Online {
    hub: Arc<Hub>,
    manager: u64,
    idle: bool,
}

impl Online {
    /// The browser reports its user idle (no input for a while) or back.
    pub fn set_idle(&mut self, idle: bool) {
        if idle != self.idle {
            self.idle = idle;
            self.hub.change(self.manager, |c| {
                if idle {
                    c.idle += 1;
                } else {
                    c.idle = c.idle.saturating_sub(1);
                }
            });
        }
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        let idle = self.idle;
        self.hub.change(self.manager, |c| {
            c.open = c.open.saturating_sub(1);
            if idle {
                c.idle = c.idle.saturating_sub(1);
            }
        });
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            events: broadcast::channel(EVENT_BUFFER).0,
            typing: Mutex::new(HashMap::new()),
            signals: broadcast::channel(1024).0,
            revoked: broadcast::channel(256).0,
            presence: Mutex::new(HashMap::new()),
            arrivals: broadcast::channel(256).0,
            changes: broadcast::channel(256).0,
        }
    }
}

impl Hub {
    /// A committed event; called by the store's writer thread, so it never blocks.
    pub fn publish(&self, event: Arc<Published>) {
        let _ = self.events.send(event);
    }

    /// Committed events from now on. Subscribe before reading the log, so nothing
    /// committed in between is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.events.subscribe()
    }

    /// A manager opened a connection; they are online until every `Online` they hold is
    /// dropped.
    pub fn connect(self: &Arc<Self>, manager: u64) -> Online {
        self.change(manager, |c| c.open += 1);
        Online {
            hub: self.clone(),
            manager,
            idle: false,
        }
    }

    /// Apply a change to a manager's connections; announce a new presence, and an arrival
    /// when they become online (to take waiting clients).
    fn change(&self, manager: u64, f: impl FnOnce(&mut Conns)) {
        let (was, now) = {
            let mut map = self.presence.lock().unwrap_or_else(|p| p.into_inner());
            let c = map.entry(manager).or_default();
            let was = c.state();
            f(c);
            let now = c.state();
            if c.open == 0 {
                map.remove(&manager);
            }
            (was, now)
        };
        if was != now {
            let _ = self.changes.send((manager, now));
            if now == Presence::Online {
                let _ = self.arrivals.send(manager);
            }
        }
    }

    /// Managers online now (not away), by id: those automatic assignment picks among.
    pub fn online(&self) -> Vec<u64> {
        let map = self.presence.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<u64> = map
            .iter()
            .filter(|(_, c)| c.state() == Presence::Online)
            .map(|(m, _)| *m)
            .collect();
        v.sort_unstable();
        v
    }

    /// A manager's presence now.
    pub fn presence(&self, manager: u64) -> Presence {
        let map = self.presence.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&manager).copied().unwrap_or_default().state()
    }

    /// Managers as they become online (first connection, or back from idle).
    pub fn subscribe_arrivals(&self) -> broadcast::Receiver<u64> {
        self.arrivals.subscribe()
    }

    /// Every change of a manager's presence.
    pub fn subscribe_presence(&self) -> broadcast::Receiver<(u64, Presence)> {
        self.changes.subscribe()
    }

    /// Sessions, managers or tokens whose access ended: open connections made with them close.
    pub fn revoke(&self, r: Revoked) {
        let _ = self.revoked.send(r);
    }

    pub fn subscribe_revocations(&self) -> broadcast::Receiver<Revoked> {
        self.revoked.subscribe()
    }

    pub fn subscribe_typing(&self) -> broadcast::Receiver<Arc<Typing>> {
        self.signals.subscribe()
    }

    pub fn typing(&self, chat_id: u64, manager_id: u64, name: &str) {
        let now = Instant::now();
        {
            let mut map = self.typing.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 10_000 {
                map.retain(|_, (t, _)| now.duration_since(*t) < TYPING_TTL);
            }
            map.insert((chat_id, manager_id), (now, name.to_string()));
        }
        let _ = self.signals.send(Arc::new(Typing {
            chat_id,
            manager_id,
            name: name.to_string(),
        }));
    }

    /// Managers other than `except` who typed in the chat within the last few seconds.
    pub fn typers(&self, chat_id: u64, except: u64) -> Vec<(u64, String)> {
        let now = Instant::now();
        let map = self.typing.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = map
            .iter()
            .filter(|((c, m), (t, _))| {
                *c == chat_id && *m != except && now.duration_since(*t) < TYPING_TTL
            })
            .map(|((_, m), (_, n))| (*m, n.clone()))
            .collect();
        v.sort();
        v
    }
}
