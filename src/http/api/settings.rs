//! Read-only views of the configuration managers need in the UI: chat templates, assistants
//! and channels (no secrets).

use std::sync::Arc;

use poem::handler;
use poem::web::{Data, Json};
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::auth::Auth;

#[handler]
pub fn templates(Data(st): Data<&Arc<AppState>>, _a: Auth) -> Json<Value> {
    let items: Vec<_> = st
        .config
        .templates
        .iter()
        .map(|t| json!({"name": t.name, "text": t.text}))
        .collect();
    Json(json!({ "items": items }))
}

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

#[handler]
pub fn channels(Data(st): Data<&Arc<AppState>>, _a: Auth) -> Json<Value> {
    let mut items: Vec<_> = st
        .inbox
        .channels
        .all()
        .map(|c| {
            json!({
                "id": c.id,
                "kind": c.kind.kind_name(),
                "name": c.name,
                "status": st.inbox.channel_states.json(&c.id),
            })
        })
        .collect();
    items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(json!({ "items": items }))
}
