//! `/api/v1/contacts…`: the client card and the Audience list.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::handler;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chats::double_option;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::{self, contact_json, dialog_json, task_json};
use crate::inbox::clients::ContactPatch;

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
        super::search::request_filter(st, id.actor(), q.filter.as_deref(), q.saved_filter)?;
    if text.is_some() || filter.is_some() {
        let offset = super::search::parse_offset(q.cursor.as_deref())?;
        let (ids, total) = st
            .search
            .find_contacts(text.map(String::from), filter, None, true, offset, limit)
            .await?;
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
            json!({"items": items, "next_cursor": next, "total": total,
                   "index_building": super::search::index_building(st, false)}),
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
    /// The responsible manager's id, or null for nobody (T1).
    #[serde(default, with = "double_option")]
    assignee: Option<Option<u64>>,
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
        assignee: b.assignee,
    };
    let c = st.inbox.update_contact(id.actor(), cid, p).await?;
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
    let c = st.inbox.add_tag(id.actor(), cid, b.tag).await?;
    Ok(Json(contact_json(&c)))
}

#[handler]
pub async fn remove_tag(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path((cid, tag)): Path<(u64, String)>,
) -> poem::Result<Json<Value>> {
    let c = st.inbox.remove_tag(id.actor(), cid, tag).await?;
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
        .dismiss_merge_suggestion(id.actor(), cid, other)
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
