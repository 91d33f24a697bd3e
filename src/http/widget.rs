//! The website widget: `GET /widget.js` (the embeddable script) and the visitor API under
//! `/widget/v1/{channel}/…`, called from other sites' pages. `guard` wraps the whole API: it
//! answers CORS preflights, refuses origins the channel does not allow, and gives allowed
//! origins their CORS headers (errors included, so the script can read them). A visitor is
//! whoever holds the token `POST …/sessions` handed out; the token alone decides which chat
//! they read and write.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig};
use poem::web::{Data, Json, Query};
use poem::{Body, Endpoint, IntoResponse, Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{client_ip, state};
use crate::channels::widget::{Budget, origin_allowed};
use crate::config::ChannelKindConfig;
use crate::domain::event::Event;
use crate::domain::inbox::Visitor;
use crate::error::Error;
use crate::http::views;
use crate::inbox::blobs::Uploader;
use crate::inbox::visitors::{VisitorProfile, visitor_inbound, visitor_view};
use crate::realtime::visitors::{Feed, Item};

const MAX_TEXT_CHARS: usize = 4000;
const MAX_FILES: usize = 5;
/// Visitors' uploads are capped lower than managers' (they are anonymous).
const MAX_VISITOR_UPLOAD: u64 = 10 << 20;
const PING_EVERY: Duration = Duration::from_secs(20);

/// `GET /widget.js`: the script a site embeds. Any page may load it (it is public and
/// credential-free), including pages that require cross-origin resource policies.
#[handler]
pub fn script(req: &Request) -> Response {
    let mut r = super::ui::file(req, "widget/widget.js");
    let h = r.headers_mut();
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// The widget channel a request under `/widget/v1` names (the first path segment).
fn channel_of(req: &Request) -> Option<String> {
    let path = req.uri().path().trim_start_matches('/');
    let id = path.split('/').next().filter(|s| !s.is_empty())?;
    Some(id.to_string())
}

/// CORS and Origin policy for the visitor API, and JSON errors with CORS headers.
pub async fn guard<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let st = state(&req)?.clone();
    let channel = channel_of(&req)
        .and_then(|id| st.inbox.channels.get(&id).cloned())
        .filter(|c| matches!(c.kind, ChannelKindConfig::Widget { .. }));
    let Some(channel) = channel else {
        return Ok(super::error::to_json(
            Error::NotFound(format!("widget channel in {}", req.uri().path())).into(),
        )
        .await);
    };
    let origin = req.header(header::ORIGIN).map(str::to_string);
    if !origin_allowed(&channel.kind, origin.as_deref()) {
        let e = Error::Forbidden(format!(
            "origin {:?} is not allowed for widget channel {:?} (allowed_origins)",
            origin.as_deref().unwrap_or(""),
            channel.id
        ));
        return Ok(super::error::to_json(e.into()).await);
    }
    let mut resp = if req.method() == Method::OPTIONS {
        preflight()
    } else {
        match ep.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => super::error::to_json(e).await,
        }
    };
    let h = resp.headers_mut();
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}

/// The answer to a CORS preflight from an allowed origin (cached by the browser for 10 min).
fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// The caller's visitor, from `Authorization: Bearer <token>` (or `token` for WebSockets,
/// which cannot send headers). Unknown tokens and other channels' tokens are 401.
fn visitor(st: &AppState, req: &Request, token: Option<&str>) -> poem::Result<(Visitor, String)> {
    let channel = channel_of(req).unwrap_or_default();
    let token = req
        .header(header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer "))
        .or(token)
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or(Error::Unauthenticated)?;
    let v = st
        .inbox
        .visitor(&channel, token)?
        .ok_or(Error::Unauthenticated)?;
    Ok((v, token.to_string()))
}

fn spend(st: &AppState, req: &Request, b: Budget) -> poem::Result<()> {
    let ip = client_ip(req, &st.config.server);
    Ok(st.widget.limits.take(b, &ip)?)
}

/// # `GET /widget/v1/{id}/config`
/// What the script shows before a visitor writes: title, greeting, upload limit.
#[handler]
pub fn config(req: &Request, Data(st): Data<&Arc<AppState>>) -> poem::Result<Json<Value>> {
    let id = channel_of(req).unwrap_or_default();
    let ch = st
        .inbox
        .channels
        .get(&id)
        .ok_or_else(|| Error::NotFound(format!("widget channel {id:?}")))?;
    let (title, greeting) = match &ch.kind {
        ChannelKindConfig::Widget {
            title, greeting, ..
        } => (title.clone(), greeting.clone()),
        _ => (None, None),
    };
    Ok(Json(json!({
        "title": title.unwrap_or_else(|| ch.name.clone()),
        "greeting": greeting,
        "max_upload_bytes": st.blobs.max_bytes.min(MAX_VISITOR_UPLOAD),
    })))
}

/// # `POST /widget/v1/{id}/sessions`
/// A new visitor: an opaque token to keep (shown once). Limited per address.
#[handler]
pub async fn create_session(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
) -> poem::Result<Response> {
    spend(st, req, Budget::Session)?;
    let id = channel_of(req).unwrap_or_default();
    let (token, v) = st.inbox.create_visitor(&id).await?;
    let body = json!({"token": token, "visitor_id": v.id});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// # `GET /widget/v1/{id}/messages`
/// The visitor's own chat, oldest first, a page ending before `before`.
#[handler]
pub fn history(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Query(q): Query<HistoryQuery>,
) -> poem::Result<Json<Value>> {
    spend(st, req, Budget::Signal)?;
    let (v, _) = visitor(st, req, None)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    let (items, next) = st.inbox.visitor_history(&v, q.before, limit)?;
    let items: Vec<_> = items
        .iter()
        .map(|m| views::visitor_message_json(&v.channel_id, m))
        .collect();
    Ok(Json(json!({"items": items, "next_before": next})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The browser's id for this message: a retry with the same id stores nothing new.
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    attachments: Vec<FileRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    id: String,
    name: Option<String>,
}

/// The message's own limits, naming the field to correct.
fn check_send(b: &SendBody) -> Result<(), Error> {
    let id_ok = (1..=64).contains(&b.id.len())
        && b.id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    if !id_ok {
        return Err(Error::invalid("id", "1 to 64 letters, digits, '-' or '_'"));
    }
    if b.text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid(
            "text",
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if b.text.trim().is_empty() && b.attachments.is_empty() {
        return Err(Error::invalid("text", "write something or attach a file"));
    }
    if b.attachments.len() > MAX_FILES {
        return Err(Error::invalid(
            "attachments",
            format!("at most {MAX_FILES}"),
        ));
    }
    Ok(())
}

/// # `POST /widget/v1/{id}/messages`
/// The visitor writes: stored in their chat (created on the first message) and shown to
/// managers. 201 with the stored message, or 200 with it for a retried id.
#[handler]
pub async fn send(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Json(b): Json<SendBody>,
) -> poem::Result<Response> {
    spend(st, req, Budget::Message)?;
    let (v, _) = visitor(st, req, None)?;
    check_send(&b)?;
    let mut files = Vec::new();
    for a in &b.attachments {
        let who = Uploader::Visitor(v.id);
        files.push(st.blobs.attach(who, &a.id, a.name.as_deref()).await?);
    }
    let r = st
        .inbox
        .ingest(visitor_inbound(&v, &b.id, b.text, files))
        .await?;
    if !r.duplicate {
        st.channels.states().inbound(&v.channel_id);
    }
    let message = st
        .inbox
        .visitor_message(&v, r.chat_id, r.message_id)
        .await?
        .map(|m| views::visitor_message_json(&v.channel_id, &m));
    if let Some(m) = &message {
        let frame = json!({"type": "message", "data": m}).to_string();
        st.widget.live.bind(v.id, r.chat_id, Arc::from(frame));
    }
    let status = if r.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = json!({"message": message, "duplicate": r.duplicate});
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// # `POST /widget/v1/{id}/uploads`
/// A file for the next message (raw body, type in Content-Type); attach it by `id`.
#[handler]
pub async fn upload(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> poem::Result<Response> {
    spend(st, req, Budget::Upload)?;
    let (v, _) = visitor(st, req, None)?;
    let mut blobs = st.blobs.clone();
    blobs.max_bytes = blobs.max_bytes.min(MAX_VISITOR_UPLOAD);
    let who = Uploader::Visitor(v.id);
    let a = super::api::files::receive(req, &blobs, who, q.name, body).await?;
    let body = json!({"id": a.sha256, "name": a.name, "mime": a.mime, "size": a.size});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// # `GET /widget/v1/{id}/files/{sha256}`
/// A file attached to a message in the visitor's own chat (404 for any other file).
#[handler]
pub async fn file(req: &Request, Data(st): Data<&Arc<AppState>>) -> poem::Result<Response> {
    spend(st, req, Budget::Signal)?;
    let (v, _) = visitor(st, req, None)?;
    let sha = req.raw_path_param("sha").unwrap_or_default();
    if !st.inbox.visitor_file(&v, sha, 5000)? {
        return Err(Error::NotFound(format!("file {sha}")).into());
    }
    super::api::files::serve_blob(st, req, sha, "private, max-age=31536000, immutable").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

/// # `POST /widget/v1/{id}/profile`
/// The visitor leaves their name, phone or e-mail; they go onto the contact.
#[handler]
pub async fn profile(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Json(b): Json<ProfileBody>,
) -> poem::Result<Json<Value>> {
    spend(st, req, Budget::Message)?;
    let (_, token) = visitor(st, req, None)?;
    let p = VisitorProfile {
        name: b.name,
        phone: b.phone,
        email: b.email,
    };
    let v = st.inbox.update_visitor_profile(&token, p).await?;
    Ok(Json(
        json!({"name": v.name, "phone": v.phone, "email": v.email}),
    ))
}

/// # `POST /widget/v1/{id}/typing`
/// The visitor is typing: managers with the chat open see it for a few seconds.
#[handler]
pub async fn typing(req: &Request, Data(st): Data<&Arc<AppState>>) -> poem::Result<StatusCode> {
    spend(st, req, Budget::Signal)?;
    let (v, _) = visitor(st, req, None)?;
    if let Some(chat) = st.inbox.visitor_chat(&v)? {
        let name = st.inbox.client_name(chat).await?;
        // Manager 0 stands for the client in typing signals.
        st.inbox
            .typing(chat, 0, name.as_deref().unwrap_or("The visitor"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenBody {
    up_to: u64,
}

/// # `POST /widget/v1/{id}/seen`
/// The visitor's panel shows every reply up to `up_to`: they become read for managers.
#[handler]
pub async fn seen(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Json(b): Json<SeenBody>,
) -> poem::Result<Json<Value>> {
    spend(st, req, Budget::Signal)?;
    let (v, _) = visitor(st, req, None)?;
    let changed = match st.inbox.visitor_chat(&v)? {
        Some(chat) => st.inbox.visitor_seen(chat, b.up_to).await?,
        None => 0,
    };
    Ok(Json(json!({"changed": changed})))
}

#[derive(Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// # `GET /widget/v1/{id}/ws?token=`
/// The visitor's live feed: replies and manager typing in their own chat only.
#[handler]
pub async fn ws(
    req: &Request,
    ws: WebSocket,
    Data(st): Data<&Arc<AppState>>,
    Query(q): Query<WsQuery>,
) -> poem::Result<impl IntoResponse> {
    let (v, _) = visitor(st, req, q.token.as_deref())?;
    let ip = client_ip(req, &st.config.server);
    let feed = st
        .widget
        .live
        .subscribe(v.id, &ip, || st.inbox.visitor_chat(&v))?;
    let stop = st.stop.clone();
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(4096))
        .max_frame_size(Some(4096))
        .max_write_buffer_size(1 << 20)
        // tungstenite zero-fills its whole read buffer (128 KiB by default) on the first
        // read, so every idle socket would keep that much resident; frames still grow the
        // buffer to their own size when they need to.
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024);
    Ok(ws.config(cfg).on_upgrade(move |socket| async move {
        if let Err(e) = session(socket, feed, v, stop).await {
            tracing::debug!("widget websocket ended: {e}");
        }
    }))
}

/// An item of the visitor's feed as their browser gets it; None when it is not for them.
fn visitor_frame(v: &Visitor, item: &Item) -> Option<String> {
    match item {
        Item::Event(e) => match &e.event {
            Event::MessageCreated(c) | Event::MessageUpdated(c) => {
                let m = visitor_view(v.id, &c.message)?;
                let data = views::visitor_message_json(&v.channel_id, &m);
                Some(json!({"type": "message", "data": data}).to_string())
            }
            _ => None,
        },
        Item::Typing(t) => Some(json!({"type": "typing", "data": {"name": t.name}}).to_string()),
        Item::Frame(f) => Some(f.to_string()),
        Item::Resync => Some(json!({"type": "resync"}).to_string()),
    }
}

async fn session(
    socket: poem::web::websocket::WebSocketStream,
    mut feed: Feed,
    v: Visitor,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let (mut tx, mut rx) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            item = feed.rx.recv() => match item {
                Some(item) => {
                    if let Some(f) = visitor_frame(&v, &item) {
                        tx.send(Message::Text(f)).await.map_err(|e| e.to_string())?;
                    }
                }
                None => {
                    // Dropped for falling behind: the browser reconnects and reloads.
                    let _ = tx.send(Message::Text(json!({"type": "resync"}).to_string())).await;
                    let _ = tx.send(Message::Close(Some((CloseCode::Again, "too slow".into())))).await;
                    break;
                }
            },
            msg = rx.next() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                tx.send(Message::Ping(Vec::new())).await.map_err(|e| e.to_string())?;
            }
            _ = stop.changed() => {
                let _ = tx.send(Message::Close(Some((CloseCode::Away, "server stopping".into())))).await;
                break;
            }
        }
    }
    Ok(())
}
