//! Telegram Bot API: webhook (setWebhook with a secret token) or long polling (getUpdates
//! with a durable offset) in; sendMessage/sendPhoto/… out. Protocol only: what a message
//! means for the inbox is decided by the inbox service. `inbound` reads updates and fetches
//! files, `outbound` sends, `wire` makes Bot API calls; here are the settings, the adapter
//! and start-up.

mod inbound;
mod outbound;
mod wire;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapter::{Adapter, Answer, Failed, Fetched, Head, Item, Media, Sending};
use super::{Ctx, Outgoing, redact};
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::error::{Error, Result};
use crate::inbox::ingest::Ingested;
use wire::{CallError, call};

pub use inbound::{authentic, parse_update, read_update, with_links};

/// The Telegram adapter.
pub struct Telegram;

impl Adapter for Telegram {
    fn start(
        &self,
        ctx: &Ctx,
        ch: &ChannelConfig,
        stop: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        ctx.states().set_state(&ch.id, "starting", None);
        Some(tokio::spawn(run(ctx.clone(), ch.clone(), stop.clone())))
    }

    fn send<'a>(&'a self, ctx: &'a Ctx, out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(outbound::send(ctx, out))
    }

    /// The secret token Telegram sends in a header. A bot in polling mode fetches its own
    /// updates: it has no webhook to call.
    fn check_head(&self, ch: &ChannelConfig, head: &dyn Head) -> Result<()> {
        let bot = Bot::of(ch)
            .filter(|b| !b.polling)
            .ok_or_else(|| Error::NotFound(format!("telegram channel {:?}", ch.id)))?;
        if !authentic(&bot, head.header("x-telegram-bot-api-secret-token")) {
            return Err(Error::Unauthenticated);
        }
        Ok(())
    }

    /// One Update per request. An authentic body that is not JSON is acknowledged so it is
    /// not retried forever.
    fn parse(&self, ch: &ChannelConfig, body: &[u8]) -> Result<Vec<Item>> {
        match parse_update(&ch.id, body) {
            Ok(items) => Ok(items),
            Err(e) => {
                tracing::warn!(channel = %ch.id, "Telegram sent an update that is not JSON: {e}");
                Ok(Vec::new())
            }
        }
    }

    fn fetch<'a>(
        &'a self,
        ctx: &'a Ctx,
        ch: &'a ChannelConfig,
        file: &'a Media,
    ) -> BoxFuture<'a, Result<Fetched>> {
        inbound::fetch(ctx, ch, file)
    }

    /// Any failure is a 503, so Telegram sends the update again later.
    fn failed(&self, _ctx: &Ctx, _ch: &ChannelConfig, f: Failed) -> Error {
        Error::Unavailable(f.to_string())
    }

    fn answer(&self, _items: usize, _stored: &[Ingested]) -> Answer {
        Answer::Ok
    }
}

/// The updates Parley handles; anything else is not even sent to us.
const ALLOWED_UPDATES: &[&str] = &["message", "edited_message", "my_chat_member"];

/// A Telegram channel's settings, borrowed from the config.
pub struct Bot<'a> {
    pub id: &'a str,
    pub token: &'a str,
    pub secret: Option<&'a str>,
    pub polling: bool,
    api_base: &'a str,
    file_base: Option<&'a str>,
}

impl<'a> Bot<'a> {
    pub fn of(ch: &'a ChannelConfig) -> Option<Bot<'a>> {
        match &ch.kind {
            ChannelKindConfig::Telegram {
                token,
                webhook_secret,
                mode,
                api_base,
                file_base,
            } => Some(Bot {
                id: &ch.id,
                token,
                secret: webhook_secret.as_deref(),
                polling: mode == "polling",
                api_base: api_base.trim_end_matches('/'),
                file_base: file_base.as_deref().map(|f| f.trim_end_matches('/')),
            }),
            _ => None,
        }
    }

    fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.api_base, self.token)
    }

    fn file_url(&self, file_path: &str) -> String {
        match self.file_base {
            Some(base) => format!("{base}/bot{}/{file_path}", self.token),
            None => format!("{}/file/bot{}/{file_path}", self.api_base, self.token),
        }
    }

    /// The token is part of every URL, so errors pass through here before anyone sees them.
    fn clean(&self, text: &str) -> String {
        redact(text, &[self.token])
    }
}

// ---------------------------------------------------------------------------------------
// Start-up: register the webhook or poll.

async fn run(ctx: Ctx, ch: ChannelConfig, mut stop: watch::Receiver<bool>) {
    let Some(bot) = Bot::of(&ch) else { return };
    if bot.polling {
        inbound::poll(&ctx, &ch, &bot, stop).await;
        return;
    }
    let mut wait = Duration::from_secs(5);
    loop {
        match register(&ctx, &bot).await {
            Ok(url) => {
                ctx.states()
                    .set_state(bot.id, "connected", Some(format!("webhook {url}")));
                return;
            }
            Err(e) => {
                ctx.states().set_state(bot.id, "error", Some(e.clone()));
                ctx.states().error(bot.id, e);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(300));
    }
}

/// setWebhook with our public URL, the secret Telegram echoes back, and the updates we use.
async fn register(ctx: &Ctx, bot: &Bot<'_>) -> std::result::Result<String, String> {
    let base = ctx
        .public_base("Telegram's webhook mode")
        .map_err(|e| format!("{e} (or set mode = \"polling\")"))?;
    let Some(secret) = bot.secret else {
        return Err("webhook_secret is not set".into());
    };
    let url = format!("{base}/webhooks/telegram/{}", bot.id);
    let params = json!({
        "url": url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
        "max_connections": 40,
    });
    match call(ctx, bot, "setWebhook", params).await {
        Ok(_) => Ok(url),
        Err(CallError::Api(e)) => Err(format!("setWebhook: {} {}", e.code, e.description)),
        Err(CallError::Transport(t)) => Err(format!("setWebhook: {t}")),
    }
}
