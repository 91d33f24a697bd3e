//! WhatsApp's wire formats (CHANNELS.md section 2): webhook bodies read into events, and
//! Graph error answers mapped to send outcomes.

use std::collections::HashMap;

use serde_json::Value;

use super::Wa;
use crate::channels::{Ctx, SendError};
use crate::domain::inbox::Status;

/// Why WhatsApp refuses a free-form message (error 131047, or our own check before sending).
pub(super) const WINDOW_CLOSED: &str = "outside WhatsApp's 24-hour customer-service window: the client has \
not written in the last 24 hours, so WhatsApp accepts only an approved template message";

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
pub(super) fn string(v: &Value) -> Option<String> {
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
pub(super) fn base_mime(mime: &str) -> String {
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

/// Map a Graph error answer by its `error.code` (CHANNELS.md section 2, Errors).
pub(super) fn graph_error(
    ctx: &Ctx,
    wa: &Wa<'_>,
    status: reqwest::StatusCode,
    body: &str,
) -> SendError {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
