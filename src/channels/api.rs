//! The API channel: inbound REST from any source (a bearer token, one message per request,
//! files inline or by URL), outbound JSON POSTed to the channel's callback URL and signed
//! with HMAC-SHA256 of the raw body.

use base64::Engine;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapter::{
    Adapter, Answer, Draft, Fetched, Handle, Head, Item, Media, Sending, require_json,
};
use super::{Ctx, Outgoing, SendError, classify};
use crate::accounts::same_secret;
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::domain::event::MessageView;
use crate::domain::inbox::Chat;
use crate::error::Error;
use crate::inbox::ingest::{Inbound, Ingested};

/// The API channel's adapter.
pub struct Api;

impl Adapter for Api {
    fn start(
        &self,
        ctx: &Ctx,
        ch: &ChannelConfig,
        _stop: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        ctx.states().set_state(&ch.id, "ready", None);
        None
    }

    fn send<'a>(&'a self, ctx: &'a Ctx, out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(send(ctx, out))
    }

    fn check_head(&self, ch: &ChannelConfig, head: &dyn Head) -> Result<(), Error> {
        let ChannelKindConfig::Api { token, .. } = &ch.kind else {
            return Err(Error::NotFound(format!("API channel {:?}", ch.id)));
        };
        let sent = head
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(sent.as_bytes(), token.as_bytes()) {
            return Err(Error::Unauthenticated);
        }
        require_json(head)
    }

    fn parse(&self, ch: &ChannelConfig, body: &[u8]) -> Result<Vec<Item>, Error> {
        let b = parse_inbound(body)?;
        let files = b
            .message
            .attachments
            .iter()
            .enumerate()
            .map(|(i, a)| a.media(i))
            .collect();
        Ok(vec![Item::Message(Draft {
            inbound: Inbound {
                channel_id: ch.id.clone(),
                channel_kind: "api".into(),
                client_id: b.contact.external_id,
                name: b.contact.name,
                phone: b.contact.phone,
                email: b.contact.email,
                message_id: Some(b.message.external_id),
                text: b.message.text,
                attachments: Vec::new(),
                created_ms: None,
            },
            files,
            kind: String::new(),
        })])
    }

    /// A file refused (not base64, a URL that is private or does not answer) refuses the
    /// whole request, naming the field: the caller sent it and can fix it.
    fn fetch<'a>(
        &'a self,
        ctx: &'a Ctx,
        _ch: &'a ChannelConfig,
        file: &'a Media,
    ) -> BoxFuture<'a, Result<Fetched, Error>> {
        Box::pin(async move {
            let field = &file.what;
            let att = match source(&file.handle, field)? {
                FileSource::Inline(bytes) => {
                    ctx.blobs.put_bytes(&file.mime, &file.name, bytes).await?
                }
                FileSource::Url(url) => {
                    super::fetch::download(url, &ctx.blobs, &file.mime, &file.name)
                        .await
                        .map_err(|e| match e {
                            Error::BadRequest(m) => Error::invalid(field, m),
                            other => other,
                        })?
                }
            };
            Ok(Fetched::File(att))
        })
    }

    fn answer(&self, _items: usize, stored: &[Ingested]) -> Answer {
        stored
            .first()
            .copied()
            .map_or(Answer::Empty, Answer::Stored)
    }
}

/// POST the message to the channel's callback URL.
async fn send(ctx: &Ctx, out: &Outgoing<'_>) -> Result<Option<String>, SendError> {
    let ChannelKindConfig::Api {
        callback_url: Some(url),
        secret,
        ..
    } = &out.channel.kind
    else {
        return Err(SendError::Permanent(format!(
            "API channel {:?} has no callback_url, so replies cannot be delivered",
            out.channel.id
        )));
    };
    let view = ctx
        .inbox
        .message_view(out.message.clone())
        .await
        .map_err(|e| SendError::Retry {
            reason: format!("store: {e}"),
            after: None,
        })?;
    let body = callback_body(out.chat, &view);
    deliver(&ctx.http, url, secret.as_deref().unwrap_or(""), body).await
}

/// `POST /webhooks/api/{id}`: one message from one contact.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    pub contact: InboundContact,
    pub message: InboundMessage,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundContact {
    pub external_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundMessage {
    pub external_id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<InboundAttachment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundAttachment {
    pub url: Option<String>,
    pub data_base64: Option<String>,
    pub name: Option<String>,
    pub mime: String,
}

/// Where an attachment's bytes come from.
pub enum FileSource<'a> {
    Inline(Vec<u8>),
    Url(&'a str),
}

impl InboundAttachment {
    /// The `i`th attachment as the pipeline fetches it; checked only then, so a redelivered
    /// message costs no decoding.
    pub fn media(&self, i: usize) -> Media {
        let handle = match (&self.data_base64, &self.url) {
            (Some(data), None) => Handle::Base64(data.clone()),
            (None, Some(url)) => Handle::Url(url.clone()),
            _ => Handle::Missing,
        };
        Media {
            handle,
            mime: self.mime.clone(),
            name: self.name.clone().unwrap_or_else(|| "file".into()),
            size: None,
            what: format!("message.attachments[{i}]"),
        }
    }
}

/// Where an attachment's bytes come from, decoded; errors name `field`.
pub fn source<'a>(handle: &'a Handle, field: &str) -> Result<FileSource<'a>, Error> {
    match handle {
        Handle::Base64(data) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(FileSource::Inline)
            .map_err(|e| Error::invalid(field, format!("data_base64 is not base64: {e}"))),
        Handle::Url(url) => Ok(FileSource::Url(url)),
        Handle::Id(_) | Handle::Missing => Err(Error::invalid(
            field,
            "give exactly one of url or data_base64",
        )),
    }
}

fn check_id(field: &str, v: &str) -> Result<(), Error> {
    if v.is_empty() || v.len() > 256 || v.contains('\0') {
        return Err(Error::invalid(field, "must be 1 to 256 bytes without NUL"));
    }
    Ok(())
}

/// The body of an inbound API-channel request, parsed and checked; what the handler then
/// stores. Pure, so the fuzzer runs exactly what the server runs.
pub fn parse_inbound(body: &[u8]) -> Result<InboundBody, Error> {
    let b: InboundBody =
        serde_json::from_slice(body).map_err(|e| Error::BadRequest(format!("parse error: {e}")))?;
    check_id("contact.external_id", &b.contact.external_id)?;
    check_id("message.external_id", &b.message.external_id)?;
    if b.message.text.trim().is_empty() && b.message.attachments.is_empty() {
        return Err(Error::invalid("message.text", "send text or attachments"));
    }
    if b.message.attachments.len() > 10 {
        return Err(Error::invalid("message.attachments", "at most 10"));
    }
    Ok(b)
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, body).as_ref())
    )
}

pub fn callback_body(chat: &Chat, view: &MessageView) -> Vec<u8> {
    let m = &view.message;
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.sha256, "name": a.name, "mime": a.mime, "size": a.size,
                "url": format!("/api/v1/blobs/{}", a.sha256),
            })
        })
        .collect();
    json!({
        "event": "message.created",
        "chat_id": chat.id,
        "contact": {"external_id": chat.external_id},
        "message": {
            "id": m.id,
            "kind": m.kind.as_str(),
            "text": m.text,
            "attachments": attachments,
            "author": view.author,
            "created_ms": m.created_ms,
        }
    })
    .to_string()
    .into_bytes()
}

pub async fn deliver(
    http: &reqwest::Client,
    callback_url: &str,
    secret: &str,
    body: Vec<u8>,
) -> Result<Option<String>, SendError> {
    let sig = sign(secret, &body);
    let r = http
        .post(callback_url)
        .header("content-type", "application/json")
        .header("x-parley-signature", sig)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::Retry {
            reason: format!("callback unreachable: {e}"),
            after: None,
        })?;
    let status = r.status();
    if status.is_success() {
        return Ok(None);
    }
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.text().await.unwrap_or_default();
    Err(classify(status, retry_after.as_deref(), &text))
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
