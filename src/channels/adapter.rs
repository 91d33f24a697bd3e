//! The one adapter trait every platform implements, and the one place a channel's config
//! picks its adapter. Everything else (the outbox's send, start-up, the webhook pipeline)
//! goes through the trait, so a new platform is one folder plus one line in `platforms`.

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Ctx, Outgoing, SendError};
use crate::config::ChannelConfig;
use crate::domain::inbox::{Attachment, Status};
use crate::error::{Error, Result};
use crate::inbox::ingest::{ClientEvent, Inbound, Ingested};

/// What a send returns: the platform's id of the (last) message it took, when it gave one.
pub type Sending<'a> = BoxFuture<'a, std::result::Result<Option<String>, SendError>>;

/// The head of an inbound request, as far as adapters read it.
pub trait Head: Sync {
    fn header(&self, name: &str) -> Option<&str>;
}

/// What the platform is answered once its request was handled. The HTTP layer writes it.
#[derive(Debug)]
pub enum Answer {
    /// 200 without a body (Viber would take a body as a welcome message).
    Empty,
    /// Telegram's `{"ok": true}`.
    Ok,
    /// WhatsApp's `{"received": n}`: how many events the body held.
    Received(usize),
    /// The API channel's: the stored message (or the one a redelivery repeats).
    Stored(Ingested),
}

/// One messaging platform: how it starts, sends, and what its webhook requests mean. The
/// inbound methods are called by `pipeline::receive` in their order here; a platform without
/// webhooks (the widget) keeps their defaults.
pub trait Adapter: Send + Sync {
    /// Start what the channel needs running (webhook registration, long polling, a token
    /// check) and set its first state.
    fn start(
        &self,
        ctx: &Ctx,
        ch: &ChannelConfig,
        stop: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>>;

    /// Deliver one message.
    fn send<'a>(&'a self, ctx: &'a Ctx, out: &'a Outgoing<'a>) -> Sending<'a>;

    /// Decide from the request head alone, before a byte of the body is read: the credential
    /// a platform sends in a header, or at least a well-formed signature header.
    fn check_head(&self, ch: &ChannelConfig, _head: &dyn Head) -> Result<()> {
        Err(Error::NotFound(format!("webhook of channel {:?}", ch.id)))
    }

    /// Check the body against its signature (platforms that sign the body).
    fn verify(&self, _ch: &ChannelConfig, _head: &dyn Head, _body: &[u8]) -> Result<()> {
        Ok(())
    }

    /// What an authentic body asks of the inbox. A body the platform should not send again
    /// (not understood) is logged and yields nothing; an error is the caller's fault (4xx).
    fn parse(&self, _ch: &ChannelConfig, _body: &[u8]) -> Result<Vec<Item>> {
        Ok(Vec::new())
    }

    /// Download one file a message points at. An error fails the whole request.
    fn fetch<'a>(
        &'a self,
        _ctx: &'a Ctx,
        ch: &'a ChannelConfig,
        _file: &'a Media,
    ) -> BoxFuture<'a, Result<Fetched>> {
        let e = Error::Internal(format!("channel {:?} fetches no files", ch.id));
        Box::pin(async move { Err(e) })
    }

    /// Say in a message's text that one of its files was not stored.
    fn add_note(&self, text: &mut String, note: &str) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(note);
    }

    /// The last touch before a message is stored, once its files are fetched.
    fn finish(&self, _kind: &str, _inbound: &mut Inbound) {}

    /// The error a failed request is answered with (a 5xx makes the platform send it again).
    fn failed(&self, _ctx: &Ctx, _ch: &ChannelConfig, f: Failed) -> Error {
        match f {
            Failed::Error(e) => e,
            Failed::Later(reason) => Error::Unavailable(reason),
        }
    }

    /// The answer to a handled request of `items` items, of which these messages are stored.
    fn answer(&self, _items: usize, _stored: &[Ingested]) -> Answer {
        Answer::Empty
    }
}

/// One thing a platform's request asks of the inbox, read without the network or the store.
#[derive(Debug)]
pub enum Item {
    /// A client's message whose files are still to download.
    Message(Draft),
    /// The client subscribed, blocked the bot, opened the chat…
    ClientEvent(Inbound, ClientEvent),
    /// A receipt for one of our messages, by the platform's id of it.
    Receipt {
        external_id: String,
        status: Status,
        error: Option<String>,
    },
    /// The client edited a message they sent.
    Edited { external_id: String, text: String },
}

/// A client's message before its files are fetched.
#[derive(Debug)]
pub struct Draft {
    /// The message without attachments; its `message_id` (the platform's id) is the dedupe
    /// key within the channel.
    pub inbound: Inbound,
    pub files: Vec<Media>,
    /// The platform's message type, for adapters that word an empty message by it.
    pub kind: String,
}

/// A file a message points at.
#[derive(Debug, PartialEq)]
pub struct Media {
    pub handle: Handle,
    /// The type the platform declared ("" when it did not say).
    pub mime: String,
    pub name: String,
    /// The size the platform declared.
    pub size: Option<u64>,
    /// What the client sent ("picture", …) or the request field it came in, for notes and
    /// errors.
    pub what: String,
}

/// How a platform names a file.
#[derive(Debug, PartialEq)]
pub enum Handle {
    /// A file or media id, exchanged for the file through the platform's API.
    Id(String),
    Url(String),
    /// The bytes themselves, base64-encoded (decoded only when the message is new).
    Base64(String),
    /// The message names no file (or, for the API channel, not exactly one source).
    Missing,
}

/// How fetching one file ended.
pub enum Fetched {
    File(Attachment),
    /// It will never be stored: the message is stored with this note in its text instead.
    Note(String),
    /// It may work later: the message is not stored, and the request fails so the platform
    /// sends it again (what is stored by then is not stored twice).
    Later(String),
}

/// Why handling a request's items failed.
#[derive(Debug)]
pub enum Failed {
    /// The inbox could not store (or a file was refused, for the API channel).
    Error(Error),
    /// A file may be fetched later (the last such reason); the rest was stored.
    Later(String),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::Error(e)
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Error(e) => write!(f, "{e}"),
            Failed::Later(reason) => f.write_str(reason),
        }
    }
}

/// Whether `sig` (after an optional `prefix`) is 64 hex digits: the form of an HMAC-SHA256
/// signature, checked before the body it signs is read.
pub fn hex_signature(sig: Option<&str>, prefix: &str) -> Result<()> {
    let ok = sig
        .map(str::trim)
        .and_then(|s| s.strip_prefix(prefix))
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(Error::Unauthenticated)
    }
}

/// Bodies are parsed only once the caller has proved who it is (an unauthenticated request
/// learns nothing from parse errors and costs no parsing), and only when declared as JSON.
pub fn require_json(head: &dyn Head) -> Result<()> {
    let mime = head
        .header("content-type")
        .and_then(|c| c.split(';').next())
        .unwrap_or("")
        .trim();
    if !(mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")) {
        return Err(Error::Unsupported(
            "send the body as application/json".into(),
        ));
    }
    Ok(())
}
