//! WhatsApp Cloud API (Meta Graph): the webhook (GET verification handshake; POST events
//! signed with `X-Hub-Signature-256`), the two-step media download, outbound text and media
//! (uploaded first, then sent by id), the 24-hour customer-service window and Graph error
//! codes. Wire formats: CHANNELS.md section 2.
//!
//! Inbound message types: text; image, video, sticker, audio (voice notes included) and
//! document become attachments (the caption is the text, a document keeps its file name);
//! location, shared contacts, interactive replies, template quick-reply buttons and orders
//! become readable text; `unsupported` is stored as a bracketed placeholder text so the manager
//! knows the client sent something, and so is a file that could not be stored (with the
//! reason). Reactions, `system` notices (number changes), `request_welcome` and unknown types
//! are ignored. A shared contact card never changes the client's own identity: the client's
//! phone is always "+" and their wa_id.//!
//! `wire` reads webhook bodies and Graph errors, `inbound` checks and applies webhooks and
//! fetches media, `outbound` sends; here are the settings, the adapter and start-up.

mod inbound;
mod outbound;
mod wire;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapter::{Adapter, Answer, Failed, Fetched, Head, Item, Media, Sending, hex_signature};
use super::{Ctx, Outgoing, SendError};
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::error::{Error, Result};
use crate::inbox::ingest::Ingested;
use wire::{graph_error, string};

pub use inbound::{handshake, items, signature_ok};
pub use outbound::{WINDOW_MS, window_open};
pub use wire::{Event, InMessage, parse, parse_body};

/// One WhatsApp channel's settings, borrowed from the config.
pub struct Wa<'a> {
    pub id: &'a str,
    pub access_token: &'a str,
    pub app_secret: &'a str,
    pub verify_token: &'a str,
    pub phone_number_id: &'a str,
    pub template: Option<&'a str>,
    pub template_language: &'a str,
    /// `{api_base}/{api_version}`.
    base: String,
}

impl<'a> Wa<'a> {
    pub fn of(ch: &'a ChannelConfig) -> Option<Wa<'a>> {
        match &ch.kind {
            ChannelKindConfig::Whatsapp {
                access_token,
                app_secret,
                verify_token,
                phone_number_id,
                api_version,
                api_base,
                template,
                template_language,
            } => Some(Wa {
                id: &ch.id,
                access_token,
                app_secret,
                verify_token,
                phone_number_id,
                template: template.as_deref().filter(|t| !t.is_empty()),
                template_language,
                base: format!(
                    "{}/{}",
                    api_base.trim_end_matches('/'),
                    api_version.trim_matches('/')
                ),
            }),
            _ => None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// Graph answers and reqwest errors reach logs and the UI: keep the secrets out.
    fn redact(&self, text: &str) -> String {
        crate::channels::redact(text, &[self.access_token, self.app_secret])
    }

    fn redact_err(&self, e: SendError) -> SendError {
        match e {
            SendError::Retry { reason, after } => SendError::Retry {
                reason: self.redact(&reason),
                after,
            },
            SendError::Permanent(r) => SendError::Permanent(self.redact(&r)),
            SendError::Unreachable(r) => SendError::Unreachable(self.redact(&r)),
        }
    }
}

/// The WhatsApp adapter. The verification handshake (`GET`) is `handshake`, answered by the
/// HTTP layer; events come through the pipeline.
pub struct Whatsapp;

impl Adapter for Whatsapp {
    /// WhatsApp needs no registration (the webhook URL is set in the Meta dashboard): the
    /// channel is ready at once, and one look at the phone number tells whether the token
    /// works.
    fn start(
        &self,
        ctx: &Ctx,
        ch: &ChannelConfig,
        stop: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        ctx.states().set_state(&ch.id, "ready", None);
        let (ctx, ch, mut stop) = (ctx.clone(), ch.clone(), stop.clone());
        Some(tokio::spawn(async move {
            tokio::select! {
                _ = check(&ctx, &ch) => {}
                _ = stop.changed() => {}
            }
        }))
    }

    fn send<'a>(&'a self, ctx: &'a Ctx, out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(outbound::send(ctx, out))
    }

    /// Events are signed with HMAC-SHA256 of the raw body in `X-Hub-Signature-256`.
    fn check_head(&self, ch: &ChannelConfig, head: &dyn Head) -> Result<()> {
        Wa::of(ch).ok_or_else(|| Error::NotFound(format!("whatsapp channel {:?}", ch.id)))?;
        hex_signature(head.header("x-hub-signature-256"), "sha256=")
    }

    fn verify(&self, ch: &ChannelConfig, head: &dyn Head, body: &[u8]) -> Result<()> {
        let wa =
            Wa::of(ch).ok_or_else(|| Error::NotFound(format!("whatsapp channel {:?}", ch.id)))?;
        if !signature_ok(wa.app_secret, head.header("x-hub-signature-256"), body) {
            return Err(Error::Unauthenticated);
        }
        Ok(())
    }

    /// An authentic body that is not JSON is acknowledged so it is not resent.
    fn parse(&self, ch: &ChannelConfig, body: &[u8]) -> Result<Vec<Item>> {
        let wa =
            Wa::of(ch).ok_or_else(|| Error::NotFound(format!("whatsapp channel {:?}", ch.id)))?;
        match parse_body(body, wa.phone_number_id) {
            Ok(events) => Ok(items(wa.id, events)),
            Err(e) => {
                tracing::warn!(channel = %ch.id, "WhatsApp sent a webhook body that is not JSON: {e}");
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

    /// A media file that cannot be fetched yet fails the request (after the rest is stored):
    /// a 5xx makes Meta deliver the body again, and only what is missing is added.
    fn failed(&self, ctx: &Ctx, ch: &ChannelConfig, f: Failed) -> Error {
        match f {
            Failed::Error(e) => e,
            Failed::Later(reason) => {
                ctx.states()
                    .error(&ch.id, format!("WhatsApp media download: {reason}"));
                Error::Unavailable(format!(
                    "a media file could not be fetched yet ({reason}); WhatsApp will deliver the event again"
                ))
            }
        }
    }

    fn answer(&self, items: usize, _stored: &[Ingested]) -> Answer {
        Answer::Received(items)
    }
}

// ---------------------------------------------------------------------------------------
// Start-up

async fn check(ctx: &Ctx, ch: &ChannelConfig) {
    let Some(wa) = Wa::of(ch) else { return };
    let url = wa.url(&format!(
        "{}?fields=display_phone_number,verified_name",
        wa.phone_number_id
    ));
    let r = match ctx
        .http
        .get(url)
        .bearer_auth(wa.access_token)
        .timeout(Duration::from_secs(15))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            // The channel may still work once Graph is reachable; keep it ready.
            ctx.states().error(
                wa.id,
                wa.redact(&format!("WhatsApp Graph API not reachable at start: {e}")),
            );
            return;
        }
    };
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if status.is_success() {
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let detail = [&v["display_phone_number"], &v["verified_name"]]
            .into_iter()
            .filter_map(string)
            .collect::<Vec<_>>()
            .join(" · ");
        ctx.states()
            .set_state(wa.id, "connected", Some(detail).filter(|d| !d.is_empty()));
        return;
    }
    match graph_error(ctx, &wa, status, &body) {
        // 190 already set the error state.
        SendError::Permanent(_) if ctx.states().get(wa.id).state == "error" => {}
        SendError::Retry { reason, .. } => ctx
            .states()
            .error(wa.id, format!("WhatsApp phone number check: {reason}")),
        SendError::Permanent(reason) | SendError::Unreachable(reason) => {
            let msg = format!("WhatsApp phone number check: {reason}");
            ctx.states().set_state(wa.id, "error", Some(msg.clone()));
            ctx.states().error(wa.id, msg);
        }
    }
}
