//! Callbacks from Viber: signature check, then messages (files downloaded at once, since
//! Viber's media URLs expire), subscriptions and receipts, each deduplicated by
//! `message_token`.

use serde_json::Value;

use super::{authentic, credentials, token_of};
use crate::channels::{Ctx, SendError};
use crate::config::ChannelConfig;
use crate::domain::inbox::Status;
use crate::error::{Error, Result};
use crate::inbox::ingest::{ClientEvent, Inbound};

/// What one authentic callback asks of the inbox, read without the network or the store.
pub enum Callback {
    /// A client's message, deduplicated by `token`; `file` is a media file still to fetch.
    Message {
        token: String,
        inbound: Inbound,
        kind: String,
        file: Option<MediaRef>,
    },
    ClientEvent(Inbound, ClientEvent),
    /// A receipt for one of our messages.
    Receipt {
        token: String,
        status: Status,
        error: Option<String>,
    },
    /// Understood, with nothing to store (the webhook check, events we do not use).
    Nothing,
    /// Not understood: logged, and answered Ok so Viber stops retrying.
    Ignored(String),
}

/// A file a message points at.
pub struct MediaRef {
    pub url: Option<String>,
    pub name: String,
    /// What the client sent ("picture", "video", …), for notes about the file.
    pub what: &'static str,
}

/// One callback body as received.
pub fn parse_callback(body: &[u8]) -> Callback {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Callback::Ignored(format!("the body is not JSON: {e}")),
    };
    let event = v.get("event").and_then(Value::as_str).unwrap_or("");
    let mtoken = v.get("message_token").and_then(token_of);
    match event {
        "webhook" => Callback::Nothing,
        "message" => read_message(&v, mtoken),
        "subscribed" | "conversation_started" => {
            let user = &v["user"];
            let Some(id) = user.get("id").and_then(Value::as_str) else {
                return Callback::Ignored(format!("{event} without user.id"));
            };
            let (ev, dedupe) = if event == "subscribed" {
                (ClientEvent::Subscribed, mtoken)
            } else {
                // Sent each time the client opens the chat; one record per client is enough.
                (
                    ClientEvent::Started,
                    Some(format!("conversation_started:{id}")),
                )
            };
            let name = user.get("name").and_then(Value::as_str);
            Callback::ClientEvent(inbound(id, name, dedupe), ev)
        }
        "unsubscribed" => {
            let Some(id) = v.get("user_id").and_then(Value::as_str) else {
                return Callback::Ignored("unsubscribed without user_id".into());
            };
            Callback::ClientEvent(inbound(id, None, mtoken), ClientEvent::Unsubscribed)
        }
        "delivered" | "seen" | "failed" => {
            let Some(token) = mtoken else {
                return Callback::Ignored(format!("{event} without message_token"));
            };
            let (status, error) = match event {
                "delivered" => (Status::Delivered, None),
                "seen" => (Status::Read, None),
                _ => (
                    Status::Failed,
                    Some(format!(
                        "Viber: {}",
                        v.get("desc")
                            .and_then(Value::as_str)
                            .filter(|d| !d.is_empty())
                            .unwrap_or("delivery failed")
                    )),
                ),
            };
            Callback::Receipt {
                token,
                status,
                error,
            }
        }
        other => {
            tracing::debug!("Viber event {other:?} ignored");
            Callback::Nothing
        }
    }
}

/// One callback, read in full. A bad or missing signature is `Unauthenticated` and stores
/// nothing. Anything authentic is answered Ok, even when it cannot be understood (logged),
/// so Viber stops retrying; only a storage failure or a download that may work later is an
/// error, and Viber's retry (same `message_token`) then finds nothing stored twice.
pub async fn callback(
    ctx: &Ctx,
    ch: &ChannelConfig,
    signature: Option<&str>,
    body: &[u8],
) -> Result<()> {
    let Some((token, _)) = credentials(ch) else {
        return Err(Error::NotFound(format!("Viber channel {:?}", ch.id)));
    };
    if !authentic(token, body, signature) {
        return Err(Error::Unauthenticated);
    }
    ctx.states().inbound(&ch.id);
    match parse_callback(body) {
        Callback::Nothing => Ok(()),
        Callback::Ignored(why) => {
            tracing::warn!(channel = %ch.id, "Viber callback ignored: {why}");
            Ok(())
        }
        Callback::ClientEvent(mut inb, ev) => {
            inb.channel_id = ch.id.clone();
            ctx.inbox.client_event(inb, ev).await?;
            Ok(())
        }
        Callback::Receipt {
            token,
            status,
            error,
        } => {
            ctx.inbox.receipt(&ch.id, &token, status, error).await?;
            Ok(())
        }
        Callback::Message {
            token,
            mut inbound,
            kind,
            file,
        } => {
            // A redelivery must not download its files again.
            if ctx.inbox.known_message(&ch.id, &token)?.is_some() {
                return Ok(());
            }
            inbound.channel_id = ch.id.clone();
            if let Some(f) = file {
                fetch(ctx, &mut inbound, f.url.as_deref(), &f.name, f.what).await?;
            }
            finish(&kind, &mut inbound);
            ctx.inbox.ingest(inbound).await?;
            Ok(())
        }
    }
}

/// The client's side of an event; the channel id is filled in by whoever knows it.
fn inbound(client: &str, name: Option<&str>, id: Option<String>) -> Inbound {
    Inbound {
        channel_kind: "viber".into(),
        client_id: client.to_string(),
        name: name.map(String::from),
        message_id: id,
        ..Default::default()
    }
}

fn read_message(v: &Value, mtoken: Option<String>) -> Callback {
    let Some(mtoken) = mtoken else {
        return Callback::Ignored("message without message_token".into());
    };
    let sender = &v["sender"];
    let Some(client) = sender.get("id").and_then(Value::as_str) else {
        return Callback::Ignored("message without sender.id".into());
    };
    let name = sender.get("name").and_then(Value::as_str);
    let mut inb = inbound(client, name, Some(mtoken.clone()));
    inb.created_ms = v.get("timestamp").and_then(Value::as_i64);
    let (kind, file) = translate(&v["message"], &mut inb);
    Callback::Message {
        token: mtoken,
        inbound: inb,
        kind,
        file,
    }
}

/// Viber's message types into text, the client's phone, and the file to fetch.
fn translate(m: &Value, inb: &mut Inbound) -> (String, Option<MediaRef>) {
    let s = |k: &str| m.get(k).and_then(Value::as_str);
    let kind = s("type").unwrap_or("");
    inb.text = s("text").unwrap_or("").to_string();
    let media = s("media");
    let file_name = s("file_name").filter(|n| !n.trim().is_empty());
    let file = |default: &str, what: &'static str| {
        Some(MediaRef {
            url: media.map(String::from),
            name: file_name.unwrap_or(default).to_string(),
            what,
        })
    };
    let mut to_fetch = None;
    match kind {
        "text" => {}
        "picture" => to_fetch = file("picture.jpg", "picture"),
        "video" => to_fetch = file("video.mp4", "video"),
        "file" => to_fetch = file("file", "file"),
        "sticker" => {
            if let Some(url) = media {
                to_fetch = Some(MediaRef {
                    url: Some(url.to_string()),
                    name: "sticker.png".into(),
                    what: "sticker",
                });
            }
        }
        "contact" => {
            let c = &m["contact"];
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            let phone = c.get("phone_number").and_then(Value::as_str).unwrap_or("");
            inb.text = format!("Contact: {}", join(&[name, phone]));
            if !phone.is_empty() {
                inb.phone = Some(phone.to_string());
            }
        }
        "url" => {
            if let Some(u) = media {
                inb.text = u.to_string();
            }
        }
        "location" => {
            let loc = &m["location"];
            match (
                loc.get("lat").and_then(Value::as_f64),
                loc.get("lon").and_then(Value::as_f64),
            ) {
                (Some(lat), Some(lon)) => inb.text = format!("{lat}, {lon}"),
                _ => inb.text = "[location]".into(),
            }
        }
        other => {
            if inb.text.is_empty() {
                inb.text = format!("[{other} message]");
            }
        }
    }
    (kind.to_string(), to_fetch)
}

/// After the file (if any) was fetched: a message is never stored without a visible text
/// or file.
pub fn finish(kind: &str, inb: &mut Inbound) {
    if kind == "sticker" && inb.attachments.is_empty() && inb.text.is_empty() {
        inb.text = "[sticker]".into();
    }
    if inb.text.trim().is_empty() && inb.attachments.is_empty() {
        inb.text = format!("[empty {kind} message]");
    }
}

fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Store the file behind a media URL now (Viber's URLs expire). A failure that may heal
/// makes the callback fail so Viber redelivers; any other keeps the message with a note.
async fn fetch(
    ctx: &Ctx,
    inb: &mut Inbound,
    url: Option<&str>,
    name: &str,
    what: &str,
) -> Result<()> {
    let note = |inb: &mut Inbound, n: String| {
        inb.text = join(&[inb.text.trim_end(), &n]);
    };
    let Some(url) = url.filter(|u| u.starts_with("https://") || u.starts_with("http://")) else {
        note(inb, format!("[{what} without a file]"));
        return Ok(());
    };
    match ctx.download(ctx.http.get(url), "", name).await {
        Ok(a) => inb.attachments.push(a),
        Err(SendError::Retry { reason, .. }) => {
            return Err(Error::Unavailable(format!("Viber {what}: {reason}")));
        }
        Err(SendError::Permanent(reason) | SendError::Unreachable(reason)) => {
            tracing::warn!(channel = %inb.channel_id, "Viber {what} not stored: {reason}");
            note(inb, format!("[{what} could not be stored: {reason}]"));
        }
    }
    Ok(())
}
