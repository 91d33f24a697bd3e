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
//! phone is always "+" and their wa_id.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Ctx, Outgoing, SendError};
use crate::accounts::same_secret;
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::domain::inbox::{Attachment, Status};
use crate::error::{Error, Result};
use crate::inbox::ingest::Inbound;
use crate::store::now_ms;

/// Free-form messages may only be sent this long after the client's last message.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Graph refuses longer text bodies and media captions.
const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;

const WINDOW_CLOSED: &str = "outside WhatsApp's 24-hour customer-service window: the client has \
not written in the last 24 hours, so WhatsApp accepts only an approved template message";

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
        super::redact(text, &[self.access_token, self.app_secret])
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

// ---------------------------------------------------------------------------------------
// Webhook (the HTTP handlers are `http::webhooks::whatsapp*`)

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

/// Something a webhook told us.
#[derive(Debug, PartialEq)]
pub enum Event {
    Message(InMessage),
    /// A receipt for one of our messages (its wamid).
    Status {
        wamid: String,
        status: Status,
        error: Option<String>,
    },
}

#[derive(Debug, PartialEq)]
pub struct InMessage {
    pub wamid: String,
    /// The client's wa_id (digits, no "+").
    pub from: String,
    pub name: Option<String>,
    pub text: String,
    pub media: Option<Media>,
    pub created_ms: Option<i64>,
}

/// A file to fetch by media id.
#[derive(Debug, PartialEq)]
pub struct Media {
    pub id: String,
    /// The type the webhook declared (parameters stripped); the media endpoint's wins.
    pub mime: String,
    pub name: String,
}

/// A webhook body as received; an error when it is not JSON.
pub fn parse_body(body: &[u8], phone_number_id: &str) -> serde_json::Result<Vec<Event>> {
    let v: Value = serde_json::from_slice(body)?;
    Ok(parse(&v, phone_number_id))
}

/// Every message and status of every entry and change for our phone number, in order.
pub fn parse(v: &Value, phone_number_id: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for entry in v["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            if change["field"] != "messages" {
                continue;
            }
            let value = &change["value"];
            let pnid = string(&value["metadata"]["phone_number_id"]);
            if pnid.as_deref() != Some(phone_number_id) {
                tracing::debug!(
                    "WhatsApp change for phone number id {pnid:?} skipped: not this channel's"
                );
                continue;
            }
            let names: HashMap<String, String> = value["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| Some((string(&c["wa_id"])?, string(&c["profile"]["name"])?)))
                .collect();
            for m in value["messages"].as_array().into_iter().flatten() {
                if let Some(m) = message(m, &names) {
                    out.push(Event::Message(m));
                }
            }
            for s in value["statuses"].as_array().into_iter().flatten() {
                if let Some(s) = status(s) {
                    out.push(s);
                }
            }
            for e in value["errors"].as_array().into_iter().flatten() {
                tracing::warn!("WhatsApp reported an error: {}", error_text(e));
            }
        }
    }
    out
}

/// A non-empty string (ids are strings on the wire; a number is accepted as its digits).
fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text_of(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn message(m: &Value, names: &HashMap<String, String>) -> Option<InMessage> {
    let wamid = string(&m["id"])?;
    let from = string(&m["from"])?;
    let kind = m["type"].as_str().unwrap_or("");
    let mut media = None;
    let text = match kind {
        "text" => text_of(&m["text"]["body"]),
        "image" | "video" | "sticker" | "audio" | "document" => {
            let o = &m[kind];
            let mime = base_mime(o["mime_type"].as_str().unwrap_or(""));
            let name = match o["filename"].as_str().filter(|f| !f.trim().is_empty()) {
                Some(f) => f.to_string(),
                None => default_name(kind, &mime, o["voice"] == true),
            };
            match string(&o["id"]) {
                Some(id) => media = Some(Media { id, mime, name }),
                None => {
                    return Some(InMessage {
                        text: format!("[{kind} without a media id; nothing to fetch]"),
                        ..identity(wamid, from, names, m)
                    });
                }
            }
            text_of(&o["caption"])
        }
        "location" => location_text(&m["location"]),
        "contacts" => contacts_text(&m["contacts"]),
        "interactive" => {
            let i = &m["interactive"];
            match i["type"].as_str().unwrap_or("") {
                "button_reply" => text_of(&i["button_reply"]["title"]),
                "list_reply" => text_of(&i["list_reply"]["title"]),
                other => {
                    tracing::debug!("WhatsApp interactive reply of type {other:?} ignored");
                    return None;
                }
            }
        }
        "button" => text_of(&m["button"]["text"]),
        "order" => order_text(&m["order"]),
        "unsupported" => {
            let why = m["errors"]
                .as_array()
                .and_then(|e| e.first())
                .map(|e| format!(": {}", error_text(e)))
                .unwrap_or_default();
            format!("[The client sent a message WhatsApp does not pass on to Parley{why}]")
        }
        other => {
            // reaction, system, request_welcome, ephemeral, …
            tracing::debug!("WhatsApp message of type {other:?} ignored");
            return None;
        }
    };
    if text.trim().is_empty() && media.is_none() {
        tracing::debug!("WhatsApp {kind} message without content ignored");
        return None;
    }
    Some(InMessage {
        text,
        media,
        ..identity(wamid, from, names, m)
    })
}

fn identity(wamid: String, from: String, names: &HashMap<String, String>, m: &Value) -> InMessage {
    InMessage {
        name: names.get(&from).cloned(),
        created_ms: string(&m["timestamp"])
            .and_then(|t| t.parse::<i64>().ok())
            // Past i64 milliseconds it is not a time: treat it as absent.
            .and_then(|s| s.checked_mul(1000)),
        wamid,
        from,
        text: String::new(),
        media: None,
    }
}

fn status(s: &Value) -> Option<Event> {
    let wamid = string(&s["id"])?;
    let status = match s["status"].as_str()? {
        "delivered" => Status::Delivered,
        // "played" is a voice message listened to: it was read.
        "read" | "played" => Status::Read,
        "failed" => Status::Failed,
        // "sent" only confirms what our send already recorded.
        _ => return None,
    };
    let error = s["errors"]
        .as_array()
        .filter(|e| !e.is_empty())
        .map(|e| e.iter().map(error_text).collect::<Vec<_>>().join("; "));
    Some(Event::Status {
        wamid,
        status,
        error,
    })
}

/// A WhatsApp error object as people read it: "code: title — details".
fn error_text(e: &Value) -> String {
    let code = string(&e["code"]).unwrap_or_else(|| "error".into());
    let title = string(&e["title"])
        .or_else(|| string(&e["message"]))
        .unwrap_or_else(|| "unknown error".into());
    match string(&e["error_data"]["details"]).filter(|d| *d != title) {
        Some(d) => format!("{code}: {title} — {d}"),
        None => format!("{code}: {title}"),
    }
}

fn location_text(l: &Value) -> String {
    let place: Vec<String> = [&l["name"], &l["address"]]
        .into_iter()
        .filter_map(string)
        .collect();
    let coords = match (l["latitude"].as_f64(), l["longitude"].as_f64()) {
        (Some(lat), Some(lon)) => format!("{lat}, {lon}"),
        _ => String::new(),
    };
    let mut lines = vec![if place.is_empty() {
        "Location".to_string()
    } else {
        format!("Location: {}", place.join(", "))
    }];
    if !coords.is_empty() {
        lines.push(coords);
    }
    lines.extend(string(&l["url"]));
    lines.join("\n")
}

fn contacts_text(cs: &Value) -> String {
    let cards: Vec<String> = cs
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let n = &c["name"];
            let name = string(&n["formatted_name"]).unwrap_or_else(|| {
                [&n["first_name"], &n["last_name"]]
                    .into_iter()
                    .filter_map(string)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let phones: Vec<String> = c["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| string(&p["phone"]).or_else(|| string(&p["wa_id"])))
                .collect();
            match (name.is_empty(), phones.is_empty()) {
                (_, true) => name,
                (true, false) => phones.join(", "),
                (false, false) => format!("{name}: {}", phones.join(", ")),
            }
        })
        .filter(|c| !c.is_empty())
        .collect();
    match cards.len() {
        0 => String::new(),
        1 => format!("Contact: {}", cards[0]),
        _ => format!("Contacts:\n{}", cards.join("\n")),
    }
}

fn order_text(o: &Value) -> String {
    let items: Vec<String> = o["product_items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let qty = string(&i["quantity"]).unwrap_or_else(|| "1".into());
            let id = string(&i["product_retailer_id"]).unwrap_or_else(|| "item".into());
            match (string(&i["item_price"]), string(&i["currency"])) {
                (Some(p), Some(c)) => format!("{qty} × {id} ({p} {c})"),
                _ => format!("{qty} × {id}"),
            }
        })
        .collect();
    let mut text = format!("Order: {}", items.join(", "));
    if let Some(t) = string(&o["text"]) {
        text.push('\n');
        text.push_str(&t);
    }
    text
}

/// "audio/ogg; codecs=opus" → "audio/ogg" (blob types are bare).
fn base_mime(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn default_name(kind: &str, mime: &str, voice: bool) -> String {
    let ext = match mime {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/webp" => ".webp",
        "video/mp4" => ".mp4",
        "video/3gpp" => ".3gp",
        "audio/ogg" => ".ogg",
        "audio/mpeg" => ".mp3",
        "audio/mp4" => ".m4a",
        "audio/aac" => ".aac",
        "audio/amr" => ".amr",
        "application/pdf" => ".pdf",
        _ => "",
    };
    let stem = if voice { "voice" } else { kind };
    format!("{stem}{ext}")
}

/// Store what a webhook brought. Messages already stored are skipped before any download;
/// a media file that cannot be fetched yet fails the request (after the rest is stored), so
/// Meta delivers the body again and only what is missing is added.
pub async fn receive_events(ctx: &Ctx, wa: &Wa<'_>, events: Vec<Event>) -> Result<()> {
    let mut retry: Option<String> = None;
    for ev in events {
        match ev {
            Event::Message(m) => {
                let known = ctx.inbox.known_message(wa.id, &m.wamid)?;
                if known.is_some() {
                    continue;
                }
                let mut text = m.text;
                let mut attachments = Vec::new();
                if let Some(media) = &m.media {
                    match fetch_media(ctx, wa, media).await {
                        Ok(a) => attachments.push(a),
                        Err(SendError::Retry { reason, .. }) => {
                            retry = Some(reason);
                            continue;
                        }
                        Err(SendError::Permanent(why) | SendError::Unreachable(why)) => {
                            ctx.states()
                                .error(wa.id, format!("WhatsApp file {:?}: {why}", media.name));
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(&format!("[{} could not be stored: {why}]", media.name));
                        }
                    }
                }
                ctx.inbox
                    .ingest(Inbound {
                        channel_id: wa.id.to_string(),
                        channel_kind: "whatsapp".into(),
                        phone: Some(format!("+{}", m.from)),
                        client_id: m.from,
                        name: m.name,
                        email: None,
                        message_id: Some(m.wamid),
                        text,
                        attachments,
                        created_ms: m.created_ms,
                    })
                    .await?;
            }
            Event::Status {
                wamid,
                status,
                error,
            } => {
                ctx.inbox.receipt(wa.id, &wamid, status, error).await?;
            }
        }
    }
    match retry {
        Some(reason) => {
            ctx.states()
                .error(wa.id, format!("WhatsApp media download: {reason}"));
            Err(Error::Unavailable(format!(
                "a media file could not be fetched yet ({reason}); WhatsApp will deliver the event again"
            )))
        }
        None => Ok(()),
    }
}

/// `GET /{version}/{media-id}` for a short-lived URL, then that URL, both with the token.
async fn fetch_media(
    ctx: &Ctx,
    wa: &Wa<'_>,
    media: &Media,
) -> std::result::Result<Attachment, SendError> {
    let r = ctx
        .http
        .get(wa.url(&media.id))
        .bearer_auth(wa.access_token)
        .send()
        .await
        .map_err(|e| wa.redact_err(super::transport("WhatsApp media lookup", e)))?;
    let status = r.status();
    let body = r
        .text()
        .await
        .map_err(|e| wa.redact_err(super::transport("WhatsApp media lookup", e)))?;
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

// ---------------------------------------------------------------------------------------
// Sending

/// Whether a free-form message may be sent now (the client wrote within 24 hours).
pub fn window_open(now_ms: i64, last_inbound_ms: i64) -> bool {
    last_inbound_ms > 0 && now_ms - last_inbound_ms < WINDOW_MS
}

/// The Graph message type an attachment goes out as. WhatsApp takes only these types as
/// image, video or audio; anything else is sent as a document.
fn media_kind(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" | "image/png" => "image",
        "video/mp4" | "video/3gpp" => "video",
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => "audio",
        _ => "document",
    }
}

fn captionable(kind: &str) -> bool {
    matches!(kind, "image" | "video" | "document")
}

fn envelope(to: &str, kind: &str, payload: Value) -> Value {
    let mut v = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
    });
    v[kind] = payload;
    v
}

/// Template parameters may not contain new lines, tabs or more than four spaces in a row.
fn template_param(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cut text into pieces Graph accepts, at a line or word break when there is one.
fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let end = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..end];
        let cut = head
            .rfind('\n')
            .or_else(|| head.rfind(' '))
            .filter(|&i| i > end / 2)
            .map_or(end, |i| i + 1);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Deliver one message. Returns the wamid of the last WhatsApp message it took (text sent
/// apart from its files goes first); status webhooks name that id.
pub async fn send(ctx: &Ctx, out: &Outgoing<'_>) -> std::result::Result<Option<String>, SendError> {
    let wa = Wa::of(out.channel).ok_or_else(|| {
        SendError::Permanent(format!("channel {:?} is not WhatsApp", out.channel.id))
    })?;
    let to = out.chat.external_id.as_str();
    let text = out.message.text.trim();
    let files = &out.message.attachments;
    if !window_open(now_ms(), out.chat.last_inbound_ms) {
        let Some(template) = wa.template else {
            return Err(SendError::Permanent(format!(
                "{WINDOW_CLOSED}; nothing was sent (name an approved template in the channel's `template` to send one instead)"
            )));
        };
        if !files.is_empty() || text.is_empty() {
            return Err(SendError::Permanent(format!(
                "{WINDOW_CLOSED}; only the template {template:?} can be sent and it carries text, not files; nothing was sent"
            )));
        }
        let body = envelope(
            to,
            "template",
            json!({
                "name": template,
                "language": {"code": wa.template_language},
                "components": [{
                    "type": "body",
                    "parameters": [{"type": "text", "text": template_param(text)}],
                }],
            }),
        );
        return post_message(ctx, &wa, &body).await;
    }
    let kinds: Vec<&str> = files.iter().map(|a| media_kind(&a.mime)).collect();
    let caption_at = if text.is_empty() || text.chars().count() > MAX_CAPTION {
        None
    } else {
        kinds.iter().position(|k| captionable(k))
    };
    let pieces = if !text.is_empty() && caption_at.is_none() {
        split_text(text, MAX_TEXT)
    } else {
        Vec::new()
    };
    // Each piece and each file is one WhatsApp message; a retry skips those an earlier
    // attempt got accepted.
    let total = pieces.len() + files.len();
    let done = out.parts_sent() as usize;
    let mut last = None;
    for (n, piece) in pieces.iter().enumerate() {
        if n < done {
            continue;
        }
        let body = envelope(to, "text", json!({"body": piece, "preview_url": false}));
        last = post_message(ctx, &wa, &body).await?.or(last);
        if n + 1 < total {
            out.record_parts_sent(ctx, (n + 1) as u32).await;
        }
    }
    let first_file = pieces.len();
    for (i, (a, kind)) in files.iter().zip(&kinds).enumerate() {
        let n = first_file + i;
        if n < done {
            continue;
        }
        let id = upload(ctx, &wa, a).await?;
        let mut media = json!({ "id": id });
        if caption_at == Some(i) {
            media["caption"] = json!(text);
        }
        if *kind == "document" {
            media["filename"] = json!(a.name);
        }
        if a.mime == "audio/ogg" {
            // OGG/Opus is what WhatsApp plays as a voice note.
            media["voice"] = json!(true);
        }
        last = post_message(ctx, &wa, &envelope(to, kind, media))
            .await?
            .or(last);
        if n + 1 < total {
            out.record_parts_sent(ctx, (n + 1) as u32).await;
        }
    }
    Ok(last)
}

/// `POST /{version}/{phone-number-id}/messages`; the wamid of the accepted message.
async fn post_message(
    ctx: &Ctx,
    wa: &Wa<'_>,
    body: &Value,
) -> std::result::Result<Option<String>, SendError> {
    let r = ctx
        .http
        .post(wa.url(&format!("{}/messages", wa.phone_number_id)))
        .bearer_auth(wa.access_token)
        .json(body)
        .send()
        .await
        .map_err(|e| wa.redact_err(super::transport("WhatsApp send", e)))?;
    let status = r.status();
    let text = r
        .text()
        .await
        .map_err(|e| wa.redact_err(super::transport("WhatsApp send", e)))?;
    if !status.is_success() {
        return Err(graph_error(ctx, wa, status, &text));
    }
    let id = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| string(&v["messages"][0]["id"]));
    if id.is_none() {
        // Accepted all the same: sending again would duplicate it.
        tracing::warn!(
            channel = wa.id,
            "WhatsApp accepted a message without giving its id; its receipts cannot be matched"
        );
    }
    Ok(id)
}

/// `POST /{version}/{phone-number-id}/media` (multipart `file`, `type`, `messaging_product`).
async fn upload(ctx: &Ctx, wa: &Wa<'_>, a: &Attachment) -> std::result::Result<String, SendError> {
    let bytes = ctx.blob_bytes(a).await?;
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(a.name.clone())
        .mime_str(&a.mime)
        .map_err(|e| SendError::Permanent(format!("attachment type {:?}: {e}", a.mime)))?;
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("type", a.mime.clone())
        .text("messaging_product", "whatsapp");
    let r = ctx
        .http
        .post(wa.url(&format!("{}/media", wa.phone_number_id)))
        .bearer_auth(wa.access_token)
        .multipart(form)
        .send()
        .await
        .map_err(|e| wa.redact_err(super::transport("WhatsApp media upload", e)))?;
    let status = r.status();
    let text = r
        .text()
        .await
        .map_err(|e| wa.redact_err(super::transport("WhatsApp media upload", e)))?;
    if !status.is_success() {
        return Err(graph_error(ctx, wa, status, &text));
    }
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| string(&v["id"]))
        .ok_or_else(|| SendError::Retry {
            reason: "WhatsApp media upload answered without a media id".into(),
            after: None,
        })
}

/// Map a Graph error answer by its `error.code` (CHANNELS.md section 2, Errors).
fn graph_error(ctx: &Ctx, wa: &Wa<'_>, status: reqwest::StatusCode, body: &str) -> SendError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let e = &v["error"];
    let code = e["code"].as_i64();
    let reason = wa.redact(&match code {
        Some(code) => {
            let message = string(&e["message"]).unwrap_or_else(|| "no message".into());
            match string(&e["error_data"]["details"]).filter(|d| *d != message) {
                Some(d) => format!("{code}: {message} — {d}"),
                None => format!("{code}: {message}"),
            }
        }
        None => {
            let snippet: String = body.chars().take(200).collect();
            format!("HTTP {}: {snippet}", status.as_u16())
        }
    });
    match code {
        // Throughput, pair-rate and app/account rate limits, and transient Graph trouble.
        Some(130429 | 131056 | 4 | 80007 | 131000 | 131016 | 2 | 1) => SendError::Retry {
            reason,
            after: None,
        },
        Some(131047) => SendError::Permanent(format!("{WINDOW_CLOSED} ({reason})")),
        Some(131026) => SendError::Unreachable(format!(
            "WhatsApp cannot deliver to this number (not on WhatsApp, or on an old version): {reason}"
        )),
        Some(190) => {
            let msg = format!(
                "access token rejected by WhatsApp ({reason}); put a valid access_token in the channel's config"
            );
            ctx.states()
                .set_state(wa.id, "error", Some("access token rejected".into()));
            ctx.states().error(wa.id, msg.clone());
            SendError::Permanent(msg)
        }
        _ if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 => {
            SendError::Retry {
                reason,
                after: None,
            }
        }
        _ => SendError::Permanent(reason),
    }
}

// ---------------------------------------------------------------------------------------
// Start-up

/// WhatsApp needs no registration (the webhook URL is set in the Meta dashboard): the channel
/// is ready at once, and one look at the phone number tells whether the token works.
pub fn start(
    ctx: &Ctx,
    ch: &ChannelConfig,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    ctx.states().set_state(&ch.id, "ready", None);
    let (ctx, ch) = (ctx.clone(), ch.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = check(&ctx, &ch) => {}
            _ = stop.changed() => {}
        }
    })
}

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

    #[test]
    fn the_window_is_24_hours_since_the_last_inbound() {
        let now = 1_000_000_000_000;
        assert!(window_open(now, now - 1000));
        assert!(window_open(now, now - WINDOW_MS + 1));
        assert!(!window_open(now, now - WINDOW_MS));
        assert!(!window_open(now, 0), "no inbound ever");
    }

    #[test]
    fn long_text_is_cut_at_breaks_within_the_limit() {
        let text = format!("{} {}", "a".repeat(3000), "b".repeat(3000));
        let parts = split_text(&text, MAX_TEXT);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_TEXT));
        let one = "я".repeat(9000);
        let parts = split_text(&one, MAX_TEXT);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [4096, 4096, 808]
        );
        assert_eq!(split_text("short", MAX_TEXT), ["short"]);
    }

    #[test]
    fn template_parameters_have_no_newlines_or_runs_of_spaces() {
        assert_eq!(template_param("Hello\n\tthere      you"), "Hello there you");
    }

    #[test]
    fn errors_and_statuses_read_well() {
        let s = json!({"id": "wamid.X", "status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable", "error_data": {"details": "Receiver is incapable"}}]});
        assert_eq!(
            status(&s),
            Some(Event::Status {
                wamid: "wamid.X".into(),
                status: Status::Failed,
                error: Some("131026: Message undeliverable — Receiver is incapable".into()),
            })
        );
        assert_eq!(status(&json!({"id": "w", "status": "sent"})), None);
        assert!(matches!(
            status(&json!({"id": "w", "status": "played"})),
            Some(Event::Status {
                status: Status::Read,
                ..
            })
        ));
    }
}
