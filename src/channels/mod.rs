//! Channels: one adapter per platform, translating protocols only, plus the outbox worker
//! that delivers outbound messages through them. Contact, chat and message rules live in the
//! inbox service; an adapter turns a platform's request into `Inbound`/events and a stored
//! message into the platform's send call.

pub mod api;
pub mod fetch;
pub mod outbox;
pub mod telegram;
pub mod viber;
pub mod whatsapp;
pub mod widget;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::blobs::Blobs;
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::domain::inbox::{Attachment, Chat, Contact, Delivery, Message};
use crate::error::{Error, Result};
use crate::inbox::Inbox;
use crate::store;

/// The one outbound HTTP client: rustls with bundled roots (a static binary on a bare host
/// has no CA store), timeouts, and no redirects (a redirect could point at an internal host).
pub fn http_client() -> Result<reqwest::Client> {
    http_client_builder()?
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

pub fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| reqwest::Certificate::from_der(c.as_ref()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("bundled CA roots: {e}")))?;
    Ok(reqwest::Client::builder()
        .tls_certs_only(roots)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Parley/", env!("CARGO_PKG_VERSION"))))
}

/// What every adapter needs: the inbox service, the shared HTTP client, blob storage and the
/// server's public URL (for webhooks and links handed to platforms).
#[derive(Clone)]
pub struct Ctx {
    pub inbox: Inbox,
    pub http: reqwest::Client,
    pub blobs: Blobs,
    pub public_url: Option<String>,
    /// Signs expiring public links to blobs (platforms that fetch media by URL).
    pub link_key: Arc<Vec<u8>>,
}

impl Ctx {
    pub fn states(&self) -> &States {
        &self.inbox.channel_states
    }

    /// `public_url` without a trailing slash, or an error naming the missing key.
    pub fn public_base(&self, what: &str) -> Result<String> {
        match &self.public_url {
            Some(u) => Ok(u.trim_end_matches('/').to_string()),
            None => Err(Error::Config(format!(
                "server.public_url is not set, but {what} needs an address the platform can reach"
            ))),
        }
    }

    /// Download a file a platform pointed us at (authenticated API answers only: unlike
    /// user-supplied URLs these may be on any host, and the fakes in tests are on loopback).
    /// The size cap and type check of `Blobs` apply.
    pub async fn download(
        &self,
        req: reqwest::RequestBuilder,
        mime: &str,
        name: &str,
    ) -> std::result::Result<Attachment, SendError> {
        use futures_util::StreamExt;
        let r = req.send().await.map_err(|e| SendError::Retry {
            reason: format!("file download failed: {e}"),
            after: None,
        })?;
        if !r.status().is_success() {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            return Err(classify(status, None, &text));
        }
        let mime = if mime.is_empty() {
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .unwrap_or("application/octet-stream")
                .trim()
                .to_string()
        } else {
            mime.to_string()
        };
        // A platform's file of a type we do not show (an archive, a script) is kept as an
        // opaque download rather than refused: the client did send it.
        let mime = if crate::blobs::allowed(&mime) {
            mime
        } else {
            "application/octet-stream".to_string()
        };
        let stream = r.bytes_stream().map(|c| c.map_err(|e| e.to_string()));
        self.blobs
            .put_stream(&mime, name, Box::pin(stream))
            .await
            .map_err(|e| match e {
                Error::Unavailable(m) => SendError::Retry {
                    reason: m,
                    after: None,
                },
                other => SendError::Permanent(format!("file not stored: {other}")),
            })
    }

    /// Bytes of a stored attachment, for uploading it to a platform.
    pub async fn blob_bytes(&self, a: &Attachment) -> std::result::Result<Vec<u8>, SendError> {
        let path = self.blobs.path(&a.sha256).ok_or_else(|| {
            SendError::Permanent(format!("attachment {:?} is not stored", a.name))
        })?;
        tokio::fs::read(&path).await.map_err(|e| {
            SendError::Permanent(format!("attachment {:?} cannot be read: {e}", a.name))
        })
    }

    /// A link to a stored blob that works without a session until `ttl` passes (Viber
    /// fetches outbound media by URL). Served by `GET /public/blobs/{sha}/{expires}/{sig}/{name}`.
    pub fn signed_blob_url(&self, a: &Attachment, ttl: Duration) -> Result<String> {
        let base = self.public_base("sending files by link")?;
        let expires = store::now_ms() / 1000 + ttl.as_secs() as i64;
        let sig = blob_link_signature(&self.link_key, &a.sha256, expires);
        let name: String = a
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(format!(
            "{base}/public/blobs/{}/{expires}/{sig}/{name}",
            a.sha256
        ))
    }
}

pub fn blob_link_signature(key: &[u8], sha256: &str, expires: i64) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let tag = aws_lc_rs::hmac::sign(&key, format!("{sha256}/{expires}").as_bytes());
    hex::encode(&tag.as_ref()[..16])
}

/// One outbound message as an adapter sees it.
pub struct Outgoing<'a> {
    pub channel: &'a ChannelConfig,
    pub chat: &'a Chat,
    pub contact: Option<&'a Contact>,
    pub message: &'a Message,
    /// The outbox row, with how many parts earlier attempts delivered.
    pub delivery: &'a Delivery,
}

impl Outgoing<'_> {
    /// Platform messages of this one that earlier attempts had accepted: skip them.
    pub fn parts_sent(&self) -> u32 {
        self.delivery.parts_sent
    }

    /// Record that the first `n` parts are accepted. Not recorded, a retry would only repeat
    /// them, so a store error is logged rather than failing the send.
    pub async fn record_parts_sent(&self, ctx: &Ctx, n: u32) {
        if let Err(e) = ctx.inbox.delivery_progress(self.delivery, n).await {
            tracing::warn!(
                message = self.message.id,
                "progress of a multi-part send not recorded: {e}"
            );
        }
    }
}

/// How a delivery attempt ended.
#[derive(Debug)]
pub enum SendError {
    /// Try again later (network error, 5xx, 429); `after` when the peer said how long.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will not work by retrying (4xx, bad config, window closed).
    Permanent(String),
    /// The client blocked us or unsubscribed: failed, and the chat is marked unreachable.
    Unreachable(String),
}

/// Classify an HTTP answer from a platform or callback.
pub fn classify(status: reqwest::StatusCode, retry_after: Option<&str>, body: &str) -> SendError {
    let snippet: String = body.chars().take(200).collect();
    let reason = format!(
        "HTTP {}{}",
        status.as_u16(),
        if snippet.is_empty() {
            String::new()
        } else {
            format!(": {snippet}")
        }
    );
    if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        SendError::Retry {
            reason,
            after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        }
    } else {
        SendError::Permanent(reason)
    }
}

/// A transport error (no answer) is always worth retrying.
pub fn transport(what: &str, e: reqwest::Error) -> SendError {
    SendError::Retry {
        reason: format!("{what}: {e}"),
        after: None,
    }
}

/// Deliver one message through its channel's adapter.
pub async fn send(ctx: &Ctx, out: &Outgoing<'_>) -> std::result::Result<Option<String>, SendError> {
    match &out.channel.kind {
        ChannelKindConfig::Api {
            callback_url: Some(url),
            secret,
            ..
        } => {
            let view = ctx
                .inbox
                .message_view(out.message.clone())
                .await
                .map_err(|e| SendError::Retry {
                    reason: format!("store: {e}"),
                    after: None,
                })?;
            let body = api::callback_body(out.chat, &view);
            api::deliver(&ctx.http, url, secret.as_deref().unwrap_or(""), body).await
        }
        ChannelKindConfig::Telegram { .. } => telegram::send(ctx, out).await,
        ChannelKindConfig::Api {
            callback_url: None, ..
        } => Err(SendError::Permanent(format!(
            "API channel {:?} has no callback_url, so replies cannot be delivered",
            out.channel.id
        ))),
        ChannelKindConfig::Viber { .. } => viber::send(ctx, out).await,
        ChannelKindConfig::Whatsapp { .. } => whatsapp::send(ctx, out).await,
        // Stored is delivered: the visitor's open WebSockets get it from the event stream
        // (`realtime::visitors`), and a closed panel loads it with the history.
        ChannelKindConfig::Widget { .. } => Ok(None),
    }
}

/// Start what each channel needs running: webhook registration, long polling.
pub fn start(ctx: &Ctx, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for ch in ctx.inbox.channels.all() {
        let (ctx, ch, stop) = (ctx.clone(), ch.clone(), stop.clone());
        match &ch.kind {
            ChannelKindConfig::Api { .. } | ChannelKindConfig::Widget { .. } => {
                ctx.states().set_state(&ch.id, "ready", None);
            }
            ChannelKindConfig::Telegram { .. } => {
                ctx.states().set_state(&ch.id, "starting", None);
                tasks.push(tokio::spawn(telegram::run(ctx, ch, stop)));
            }
            ChannelKindConfig::Viber { .. } => {
                tasks.push(tokio::spawn(viber::run(ctx, ch, stop)));
            }
            ChannelKindConfig::Whatsapp { .. } => tasks.push(whatsapp::start(&ctx, &ch, stop)),
        }
    }
    tasks
}

/// Each channel's state for Settings. The process-bound part (connected, polling…) lives in
/// memory only; what happened (last inbound, last error, a pause a platform asked for) is
/// also written to the store by `run`, when it changes, and loaded at start.
#[derive(Default)]
pub struct States {
    by_id: Mutex<HashMap<String, ChannelState>>,
    store: Option<store::Store>,
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
    fn saved(&self) -> store::channels::SavedState {
        store::channels::SavedState {
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
    pub fn load(st: store::Store) -> States {
        let saved = match st.read(store::channels::saved_states) {
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
            store: Some(st),
            ..States::default()
        }
    }

    fn with<R>(&self, id: &str, f: impl FnOnce(&mut ChannelState) -> R) -> R {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(id.to_string()).or_default())
    }

    /// Have `run` write this channel's state at `at` (or sooner, if already asked).
    fn mark(&self, id: &str, at: i64) {
        if self.store.is_none() {
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
        let st = self.store.as_ref()?;
        let now = store::now_ms();
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
            let rows: Vec<(String, store::channels::SavedState)> = ids
                .iter()
                .map(|id| (id.clone(), self.with(id, |s| s.saved())))
                .collect();
            let inbound: Vec<(String, Option<i64>)> = rows
                .iter()
                .map(|(id, s)| (id.clone(), s.last_inbound_ms))
                .collect();
            let written = st
                .write(move |w| {
                    for (id, s) in &rows {
                        store::channels::save_state(w, id, s)?;
                    }
                    Ok(())
                })
                .await;
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
                Duration::from_millis((t - store::now_ms()).clamp(10, 60_000) as u64)
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
        let now = store::now_ms();
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
            s.last_error_ms = Some(store::now_ms());
        });
        self.mark(id, store::now_ms());
    }

    pub fn pause(&self, id: &str, for_: Duration) {
        let until = store::now_ms() + for_.as_millis() as i64;
        self.with(id, |s| {
            s.paused_until_ms = Some(s.paused_until_ms.map_or(until, |u| u.max(until)))
        });
        self.mark(id, store::now_ms());
    }

    /// When sending through the channel may resume, if it is paused now.
    pub fn paused_until(&self, id: &str) -> Option<i64> {
        let now = store::now_ms();
        self.with(id, |s| s.paused_until_ms.filter(|&u| u > now))
    }

    pub fn get(&self, id: &str) -> ChannelState {
        self.with(id, |s| s.clone())
    }

    pub fn json(&self, id: &str) -> Value {
        let s = self.get(id);
        json!({
            "state": if s.state.is_empty() { "not started" } else { s.state.as_str() },
            "detail": s.detail,
            "last_inbound_ms": s.last_inbound_ms,
            "last_error": s.last_error,
            "last_error_ms": s.last_error_ms,
            "paused_until_ms": s.paused_until_ms.filter(|&u| u > store::now_ms()),
        })
    }
}

/// Replace every occurrence of a secret in text that may reach logs or the UI (reqwest
/// errors include the URL, and Telegram puts the bot token in the path).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(st: &store::Store, id: &str) -> Option<store::channels::SavedState> {
        st.read(store::channels::saved_states)
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
        let st = store::Store::open(dir.path()).unwrap();
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
        let st = store::Store::open(dir.path()).unwrap();
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
