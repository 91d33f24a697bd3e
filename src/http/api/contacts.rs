//! `/api/v1/contacts…`, `/api/v1/tasks…`, `/api/v1/dialogs…`: the client card.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chats::double_option;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::{self, contact_json, dialog_json, task_json};
use crate::inbox::clients::{ContactPatch, TaskPatch};

#[handler]
pub async fn get(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    let card = st.inbox.card(id).await?;
    Ok(Json(json!({
        "contact": contact_json(&card.contact),
        "chats": card.chats.iter().map(views::chat).collect::<Vec<_>>(),
        "tasks": card.tasks.iter().map(task_json).collect::<Vec<_>>(),
        "dialogs": card.dialogs.iter().map(dialog_json).collect::<Vec<_>>(),
        "merge_suggestions": card.merge_suggestions.iter().map(views::merge_candidate_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    filter: Option<String>,
    saved_filter: Option<u64>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// The Audience list: every client (archived included), searched by name, phone or e-mail
/// and narrowed by a filter; without either, in creation order.
#[handler]
pub async fn list(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<ListQuery>,
) -> poem::Result<Json<Value>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let text = q.q.as_deref().filter(|s| !s.trim().is_empty());
    let filter =
        super::search::request_filter(st, id.manager.id, q.filter.as_deref(), q.saved_filter)?;
    if text.is_some() || filter.is_some() {
        let offset = super::search::parse_offset(q.cursor.as_deref())?;
        let (ids, total) = st
            .search
            .contacts(text, filter.as_ref(), None, true, offset, limit)?;
        let n = ids.len();
        let items: Vec<_> = st
            .inbox
            .contacts(ids)
            .await?
            .iter()
            .map(contact_json)
            .collect();
        let next = super::search::next_offset(offset, n, limit, total);
        return Ok(Json(
            json!({"items": items, "next_cursor": next, "total": total}),
        ));
    }
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| Error::invalid("cursor", "is not a cursor this server gave out"))?,
        ),
        None => None,
    };
    let (items, next) = st.inbox.contacts_page(cursor, limit).await?;
    Ok(Json(json!({
        "items": items.iter().map(contact_json).collect::<Vec<_>>(),
        "next_cursor": next.map(|n| n.to_string()),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    name: Option<String>,
    phones: Option<Vec<String>>,
    emails: Option<Vec<String>>,
    custom_fields: Option<BTreeMap<String, String>>,
    #[serde(default, with = "double_option")]
    sales_plan: Option<Option<String>>,
    archived: Option<bool>,
    blacklisted: Option<bool>,
    marked: Option<bool>,
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
    Json(b): Json<PatchBody>,
) -> poem::Result<Json<Value>> {
    let p = ContactPatch {
        name: b.name,
        phones: b.phones,
        emails: b.emails,
        custom_fields: b.custom_fields,
        sales_plan: b.sales_plan,
        archived: b.archived,
        blacklisted: b.blacklisted,
        marked: b.marked,
    };
    let c = st.inbox.update_contact(id.manager.id, cid, p).await?;
    Ok(Json(contact_json(&c)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    tag: String,
}

#[handler]
pub async fn add_tag(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
    Json(b): Json<TagBody>,
) -> poem::Result<Json<Value>> {
    let c = st.inbox.add_tag(id.manager.id, cid, b.tag).await?;
    Ok(Json(contact_json(&c)))
}

#[handler]
pub async fn remove_tag(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path((cid, tag)): Path<(u64, String)>,
) -> poem::Result<Json<Value>> {
    let c = st.inbox.remove_tag(id.manager.id, cid, tag).await?;
    Ok(Json(contact_json(&c)))
}

/// # `DELETE /api/v1/contacts/{id}/merge_suggestions/{other}`
/// The two clients are different people: the suggestion leaves both cards for good.
#[handler]
pub async fn dismiss_merge(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path((cid, other)): Path<(u64, u64)>,
) -> poem::Result<StatusCode> {
    st.inbox
        .dismiss_merge_suggestion(id.manager.id, cid, other)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

#[handler]
pub async fn log(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(cid): Path<u64>,
    Query(q): Query<LogQuery>,
) -> poem::Result<Json<Value>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let items: Vec<_> = st
        .inbox
        .contact_log(cid, q.before, limit)
        .await?
        .iter()
        .map(|e| json!({"id": e.id, "created_ms": e.created_ms, "event": e.event, "text": e.text, "manager_id": e.manager_id}))
        .collect();
    Ok(Json(json!({"items": items})))
}

#[handler]
pub async fn tasks(
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
pub async fn add_task(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
    Json(b): Json<TaskBody>,
) -> poem::Result<Response> {
    let v = st
        .inbox
        .add_task(id.manager.id, cid, b.title, b.due_ms, b.assignee)
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
pub async fn patch_task(
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
    let t = st.inbox.update_task(id.manager.id, tid, p).await?;
    Ok(Json(task_json(&t)))
}

#[handler]
pub async fn open_dialog(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
) -> poem::Result<Response> {
    let (v, new) = st.inbox.open_dialog(id.manager.id, cid).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(dialog_json(&v))).into_response())
}

#[handler]
pub async fn close_dialog(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(did): Path<u64>,
) -> poem::Result<Json<Value>> {
    let d = st.inbox.close_dialog(id.manager.id, did).await?;
    Ok(Json(dialog_json(&d)))
}

#[handler]
pub async fn notifications(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<NotifQuery>,
) -> poem::Result<Json<Value>> {
    let n = st
        .inbox
        .notifications(id.manager.id, q.unread.unwrap_or(false))
        .await?;
    let items: Vec<_> = n.items.iter().map(views::notification_json).collect();
    Ok(Json(json!({"items": items, "unread": n.unread})))
}

#[derive(Deserialize)]
pub struct NotifQuery {
    unread: Option<bool>,
}

#[handler]
pub async fn read_notification(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(nid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let v = st.inbox.read_notification(id.manager.id, Some(nid)).await?;
    Ok(Json(
        v.as_ref().map_or(Value::Null, views::notification_json),
    ))
}

#[handler]
pub async fn read_all_notifications(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
) -> poem::Result<StatusCode> {
    st.inbox.read_notification(id.manager.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
