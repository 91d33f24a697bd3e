//! Read-only views of the configuration managers need in the UI: assistants (with their
//! usage and last error for admins) and channels (no secrets).

use std::sync::Arc;

use poem::handler;
use poem::web::{Data, Json};
use serde_json::{Value, json};

use crate::channels::ChannelState;
use crate::config::ChannelKindConfig;
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::views;

#[handler]
pub fn assistants(Data(st): Data<&Arc<AppState>>, _a: Auth) -> Json<Value> {
    let items: Vec<_> = st
        .config
        .assistants
        .iter()
        .map(|a| json!({"id": a.id, "name": a.name}))
        .collect();
    Json(json!({ "items": items }))
}

/// Usage per assistant (requests, tokens, failures, last error) and the chats that used the
/// assistants most.
#[handler]
pub async fn assistant_usage(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
) -> poem::Result<Json<Value>> {
    let stats = st.inbox.assistant_stats().await?;
    let chats = st.inbox.assistant_chat_usage(100).await?;
    Ok(Json(views::assistant_usage(
        &st.config.assistants,
        &stats,
        &chats,
    )))
}

#[handler]
pub fn channels(Data(st): Data<&Arc<AppState>>, _a: Auth) -> Json<Value> {
    let mut items: Vec<_> = st
        .inbox
        .channels
        .all()
        .map(|c| {
            let mut v = json!({
                "id": c.id,
                "kind": c.kind.kind_name(),
                "name": c.name,
                "status": status_json(&st.channels.states().get(&c.id)),
            });
            // What the admin pastes into a site; without public_url the browser's origin is used.
            if let ChannelKindConfig::Widget {
                allowed_origins, ..
            } = &c.kind
            {
                let src = st
                    .config
                    .server
                    .public_url
                    .as_deref()
                    .map(|u| format!("{}/widget.js", u.trim_end_matches('/')));
                v["widget"] = json!({"script_src": src, "allowed_origins": allowed_origins});
            }
            v
        })
        .collect();
    items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(json!({ "items": items }))
}

/// A channel's state as Settings shows it; a pause that has ended is not shown.
fn status_json(s: &ChannelState) -> Value {
    json!({
        "state": if s.state.is_empty() { "not started" } else { s.state.as_str() },
        "detail": s.detail,
        "last_inbound_ms": s.last_inbound_ms,
        "last_error": s.last_error,
        "last_error_ms": s.last_error_ms,
        "paused_until_ms": s.paused_until_ms.filter(|&u| u > crate::domain::now_ms()),
    })
}
