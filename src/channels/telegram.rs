//! Telegram Bot API: webhook (setWebhook with a secret token) or long polling (getUpdates
//! with a durable offset) in; sendMessage/sendPhoto/… out. Protocol only: what a message
//! means for the inbox is decided by the inbox service.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Ctx, Outgoing, SendError, redact};
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::domain::inbox::Attachment;
use crate::error::Error;
use crate::inbox::ingest::{ClientEvent, Inbound};

/// The updates Parley handles; anything else is not even sent to us.
const ALLOWED_UPDATES: &[&str] = &["message", "edited_message", "my_chat_member"];
/// Bots may download files up to this size (larger ones answer "file is too big").
const MAX_DOWNLOAD: u64 = 20 * 1024 * 1024;
const TEXT_LIMIT: usize = 4096;
const CAPTION_LIMIT: usize = 1024;
/// Long-poll wait; below the shared client's 30 s request timeout.
const POLL_TIMEOUT_S: u64 = 25;

/// A Telegram channel's settings, borrowed from the config.
pub struct Bot<'a> {
    pub id: &'a str,
    pub token: &'a str,
    pub secret: Option<&'a str>,
    pub polling: bool,
    api_base: &'a str,
    file_base: Option<&'a str>,
}

impl<'a> Bot<'a> {
    pub fn of(ch: &'a ChannelConfig) -> Option<Bot<'a>> {
        match &ch.kind {
            ChannelKindConfig::Telegram {
                token,
                webhook_secret,
                mode,
                api_base,
                file_base,
            } => Some(Bot {
                id: &ch.id,
                token,
                secret: webhook_secret.as_deref(),
                polling: mode == "polling",
                api_base: api_base.trim_end_matches('/'),
                file_base: file_base.as_deref().map(|f| f.trim_end_matches('/')),
            }),
            _ => None,
        }
    }

    fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.api_base, self.token)
    }

    fn file_url(&self, file_path: &str) -> String {
        match self.file_base {
            Some(base) => format!("{base}/bot{}/{file_path}", self.token),
            None => format!("{}/file/bot{}/{file_path}", self.api_base, self.token),
        }
    }

    /// The token is part of every URL, so errors pass through here before anyone sees them.
    fn clean(&self, text: &str) -> String {
        redact(text, &[self.token])
    }
}

/// A Bot API error answer: `{"ok":false,"error_code","description","parameters"}`.
#[derive(Debug)]
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u64>,
}

enum CallError {
    Api(ApiError),
    Transport(String),
}

impl CallError {
    fn into_send_error(self, ctx: &Ctx, bot: &Bot) -> SendError {
        match self {
            CallError::Transport(reason) => SendError::Retry {
                reason,
                after: None,
            },
            CallError::Api(e) => {
                let reason = format!("Telegram {}: {}", e.code, e.description);
                match e.code {
                    429 => {
                        // The whole bot is throttled, not just this chat.
                        let wait = Duration::from_secs(e.retry_after.unwrap_or(5));
                        ctx.states().pause(bot.id, wait);
                        SendError::Retry {
                            reason,
                            after: Some(wait),
                        }
                    }
                    403 => SendError::Unreachable(reason),
                    401 | 404 => {
                        ctx.states()
                            .error(bot.id, format!("the bot token was rejected ({reason})"));
                        SendError::Permanent(reason)
                    }
                    c if c >= 500 => SendError::Retry {
                        reason,
                        after: None,
                    },
                    _ => SendError::Permanent(reason),
                }
            }
        }
    }
}

async fn call_with(
    bot: &Bot<'_>,
    method: &str,
    req: reqwest::RequestBuilder,
) -> std::result::Result<Value, CallError> {
    let r = req.send().await.map_err(|e| {
        CallError::Transport(bot.clean(&format!("Telegram {method}: {}", e.without_url())))
    })?;
    let status = r.status().as_u16();
    let text = r
        .text()
        .await
        .map_err(|e| CallError::Transport(bot.clean(&format!("Telegram {method}: {e}"))))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if body["ok"].as_bool() == Some(true) {
        return Ok(body["result"].clone());
    }
    Err(CallError::Api(ApiError {
        code: body["error_code"]
            .as_u64()
            .map(|c| c as u16)
            .unwrap_or(status),
        description: bot.clean(
            body["description"]
                .as_str()
                .unwrap_or("no description (the answer was not Bot API JSON)"),
        ),
        retry_after: body["parameters"]["retry_after"].as_u64(),
    }))
}

async fn call(
    ctx: &Ctx,
    bot: &Bot<'_>,
    method: &str,
    params: Value,
) -> std::result::Result<Value, CallError> {
    let req = ctx.http.post(bot.method_url(method)).json(&params);
    call_with(bot, method, req).await
}

// ---------------------------------------------------------------------------------------
// Start-up: register the webhook or poll.

pub async fn run(ctx: Ctx, ch: ChannelConfig, mut stop: watch::Receiver<bool>) {
    let Some(bot) = Bot::of(&ch) else { return };
    if bot.polling {
        poll(&ctx, &bot, stop).await;
        return;
    }
    let mut wait = Duration::from_secs(5);
    loop {
        match register(&ctx, &bot).await {
            Ok(url) => {
                ctx.states()
                    .set_state(bot.id, "connected", Some(format!("webhook {url}")));
                return;
            }
            Err(e) => {
                ctx.states().set_state(bot.id, "error", Some(e.clone()));
                ctx.states().error(bot.id, e);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(300));
    }
}

/// setWebhook with our public URL, the secret Telegram echoes back, and the updates we use.
async fn register(ctx: &Ctx, bot: &Bot<'_>) -> std::result::Result<String, String> {
    let base = ctx
        .public_base("Telegram's webhook mode")
        .map_err(|e| format!("{e} (or set mode = \"polling\")"))?;
    let Some(secret) = bot.secret else {
        return Err("webhook_secret is not set".into());
    };
    let url = format!("{base}/webhooks/telegram/{}", bot.id);
    let params = json!({
        "url": url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
        "max_connections": 40,
    });
    match call(ctx, bot, "setWebhook", params).await {
        Ok(_) => Ok(url),
        Err(CallError::Api(e)) => Err(format!("setWebhook: {} {}", e.code, e.description)),
        Err(CallError::Transport(t)) => Err(format!("setWebhook: {t}")),
    }
}

const OFFSET_KEY: &str = "telegram_offset";

/// Long polling. The offset is stored only after an update is processed, so a crash means
/// Telegram sends it again (and the inbox recognises it), never that it is lost.
async fn poll(ctx: &Ctx, bot: &Bot<'_>, mut stop: watch::Receiver<bool>) {
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
                    match apply_update(ctx, bot, read_update(bot.id, &u)).await {
                        Ok(()) => {
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

// ---------------------------------------------------------------------------------------
// Inbound.

/// Whether a webhook request carries this channel's secret token.
pub fn authentic(bot: &Bot, header: Option<&str>) -> bool {
    match (bot.secret, header) {
        (Some(secret), Some(sent)) => {
            crate::accounts::same_secret(sent.as_bytes(), secret.as_bytes())
        }
        _ => false,
    }
}

/// A failure while handling an update: `retry` means Telegram should send it again.
#[derive(Debug)]
pub struct UpdateError {
    pub retry: bool,
    pub message: String,
}

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for UpdateError {
    fn from(e: Error) -> Self {
        UpdateError {
            retry: true,
            message: e.to_string(),
        }
    }
}

/// What one Update asks of the inbox, read without the network or the store.
pub enum Update {
    /// A client's message: its text lines so far and the files still to download.
    Message {
        ext: String,
        inbound: Inbound,
        lines: Vec<String>,
        files: Vec<FileRef>,
    },
    /// `/start`: the client subscribed.
    Subscribed(Inbound),
    Edited {
        ext: String,
        text: String,
    },
    ClientEvent(Inbound, ClientEvent),
    /// Groups, bots, service messages and updates we do not use.
    Ignored,
}

/// An Update as the webhook receives it; an error when the body is not JSON.
pub fn parse_update(bot_id: &str, body: &[u8]) -> serde_json::Result<Update> {
    let u: Value = serde_json::from_slice(body)?;
    Ok(read_update(bot_id, &u))
}

pub fn read_update(bot_id: &str, u: &Value) -> Update {
    if let Some(m) = u.get("message") {
        return read_message(bot_id, m);
    }
    if let Some(m) = u.get("edited_message") {
        if !is_private(m) {
            return Update::Ignored;
        }
        return Update::Edited {
            ext: ext_id(m),
            text: body_text(m),
        };
    }
    if let Some(cm) = u.get("my_chat_member") {
        if cm["chat"]["type"].as_str() != Some("private") {
            return Update::Ignored;
        }
        let ev = match (
            cm["old_chat_member"]["status"].as_str(),
            cm["new_chat_member"]["status"].as_str(),
        ) {
            (_, Some("kicked")) => ClientEvent::Blocked,
            (Some("kicked"), Some("member")) => ClientEvent::Unblocked,
            _ => return Update::Ignored,
        };
        let mut inb = client(bot_id, &cm["chat"], &cm["from"]);
        inb.message_id = u["update_id"].as_i64().map(|id| format!("update:{id}"));
        return Update::ClientEvent(inb, ev);
    }
    Update::Ignored
}

/// Apply one Update. Repeats are harmless: messages are keyed by (chat, message_id), events
/// by update_id, and edits replace text.
pub async fn apply_update(
    ctx: &Ctx,
    bot: &Bot<'_>,
    update: Update,
) -> std::result::Result<(), UpdateError> {
    ctx.states().inbound(bot.id);
    match update {
        Update::Message {
            ext,
            inbound,
            lines,
            files,
        } => message(ctx, bot, ext, inbound, lines, files).await,
        Update::Subscribed(inb) => {
            ctx.inbox.client_event(inb, ClientEvent::Subscribed).await?;
            Ok(())
        }
        Update::Edited { ext, text } => {
            ctx.inbox.edit_inbound(bot.id, &ext, text).await?;
            Ok(())
        }
        Update::ClientEvent(inb, ev) => {
            ctx.inbox.client_event(inb, ev).await?;
            Ok(())
        }
        Update::Ignored => Ok(()),
    }
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

/// A file referenced by a message: Telegram's id plus what we know before downloading it.
pub struct FileRef {
    pub file_id: String,
    pub size: Option<u64>,
    pub mime: String,
    pub name: String,
}

fn files(m: &Value) -> Vec<FileRef> {
    let mut out = Vec::new();
    let mut add = |v: &Value, mime: &str, name: &str| {
        if let Some(id) = v["file_id"].as_str() {
            out.push(FileRef {
                file_id: id.to_string(),
                size: v["file_size"].as_u64(),
                mime: v["mime_type"].as_str().unwrap_or(mime).to_string(),
                name: v["file_name"].as_str().unwrap_or(name).to_string(),
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

/// Download one file: getFile, then the file URL. Errors that retrying cannot fix come back
/// as `Ok(Err(reason))` so the message is still stored, with the reason in its text.
async fn fetch_file(
    ctx: &Ctx,
    bot: &Bot<'_>,
    f: &FileRef,
) -> std::result::Result<std::result::Result<Attachment, String>, UpdateError> {
    if f.size.is_some_and(|s| s > MAX_DOWNLOAD) {
        return Ok(Err(format!(
            "{} is larger than the 20 MB bots may download",
            f.name
        )));
    }
    let file = match call(ctx, bot, "getFile", json!({"file_id": f.file_id})).await {
        Ok(v) => v,
        Err(CallError::Transport(t)) => {
            return Err(UpdateError {
                retry: true,
                message: t,
            });
        }
        Err(CallError::Api(e)) if e.code == 429 || e.code >= 500 => {
            return Err(UpdateError {
                retry: true,
                message: format!("getFile: {} {}", e.code, e.description),
            });
        }
        Err(CallError::Api(e)) => return Ok(Err(format!("{}: {}", f.name, e.description))),
    };
    let Some(path) = file["file_path"].as_str() else {
        return Ok(Err(format!("{}: Telegram gave no file path", f.name)));
    };
    let req = ctx.http.get(bot.file_url(path));
    match ctx.download(req, &f.mime, &f.name).await {
        Ok(a) => Ok(Ok(a)),
        Err(SendError::Retry { reason, .. }) => Err(UpdateError {
            retry: true,
            message: bot.clean(&reason),
        }),
        Err(SendError::Permanent(r) | SendError::Unreachable(r)) => {
            Ok(Err(format!("{}: {}", f.name, bot.clean(&r))))
        }
    }
}

fn read_message(bot_id: &str, m: &Value) -> Update {
    // Groups and channels are not client conversations.
    if !is_private(m) || m["from"]["is_bot"].as_bool() == Some(true) {
        return Update::Ignored;
    }
    let ext = ext_id(m);
    let mut inb = client(bot_id, &m["chat"], &m["from"]);
    let text = body_text(m);
    if text == "/start" || text.starts_with("/start ") {
        inb.message_id = Some(ext);
        return Update::Subscribed(inb);
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
    Update::Message {
        ext,
        inbound: inb,
        lines,
        files: files(m),
    }
}

async fn message(
    ctx: &Ctx,
    bot: &Bot<'_>,
    ext: String,
    mut inb: Inbound,
    mut lines: Vec<String>,
    files: Vec<FileRef>,
) -> std::result::Result<(), UpdateError> {
    let known = ctx
        .inbox
        .known_message(bot.id, &ext)
        .map_err(UpdateError::from)?;
    if known.is_some() {
        return Ok(());
    }
    let mut attachments = Vec::new();
    for f in files {
        match fetch_file(ctx, bot, &f).await? {
            Ok(a) => attachments.push(a),
            Err(reason) => lines.push(format!("[attachment not stored: {reason}]")),
        }
    }
    if lines.is_empty() && attachments.is_empty() {
        // Service messages (pinned, new members…) carry nothing for a manager.
        return Ok(());
    }
    inb.message_id = Some(ext);
    inb.text = lines.join("\n");
    inb.attachments = attachments;
    ctx.inbox.ingest(inb).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Outbound.

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
