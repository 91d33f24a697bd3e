//! The one inbound pipeline, for every platform's webhook (and Telegram's long polling):
//! check the head → read the body (the HTTP layer) → verify → parse → for each message,
//! dedupe (a message already stored is never downloaded again) → fetch its files → ingest.
//! Adapters only translate: `Adapter::parse` turns a body into `Item`s, `Adapter::fetch`
//! downloads one file; what an item means for the inbox is decided here and in the inbox.
//!
//! Anyone can call a webhook, so the head is checked before the body is read: the channel
//! must exist (404, the HTTP layer), and where the platform sends its credential in a header
//! that is checked too (401); platforms that sign the body must at least send a well-formed
//! signature header. Only then is the body read and, where it is signed, verified.

use super::adapter::{self, Adapter, Answer, Head};
use super::Ctx;
use crate::config::ChannelConfig;
use crate::domain::inbox::{Attachment, Status};
use crate::error::{Error, Result};
use crate::inbox::ingest::{ClientEvent, Inbound, Ingested};

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

/// What the head of a webhook request to `ch` shows, checked before its body is read.
pub fn check_head(ch: &ChannelConfig, head: &dyn Head) -> Result<()> {
    adapter::of(&ch.kind).check_head(ch, head)
}

/// Handle one webhook body whose head passed `check_head`: verify, parse, and apply it.
pub async fn receive(
    ctx: &Ctx,
    ch: &ChannelConfig,
    head: &dyn Head,
    body: &[u8],
) -> Result<Answer> {
    let a = adapter::of(&ch.kind);
    a.verify(ch, head, body)?;
    // Settings shows when each channel last heard from its platform.
    ctx.states().inbound(&ch.id);
    let items = a.parse(ch, body)?;
    let n = items.len();
    match apply(ctx, a, ch, items).await {
        Ok(stored) => Ok(a.answer(n, &stored)),
        Err(f) => Err(a.failed(ctx, ch, f)),
    }
}

/// Apply items in order. Messages already stored are skipped before any download; a file
/// that may be fetched later skips its message and fails the whole (after the rest is
/// applied), so the platform sends it again and only what is missing is added. Returns the
/// messages stored, or already stored (for the API channel's answer).
pub async fn apply(
    ctx: &Ctx,
    a: &dyn Adapter,
    ch: &ChannelConfig,
    items: Vec<Item>,
) -> std::result::Result<Vec<Ingested>, Failed> {
    let mut stored = Vec::new();
    let mut later = None;
    for item in items {
        match item {
            Item::Message(d) => match message(ctx, a, ch, d).await? {
                Ok(Some(i)) => stored.push(i),
                Ok(None) => {}
                Err(reason) => later = Some(reason),
            },
            Item::ClientEvent(inb, ev) => {
                ctx.inbox.client_event(inb, ev).await?;
            }
            Item::Receipt {
                external_id,
                status,
                error,
            } => {
                ctx.inbox
                    .receipt(&ch.id, &external_id, status, error)
                    .await?;
            }
            Item::Edited { external_id, text } => {
                ctx.inbox.edit_inbound(&ch.id, &external_id, text).await?;
            }
        }
    }
    match later {
        Some(reason) => Err(Failed::Later(reason)),
        None => Ok(stored),
    }
}

/// Dedupe, fetch and store one message: what was stored, or why it must wait.
async fn message(
    ctx: &Ctx,
    a: &dyn Adapter,
    ch: &ChannelConfig,
    mut d: Draft,
) -> Result<std::result::Result<Option<Ingested>, String>> {
    // A redelivery must not download its files again.
    if let Some(ext) = &d.inbound.message_id
        && let Some(known) = ctx.inbox.known_message(&ch.id, ext)?
    {
        return Ok(Ok(Some(known)));
    }
    for f in &d.files {
        match a.fetch(ctx, ch, f).await? {
            Fetched::File(att) => d.inbound.attachments.push(att),
            Fetched::Note(note) => a.add_note(&mut d.inbound.text, &note),
            Fetched::Later(reason) => return Ok(Err(reason)),
        }
    }
    a.finish(&d.kind, &mut d.inbound);
    Ok(Ok(Some(ctx.inbox.ingest(d.inbound).await?)))
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
