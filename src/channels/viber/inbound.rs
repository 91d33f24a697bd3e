//! Callbacks from Viber read into pipeline items: messages (files downloaded at once, since
//! Viber's media URLs expire), subscriptions and receipts, each deduplicated by
//! `message_token`.

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::token_of;
use crate::channels::adapter::{Draft, Fetched, Handle, Item, Media};
use crate::channels::{Ctx, SendError};
use crate::config::ChannelConfig;
use crate::domain::inbox::Status;
use crate::error::Result;
use crate::inbox::ingest::{ClientEvent, Inbound};

/// One callback body as received. Anything authentic is acknowledged, even when it cannot be
/// understood (logged here), so Viber stops retrying; the webhook check and events we do not
/// use yield nothing.
pub fn parse_callback(channel_id: &str, body: &[u8]) -> Vec<Item> {
    match read_callback(channel_id, body) {
        Ok(item) => item.into_iter().collect(),
        Err(why) => {
            tracing::warn!(channel = %channel_id, "Viber callback ignored: {why}");
            Vec::new()
        }
    }
}

/// The callback's item, or why it is not understood.
fn read_callback(channel_id: &str, body: &[u8]) -> std::result::Result<Option<Item>, String> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Err(format!("the body is not JSON: {e}")),
    };
    let event = v.get("event").and_then(Value::as_str).unwrap_or("");
    let mtoken = v.get("message_token").and_then(token_of);
    let inbound = |client: &str, name: Option<&str>, id: Option<String>| Inbound {
        channel_id: channel_id.to_string(),
        channel_kind: "viber".into(),
        client_id: client.to_string(),
        name: name.map(String::from),
        message_id: id,
        ..Default::default()
    };
    match event {
        "webhook" => Ok(None),
        "message" => read_message(&v, mtoken, inbound).map(Some),
        "subscribed" | "conversation_started" => {
            let user = &v["user"];
            let Some(id) = user.get("id").and_then(Value::as_str) else {
                return Err(format!("{event} without user.id"));
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
            Ok(Some(Item::ClientEvent(inbound(id, name, dedupe), ev)))
        }
        "unsubscribed" => {
            let Some(id) = v.get("user_id").and_then(Value::as_str) else {
                return Err("unsubscribed without user_id".into());
            };
            Ok(Some(Item::ClientEvent(
                inbound(id, None, mtoken),
                ClientEvent::Unsubscribed,
            )))
        }
        "delivered" | "seen" | "failed" => {
            let Some(token) = mtoken else {
                return Err(format!("{event} without message_token"));
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
            Ok(Some(Item::Receipt {
                external_id: token,
                status,
                error,
            }))
        }
        other => {
            tracing::debug!("Viber event {other:?} ignored");
            Ok(None)
        }
    }
}

/// A client's message, deduplicated by its `message_token`.
fn read_message(
    v: &Value,
    mtoken: Option<String>,
    inbound: impl Fn(&str, Option<&str>, Option<String>) -> Inbound,
) -> std::result::Result<Item, String> {
    let Some(mtoken) = mtoken else {
        return Err("message without message_token".into());
    };
    let sender = &v["sender"];
    let Some(client) = sender.get("id").and_then(Value::as_str) else {
        return Err("message without sender.id".into());
    };
    let name = sender.get("name").and_then(Value::as_str);
    let mut inb = inbound(client, name, Some(mtoken));
    inb.created_ms = v.get("timestamp").and_then(Value::as_i64);
    let (kind, file) = translate(&v["message"], &mut inb);
    Ok(Item::Message(Draft {
        inbound: inb,
        files: file.into_iter().collect(),
        kind,
    }))
}

/// Viber's message types into text, the client's phone, and the file to fetch.
fn translate(m: &Value, inb: &mut Inbound) -> (String, Option<Media>) {
    let s = |k: &str| m.get(k).and_then(Value::as_str);
    let kind = s("type").unwrap_or("");
    inb.text = s("text").unwrap_or("").to_string();
    let media = s("media");
    let file_name = s("file_name").filter(|n| !n.trim().is_empty());
    let file = |default: &str, what: &str| {
        Some(Media {
            handle: media.map_or(Handle::Missing, |u| Handle::Url(u.to_string())),
            mime: String::new(),
            name: file_name.unwrap_or(default).to_string(),
            size: None,
            what: what.to_string(),
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
                to_fetch = Some(Media {
                    handle: Handle::Url(url.to_string()),
                    mime: String::new(),
                    name: "sticker.png".into(),
                    size: None,
                    what: "sticker".into(),
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

/// Say in the text that a file was not stored: Viber's notes follow the text after a comma.
pub(super) fn add_note(text: &mut String, note: &str) {
    *text = join(&[text.trim_end(), note]);
}

/// Store the file behind a media URL now (Viber's URLs expire). A failure that may heal
/// makes the callback fail so Viber redelivers; any other keeps the message with a note.
pub(super) fn fetch<'a>(
    ctx: &'a Ctx,
    ch: &'a ChannelConfig,
    f: &'a Media,
) -> BoxFuture<'a, Result<Fetched>> {
    Box::pin(async move {
        let what = &f.what;
        let url = match &f.handle {
            Handle::Url(u) if u.starts_with("https://") || u.starts_with("http://") => u,
            _ => return Ok(Fetched::Note(format!("[{what} without a file]"))),
        };
        Ok(match ctx.download(ctx.http.get(url), "", &f.name).await {
            Ok(a) => Fetched::File(a),
            Err(SendError::Retry { reason, .. }) => {
                Fetched::Later(format!("Viber {what}: {reason}"))
            }
            Err(SendError::Permanent(reason) | SendError::Unreachable(reason)) => {
                tracing::warn!(channel = %ch.id, "Viber {what} not stored: {reason}");
                Fetched::Note(format!("[{what} could not be stored: {reason}]"))
            }
        })
    })
}
