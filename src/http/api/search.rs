//! Search and segmentation: message full-text search, saved filters and sales plans. The
//! chat list and the contacts list use the same search when given `q` or a filter.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::filter::{Filter, FilterSpec};
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::inbox::saved::{FilterInput, Plan, SavedFilter};

pub const MAX_OFFSET: usize = 10_000;

/// Search cursors are offsets ("s40"); list cursors are store keys. Keep them apart.
pub fn parse_offset(cursor: Option<&str>) -> Result<usize> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .strip_prefix('s')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= MAX_OFFSET)
            .ok_or_else(|| Error::invalid("cursor", "is not a cursor this server gave out")),
    }
}

pub fn next_offset(offset: usize, got: usize, limit: usize, total: usize) -> Option<String> {
    (got == limit && offset + got < total && offset + got <= MAX_OFFSET)
        .then(|| format!("s{}", offset + got))
}

/// The filter of a request: `filter` (JSON) or a saved filter the manager may use.
pub fn request_filter(
    st: &AppState,
    manager: u64,
    filter: Option<&str>,
    saved_id: Option<u64>,
) -> Result<Option<Filter>> {
    st.inbox.request_filter_now(manager, filter, saved_id)
}

#[derive(Deserialize)]
pub struct MessageQuery {
    q: String,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[handler]
pub async fn messages(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Query(q): Query<MessageQuery>,
) -> poem::Result<Json<Value>> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = parse_offset(q.cursor.as_deref())?;
    let found = st
        .inbox
        .search_messages(st.search.clone(), q.q, offset, limit)
        .await?;
    let items: Vec<_> = found
        .items
        .iter()
        .map(|h| {
            json!({
                "message_id": h.message_id, "chat_id": h.chat_id, "contact_id": h.contact_id,
                "contact_name": h.contact_name, "kind": h.kind, "created_ms": h.created_ms,
                "snippet": h.snippet, "highlights": h.highlights,
            })
        })
        .collect();
    let next = next_offset(offset, items.len(), limit, found.total);
    Ok(Json(
        json!({"items": items, "total": found.total, "next_cursor": next}),
    ))
}

fn filter_json(f: &SavedFilter) -> Value {
    let spec: Value = serde_json::from_str(&f.spec).unwrap_or(Value::Null);
    json!({"id": f.id, "name": f.name, "owner": f.owner, "shared": f.shared, "filter": spec, "created_ms": f.created_ms})
}

#[handler]
pub async fn list_filters(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .filters_for(id.manager.id)
        .await?
        .iter()
        .map(filter_json)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    name: Option<String>,
    filter: Option<FilterSpec>,
    shared: Option<bool>,
}

impl From<FilterBody> for FilterInput {
    fn from(b: FilterBody) -> FilterInput {
        FilterInput {
            name: b.name,
            filter: b.filter,
            shared: b.shared,
        }
    }
}

#[handler]
pub async fn create_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<FilterBody>,
) -> poem::Result<Response> {
    let f = st.inbox.create_filter(id.manager.id, b.into()).await?;
    Ok((StatusCode::CREATED, Json(filter_json(&f))).into_response())
}

/// Change (rename, new conditions, share) a filter; only its owner may.
#[handler]
pub async fn update_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
    Json(b): Json<FilterBody>,
) -> poem::Result<Json<Value>> {
    let f = st.inbox.update_filter(id.manager.id, fid, b.into()).await?;
    Ok(Json(filter_json(&f)))
}

#[handler]
pub async fn duplicate_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
) -> poem::Result<Response> {
    let f = st.inbox.duplicate_filter(id.manager.id, fid).await?;
    Ok((StatusCode::CREATED, Json(filter_json(&f))).into_response())
}

#[handler]
pub async fn delete_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_filter(id.manager.id, fid).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn plan_json(p: &Plan) -> Value {
    json!({"name": p.name, "stages": p.stages, "created_ms": p.created_ms})
}

#[handler]
pub async fn list_plans(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st.inbox.plans().await?.iter().map(plan_json).collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    name: String,
    #[serde(default)]
    stages: Vec<String>,
}

#[handler]
pub async fn put_plan(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Json(b): Json<PlanBody>,
) -> poem::Result<Response> {
    let (p, created) = st.inbox.put_plan(&b.name, &b.stages).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(plan_json(&p))).into_response())
}

#[handler]
pub async fn delete_plan(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(name): Path<String>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_plan(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
