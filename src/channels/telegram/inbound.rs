//! Telegram updates in: the webhook's secret token, long polling (getUpdates with a durable
//! offset), and each Update read into pipeline items; files are fetched with getFile.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::wire::{CallError, call};
use super::{ALLOWED_UPDATES, Bot, Telegram};
use crate::channels::adapter::{Draft, Fetched, Handle, Item, Media};
use crate::channels::pipeline;
use crate::channels::{Ctx, SendError};
use crate::config::ChannelConfig;
use crate::error::{Error, Result};
use crate::inbox::ingest::{ClientEvent, Inbound};

/// Bots may download files up to this size (larger ones answer "file is too big").
const MAX_DOWNLOAD: u64 = 20 * 1024 * 1024;
/// Long-poll wait; below the shared client's 30 s request timeout.
const POLL_TIMEOUT_S: u64 = 25;

/// Whether a webhook request carries this channel's secret token.
pub fn authentic(bot: &Bot, header: Option<&str>) -> bool {
    match (bot.secret, header) {
        (Some(secret), Some(sent)) => {
            crate::accounts::same_secret(sent.as_bytes(), secret.as_bytes())
        }
        _ => false,
    }
}

const OFFSET_KEY: &str = "telegram_offset";

/// Long polling. The offset is stored only after an update is processed, so a crash means
/// Telegram sends it again (and the inbox recognises it), never that it is lost.
pub(super) async fn poll(
    ctx: &Ctx,
    ch: &ChannelConfig,
    bot: &Bot<'_>,
    mut stop: watch::Receiver<bool>,
) {
    let mut offset: i64 = match ctx.inbox.channel_value(bot.id, OFFSET_KEY) {
        Ok(Some(b)) if b.len() == 8 => i64::from_be_bytes(b.try_into().unwrap_or([0; 8])),
        _ => 0,
    };
    let mut backoff = Duration::from_secs(1);
    // getUpdates is refused while a webhook is set.
    let mut webhook_cleared = false;
    loop {
        if *stop.borrow() {
            return;
        }
        if !webhook_cleared {
            match call(
                ctx,
                bot,
                "deleteWebhook",
                json!({"drop_pending_updates": false}),
            )
            .await
            {
                Ok(_) => webhook_cleared = true,
                Err(CallError::Api(e)) => {
                    ctx.states()
                        .set_state(bot.id, "error", Some(e.description.clone()));
                    ctx.states().error(
                        bot.id,
                        format!("deleteWebhook: {} {}", e.code, e.description),
                    );
                }
                Err(CallError::Transport(t)) => {
                    ctx.states().set_state(bot.id, "error", Some(t.clone()));
                    ctx.states().error(bot.id, t);
                }
            }
        }
        let params = json!({
            "offset": offset,
            "timeout": if webhook_cleared { POLL_TIMEOUT_S } else { 0 },
            "allowed_updates": ALLOWED_UPDATES,
        });
        let got = if webhook_cleared {
            tokio::select! {
                r = call(ctx, bot, "getUpdates", params) => Some(r),
                _ = stop.changed() => return,
            }
        } else {
            None
        };
        let mut failed = !webhook_cleared;
        match got {
            Some(Ok(Value::Array(updates))) => {
                ctx.states().set_state(bot.id, "polling", None);
                for u in updates {
                    let Some(id) = u["update_id"].as_i64() else {
                        continue;
                    };
                    if id < offset {
                        continue;
                    }
                    // Settings shows when each channel last heard from its platform.
                    ctx.states().inbound(bot.id);
                    match pipeline::apply(ctx, &Telegram, ch, read_update(bot.id, &u)).await {
                        Ok(_) => {
                            offset = id + 1;
                            if let Err(e) = ctx
                                .inbox
                                .set_channel_value(
                                    bot.id,
                                    OFFSET_KEY,
                                    offset.to_be_bytes().to_vec(),
                                )
                                .await
                            {
                                ctx.states()
                                    .error(bot.id, format!("storing the offset: {e}"));
                                failed = true;
                                break;
                            }
                        }
                        Err(e) => {
                            ctx.states().error(bot.id, format!("update {id}: {e}"));
                            failed = true;
                            break;
                        }
                    }
                }
            }
            Some(Ok(_)) => {}
            Some(Err(CallError::Api(e))) => {
                if e.code == 409 {
                    webhook_cleared = false;
                }
                ctx.states()
                    .set_state(bot.id, "error", Some(e.description.clone()));
                ctx.states()
                    .error(bot.id, format!("getUpdates: {} {}", e.code, e.description));
                if let Some(s) = e.retry_after {
                    backoff = Duration::from_secs(s);
                }
                failed = true;
            }
            Some(Err(CallError::Transport(t))) => {
                ctx.states().set_state(bot.id, "error", Some(t.clone()));
                ctx.states().error(bot.id, t);
                failed = true;
            }
            None => {}
        }
        if failed {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        } else {
            backoff = Duration::from_secs(1);
        }
    }
}

/// An Update as the webhook receives it; an error when the body is not JSON.
pub fn parse_update(bot_id: &str, body: &[u8]) -> serde_json::Result<Vec<Item>> {
    let u: Value = serde_json::from_slice(body)?;
    Ok(read_update(bot_id, &u))
}

/// What one Update asks of the inbox: nothing for groups, bots, service messages and
/// updates we do not use. Repeats are harmless: messages are keyed by (chat, message_id),
/// events by update_id, and edits replace text.
pub fn read_update(bot_id: &str, u: &Value) -> Vec<Item> {
    update_item(bot_id, u).into_iter().collect()
}

fn update_item(bot_id: &str, u: &Value) -> Option<Item> {
    if let Some(m) = u.get("message") {
        return read_message(bot_id, m);
    }
    if let Some(m) = u.get("edited_message") {
        if !is_private(m) {
            return None;
        }
        return Some(Item::Edited {
            external_id: ext_id(m),
            text: body_text(m),
        });
    }
    if let Some(cm) = u.get("my_chat_member") {
        if cm["chat"]["type"].as_str() != Some("private") {
            return None;
        }
        let ev = match (
            cm["old_chat_member"]["status"].as_str(),
            cm["new_chat_member"]["status"].as_str(),
        ) {
            (_, Some("kicked")) => ClientEvent::Blocked,
            (Some("kicked"), Some("member")) => ClientEvent::Unblocked,
            _ => return None,
        };
        let mut inb = client(bot_id, &cm["chat"], &cm["from"]);
        inb.message_id = u["update_id"].as_i64().map(|id| format!("update:{id}"));
        return Some(Item::ClientEvent(inb, ev));
    }
    None
}

fn is_private(m: &Value) -> bool {
    m["chat"]["type"].as_str() == Some("private")
}

/// message_id is unique per chat only.
fn ext_id(m: &Value) -> String {
    format!(
        "{}:{}",
        m["chat"]["id"].as_i64().unwrap_or(0),
        m["message_id"].as_i64().unwrap_or(0)
    )
}

fn client(bot_id: &str, chat: &Value, from: &Value) -> Inbound {
    let who = if from.is_object() { from } else { chat };
    let name = [who["first_name"].as_str(), who["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.trim().is_empty() {
        who["username"].as_str().map(|u| format!("@{u}"))
    } else {
        Some(name)
    };
    Inbound {
        channel_id: bot_id.to_string(),
        channel_kind: "telegram".into(),
        client_id: chat["id"].as_i64().unwrap_or(0).to_string(),
        name,
        ..Default::default()
    }
}

/// Text or caption, with the targets of text links kept (they are not in the text itself).
fn body_text(m: &Value) -> String {
    let (text, entities) = match m.get("text").and_then(Value::as_str) {
        Some(t) => (t, &m["entities"]),
        None => (
            m.get("caption").and_then(Value::as_str).unwrap_or(""),
            &m["caption_entities"],
        ),
    };
    with_links(text, entities.as_array().map(Vec::as_slice).unwrap_or(&[]))
}

/// Insert " (url)" after each `text_link` entity. Offsets count UTF-16 code units.
pub fn with_links(text: &str, entities: &[Value]) -> String {
    let mut inserts: Vec<(usize, &str)> = entities
        .iter()
        .filter(|e| e["type"].as_str() == Some("text_link"))
        .filter_map(|e| {
            // An end past u64 (or usize) is no position in any text: drop the entity.
            let end = e["offset"].as_u64()?.checked_add(e["length"].as_u64()?)?;
            Some((usize::try_from(end).ok()?, e["url"].as_str()?))
        })
        .collect();
    if inserts.is_empty() {
        return text.to_string();
    }
    inserts.sort_by_key(|(end, _)| *end);
    let mut out = String::with_capacity(text.len() + 64);
    let mut units = 0usize;
    let mut next = inserts.iter().peekable();
    for c in text.chars() {
        while let Some((end, url)) = next.peek() {
            if *end <= units {
                out.push_str(&format!(" ({url})"));
                next.next();
            } else {
                break;
            }
        }
        out.push(c);
        units += c.len_utf16();
    }
    for (_, url) in next {
        out.push_str(&format!(" ({url})"));
    }
    out
}

/// The files a message references: Telegram's id plus what we know before downloading.
fn files(m: &Value) -> Vec<Media> {
    let mut out = Vec::new();
    let mut add = |v: &Value, mime: &str, name: &str| {
        if let Some(id) = v["file_id"].as_str() {
            out.push(Media {
                handle: Handle::Id(id.to_string()),
                size: v["file_size"].as_u64(),
                mime: v["mime_type"].as_str().unwrap_or(mime).to_string(),
                name: v["file_name"].as_str().unwrap_or(name).to_string(),
                what: String::new(),
            });
        }
    };
    if let Some(sizes) = m["photo"].as_array()
        && let Some(largest) = sizes.last()
    {
        add(largest, "image/jpeg", "photo.jpg");
    }
    add(&m["voice"], "audio/ogg", "voice.ogg");
    add(&m["audio"], "audio/mpeg", "audio.mp3");
    add(&m["video"], "video/mp4", "video.mp4");
    add(&m["video_note"], "video/mp4", "video-note.mp4");
    add(&m["document"], "", "document");
    let s = &m["sticker"];
    if s.is_object() {
        if s["is_animated"].as_bool() == Some(true) {
            // Lottie stickers are not something a browser shows; their preview is.
            add(&s["thumbnail"], "image/webp", "sticker.webp");
        } else if s["is_video"].as_bool() == Some(true) {
            add(s, "video/webm", "sticker.webm");
        } else {
            add(s, "image/webp", "sticker.webp");
        }
    }
    out
}

/// Download one file: getFile, then the file URL. What retrying cannot fix is a note, so
/// the message is still stored, with the reason in its text.
pub(super) fn fetch<'a>(
    ctx: &'a Ctx,
    ch: &'a ChannelConfig,
    f: &'a Media,
) -> BoxFuture<'a, Result<Fetched>> {
    Box::pin(async move {
        let bot = Bot::of(ch)
            .ok_or_else(|| Error::Internal(format!("channel {:?} is not Telegram", ch.id)))?;
        Ok(fetch_file(ctx, &bot, f).await)
    })
}

async fn fetch_file(ctx: &Ctx, bot: &Bot<'_>, f: &Media) -> Fetched {
    let not_stored = |reason: String| Fetched::Note(format!("[attachment not stored: {reason}]"));
    let Handle::Id(file_id) = &f.handle else {
        return not_stored(format!("{}: Telegram gave no file id", f.name));
    };
    if f.size.is_some_and(|s| s > MAX_DOWNLOAD) {
        return not_stored(format!(
            "{} is larger than the 20 MB bots may download",
            f.name
        ));
    }
    let file = match call(ctx, bot, "getFile", json!({ "file_id": file_id })).await {
        Ok(v) => v,
        Err(CallError::Transport(t)) => return Fetched::Later(t),
        Err(CallError::Api(e)) if e.code == 429 || e.code >= 500 => {
            return Fetched::Later(format!("getFile: {} {}", e.code, e.description));
        }
        Err(CallError::Api(e)) => return not_stored(format!("{}: {}", f.name, e.description)),
    };
    let Some(path) = file["file_path"].as_str() else {
        return not_stored(format!("{}: Telegram gave no file path", f.name));
    };
    let req = ctx.http.get(bot.file_url(path));
    match ctx.download(req, &f.mime, &f.name).await {
        Ok(a) => Fetched::File(a),
        Err(SendError::Retry { reason, .. }) => Fetched::Later(bot.clean(&reason)),
        Err(SendError::Permanent(r) | SendError::Unreachable(r)) => {
            not_stored(format!("{}: {}", f.name, bot.clean(&r)))
        }
    }
}

fn read_message(bot_id: &str, m: &Value) -> Option<Item> {
    // Groups and channels are not client conversations.
    if !is_private(m) || m["from"]["is_bot"].as_bool() == Some(true) {
        return None;
    }
    let ext = ext_id(m);
    let mut inb = client(bot_id, &m["chat"], &m["from"]);
    let text = body_text(m);
    if text == "/start" || text.starts_with("/start ") {
        // The client subscribed.
        inb.message_id = Some(ext);
        return Some(Item::ClientEvent(inb, ClientEvent::Subscribed));
    }
    let mut lines = Vec::new();
    if !text.is_empty() {
        lines.push(text);
    }
    let c = &m["contact"];
    if c.is_object() {
        let name = [c["first_name"].as_str(), c["last_name"].as_str()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let phone = c["phone_number"].as_str().unwrap_or("");
        lines.push(format!("Contact: {name} {phone}").trim().to_string());
        if !phone.is_empty() {
            inb.phone = Some(if phone.starts_with('+') {
                phone.to_string()
            } else {
                format!("+{phone}")
            });
        }
    }
    let venue = &m["venue"];
    let loc = &m["location"];
    if let (Some(lat), Some(lon)) = (loc["latitude"].as_f64(), loc["longitude"].as_f64()) {
        let title = venue["title"].as_str().map(|t| {
            format!(
                "{t}{}",
                venue["address"]
                    .as_str()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default()
            )
        });
        lines.push(format!(
            "Location: {}{lat:.6}, {lon:.6} https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}",
            title.map(|t| format!("{t} — ")).unwrap_or_default()
        ));
    }
    if let Some(emoji) = m["sticker"]["emoji"].as_str()
        && lines.is_empty()
    {
        lines.push(emoji.to_string());
    }
    // A date past i64 milliseconds is not a time: treat it as absent.
    inb.created_ms = m["date"].as_i64().and_then(|s| s.checked_mul(1000));
    let files = files(m);
    if lines.is_empty() && files.is_empty() {
        // Service messages (pinned, new members…) carry nothing for a manager.
        return None;
    }
    inb.message_id = Some(ext);
    inb.text = lines.join("\n");
    Some(Item::Message(Draft {
        inbound: inb,
        files,
        kind: String::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_links_use_utf16_offsets() {
        // "👋 " is 3 UTF-16 units; the link covers "site".
        let text = "👋 site here";
        let e = vec![
            json!({"type": "text_link", "offset": 3, "length": 4, "url": "https://example.com"}),
        ];
        assert_eq!(with_links(text, &e), "👋 site (https://example.com) here");
        let at_end =
            vec![json!({"type": "text_link", "offset": 8, "length": 4, "url": "https://x.io"})];
        assert_eq!(with_links(text, &at_end), "👋 site here (https://x.io)");
    }
}
