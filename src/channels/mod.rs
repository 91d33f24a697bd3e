//! Channels: one adapter per platform (`adapter::Adapter`), translating protocols only; the
//! one inbound pipeline every webhook goes through (`pipeline`); the outbox worker that
//! delivers outbound messages through the adapters; and each channel's runtime state
//! (`states`). Contact, chat and message rules live in the inbox service: an adapter turns a
//! platform's request into `pipeline::Item`s and a stored message into the platform's send
//! call.

pub mod adapter;
pub mod api;
pub mod fetch;
pub mod outbox;
pub mod pipeline;
pub mod platforms;
pub mod states;
pub mod telegram;
pub mod viber;
pub mod whatsapp;
pub mod widget;

use std::sync::Arc;
use std::time::Duration;

use crate::config::ChannelConfig;
use crate::domain::inbox::{Attachment, Chat, Contact, Delivery, Message};
use crate::domain::now_ms;
use crate::error::{Error, Result};
use crate::inbox::Inbox;
use crate::inbox::blobs::Blobs;

pub use adapter::Adapter;
pub use platforms::{send, start};
pub use states::{ChannelState, States};

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

/// What every adapter needs: the inbox service, the channels' runtime states, the shared HTTP
/// client, blob storage and the server's public URL (for webhooks and links handed to
/// platforms).
#[derive(Clone)]
pub struct Ctx {
    pub inbox: Inbox,
    /// Live state of each channel (connected, last inbound, last error, paused).
    pub states: Arc<States>,
    pub http: reqwest::Client,
    pub blobs: Blobs,
    pub public_url: Option<String>,
    /// Signs expiring public links to blobs (platforms that fetch media by URL).
    pub link_key: Arc<Vec<u8>>,
}

impl Ctx {
    pub fn states(&self) -> &States {
        &self.states
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
        let mime = if crate::inbox::blobs::allowed(&mime) {
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
        let expires = now_ms() / 1000 + ttl.as_secs() as i64;
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
    /// Send the message as this WhatsApp template (only ever set on WhatsApp chats).
    pub wa_template: Option<&'a crate::domain::broadcast::WaTemplate>,
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
