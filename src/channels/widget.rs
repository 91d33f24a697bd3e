//! The website widget's live side and its guards. Messages need no delivery call: a manager's
//! reply is stored like any other, and `Live` pushes it to the visitor's open WebSockets.
//! `Live` reads the store's committed-event stream once for all visitors and routes each
//! event by chat to the few connections that may see it, so a busy inbox costs every idle
//! visitor nothing; each connection has a small bounded queue, and one that cannot keep up is
//! dropped (its browser reconnects and reloads the history) instead of being buffered for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

use crate::accounts::ratelimit::FailureLimiter;
use crate::config::{ChannelKindConfig, normal_origin};
use crate::error::{Error, Result};
use crate::inbox::Inbox;
use crate::realtime::Signal;
use crate::store::events::Event;

/// Frames queued per connection before it counts as too slow.
const QUEUE: usize = 64;
/// Open visitor WebSockets per client address (tabs, and offices behind one NAT address).
const MAX_SOCKETS_PER_IP: usize = 32;

/// Whether a page on `origin` may use the widget channel. Browsers send Origin on every
/// cross-origin request and WebSocket handshake; a request without one is not from a web page
/// (no site can make a browser drop it), so there is nothing to check.
pub fn origin_allowed(kind: &ChannelKindConfig, origin: Option<&str>) -> bool {
    let ChannelKindConfig::Widget {
        allowed_origins, ..
    } = kind
    else {
        return false;
    };
    let Some(origin) = origin else {
        return true;
    };
    let Some(origin) = normal_origin(origin) else {
        return false;
    };
    allowed_origins
        .iter()
        .any(|a| a == "*" || normal_origin(a).is_some_and(|a| a == origin))
}

/// Per-address budgets for the anonymous endpoints (token buckets: burst, then one request
/// back every `refill`).
pub struct Limits {
    sessions: FailureLimiter,
    messages: FailureLimiter,
    uploads: FailureLimiter,
    signals: FailureLimiter,
}

#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// New visitor sessions.
    Session,
    /// Sent messages and profile changes.
    Message,
    Upload,
    /// Typing and seen signals, history and file reads.
    Signal,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sessions: FailureLimiter::new(20, Duration::from_secs(30)),
            messages: FailureLimiter::new(30, Duration::from_secs(1)),
            uploads: FailureLimiter::new(10, Duration::from_secs(10)),
            signals: FailureLimiter::new(120, Duration::from_millis(250)),
        }
    }
}

impl Limits {
    /// Spend one request of `budget` for `ip`, or say how long it must wait (429).
    pub fn take(&self, budget: Budget, ip: &str) -> Result<()> {
        let l = match budget {
            Budget::Session => &self.sessions,
            Budget::Message => &self.messages,
            Budget::Upload => &self.uploads,
            Budget::Signal => &self.signals,
        };
        l.take(ip).map_err(Error::RateLimited)
    }
}

struct Conn {
    visitor: u64,
    chat: Option<u64>,
    ip: String,
    tx: mpsc::Sender<Arc<str>>,
}

#[derive(Default)]
struct Routes {
    next: u64,
    conns: HashMap<u64, Conn>,
    by_chat: HashMap<u64, Vec<u64>>,
    /// Connections of visitors who have not written yet (no chat to route by).
    by_visitor: HashMap<u64, Vec<u64>>,
    per_ip: HashMap<String, usize>,
}

impl Routes {
    fn index(&mut self, id: u64) {
        let Some(c) = self.conns.get(&id) else { return };
        match c.chat {
            Some(chat) => self.by_chat.entry(chat).or_default().push(id),
            None => self.by_visitor.entry(c.visitor).or_default().push(id),
        }
    }

    fn remove(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        let list = match c.chat {
            Some(chat) => self.by_chat.get_mut(&chat),
            None => self.by_visitor.get_mut(&c.visitor),
        };
        if let Some(list) = list {
            list.retain(|x| *x != id);
            if list.is_empty() {
                match c.chat {
                    Some(chat) => self.by_chat.remove(&chat),
                    None => self.by_visitor.remove(&c.visitor),
                };
            }
        }
        if let Some(n) = self.per_ip.get_mut(&c.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&c.ip);
            }
        }
    }

    /// Queue a frame for every connection on `chat`; drop the ones that are full or gone.
    fn push(&mut self, chat: u64, frame: &Arc<str>) {
        let Some(ids) = self.by_chat.get(&chat) else {
            return;
        };
        let stuck: Vec<u64> = ids
            .iter()
            .filter(|id| {
                self.conns
                    .get(id)
                    .is_none_or(|c| c.tx.try_send(frame.clone()).is_err())
            })
            .copied()
            .collect();
        for id in stuck {
            self.remove(id);
        }
    }
}

/// What the widget's HTTP side shares: the live router and the per-address budgets.
#[derive(Default)]
pub struct Widget {
    pub live: Arc<Live>,
    pub limits: Limits,
}

/// Routes committed events and typing signals to visitor WebSockets.
#[derive(Default)]
pub struct Live {
    routes: Mutex<Routes>,
}

/// A visitor's live feed; dropping it unregisters the connection.
pub struct Feed {
    id: u64,
    live: Arc<Live>,
    pub rx: mpsc::Receiver<Arc<str>>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.live.lock().remove(self.id);
    }
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a visitor connection from `ip`. `chat` finds the visitor's chat (None until
    /// they write); it runs under the routing lock, so a first message committed at the same
    /// moment is either seen by it or binds this connection afterwards (`bind`).
    pub fn subscribe(
        self: &Arc<Self>,
        visitor: u64,
        ip: &str,
        chat: impl FnOnce() -> Result<Option<u64>>,
    ) -> Result<Feed> {
        let mut r = self.lock();
        if r.per_ip.get(ip).is_some_and(|n| *n >= MAX_SOCKETS_PER_IP) {
            return Err(Error::RateLimited(Duration::from_secs(30)));
        }
        let chat = chat()?;
        *r.per_ip.entry(ip.to_string()).or_default() += 1;
        let (tx, rx) = mpsc::channel(QUEUE);
        r.next += 1;
        let id = r.next;
        r.conns.insert(
            id,
            Conn {
                visitor,
                chat,
                ip: ip.to_string(),
                tx,
            },
        );
        r.index(id);
        Ok(Feed {
            id,
            live: self.clone(),
            rx,
        })
    }

    /// The visitor's first message created their chat: their open connections follow it.
    /// The event of that message may already have gone by, so they get `message` directly
    /// (a browser that sees it twice keeps one copy, by id).
    pub fn bind(&self, visitor: u64, chat: u64, message: &Value) {
        let mut r = self.lock();
        let Some(ids) = r.by_visitor.remove(&visitor) else {
            return;
        };
        let frame = json!({"type": "message", "data": message}).to_string();
        for id in ids {
            if let Some(c) = r.conns.get_mut(&id) {
                c.chat = Some(chat);
                let _ = c.tx.try_send(Arc::from(frame.as_str()));
                r.index(id);
            }
        }
    }

    /// Open visitor connections (health and tests).
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }

    /// Route until the server stops.
    pub async fn run(
        self: Arc<Self>,
        inbox: Inbox,
        mut events: broadcast::Receiver<Arc<Event>>,
        mut typing: broadcast::Receiver<Arc<Signal>>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                e = events.recv() => match e {
                    Ok(e) => self.route_event(&inbox, &e),
                    // Missed events cannot be recovered per chat: every browser reloads.
                    Err(RecvError::Lagged(_)) => self.broadcast(&json!({"type": "resync"})),
                    Err(RecvError::Closed) => return,
                },
                s = typing.recv() => match s {
                    Ok(s) => self.route_typing(&s),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = stop.changed() => return,
            }
        }
    }

    fn broadcast(&self, v: &Value) {
        let frame: Arc<str> = Arc::from(v.to_string());
        let mut r = self.lock();
        let chats: Vec<u64> = r.by_chat.keys().copied().collect();
        for chat in chats {
            r.push(chat, &frame);
        }
    }

    fn route_event(&self, inbox: &Inbox, e: &Event) {
        if self.lock().by_chat.is_empty() {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(&e.json) else {
            return;
        };
        if !matches!(
            v["type"].as_str(),
            Some("message.created" | "message.updated")
        ) {
            return;
        }
        let (Some(chat), Some(msg)) = (
            v["data"]["chat_id"].as_u64(),
            v["data"]["message"]["id"].as_u64(),
        ) else {
            return;
        };
        if !self.lock().by_chat.contains_key(&chat) {
            return;
        }
        // The stored message, not the managers' event, decides what the visitor sees.
        let frame = inbox.visitor_message(chat, msg);
        match frame {
            Ok(Some(data)) => {
                let frame: Arc<str> =
                    Arc::from(json!({"type": "message", "data": data}).to_string());
                self.lock().push(chat, &frame);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("widget: cannot load message {msg}: {e}"),
        }
    }

    fn route_typing(&self, s: &Signal) {
        // Manager 0 is the visitor's own typing, relayed to managers.
        if s.manager_id == 0 || !self.lock().by_chat.contains_key(&s.chat_id) {
            return;
        }
        let name = serde_json::from_str::<Value>(&s.json)
            .ok()
            .and_then(|v| v["data"]["name"].as_str().map(String::from));
        let frame: Arc<str> =
            Arc::from(json!({"type": "typing", "data": {"name": name}}).to_string());
        self.lock().push(s.chat_id, &frame);
    }
}

/// Sweep, until the server stops, widget visitors who never wrote and uploads never attached,
/// each once older than its `retention` age. Runs a few times per age (at most hourly), so
/// nothing outlives its age by more than about a quarter of it.
pub async fn sweep(
    inbox: crate::inbox::Inbox,
    blobs: crate::blobs::Blobs,
    retention: crate::config::RetentionConfig,
    mut stop: watch::Receiver<bool>,
) {
    let visitor_age = Duration::from_secs(retention.idle_visitor_secs);
    let upload_age = Duration::from_secs(retention.unattached_upload_secs);
    let every = (visitor_age.min(upload_age) / 4)
        .clamp(Duration::from_millis(200), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = crate::store::now_ms();
        match inbox
            .sweep_visitors(now.saturating_sub(ms(visitor_age)))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("swept {n} widget visitors who never wrote"),
            Err(e) => tracing::warn!("widget visitor sweep failed: {e}"),
        }
        match inbox
            .sweep_unattached_files(&blobs, now.saturating_sub(ms(upload_age)))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("deleted {n} uploaded files never attached"),
            Err(e) => tracing::warn!("unattached upload sweep failed: {e}"),
        }
    }
}
