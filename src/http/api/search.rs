//! Search and segmentation: message full-text search, saved filters and sales plans. The
//! chat list and the contacts list use the same search when given `q` or a filter.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::filter::{Filter, FilterSpec};
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::store::inbox::InboxReads;
use crate::store::saved::{self, Plan, SavedFilter};
use crate::store::{self};

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
    if let Some(f) = filter.filter(|f| !f.trim().is_empty()) {
        let parsed = crate::domain::filter::parse(f)?;
        return Ok(Some(parsed));
    }
    if let Some(id) = saved_id {
        let sf = st.store.read(|r| saved::usable(r, id, manager))?;
        let spec: FilterSpec = serde_json::from_str(&sf.spec)
            .map_err(|e| Error::Corrupt(format!("saved filter {id}: {e}")))?;
        return spec.validate().map(Some);
    }
    Ok(None)
}

#[derive(Deserialize)]
pub struct MessageQuery {
    q: String,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[handler]
pub fn messages(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Query(q): Query<MessageQuery>,
) -> poem::Result<Json<Value>> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = parse_offset(q.cursor.as_deref())?;
    let (hits, total, words) = st.search.messages(&q.q, offset, limit)?;
    let items = st.store.read(|r| {
        let mut out = Vec::with_capacity(hits.len());
        for h in &hits {
            let name = r.contact(h.contact_id)?.map(|c| c.name).unwrap_or_default();
            let (snippet, ranges) = crate::search::query::highlight(&h.text, &words);
            out.push(json!({
                "message_id": h.message_id, "chat_id": h.chat_id, "contact_id": h.contact_id,
                "contact_name": name, "kind": h.kind, "created_ms": h.created_ms,
                "snippet": snippet, "highlights": ranges,
            }));
        }
        Ok(out)
    })?;
    let next = next_offset(offset, items.len(), limit, total);
    Ok(Json(
        json!({"items": items, "total": total, "next_cursor": next}),
    ))
}

fn filter_json(f: &SavedFilter) -> Value {
    let spec: Value = serde_json::from_str(&f.spec).unwrap_or(Value::Null);
    json!({"id": f.id, "name": f.name, "owner": f.owner, "shared": f.shared, "filter": spec, "created_ms": f.created_ms})
}

#[handler]
pub fn list_filters(Data(st): Data<&Arc<AppState>>, Auth(id): Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .store
        .read(|r| saved::filters_for(r, id.manager.id))?
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

fn clean_name(n: &str) -> Result<String> {
    let n = normalise::text(n, 100);
    if n.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    Ok(n)
}

#[handler]
pub async fn create_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<FilterBody>,
) -> poem::Result<Response> {
    let name = clean_name(b.name.as_deref().unwrap_or(""))?;
    let spec = b
        .filter
        .ok_or_else(|| Error::invalid("filter", "is required"))?;
    spec.validate()?;
    let spec = serde_json::to_string(&spec).map_err(|e| Error::Internal(e.to_string()))?;
    let (owner, shared) = (id.manager.id, b.shared.unwrap_or(false));
    let f = st
        .store
        .write(move |w| saved::create_filter(w, owner, &name, shared, &spec))
        .await?;
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
    let name = b.name.as_deref().map(clean_name).transpose()?;
    let spec = match b.filter {
        Some(s) => {
            s.validate()?;
            Some(serde_json::to_string(&s).map_err(|e| Error::Internal(e.to_string()))?)
        }
        None => None,
    };
    let me = id.manager.id;
    let f = st
        .store
        .write(move |w| {
            let mut f = saved::usable(w, fid, me)?;
            if f.owner != me {
                return Err(Error::Forbidden(
                    "only the owner changes a shared filter; duplicate it instead".into(),
                ));
            }
            if let Some(n) = &name {
                f.name.clone_from(n);
            }
            if let Some(s) = &spec {
                f.spec.clone_from(s);
            }
            if let Some(sh) = b.shared {
                f.shared = sh;
            }
            saved::put_filter(w, &f)?;
            Ok(f)
        })
        .await?;
    Ok(Json(filter_json(&f)))
}

#[handler]
pub async fn duplicate_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
) -> poem::Result<Response> {
    let me = id.manager.id;
    let f = st
        .store
        .write(move |w| {
            let src = saved::usable(w, fid, me)?;
            saved::create_filter(w, me, &format!("{} (copy)", src.name), false, &src.spec)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(filter_json(&f))).into_response())
}

#[handler]
pub async fn delete_filter(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
) -> poem::Result<StatusCode> {
    let me = id.manager.id;
    st.store
        .write(move |w| {
            let f = saved::usable(w, fid, me)?;
            if f.owner != me {
                return Err(Error::Forbidden(
                    "only the owner deletes a shared filter".into(),
                ));
            }
            saved::delete_filter(w, fid).map(|_| ())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn plan_json(p: &Plan) -> Value {
    json!({"name": p.name, "stages": p.stages, "created_ms": p.created_ms})
}

#[handler]
pub fn list_plans(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st.store.read(saved::plans)?.iter().map(plan_json).collect();
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
    let name = clean_name(&b.name)?;
    if b.stages.len() > 50 {
        return Err(Error::invalid("stages", "at most 50").into());
    }
    let stages: Vec<String> = b
        .stages
        .iter()
        .map(|s| normalise::text(s, 100))
        .filter(|s| !s.is_empty())
        .collect();
    let (p, created) = st
        .store
        .write(move |w| {
            let old = saved::plan(w, &name)?;
            let p = Plan {
                name: name.clone(),
                stages: stages.clone(),
                created_ms: old.as_ref().map_or_else(store::now_ms, |o| o.created_ms),
            };
            saved::put_plan(w, &p)?;
            Ok((p, old.is_none()))
        })
        .await?;
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
    let gone = st
        .store
        .write(move |w| saved::delete_plan(w, &name))
        .await?;
    if !gone {
        return Err(Error::NotFound("sales plan".into()).into());
    }
    Ok(StatusCode::NO_CONTENT)
}
