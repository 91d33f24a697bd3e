//! `/api/v1/search/messages`, and the paging and filter arguments the chat list and the
//! contacts list share when given `q` or a filter.

use std::sync::Arc;

use poem::handler;
use poem::web::{Data, Json, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::filter::Filter;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::http::auth::Auth;

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
    manager: crate::domain::manager::ManagerId,
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
        json!({"items": items, "total": found.total, "next_cursor": next,
               "index_building": index_building(st, true)}),
    ))
}

/// While an index is rebuilt (after a restore or an upgrade) searches answer from what is
/// indexed so far: `{"done", "total"}` tells the screen to say results may be missing.
pub fn index_building(st: &AppState, of_messages: bool) -> Option<Value> {
    st.search
        .incomplete(of_messages)
        .map(|r| json!({"index": r.index, "done": r.done, "total": r.total}))
}
