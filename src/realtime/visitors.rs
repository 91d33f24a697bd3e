//! The website widget's live side: committed events and typing signals routed to visitor
//! WebSockets. The router takes the hub's stream once for all visitors and routes each event
//! by chat to the few connections that may see it, so a busy inbox costs every idle visitor
//! nothing; each connection has a small bounded queue, and one that cannot keep up is dropped
//! (its browser reconnects and reloads the history) instead of being buffered for. What a
//! visitor may see of an event, and its wire form, the HTTP side decides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};

use super::Typing;
use crate::domain::event::{Event, Published};
use crate::error::{Error, Result};

/// Items queued per connection before it counts as too slow.
const QUEUE: usize = 64;
/// Open visitor WebSockets per client address (tabs, and offices behind one NAT address).
const MAX_SOCKETS_PER_IP: usize = 32;

/// What a visitor connection is sent.
#[derive(Clone)]
pub enum Item {
    /// A message created or changed in the visitor's chat.
    Event(Arc<Published>),
    /// A manager typing in the visitor's chat.
    Typing(Arc<Typing>),
    /// A frame already in its wire form.
    Frame(Arc<str>),
    /// Events were missed: reload.
    Resync,
}

struct Conn {
    visitor: u64,
    chat: Option<u64>,
    ip: String,
    tx: mpsc::Sender<Item>,
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

    /// Queue an item for every connection on `chat`; drop the ones that are full or gone.
    fn push(&mut self, chat: u64, frame: &Item) {
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

/// Routes committed events and typing signals to visitor WebSockets.
#[derive(Default)]
pub struct Live {
    routes: Mutex<Routes>,
}

/// A visitor's live feed; dropping it unregisters the connection.
pub struct Feed {
    id: u64,
    live: Arc<Live>,
    pub rx: mpsc::Receiver<Item>,
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
    /// The event of that message may already have gone by, so they get `frame` (the
    /// message as the visitor sees it) directly; a browser that sees it twice keeps one copy,
    /// by id.
    pub fn bind(&self, visitor: u64, chat: u64, frame: Arc<str>) {
        let mut r = self.lock();
        let Some(ids) = r.by_visitor.remove(&visitor) else {
            return;
        };
        for id in ids {
            if let Some(c) = r.conns.get_mut(&id) {
                c.chat = Some(chat);
                let _ = c.tx.try_send(Item::Frame(frame.clone()));
                r.index(id);
            }
        }
    }

    /// Open visitor connections (health and tests).
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }

    /// Route the hub's events and typing signals until the server stops.
    pub async fn run(
        self: Arc<Self>,
        mut events: broadcast::Receiver<Arc<Published>>,
        mut typing: broadcast::Receiver<Arc<Typing>>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                e = events.recv() => match e {
                    Ok(e) => self.route_event(e),
                    // Missed events cannot be recovered per chat: every browser reloads.
                    Err(RecvError::Lagged(_)) => self.broadcast(Item::Resync),
                    Err(RecvError::Closed) => return,
                },
                s = typing.recv() => match s {
                    Ok(s) => self.route_typing(s),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = stop.changed() => return,
            }
        }
    }

    fn broadcast(&self, item: Item) {
        let mut r = self.lock();
        let chats: Vec<u64> = r.by_chat.keys().copied().collect();
        for chat in chats {
            r.push(chat, &item);
        }
    }

    fn route_event(&self, e: Arc<Published>) {
        let chat = match &e.event {
            Event::MessageCreated(c) | Event::MessageUpdated(c) => c.chat_id,
            _ => return,
        };
        let mut r = self.lock();
        if r.by_chat.contains_key(&chat) {
            r.push(chat, &Item::Event(e));
        }
    }

    fn route_typing(&self, s: Arc<Typing>) {
        // Manager 0 is the visitor's own typing, relayed to managers.
        if s.manager_id == 0 {
            return;
        }
        let mut r = self.lock();
        if r.by_chat.contains_key(&s.chat_id) {
            let chat = s.chat_id;
            r.push(chat, &Item::Typing(s));
        }
    }
}
