//! Webhooks in: the verification handshake, the body's signature, events into pipeline
//! items, and the two-step media download.

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::Wa;
use super::wire::{Event, base_mime, graph_error};
use crate::accounts::same_secret;
use crate::channels::adapter::{Draft, Fetched, Handle, Item, Media};
use crate::channels::{Ctx, SendError};
use crate::config::ChannelConfig;
use crate::domain::inbox::Attachment;
use crate::error::{Error, Result};
use crate::inbox::ingest::Inbound;

/// The verification handshake: the challenge to echo, or None when the request is not
/// Meta's subscribe with our verify token.
pub fn handshake<'q>(
    verify_token: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'q str>,
) -> Option<&'q str> {
    let token_ok = same_secret(token.unwrap_or("").as_bytes(), verify_token.as_bytes());
    (mode == Some("subscribe") && token_ok && !verify_token.is_empty())
        .then_some(challenge)
        .flatten()
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`, checked in
/// constant time over the bytes exactly as received.
pub fn signature_ok(app_secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(tag) = hex::decode(sig.trim()) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, app_secret.as_bytes());
    !app_secret.is_empty() && aws_lc_rs::hmac::verify(&key, body, &tag).is_ok()
}

/// A webhook's events as pipeline items, in order. The client's phone is always "+" and
/// their wa_id (a shared contact card never changes it).
pub fn items(channel_id: &str, events: Vec<Event>) -> Vec<Item> {
    events
        .into_iter()
        .map(|ev| match ev {
            Event::Message(m) => Item::Message(Draft {
                inbound: Inbound {
                    channel_id: channel_id.to_string(),
                    channel_kind: "whatsapp".into(),
                    phone: Some(format!("+{}", m.from)),
                    client_id: m.from,
                    name: m.name,
                    email: None,
                    message_id: Some(m.wamid),
                    text: m.text,
                    attachments: Vec::new(),
                    created_ms: m.created_ms,
                },
                files: m
                    .media
                    .into_iter()
                    .map(|f| Media {
                        handle: Handle::Id(f.id),
                        mime: f.mime,
                        name: f.name,
                        size: None,
                        what: String::new(),
                    })
                    .collect(),
                kind: String::new(),
            }),
            Event::Status {
                wamid,
                status,
                error,
            } => Item::Receipt {
                external_id: wamid,
                status,
                error,
            },
        })
        .collect()
}

/// Fetch one media file. One that cannot be stored is noted in the message (and shown in
/// Settings); one that may be fetched later fails the request, so Meta delivers it again.
pub(super) fn fetch<'a>(
    ctx: &'a Ctx,
    ch: &'a ChannelConfig,
    media: &'a Media,
) -> BoxFuture<'a, Result<Fetched>> {
    Box::pin(async move {
        let wa = Wa::of(ch)
            .ok_or_else(|| Error::Internal(format!("channel {:?} is not WhatsApp", ch.id)))?;
        Ok(match fetch_media(ctx, &wa, media).await {
            Ok(a) => Fetched::File(a),
            Err(SendError::Retry { reason, .. }) => Fetched::Later(reason),
            Err(SendError::Permanent(why) | SendError::Unreachable(why)) => {
                ctx.states()
                    .error(wa.id, format!("WhatsApp file {:?}: {why}", media.name));
                Fetched::Note(format!("[{} could not be stored: {why}]", media.name))
            }
        })
    })
}

/// `GET /{version}/{media-id}` for a short-lived URL, then that URL, both with the token.
async fn fetch_media(
    ctx: &Ctx,
    wa: &Wa<'_>,
    media: &Media,
) -> std::result::Result<Attachment, SendError> {
    let Handle::Id(id) = &media.handle else {
        return Err(SendError::Permanent("WhatsApp named no media id".into()));
    };
    let r = ctx
        .http
        .get(wa.url(id))
        .bearer_auth(wa.access_token)
        .send()
        .await
        .map_err(|e| wa.redact_err(crate::channels::transport("WhatsApp media lookup", e)))?;
    let status = r.status();
    let body = r
        .text()
        .await
        .map_err(|e| wa.redact_err(crate::channels::transport("WhatsApp media lookup", e)))?;
    if !status.is_success() {
        return Err(graph_error(ctx, wa, status, &body));
    }
    let info: Value = serde_json::from_str(&body).map_err(|e| SendError::Retry {
        reason: format!("WhatsApp media lookup answered something that is not JSON: {e}"),
        after: None,
    })?;
    let Some(url) = info["url"].as_str() else {
        return Err(SendError::Permanent(
            "WhatsApp media lookup gave no url".into(),
        ));
    };
    let mime = Some(base_mime(info["mime_type"].as_str().unwrap_or("")))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| media.mime.clone());
    ctx.download(
        ctx.http.get(url).bearer_auth(wa.access_token),
        &mime,
        &media.name,
    )
    .await
    .map_err(|e| wa.redact_err(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_over_the_raw_bytes() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let good = crate::channels::api::sign("s3cret", body);
        assert!(signature_ok("s3cret", Some(&good), body));
        assert!(signature_ok(
            "s3cret",
            Some(&good.to_uppercase().replace("SHA256=", "sha256=")),
            body
        ));
        assert!(!signature_ok("other", Some(&good), body));
        assert!(!signature_ok("s3cret", Some(&good), b"{}"));
        assert!(!signature_ok("s3cret", None, body));
        assert!(!signature_ok("s3cret", Some("sha1=abc"), body));
        assert!(!signature_ok("s3cret", Some("sha256=zz"), body));
        assert!(!signature_ok(
            "",
            Some(&crate::channels::api::sign("", body)),
            body
        ));
    }

    #[test]
    fn handshake_needs_subscribe_and_the_token() {
        assert_eq!(
            handshake("vt", Some("subscribe"), Some("vt"), Some("42")),
            Some("42")
        );
        assert_eq!(
            handshake("vt", Some("subscribe"), Some("vx"), Some("42")),
            None
        );
        assert_eq!(
            handshake("vt", Some("unsubscribe"), Some("vt"), Some("42")),
            None
        );
        assert_eq!(handshake("vt", Some("subscribe"), None, Some("42")), None);
        assert_eq!(handshake("", Some("subscribe"), Some(""), Some("42")), None);
    }
}
