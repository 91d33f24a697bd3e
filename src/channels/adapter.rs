//! The one adapter trait every platform implements, and the one place a channel's config
//! picks its adapter. Everything else (the outbox's send, start-up, the webhook pipeline)
//! goes through the trait, so a new platform is one folder plus one line in `adapter`.

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::pipeline::{Failed, Fetched, Item, Media};
use super::{Ctx, Outgoing, SendError};
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::error::{Error, Result};
use crate::inbox::ingest::{Inbound, Ingested};

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

/// The adapter of a channel's platform.
pub fn of(kind: &ChannelKindConfig) -> &'static dyn Adapter {
    match kind {
        ChannelKindConfig::Api { .. } => &super::api::Api,
        ChannelKindConfig::Telegram { .. } => &super::telegram::Telegram,
        ChannelKindConfig::Viber { .. } => &super::viber::Viber,
        ChannelKindConfig::Whatsapp { .. } => &super::whatsapp::Whatsapp,
        ChannelKindConfig::Widget { .. } => &super::widget::WidgetAdapter,
    }
}

/// Deliver one message through its channel's adapter.
pub async fn send(ctx: &Ctx, out: &Outgoing<'_>) -> std::result::Result<Option<String>, SendError> {
    of(&out.channel.kind).send(ctx, out).await
}

/// Start what each channel needs running.
pub fn start(ctx: &Ctx, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    ctx.inbox
        .channels
        .all()
        .filter_map(|ch| of(&ch.kind).start(ctx, ch, stop))
        .collect()
}
