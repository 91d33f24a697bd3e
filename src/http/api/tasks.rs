//! `/api/v1/contacts/{id}/tasks` and `/api/v1/tasks/{id}`: a client's tasks.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chats::double_option;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::task_json;
use crate::inbox::clients::TaskPatch;

#[handler]
pub async fn list(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(cid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let tasks = st.inbox.tasks(cid).await?;
    Ok(Json(
        json!({"items": tasks.iter().map(task_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    title: String,
    due_ms: Option<i64>,
    assignee: Option<u64>,
}

#[handler]
pub async fn add(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
    Json(b): Json<TaskBody>,
) -> poem::Result<Response> {
    let v = st
        .inbox
        .add_task(id.actor(), cid, b.title, b.due_ms, b.assignee)
        .await?;
    Ok((StatusCode::CREATED, Json(task_json(&v))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatchBody {
    title: Option<String>,
    #[serde(default, with = "double_option")]
    due_ms: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    assignee: Option<Option<u64>>,
    done: Option<bool>,
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(tid): Path<u64>,
    Json(b): Json<TaskPatchBody>,
) -> poem::Result<Json<Value>> {
    let p = TaskPatch {
        title: b.title,
        due_ms: b.due_ms,
        assignee: b.assignee,
        done: b.done,
    };
    let t = st.inbox.update_task(id.actor(), tid, p).await?;
    Ok(Json(task_json(&t)))
}
