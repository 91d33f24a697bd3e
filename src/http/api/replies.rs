//! `/api/v1/replies…` (T2): quick replies. Everyone lists the shared ones and their own;
//! admins manage the shared ones (403 for others), each manager their own.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::reply_json;
use crate::inbox::blobs::Uploader;
use crate::inbox::replies::ReplyInput;

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
}

#[handler]
pub async fn list(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<ListQuery>,
) -> poem::Result<Json<Value>> {
    let items: Vec<Value> = st
        .inbox
        .replies(id.actor(), q.q)
        .await?
        .iter()
        .map(reply_json)
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    shortcut: Option<String>,
    text: Option<String>,
    attachments: Option<Vec<AttachmentRef>>,
    shared: Option<bool>,
}

/// The body as the service takes it; attachments are the manager's uploads (or files the
/// server keeps), checked and kept like a message's.
async fn input(st: &AppState, manager: u64, b: Body) -> poem::Result<ReplyInput> {
    let attachments = match b.attachments {
        None => None,
        Some(refs) if refs.len() > 10 => {
            return Err(Error::invalid("attachments", "at most 10").into());
        }
        Some(refs) => {
            let mut out = Vec::with_capacity(refs.len());
            for a in &refs {
                out.push(
                    st.blobs
                        .attach(Uploader::Manager(manager), &a.id, a.name.as_deref())
                        .await?,
                );
            }
            Some(out)
        }
    };
    Ok(ReplyInput {
        shortcut: b.shortcut,
        text: b.text,
        attachments,
        shared: b.shared,
    })
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<Body>,
) -> poem::Result<Response> {
    let input = input(st, id.manager.id, b).await?;
    let q = st.inbox.create_reply(id.actor(), input).await?;
    Ok((StatusCode::CREATED, Json(reply_json(&q))).into_response())
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(rid): Path<u64>,
    Json(b): Json<Body>,
) -> poem::Result<Json<Value>> {
    let input = input(st, id.manager.id, b).await?;
    let q = st.inbox.update_reply(id.actor(), rid, input).await?;
    Ok(Json(reply_json(&q)))
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(rid): Path<u64>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_reply(id.actor(), rid).await?;
    Ok(StatusCode::NO_CONTENT)
}
