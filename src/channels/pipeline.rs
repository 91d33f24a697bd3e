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

use super::Ctx;
use super::adapter::{Adapter, Answer, Draft, Failed, Fetched, Head, Item};
use crate::config::ChannelConfig;
use crate::error::Result;
use crate::inbox::ingest::Ingested;

/// Handle one webhook body whose head passed `a.check_head`: verify, parse, and apply it.
pub async fn receive(
    ctx: &Ctx,
    a: &dyn Adapter,
    ch: &ChannelConfig,
    head: &dyn Head,
    body: &[u8],
) -> Result<Answer> {
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
