//! `/api/v1/contacts/{id}/dialogs` and `/api/v1/dialogs/{id}/close`: open and closed dialogs.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde_json::Value;

use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::dialog_json;

#[handler]
pub async fn open(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
) -> poem::Result<Response> {
    let (v, new) = st.inbox.open_dialog(id.actor(), cid).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(dialog_json(&v))).into_response())
}

#[handler]
pub async fn close(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(did): Path<u64>,
) -> poem::Result<Json<Value>> {
    let d = st.inbox.close_dialog(id.actor(), did).await?;
    Ok(Json(dialog_json(&d)))
}
