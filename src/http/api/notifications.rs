//! `/api/v1/notifications…`: the bell.

use std::sync::Arc;

use poem::handler;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views;

#[handler]
pub async fn list(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<NotifQuery>,
) -> poem::Result<Json<Value>> {
    let n = st
        .inbox
        .notifications(id.actor(), q.unread.unwrap_or(false))
        .await?;
    let items: Vec<_> = n.items.iter().map(views::notification_json).collect();
    Ok(Json(json!({"items": items, "unread": n.unread})))
}

#[derive(Deserialize)]
pub struct NotifQuery {
    unread: Option<bool>,
}

#[handler]
pub async fn read(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(nid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let v = st.inbox.read_notification(id.actor(), Some(nid)).await?;
    Ok(Json(
        v.as_ref().map_or(Value::Null, views::notification_json),
    ))
}

#[handler]
pub async fn read_all(Data(st): Data<&Arc<AppState>>, Auth(id): Auth) -> poem::Result<StatusCode> {
    st.inbox.read_notification(id.actor(), None).await?;
    Ok(StatusCode::NO_CONTENT)
}
