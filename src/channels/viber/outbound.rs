//! `send_message`: text, pictures, videos and files (as expiring signed links), and Viber's
//! status codes mapped to retry, failure or an unreachable client.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Failure, call, credentials, token_of};
use crate::channels::{Ctx, Outgoing, SendError};
use crate::config::ChannelConfig;
use crate::domain::inbox::Attachment;
use crate::error::Error;

const SENDER_NAME_MAX: usize = 28;
const TEXT_MAX: usize = 7000;
/// Viber documents at most 120 characters for a picture's description; longer text goes out
/// as its own message before the picture.
const CAPTION_MAX: usize = 120;
const FILE_NAME_MAX: usize = 256;
/// Viber downloads the file right after `send_message`; an hour covers its retries.
const LINK_TTL: Duration = Duration::from_secs(3600);

/// Deliver one message: text, then each file; a single picture carries the text as its
/// description. Returns the last part's `message_token` (receipts name it).
pub(super) async fn send(
    ctx: &Ctx,
    out: &Outgoing<'_>,
) -> std::result::Result<Option<String>, SendError> {
    let Some((token, api_base)) = credentials(out.channel) else {
        return Err(SendError::Permanent(format!(
            "channel {:?} is not a Viber channel",
            out.channel.id
        )));
    };
    let parts = parts(ctx, out)?;
    if parts.is_empty() {
        return Err(SendError::Permanent("the message is empty".into()));
    }
    let total = parts.len();
    let progress = Progress::new(out);
    // Parts a failed earlier attempt already delivered are not sent twice.
    let done = if total > 1 { progress.get(ctx)? } else { 0 };
    let sender: String = out.channel.name.chars().take(SENDER_NAME_MAX).collect();
    let mut last = None;
    for (i, part) in parts.into_iter().enumerate().skip(done) {
        let mut body = Map::new();
        body.insert("receiver".into(), json!(out.chat.external_id));
        body.insert("min_api_version".into(), json!(1));
        body.insert("sender".into(), json!({ "name": sender }));
        if let Value::Object(fields) = part {
            body.extend(fields);
        }
        match call(ctx, token, api_base, "send_message", &Value::Object(body)).await {
            Ok(v) => {
                last = v.get("message_token").and_then(token_of);
                if i + 1 < total {
                    progress.set(ctx, i + 1).await?;
                }
            }
            Err(f) => return Err(send_error(ctx, out.channel, f)),
        }
    }
    if total > 1 {
        progress.clear(ctx).await;
    }
    Ok(last)
}

/// The send_message bodies' type-specific fields, in order.
fn parts(ctx: &Ctx, out: &Outgoing<'_>) -> std::result::Result<Vec<Value>, SendError> {
    let m = out.message;
    let text = if m.text.trim().is_empty() {
        ""
    } else {
        m.text.as_str()
    };
    if let [a] = m.attachments.as_slice()
        && picture_ext(&a.mime).is_some()
        && text.chars().count() <= CAPTION_MAX
    {
        let media = link(ctx, a, picture_ext(&a.mime))?;
        return Ok(vec![
            json!({"type": "picture", "text": text, "media": media}),
        ]);
    }
    let mut parts: Vec<Value> = chunks(text, TEXT_MAX)
        .into_iter()
        .map(|t| json!({"type": "text", "text": t}))
        .collect();
    for a in &m.attachments {
        let part = if let Some(ext) = picture_ext(&a.mime) {
            json!({"type": "picture", "text": "", "media": link(ctx, a, Some(ext))?})
        } else if a.mime == "video/mp4" {
            json!({"type": "video", "media": link(ctx, a, Some(".mp4"))?, "size": a.size})
        } else {
            // Viber plays only MP4 videos inline; other types arrive as files.
            let name: String = a.name.chars().take(FILE_NAME_MAX).collect();
            json!({"type": "file", "media": link(ctx, a, None)?, "size": a.size, "file_name": name})
        };
        parts.push(part);
    }
    Ok(parts)
}

fn picture_ext(mime: &str) -> Option<&'static str> {
    match mime {
        "image/jpeg" => Some(".jpg"),
        "image/png" => Some(".png"),
        "image/gif" => Some(".gif"),
        _ => None,
    }
}

fn chunks(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(max).map(|c| c.iter().collect()).collect()
}

/// A signed public link to the file. Viber wants the type's extension on the last path
/// segment, which is only the display name (not signed), so it is added when missing.
fn link(ctx: &Ctx, a: &Attachment, ext: Option<&str>) -> std::result::Result<String, SendError> {
    let mut a = a.clone();
    if let Some(ext) = ext {
        let lower = a.name.to_ascii_lowercase();
        let has = lower.ends_with(ext) || (ext == ".jpg" && lower.ends_with(".jpeg"));
        if !has {
            a.name.push_str(ext);
        }
    }
    ctx.signed_blob_url(&a, LINK_TTL)
        .map_err(|e| SendError::Permanent(format!("Viber fetches files by link: {e}")))
}

fn send_error(ctx: &Ctx, ch: &ChannelConfig, f: Failure) -> SendError {
    let (n, msg) = match f {
        Failure::Http(e) => return e,
        Failure::Status(n, msg) => (n, msg),
    };
    let reason = format!("status {n}: {msg}");
    match n {
        5 => SendError::Unreachable(format!("{reason} (the client is not a Viber user)")),
        6 => SendError::Unreachable(format!(
            "{reason} (the client is not subscribed to the bot)"
        )),
        12 | 18 => SendError::Retry {
            reason,
            after: None,
        },
        2 | 7 | 8 | 9 => {
            // The token or the bot account is wrong: nothing will go out until an admin acts.
            let detail = format!("Viber rejected the bot: {reason}");
            ctx.states()
                .set_state(&ch.id, "error", Some(detail.clone()));
            ctx.states().error(&ch.id, detail);
            SendError::Permanent(reason)
        }
        _ => SendError::Permanent(reason),
    }
}

/// How many parts of a multi-part message Viber already accepted, kept by the inbox so a
/// retry (even after a restart) resumes after them.
struct Progress<'a> {
    channel: &'a str,
    chat: u64,
    message: u64,
}

impl Progress<'_> {
    fn new<'a>(out: &'a Outgoing<'_>) -> Progress<'a> {
        Progress {
            channel: &out.channel.id,
            chat: out.chat.id,
            message: out.message.id,
        }
    }

    fn get(&self, ctx: &Ctx) -> std::result::Result<usize, SendError> {
        ctx.inbox
            .sent_parts(self.channel, self.chat, self.message)
            .map_err(store_error)
    }

    async fn set(&self, ctx: &Ctx, n: usize) -> std::result::Result<(), SendError> {
        ctx.inbox
            .set_sent_parts(self.channel, self.chat, self.message, n)
            .await
            .map_err(store_error)
    }

    async fn clear(&self, ctx: &Ctx) {
        let r = ctx
            .inbox
            .clear_sent_parts(self.channel, self.chat, self.message)
            .await;
        if let Err(e) = r {
            tracing::warn!("Viber: forgetting a send's progress failed: {e}");
        }
    }
}

fn store_error(e: Error) -> SendError {
    SendError::Retry {
        reason: format!("store: {e}"),
        after: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_text_is_split_on_characters() {
        let t = "я".repeat(7001);
        let c = super::chunks(&t, 7000);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].chars().count(), 7000);
        assert!(super::chunks("", 7000).is_empty());
    }
}
