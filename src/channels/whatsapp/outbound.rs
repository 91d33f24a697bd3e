//! Sending: the 24-hour customer-service window (a template outside it), text split to
//! Graph's limits, media uploaded first and then sent by id, each part counted so a retry
//! skips what was sent.

use serde_json::{Value, json};

use super::Wa;
use super::wire::{WINDOW_CLOSED, graph_error, string};
use crate::channels::{Ctx, Outgoing, SendError};
use crate::domain::inbox::Attachment;
use crate::domain::now_ms;

/// Free-form messages may only be sent this long after the client's last message.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Graph refuses longer text bodies and media captions.
const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;

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

/// The `template` object of a send: an approved template filled with body parameters (a
/// template without variables takes no components).
fn template_object(name: &str, language: &str, params: &[String]) -> Value {
    let mut t = json!({"name": name, "language": {"code": language}});
    if !params.is_empty() {
        let params: Vec<Value> = params
            .iter()
            .map(|p| json!({"type": "text", "text": template_param(p)}))
            .collect();
        t["components"] = json!([{"type": "body", "parameters": params}]);
    }
    t
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
pub(super) async fn send(
    ctx: &Ctx,
    out: &Outgoing<'_>,
) -> std::result::Result<Option<String>, SendError> {
    let wa = Wa::of(out.channel).ok_or_else(|| {
        SendError::Permanent(format!("channel {:?} is not WhatsApp", out.channel.id))
    })?;
    let to = out.chat.external_id.as_str();
    if let Some(t) = out.wa_template {
        // Approved templates are what WhatsApp delivers outside the window, so a
        // broadcast's template goes out whenever the client last wrote.
        let body = envelope(
            to,
            "template",
            template_object(&t.name, &t.language, &t.params),
        );
        return post_message(ctx, &wa, &body).await;
    }
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
            template_object(template, wa.template_language, &[text.to_string()]),
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
        .map_err(|e| wa.redact_err(crate::channels::transport("WhatsApp send", e)))?;
    let status = r.status();
    let text = r
        .text()
        .await
        .map_err(|e| wa.redact_err(crate::channels::transport("WhatsApp send", e)))?;
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
        .map_err(|e| wa.redact_err(crate::channels::transport("WhatsApp media upload", e)))?;
    let status = r.status();
    let text = r
        .text()
        .await
        .map_err(|e| wa.redact_err(crate::channels::transport("WhatsApp media upload", e)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
