//! `GET /api/v1/ws`: live events for a signed-in manager. The stream is the hub's committed
//! events (replayed from the log from `?since=` on reconnect, and again whenever this
//! connection falls behind) merged with its typing signals; memory per connection stays bounded because a slow browser is
//! caught up from the log instead of being buffered for.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::http::header;
use poem::web::websocket::{Message, WebSocket, WebSocketConfig};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, handler};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::identify;
use crate::accounts::Identity;
use crate::domain::event::Published;
use crate::domain::manager::Revoked;
use crate::error::Error;
use crate::http::views;

const PING_EVERY: Duration = Duration::from_secs(20);
const MAX_INBOUND: usize = 16 * 1024;

#[derive(Deserialize)]
pub struct WsQuery {
    since: Option<u64>,
}

/// Cross-site WebSocket hijacking guard: browsers always send Origin on a WebSocket
/// handshake, and cookies would otherwise authenticate a page from any site.
fn same_origin(req: &Request) -> bool {
    let (Some(origin), Some(host)) = (
        req.header(header::ORIGIN),
        req.header(header::HOST)
            .or_else(|| req.uri().authority().map(|a| a.as_str())),
    ) else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

#[handler]
pub async fn ws(
    req: &Request,
    ws: WebSocket,
    Data(st): Data<&Arc<AppState>>,
    Query(q): Query<WsQuery>,
) -> poem::Result<impl IntoResponse> {
    let id = identify(req)?.ok_or(Error::Unauthenticated)?;
    if id.session_hash.is_some() && !same_origin(req) {
        return Err(Error::Forbidden("WebSocket Origin does not match this server".into()).into());
    }
    let st = st.clone();
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(MAX_INBOUND))
        .max_frame_size(Some(MAX_INBOUND))
        .max_write_buffer_size(4 << 20)
        // tungstenite zero-fills its whole read buffer (128 KiB by default) on the first
        // read, so every idle socket would keep that much resident; frames still grow the
        // buffer to their own size when they need to.
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024);
    Ok(ws.config(cfg).on_upgrade(move |socket| async move {
        if let Err(e) = session(socket, st, id, q.since).await {
            tracing::debug!("websocket ended: {e}");
        }
    }))
}

async fn session(
    socket: poem::web::websocket::WebSocketStream,
    st: Arc<AppState>,
    id: Identity,
    since: Option<u64>,
) -> Result<(), String> {
    let me = id.manager.id;
    let mut online = st.hub.connect(me);
    let mut presence = st.hub.subscribe_presence();
    let (mut tx, mut rx) = socket.split();
    // Subscribe before reading the log so nothing committed in between is missed.
    let mut live = st.hub.subscribe();
    let mut typing = st.hub.subscribe_typing();
    let mut revoked = st.hub.subscribe_revocations();
    let mut stop = st.stop.clone();
    let latest = st.inbox.latest_event().await.map_err(|e| e.to_string())?;
    let send = |s: String| Message::Text(s);
    tx.send(send(
        json!({"type": "hello", "data": {"seq": latest, "manager_id": me}}).to_string(),
    ))
    .await
    .map_err(|e| e.to_string())?;
    let mut last = match since {
        Some(s) if s < latest => {
            if !catch_up(&st, &mut tx, me, s).await? {
                return Ok(());
            }
            latest
        }
        _ => latest,
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    // A socket must not outlive its session: close it when the session expires.
    let until = |ms: Option<i64>| {
        let left = ms.map_or(Duration::from_secs(365 * 86_400), |ms| {
            Duration::from_millis((ms - crate::domain::now_ms()).max(0) as u64)
        });
        tokio::time::Instant::now() + left
    };
    let expiry = tokio::time::sleep_until(until(
        st.accounts.session_expiry(&id).map_err(|e| e.to_string())?,
    ));
    tokio::pin!(expiry);
    let mut last_typing = tokio::time::Instant::now() - Duration::from_secs(1);
    loop {
        tokio::select! {
            ev = live.recv() => {
                if !forward(&st, &mut tx, &mut live, me, &mut last, ev).await? {
                    break;
                }
            }
            p = presence.recv() => match p {
                Ok((m, state)) => {
                    tx.send(send(json!({"type": "presence", "data": {"manager_id": m, "state": state.as_str()}}).to_string())).await.map_err(|e| e.to_string())?;
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            sig = typing.recv() => {
                if let Ok(s) = sig && s.manager_id != me {
                    tx.send(send(views::typing_frame(&s))).await.map_err(|e| e.to_string())?;
                }
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    // Typing signals are rate-limited per connection; idle reports set presence
                    // (T4); anything else is ignored.
                    let v = serde_json::from_str::<serde_json::Value>(&t).unwrap_or_default();
                    if v["type"] == "typing"
                        && let Some(chat) = v["chat_id"].as_u64()
                        && last_typing.elapsed() >= Duration::from_millis(500)
                    {
                        last_typing = tokio::time::Instant::now();
                        st.inbox.typing(chat, me, &id.manager.name);
                    } else if v["type"] == "idle" && let Some(idle) = v["idle"].as_bool() {
                        // The page saw no input for a while (or input again): away / online.
                        online.set_idle(idle);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            r = revoked.recv() => {
                let ended = match r {
                    Ok(Revoked::Manager(m)) => m == me,
                    Ok(Revoked::Session(h)) => id.session_hash.as_ref() == Some(&h),
                    Ok(Revoked::Token(h)) => id.token_hash.as_ref() == Some(&h),
                    Err(RecvError::Lagged(_)) => !st.accounts.still_valid(&id).map_err(|e| e.to_string())?,
                    Err(RecvError::Closed) => true,
                };
                if ended {
                    let _ = tx.send(Message::Close(Some((poem::web::websocket::CloseCode::Policy, "signed out".into())))).await;
                    break;
                }
            }
            _ = ping.tick() => {
                tx.send(Message::Ping(Vec::new())).await.map_err(|e| e.to_string())?;
            }
            _ = &mut expiry => {
                if st.accounts.still_valid(&id).map_err(|e| e.to_string())? {
                    let next = st.accounts.session_expiry(&id).map_err(|e| e.to_string())?;
                    expiry.as_mut().reset(until(next).max(tokio::time::Instant::now() + Duration::from_secs(1)));
                } else {
                    let _ = tx.send(Message::Close(Some((poem::web::websocket::CloseCode::Policy, "session expired".into())))).await;
                    break;
                }
            }
            _ = stop.changed() => {
                let _ = tx.send(Message::Close(Some((poem::web::websocket::CloseCode::Away, "server stopping".into())))).await;
                break;
            }
        }
    }
    Ok(())
}

/// Send `first` and every event already waiting behind it with one flush: the events of one
/// commit (a message, its row, the counts) arrive together, and a write per frame cost each
/// connection a TLS record and a system call per event. False when the connection should end.
async fn forward<S>(
    st: &AppState,
    tx: &mut S,
    live: &mut tokio::sync::broadcast::Receiver<Arc<Published>>,
    me: u64,
    last: &mut u64,
    first: Result<Arc<Published>, RecvError>,
) -> Result<bool, String>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    use tokio::sync::broadcast::error::TryRecvError;
    let mut next = Some(first);
    let mut open = true;
    while let Some(ev) = next.take() {
        match ev {
            Ok(e) => {
                if e.seq > *last {
                    *last = e.seq;
                    if e.visible_to(me) {
                        tx.feed(Message::Text(views::event_frame(&e).to_string()))
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            Err(RecvError::Lagged(_)) => {
                tx.flush().await.map_err(|e| e.to_string())?;
                if !catch_up(st, tx, me, *last).await? {
                    return Ok(false);
                }
                *last = st
                    .inbox
                    .latest_event()
                    .await
                    .map_err(|e| e.to_string())?
                    .max(*last);
            }
            Err(RecvError::Closed) => {
                open = false;
                break;
            }
        }
        next = match live.try_recv() {
            Ok(e) => Some(Ok(e)),
            Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
            Err(TryRecvError::Empty) => None,
        };
    }
    tx.flush().await.map_err(|e| e.to_string())?;
    Ok(open)
}

/// Send every stored event after `since`; false when the log no longer reaches back that far
/// (the browser was told to resync and the connection should end).
async fn catch_up<S>(st: &AppState, tx: &mut S, me: u64, since: u64) -> Result<bool, String>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let mut from = since;
    loop {
        let batch: Option<Vec<Published>> = st
            .inbox
            .events_since(from, 1000)
            .await
            .map_err(|e| e.to_string())?;
        let Some(batch) = batch else {
            let _ = tx
                .send(Message::Text(json!({"type": "resync"}).to_string()))
                .await;
            return Ok(false);
        };
        if batch.is_empty() {
            return Ok(true);
        }
        for e in &batch {
            from = e.seq;
            if e.visible_to(me) {
                tx.send(Message::Text(views::event_frame(e).to_string()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}
