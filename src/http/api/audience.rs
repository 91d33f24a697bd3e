//! Audience (A1) beyond the card: the table's rows, CSV import and export, merging clients,
//! likely duplicates, bulk actions and their jobs.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::filter::Filter;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::{self, audience_row_json, csv_header, csv_row};
use crate::inbox::audience::{Column, ImportOptions};
use crate::inbox::bulk::BulkAction;

/// Deepest offset the table may jump to (virtual scrolling over a million clients).
const MAX_TABLE_OFFSET: usize = 5_000_000;
/// Most clients an export or a bulk action on a filter takes.
const MAX_MATCHES: usize = 5_000_000;

#[derive(Deserialize)]
pub struct TableQuery {
    q: Option<String>,
    filter: Option<String>,
    saved_filter: Option<u64>,
    offset: Option<usize>,
    limit: Option<usize>,
    /// `activity_desc` (default) or `activity_asc`.
    sort: Option<String>,
}

/// # `GET /api/v1/audience`
/// A window of the Audience table: `limit` rows from `offset` of every client matching `q`
/// and the filter, with `total`, so a virtual scroller can show any part of a million rows.
#[handler]
pub async fn table(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<TableQuery>,
) -> poem::Result<Json<Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let offset = q.offset.unwrap_or(0).min(MAX_TABLE_OFFSET);
    let text = q.q.filter(|s| !s.trim().is_empty());
    let filter =
        super::search::request_filter(st, id.actor(), q.filter.as_deref(), q.saved_filter)?;
    let newest_first = match q.sort.as_deref() {
        None | Some("activity_desc") => true,
        Some("activity_asc") => false,
        Some(_) => return Err(Error::invalid("sort", "activity_desc or activity_asc").into()),
    };
    let (ids, total) = st
        .search
        .find_contacts(text, filter, None, newest_first, offset, limit)
        .await?;
    let rows = st.inbox.audience_rows(ids).await?;
    Ok(Json(json!({
        "items": rows.iter().map(audience_row_json).collect::<Vec<_>>(),
        "offset": offset,
        "total": total,
        "index_building": super::search::index_building(st, false),
    })))
}

#[derive(Deserialize)]
pub struct ImportQuery {
    dry_run: Option<bool>,
    /// JSON object: CSV header → `name|phone|email|tags|skip|field:<key>`.
    map: Option<String>,
    /// A job id to poll progress under (`GET /api/v1/jobs/{id}`).
    job: Option<String>,
}

/// # `POST /api/v1/contacts/import?dry_run=true|false`
/// A CSV body with a header row → `{created, updated, skipped, errors: [{line, message}]}`.
#[handler]
pub async fn import(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> poem::Result<Json<Value>> {
    let mut map = HashMap::new();
    if let Some(m) = q.map.as_deref().filter(|m| !m.is_empty()) {
        let raw: HashMap<String, String> = serde_json::from_str(m)
            .map_err(|_| Error::invalid("map", "a JSON object of header → column"))?;
        for (k, v) in raw {
            map.insert(k.trim().to_string(), Column::parse(&v)?);
        }
    }
    let max = st.config.limits.max_upload_bytes;
    let (bytes, held) = crate::http::body::read(&st.bodies, req, body, max)
        .await?
        .take();
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid("body", "the file is not UTF-8 text (save it as CSV UTF-8)"))?;
    drop(held);
    let opts = ImportOptions {
        dry_run: q.dry_run.unwrap_or(false),
        map,
        job: q.job,
    };
    let r = st.inbox.import_csv(id.actor(), text, opts).await?;
    Ok(Json(views::import_json(&r)))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    q: Option<String>,
    filter: Option<String>,
    saved_filter: Option<u64>,
    /// Comma-separated contact ids: export just these (a selection).
    ids: Option<String>,
}

fn parse_ids(s: &str) -> poem::Result<Vec<u64>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse::<u64>()
                .map_err(|_| Error::invalid("ids", "comma-separated client ids").into())
        })
        .collect()
}

/// Every client `q` and `filter` match, as ids; None when neither is given (everyone).
async fn matching(
    st: &AppState,
    text: Option<String>,
    filter: Option<Filter>,
) -> poem::Result<Option<Vec<u64>>> {
    if text.is_none() && filter.is_none() {
        return Ok(None);
    }
    let (ids, matched) = st.search.find_matching(text, filter, MAX_MATCHES).await?;
    if matched > MAX_MATCHES {
        return Err(Error::invalid(
            "filter",
            format!("matches {matched} clients, more than {MAX_MATCHES}; narrow it"),
        )
        .into());
    }
    Ok(Some(ids))
}

/// # `GET /api/v1/contacts/export?q=&filter=`
/// The clients of the current search and filter as CSV, streamed a thousand at a time (memory
/// stays flat however many there are).
#[handler]
pub async fn export(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<ExportQuery>,
) -> poem::Result<Response> {
    let ids = match q.ids.as_deref() {
        Some(s) => Some(parse_ids(s)?),
        None => {
            let text = q.q.filter(|s| !s.trim().is_empty());
            let filter =
                super::search::request_filter(st, id.actor(), q.filter.as_deref(), q.saved_filter)?;
            matching(st, text, filter).await?
        }
    };
    let fields = st.inbox.field_names(ids.clone()).await?;
    let inbox = st.inbox.clone();
    let head = futures_util::stream::once({
        let f = fields.clone();
        async move { Ok::<_, std::io::Error>(bytes::Bytes::from(csv_header(&f))) }
    });
    enum At {
        Ids(Vec<u64>, usize),
        Cursor(Option<u64>, bool),
    }
    let start = match ids {
        Some(v) => At::Ids(v, 0),
        None => At::Cursor(None, false),
    };
    let rows = futures_util::stream::unfold(start, move |at| {
        let inbox = inbox.clone();
        let fields = fields.clone();
        async move {
            const CHUNK: usize = 1000;
            let (rows, next) = match at {
                At::Ids(v, i) if i < v.len() => {
                    let end = (i + CHUNK).min(v.len());
                    let chunk = v[i..end].to_vec();
                    (inbox.audience_rows(chunk).await, At::Ids(v, end))
                }
                At::Ids(..) | At::Cursor(_, true) => return None,
                At::Cursor(after, false) => match inbox.audience_page(after, CHUNK).await {
                    Ok((rows, next)) => {
                        let done = next.is_none();
                        (Ok(rows), At::Cursor(next, done))
                    }
                    Err(e) => (Err(e), At::Cursor(None, true)),
                },
            };
            let out = match rows {
                Ok(rows) => {
                    let mut s = String::with_capacity(rows.len() * 120);
                    for r in &rows {
                        csv_row(&mut s, r, &fields);
                    }
                    Ok(bytes::Bytes::from(s))
                }
                // The status line is gone by now: the file ends short and the log says why.
                Err(e) => {
                    tracing::error!("export stopped: {e}");
                    Err(std::io::Error::other(e.to_string()))
                }
            };
            Some((out, next))
        }
    });
    let body = Body::from_bytes_stream(head.chain(rows));
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            "content-disposition",
            "attachment; filename=\"parley-clients.csv\"",
        )
        .body(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    from: Vec<u64>,
}

/// # `POST /api/v1/contacts/{id}/merge` `{"from": [ids]}`
#[handler]
pub async fn merge(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(cid): Path<u64>,
    Json(b): Json<MergeBody>,
) -> poem::Result<Json<Value>> {
    let c = st.inbox.merge(id.actor(), cid, b.from).await?;
    Ok(Json(views::contact_json(&c)))
}

/// # `GET /api/v1/contacts/{id}/duplicates`
#[handler]
pub async fn duplicates(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(cid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let name = st.inbox.card(cid).await?.contact.name;
    // Candidates by name come from the index; the inbox keeps those with the same words.
    let named = if name.trim().is_empty() {
        Vec::new()
    } else {
        st.search
            .find_contacts(Some(name), None, None, true, 0, 20)
            .await
            .map(|(ids, _)| ids)
            .unwrap_or_default()
    };
    let items: Vec<_> = st
        .inbox
        .duplicates(cid, named)
        .await?
        .iter()
        .map(views::duplicate_json)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// A selection; or leave it out and give `q` / `filter` / `saved_filter` / `all`.
    ids: Option<Vec<u64>>,
    q: Option<String>,
    filter: Option<Value>,
    saved_filter: Option<u64>,
    /// Everyone, when neither ids nor a search nor a filter is given.
    #[serde(default)]
    all: bool,
    /// `tag_add`, `tag_remove`, `archive`, `unarchive`, `funnel`.
    action: String,
    tag: Option<String>,
    funnel: Option<u64>,
}

/// # `POST /api/v1/contacts/bulk`
/// A bulk action on a selection or on everyone the search and filter match; runs as a job
/// (`202 {"job"}`, progress at `GET /api/v1/jobs/{id}`).
#[handler]
pub async fn bulk(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<BulkBody>,
) -> poem::Result<Response> {
    let action = match b.action.as_str() {
        "tag_add" | "tag_remove" => {
            let tag = b.tag.ok_or_else(|| Error::invalid("tag", "is required"))?;
            if b.action == "tag_add" {
                BulkAction::TagAdd(tag)
            } else {
                BulkAction::TagRemove(tag)
            }
        }
        "archive" => BulkAction::Archive(true),
        "unarchive" => BulkAction::Archive(false),
        "funnel" => BulkAction::Funnel(
            b.funnel
                .ok_or_else(|| Error::invalid("funnel", "is required"))?,
        ),
        _ => {
            return Err(Error::invalid(
                "action",
                "tag_add, tag_remove, archive, unarchive or funnel",
            )
            .into());
        }
    };
    let ids = match b.ids {
        Some(ids) => ids,
        None => {
            let text = b.q.filter(|s| !s.trim().is_empty());
            let filter_text = b.filter.map(|f| f.to_string());
            let filter = super::search::request_filter(
                st,
                id.actor(),
                filter_text.as_deref(),
                b.saved_filter,
            )?;
            if text.is_none() && filter.is_none() && !b.all {
                return Err(Error::invalid(
                    "ids",
                    "give ids, a search, a filter, or \"all\": true",
                )
                .into());
            }
            let (ids, matched) = st.search.find_matching(text, filter, MAX_MATCHES).await?;
            if matched > MAX_MATCHES {
                return Err(Error::invalid("filter", "matches too many clients").into());
            }
            ids
        }
    };
    let job_id = st.inbox.start_bulk(id.actor(), ids, action).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"job": job_id}))).into_response())
}

/// # `GET /api/v1/jobs/{id}`
#[handler]
pub async fn get_job(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(jid): Path<String>,
) -> poem::Result<Json<Value>> {
    let j = st.inbox.jobs.get(id.actor().0, &jid)?;
    Ok(Json(views::job_json(&j)))
}
