//! Replies out: text split at 4096 UTF-16 units, files by multipart upload with the text as
//! the first file's caption when it fits, each part counted so a retry skips what was sent.

use serde_json::{Value, json};

use super::Bot;
use super::wire::{call, call_with};
use crate::channels::{Ctx, Outgoing, SendError};

const TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;

/// Which send method carries a file, and its parameter name.
fn send_method(mime: &str) -> (&'static str, &'static str) {
    match mime {
        "image/jpeg" | "image/png" | "image/webp" => ("sendPhoto", "photo"),
        "audio/ogg" => ("sendVoice", "voice"),
        m if m.starts_with("video/") => ("sendVideo", "video"),
        _ => ("sendDocument", "document"),
    }
}

/// Split text into pieces Telegram accepts (4096 UTF-16 units), at line breaks when possible.
fn split_text(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut units = 0;
    for c in text.chars() {
        let n = c.len_utf16();
        if units + n > limit {
            let cut = cur.rfind('\n').filter(|&i| i > 0);
            match cut {
                Some(i) => {
                    let rest = cur.split_off(i + 1);
                    out.push(cur.trim_end().to_string());
                    cur = rest;
                }
                None => out.push(std::mem::take(&mut cur)),
            }
            units = cur.encode_utf16().count();
        }
        cur.push(c);
        units += n;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub async fn send(ctx: &Ctx, out: &Outgoing<'_>) -> std::result::Result<Option<String>, SendError> {
    let Some(bot) = Bot::of(out.channel) else {
        return Err(SendError::Permanent("not a Telegram channel".into()));
    };
    let chat_id = out.chat.external_id.as_str();
    let text = out.message.text.trim();
    let attachments = &out.message.attachments;
    // The text rides as the first file's caption when it fits; otherwise it goes first.
    let caption_fits = !attachments.is_empty() && text.encode_utf16().count() <= CAPTION_LIMIT;
    let pieces = if !text.is_empty() && !caption_fits {
        split_text(text, TEXT_LIMIT)
    } else {
        Vec::new()
    };
    // Each piece of text and each file is one Telegram message, numbered in sending order;
    // those an earlier attempt got accepted are not sent again.
    let total = pieces.len() + attachments.len();
    let done = out.parts_sent() as usize;
    let mut last: Option<Value> = None;
    for (n, piece) in pieces.into_iter().enumerate() {
        if n < done {
            continue;
        }
        let r = call(
            ctx,
            &bot,
            "sendMessage",
            json!({"chat_id": chat_id, "text": piece}),
        )
        .await
        .map_err(|e| e.into_send_error(ctx, &bot))?;
        last = Some(r);
        if n + 1 < total {
            out.record_parts_sent(ctx, (n + 1) as u32).await;
        }
    }
    let first_file = total - attachments.len();
    for (i, a) in attachments.iter().enumerate() {
        let n = first_file + i;
        if n < done {
            continue;
        }
        let (method, field) = send_method(&a.mime);
        let bytes = ctx.blob_bytes(a).await?;
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(a.name.clone())
            .mime_str(&a.mime)
            .map_err(|e| SendError::Permanent(format!("attachment type {:?}: {e}", a.mime)))?;
        let mut form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.to_string())
            .part(field, part);
        if i == 0 && caption_fits && !text.is_empty() {
            form = form.text("caption", text.to_string());
        }
        let req = ctx.http.post(bot.method_url(method)).multipart(form);
        let r = call_with(&bot, method, req)
            .await
            .map_err(|e| e.into_send_error(ctx, &bot))?;
        last = Some(r);
        if n + 1 < total {
            out.record_parts_sent(ctx, (n + 1) as u32).await;
        }
    }
    if last.is_none() && total > 0 && done >= total {
        // Everything went out before (the result was not recorded): nothing to repeat.
        return Ok(None);
    }
    let Some(sent) = last else {
        return Err(SendError::Permanent("nothing to send".into()));
    };
    ctx.states().set_state(
        bot.id,
        if bot.polling { "polling" } else { "connected" },
        ctx.states().get(bot.id).detail,
    );
    Ok(sent["message_id"].as_i64().map(|id| {
        format!(
            "{}:{id}",
            sent["chat"]["id"]
                .as_i64()
                .map_or(chat_id.to_string(), |c| c.to_string())
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_split_at_line_breaks() {
        let text = format!("{}\n{}", "a".repeat(3000), "b".repeat(3000));
        let parts = split_text(&text, 4096);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "a".repeat(3000));
        assert_eq!(parts[1], "b".repeat(3000));
        let parts = split_text(&"c".repeat(5000), 4096);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![4096, 904]
        );
    }
}
