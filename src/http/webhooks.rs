//! Inbound webhooks from platforms and integrations. A webhook answers 2xx only after the
//! message is committed; unauthentic requests get 401 and change nothing.
//!
//! Anyone can call these routes, so each one decides from the request head what it can
//! before reading a byte of the body: the channel must exist (404), and where the platform
//! sends its credential in a header (API bearer token, Telegram's secret token) that is
//! checked too (401). WhatsApp and Viber sign the body itself; for them the signature header
//! must at least be present and well-formed. Only then is the body read, bounded by
//! `body::read` (size, deadline, the server-wide budget).

use std::sync::Arc;

use poem::web::{Data, Json, Path};
use poem::{Body, Request, handler};
use serde_json::{Value, json};

use crate::accounts::same_secret;
use crate::channels::api::FileSource;
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::domain::inbox::Attachment;
use crate::error::Error;
use crate::http::AppState;
use crate::inbox::ingest::Inbound;

/// Bodies are parsed only once the caller has proved who it is (an unauthenticated request
/// learns nothing from parse errors and costs no parsing), and only when declared as JSON.
fn require_json(req: &Request) -> Result<(), Error> {
    let mime = req
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

/// Read the body of an authenticated (or at least well-formed) webhook request.
async fn read_body(
    st: &AppState,
    req: &Request,
    body: Body,
) -> poem::Result<super::body::Buffered> {
    let max = super::body::max_webhook(&st.config.limits);
    Ok(super::body::read(&st.bodies, req, body, max).await?)
}

/// Whether `sig` (after an optional `prefix`) is 64 hex digits: the form of an HMAC-SHA256
/// signature, checked before the body it signs is read.
fn hex_signature(sig: Option<&str>, prefix: &str) -> Result<(), Error> {
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

/// The configured channel `id` of the given kind; any other id is 404 (whoever asks).
fn channel<'a>(st: &'a AppState, id: &str, kind: &str) -> Result<&'a ChannelConfig, Error> {
    st.inbox
        .channels
        .get(id)
        .filter(|c| c.kind.kind_name() == kind)
        .ok_or_else(|| Error::NotFound(format!("{kind} channel {id:?}")))
}

#[handler]
pub async fn api(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Json<Value>> {
    let channel = channel(st, &id, "api")?;
    let ChannelKindConfig::Api { token, .. } = &channel.kind else {
        return Err(Error::NotFound(format!("API channel {id:?}")).into());
    };
    let sent = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_secret(sent.as_bytes(), token.as_bytes()) {
        return Err(Error::Unauthenticated.into());
    }
    require_json(req)?;
    let body = read_body(st, req, body).await?;
    let b = crate::channels::api::parse_inbound(&body)?;
    // Redelivery of a stored message must not re-download or re-store its files.
    let known = st.inbox.known_message(&id, &b.message.external_id)?;
    let mut attachments: Vec<Attachment> = Vec::new();
    if known.is_none() {
        for (i, a) in b.message.attachments.iter().enumerate() {
            let field = format!("message.attachments[{i}]");
            let name = a.name.clone().unwrap_or_else(|| "file".into());
            let att = match a.source(&field)? {
                FileSource::Inline(bytes) => st.blobs.put_bytes(&a.mime, &name, bytes).await?,
                FileSource::Url(url) => {
                    crate::channels::fetch::download(&st.http, url, &st.blobs, &a.mime, &name)
                        .await
                        .map_err(|e| match e {
                            Error::BadRequest(m) => Error::invalid(&field, m),
                            other => other,
                        })?
                }
            };
            attachments.push(att);
        }
    }
    let r = st
        .inbox
        .ingest(Inbound {
            channel_id: id.clone(),
            channel_kind: "api".into(),
            client_id: b.contact.external_id,
            name: b.contact.name,
            phone: b.contact.phone,
            email: b.contact.email,
            message_id: Some(b.message.external_id),
            text: b.message.text,
            attachments,
            created_ms: None,
        })
        .await?;
    // Settings shows when each channel last heard from its platform.
    st.channels.states().inbound(&id);
    Ok(Json(json!({
        "chat_id": r.chat_id,
        "message_id": r.message_id,
        "contact_id": r.contact_id,
        "duplicate": r.duplicate,
    })))
}

/// Telegram posts one Update per request with our secret token in a header. A 5xx makes
/// Telegram send the update again later (the store was unavailable); an unparseable but
/// authentic body is acknowledged so it is not retried forever.
#[handler]
pub async fn telegram(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Json<Value>> {
    use crate::channels::telegram::{Bot, apply_update, authentic, parse_update};
    // A bot in polling mode fetches its own updates: it has no webhook to call.
    let bot = Bot::of(channel(st, &id, "telegram")?)
        .filter(|b| !b.polling)
        .ok_or_else(|| Error::NotFound(format!("telegram channel {id:?}")))?;
    if !authentic(&bot, req.header("x-telegram-bot-api-secret-token")) {
        return Err(Error::Unauthenticated.into());
    }
    let body = read_body(st, req, body).await?;
    let update = match parse_update(bot.id, &body) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(channel = %id, "Telegram sent an update that is not JSON: {e}");
            return Ok(Json(json!({"ok": true})));
        }
    };
    match apply_update(&st.channels, &bot, update).await {
        Ok(()) => Ok(Json(json!({"ok": true}))),
        Err(e) if e.retry => Err(Error::Unavailable(e.message).into()),
        Err(e) => {
            tracing::warn!(channel = %id, "Telegram update not applied: {e}");
            Ok(Json(json!({"ok": true})))
        }
    }
}

/// # `POST /webhooks/viber/{id}`
/// Viber callbacks (messages, subscriptions, receipts), authenticated by
/// `X-Viber-Content-Signature` over the raw body. The answer has no body: Viber would take
/// one as a welcome message.
#[handler]
pub async fn viber(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<poem::http::StatusCode> {
    let channel = channel(st, &id, "viber")?;
    let signature = req.header("x-viber-content-signature");
    hex_signature(signature, "")?;
    let body = read_body(st, req, body).await?;
    crate::channels::viber::callback(&st.channels, channel, signature, &body).await?;
    Ok(poem::http::StatusCode::OK)
}

/// `GET|POST /webhooks/whatsapp/{id}`: the handshake and the events.
pub fn whatsapp() -> poem::RouteMethod {
    poem::get(whatsapp_verify).post(whatsapp_events)
}

/// WhatsApp's verification handshake: Meta calls it when the callback URL is saved.
#[handler]
pub async fn whatsapp_verify(
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    poem::web::Query(q): poem::web::Query<std::collections::HashMap<String, String>>,
) -> poem::Result<poem::Response> {
    use crate::channels::whatsapp::{Wa, handshake};
    let wa = Wa::of(channel(st, &id, "whatsapp")?)
        .ok_or_else(|| Error::NotFound(format!("whatsapp channel {id:?}")))?;
    let param = |k: &str| q.get(k).map(String::as_str);
    let challenge = handshake(
        wa.verify_token,
        param("hub.mode"),
        param("hub.verify_token"),
        param("hub.challenge"),
    )
    .ok_or_else(|| {
        Error::Forbidden("hub.mode must be subscribe and hub.verify_token this channel's".into())
    })?;
    Ok(poem::Response::builder()
        .content_type("text/plain; charset=utf-8")
        .body(challenge.to_string()))
}

/// WhatsApp events, signed with HMAC-SHA256 of the raw body in `X-Hub-Signature-256`. A 5xx
/// makes Meta deliver the body again (a media file could not be fetched yet, or storage is
/// unavailable); an authentic body that is not JSON is acknowledged so it is not resent.
#[handler]
pub async fn whatsapp_events(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Json<Value>> {
    use crate::channels::whatsapp::{Wa, parse_body, receive_events, signature_ok};
    let wa = Wa::of(channel(st, &id, "whatsapp")?)
        .ok_or_else(|| Error::NotFound(format!("whatsapp channel {id:?}")))?;
    hex_signature(req.header("x-hub-signature-256"), "sha256=")?;
    let body = read_body(st, req, body).await?;
    if !signature_ok(wa.app_secret, req.header("x-hub-signature-256"), &body) {
        return Err(Error::Unauthenticated.into());
    }
    st.channels.states().inbound(wa.id);
    let events = match parse_body(&body, wa.phone_number_id) {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(channel = %id, "WhatsApp sent a webhook body that is not JSON: {e}");
            return Ok(Json(json!({"received": 0})));
        }
    };
    let n = events.len();
    receive_events(&st.channels, &wa, events).await?;
    Ok(Json(json!({ "received": n })))
}
