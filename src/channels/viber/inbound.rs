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
use crate::store::inbox::InboxReads;

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
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return ignore(ch, &format!("the body is not JSON: {e}")),
    };
    let event = v.get("event").and_then(Value::as_str).unwrap_or("");
    let mtoken = v.get("message_token").and_then(token_of);
    match event {
        "webhook" => Ok(()),
        "message" => message(ctx, ch, &v, mtoken).await,
        "subscribed" | "conversation_started" => {
            let user = &v["user"];
            let Some(id) = user.get("id").and_then(Value::as_str) else {
                return ignore(ch, &format!("{event} without user.id"));
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
            client_event(ctx, ch, id, name, dedupe, ev).await
        }
        "unsubscribed" => {
            let Some(id) = v.get("user_id").and_then(Value::as_str) else {
                return ignore(ch, "unsubscribed without user_id");
            };
            client_event(ctx, ch, id, None, mtoken, ClientEvent::Unsubscribed).await
        }
        "delivered" | "seen" | "failed" => {
            let Some(ours) = mtoken else {
                return ignore(ch, &format!("{event} without message_token"));
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
            ctx.inbox.receipt(&ch.id, &ours, status, error).await?;
            Ok(())
        }
        other => {
            tracing::debug!(channel = %ch.id, "Viber event {other:?} ignored");
            Ok(())
        }
    }
}

fn ignore(ch: &ChannelConfig, why: &str) -> Result<()> {
    tracing::warn!(channel = %ch.id, "Viber callback ignored: {why}");
    Ok(())
}

fn inbound(ch: &ChannelConfig, client: &str, name: Option<&str>, id: Option<String>) -> Inbound {
    Inbound {
        channel_id: ch.id.clone(),
        channel_kind: "viber".into(),
        client_id: client.to_string(),
        name: name.map(String::from),
        message_id: id,
        ..Default::default()
    }
}

async fn client_event(
    ctx: &Ctx,
    ch: &ChannelConfig,
    client: &str,
    name: Option<&str>,
    dedupe: Option<String>,
    ev: ClientEvent,
) -> Result<()> {
    ctx.inbox
        .client_event(inbound(ch, client, name, dedupe), ev)
        .await?;
    Ok(())
}

async fn message(ctx: &Ctx, ch: &ChannelConfig, v: &Value, mtoken: Option<String>) -> Result<()> {
    let Some(mtoken) = mtoken else {
        return ignore(ch, "message without message_token");
    };
    let sender = &v["sender"];
    let Some(client) = sender.get("id").and_then(Value::as_str) else {
        return ignore(ch, "message without sender.id");
    };
    // A redelivery must not download its files again.
    if ctx
        .inbox
        .store
        .read(|r| r.ext_message(&ch.id, &mtoken))?
        .is_some()
    {
        return Ok(());
    }
    let name = sender.get("name").and_then(Value::as_str);
    let mut inb = inbound(ch, client, name, Some(mtoken));
    inb.created_ms = v.get("timestamp").and_then(Value::as_i64);
    translate(ctx, &v["message"], &mut inb).await?;
    ctx.inbox.ingest(inb).await?;
    Ok(())
}

/// Viber's message types into text, attachments and the client's phone.
async fn translate(ctx: &Ctx, m: &Value, inb: &mut Inbound) -> Result<()> {
    let s = |k: &str| m.get(k).and_then(Value::as_str);
    let kind = s("type").unwrap_or("");
    inb.text = s("text").unwrap_or("").to_string();
    let media = s("media");
    let file_name = s("file_name").filter(|n| !n.trim().is_empty());
    match kind {
        "text" => {}
        "picture" => {
            fetch(
                ctx,
                inb,
                media,
                file_name.unwrap_or("picture.jpg"),
                "picture",
            )
            .await?
        }
        "video" => fetch(ctx, inb, media, file_name.unwrap_or("video.mp4"), "video").await?,
        "file" => fetch(ctx, inb, media, file_name.unwrap_or("file"), "file").await?,
        "sticker" => {
            if media.is_some() {
                fetch(ctx, inb, media, "sticker.png", "sticker").await?;
            }
            if inb.attachments.is_empty() && inb.text.is_empty() {
                inb.text = "[sticker]".into();
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
    if inb.text.trim().is_empty() && inb.attachments.is_empty() {
        inb.text = format!("[empty {kind} message]");
    }
    Ok(())
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
