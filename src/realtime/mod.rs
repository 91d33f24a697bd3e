//! Ephemeral live signals that are not stored: who is typing where. Stored events (messages,
//! rows, counts) come from the store's event log instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::broadcast;

/// A typing signal counts for this long; browsers send one every couple of seconds.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

pub struct Signal {
    pub chat_id: u64,
    pub manager_id: u64,
    pub json: Arc<str>,
}

pub struct Hub {
    typing: Mutex<HashMap<(u64, u64), (Instant, String)>>,
    tx: broadcast::Sender<Arc<Signal>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            typing: Mutex::new(HashMap::new()),
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Signal>> {
        self.tx.subscribe()
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
        let json = json!({"type": "typing", "data": {"chat_id": chat_id, "manager_id": manager_id, "name": name}}).to_string();
        let _ = self.tx.send(Arc::new(Signal {
            chat_id,
            manager_id,
            json: Arc::from(json),
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
