//! `/api/v1/chats…` and `/api/v1/messages…`: the list, one chat, its history and actions.

use std::sync::Arc;
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::inbox::{Draft, Kind};
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views;
use crate::inbox::clients::ChatPatch;
use crate::inbox::reply::Outgoing;

#[derive(Deserialize)]
pub struct ListQuery {
    section: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
    q: Option<String>,
    filter: Option<String>,
    saved_filter: Option<u64>,
    /// `me`, `none` or a manager id: the responsible manager (T1).
    assigned: Option<String>,
}

/// The `assigned` parameter: Some(None) for nobody, Some(Some(id)) for a manager.
fn assigned(
    q: Option<&str>,
    me: crate::domain::manager::ManagerId,
) -> poem::Result<Option<Option<u64>>> {
    Ok(match q.map(str::trim) {
        None | Some("") => None,
        Some("me") => Some(Some(me.0)),
        Some("none") => Some(None),
        Some(id) => Some(Some(id.parse::<u64>().map_err(|_| {
            Error::invalid("assigned", "must be me, none or a manager id")
        })?)),
    })
}

#[handler]
pub async fn list(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<ListQuery>,
) -> poem::Result<poem::Response> {
    let text = q.q.as_deref().filter(|s| !s.trim().is_empty());
    let mut filter =
        super::search::request_filter(st, id.actor(), q.filter.as_deref(), q.saved_filter)?;
    let assignee = assigned(q.assigned.as_deref(), id.actor())?;
    if let (Some(Some(m)), None, None) = (assignee, text, &filter) {
        // Only "assigned to": from the store, so a change shows at once.
        return assigned_list(st, id.actor(), &q, m).await;
    }
    if let Some(a) = assignee {
        filter.get_or_insert_default().assignee = Some(a);
    }
    if text.is_some() || filter.is_some() {
        return search_list(st, id.actor(), &q, text, filter.as_ref()).await;
    }
    let page = st
        .inbox
        .list(
            id.actor(),
            q.section.as_deref().unwrap_or("all"),
            q.sort.as_deref().unwrap_or("newest"),
            q.cursor.as_deref(),
            q.limit.unwrap_or(50),
        )
        .await?;
    #[derive(serde::Serialize)]
    struct Page<'a> {
        items: Vec<views::RowJson<'a>>,
        next_cursor: Option<String>,
        counts: crate::domain::event::Counts,
    }
    Ok(Json(Page {
        items: views::rows(&page.items),
        next_cursor: page.next_cursor,
        counts: page.counts,
    })
    .into_response())
}

async fn assigned_list(
    st: &AppState,
    manager: crate::domain::manager::ManagerId,
    q: &ListQuery,
    assignee: u64,
) -> poem::Result<poem::Response> {
    let Some(section) = crate::domain::inbox::Section::parse(q.section.as_deref().unwrap_or("all"))
    else {
        return Err(Error::invalid("section", "must be all, unread, important or dialogs").into());
    };
    let newest = match q.sort.as_deref().unwrap_or("newest") {
        "newest" | "" => true,
        "oldest" => false,
        _ => return Err(Error::invalid("sort", "must be newest or oldest").into()),
    };
    let offset = super::search::parse_offset(q.cursor.as_deref())?;
    let (page, total) = st
        .inbox
        .assigned_list(
            manager,
            assignee,
            section,
            newest,
            offset,
            q.limit.unwrap_or(50),
        )
        .await?;
    let items = views::rows(&page.items)
        .into_iter()
        .map(|row| SearchRow { row, matched: None })
        .collect();
    Ok(Json(SearchPage {
        items,
        next_cursor: page.next_cursor,
        total,
        counts: page.counts,
        index_building: None,
    })
    .into_response())
}

#[derive(serde::Serialize)]
struct SearchRow<'a> {
    #[serde(flatten)]
    row: views::RowJson<'a>,
    /// What the text matched (null when nothing to show); absent without text.
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<Value>,
}

#[derive(serde::Serialize)]
struct SearchPage<'a> {
    items: Vec<SearchRow<'a>>,
    next_cursor: Option<String>,
    total: usize,
    counts: crate::domain::event::Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_building: Option<Value>,
}

/// The list narrowed by search text and/or a filter: ids from the index, rows from the store.
async fn search_list(
    st: &AppState,
    manager: crate::domain::manager::ManagerId,
    q: &ListQuery,
    text: Option<&str>,
    filter: Option<&crate::domain::filter::Filter>,
) -> poem::Result<poem::Response> {
    let Some(section) = crate::domain::inbox::Section::parse(q.section.as_deref().unwrap_or("all"))
    else {
        return Err(Error::invalid("section", "must be all, unread, important or dialogs").into());
    };
    let newest = match q.sort.as_deref().unwrap_or("newest") {
        "newest" | "" => true,
        "oldest" => false,
        _ => return Err(Error::invalid("sort", "must be newest or oldest").into()),
    };
    let limit = q
        .limit
        .unwrap_or(50)
        .clamp(1, crate::inbox::lists::MAX_PAGE);
    let offset = super::search::parse_offset(q.cursor.as_deref())?;
    if text.is_none() {
        // A filtered list (not type-ahead) reads its own writes: "Unassigned" right after an
        // assignment must not still show the client.
        st.search.caught_up(Duration::from_secs(1)).await;
    }
    let (ids, total) = st
        .search
        .find_contacts(
            text.map(String::from),
            filter.cloned(),
            Some(section.name()),
            newest,
            offset,
            limit,
        )
        .await?;
    let found = st.inbox.rows(manager, ids).await?;
    let mut items = Vec::with_capacity(found.items.len());
    for (row, c) in &found.items {
        // Serialised straight from the row: a `Value` tree per row was a twelfth of a search.
        items.push(SearchRow {
            row: views::row(row),
            matched: text.map(|t| shown_contact(c, t)),
        });
    }
    let n = items.len();
    Ok(Json(SearchPage {
        items,
        next_cursor: super::search::next_offset(offset, n, limit, total),
        total,
        counts: found.counts,
        index_building: super::search::index_building(st, false),
    })
    .into_response())
}

/// What a search row shows under the name, so that clients with one name can be told apart: the
/// phone (as the UI writes it, `+digits`) or e-mail the search text matched, else the first there
/// is; `marks` are the matched [start, end) ranges in characters.
fn shown_contact(c: &crate::domain::inbox::Contact, text: &str) -> Value {
    let shown = |p: &str| match p.bytes().all(|b| b.is_ascii_digit()) {
        true => format!("+{p}"),
        false => p.to_string(),
    };
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 3 {
        for p in &c.phones {
            if let Some(i) = shown(p).find(&digits) {
                return json!({"text": shown(p), "marks": [[i, i + digits.len()]]});
            }
        }
    }
    let lower = text.to_lowercase();
    for e in &c.emails {
        let marks: Vec<[usize; 2]> = lower
            .split_whitespace()
            .filter_map(|w| {
                let i = e.find(w)?;
                let at = e[..i].chars().count();
                Some([at, at + w.chars().count()])
            })
            .collect();
        if !marks.is_empty() {
            return json!({"text": e, "marks": marks});
        }
    }
    match (c.phones.first(), c.emails.first()) {
        (Some(p), _) => json!({"text": shown(p), "marks": []}),
        (None, Some(e)) => json!({"text": e, "marks": []}),
        (None, None) => Value::Null,
    }
}

#[handler]
pub async fn counts(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    Ok(Json(json!(st.inbox.counts().await?)))
}

#[handler]
pub async fn get(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    let (chat, contact) = st.inbox.chat(id).await?;
    Ok(Json(
        json!({"chat": views::chat(&chat), "contact": views::contact_json(&contact)}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    disabled: Option<bool>,
    bot_disabled: Option<bool>,
    assistant_on: Option<bool>,
    #[serde(default, with = "double_option")]
    assistant: Option<Option<String>>,
}

/// Tells "absent" (leave alone) from `null` (clear) in PATCH bodies.
pub mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// The configured assistants as (id, name): what a chat's AI switch may use.
fn assistants(st: &AppState) -> Vec<(String, String)> {
    st.config
        .assistants
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect()
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
    Json(b): Json<PatchBody>,
) -> poem::Result<Json<Value>> {
    let p = ChatPatch {
        disabled: b.disabled,
        bot_disabled: b.bot_disabled,
        assistant_on: b.assistant_on,
        assistant: b.assistant,
    };
    let chat = st
        .inbox
        .update_chat(id.actor(), chat, p, false, assistants(st))
        .await?;
    Ok(Json(views::chat_json(&chat)))
}

#[handler]
pub async fn reset_assistant(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
) -> poem::Result<Json<Value>> {
    let chat = st
        .inbox
        .update_chat(id.actor(), chat, ChatPatch::default(), true, assistants(st))
        .await?;
    Ok(Json(views::chat_json(&chat)))
}

/// A suggested reply (B2) from the chat's assistant, on or off: nothing is sent or stored.
#[handler]
pub async fn suggest(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(chat): Path<u64>,
) -> poem::Result<Json<Value>> {
    let text = st.assistants.suggest(&st.inbox, chat).await?;
    Ok(Json(json!({ "text": text })))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<u64>,
    limit: Option<usize>,
    kinds: Option<String>,
}

#[handler]
pub async fn messages(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
    Query(q): Query<HistoryQuery>,
) -> poem::Result<Json<Value>> {
    let kinds = match q.kinds.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(
            k.split(',')
                .map(|s| {
                    Kind::parse(s.trim())
                        .ok_or_else(|| Error::invalid("kinds", format!("unknown kind {s:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let h = st.inbox.history(id, q.before, limit, kinds).await?;
    let items: Vec<_> = h.items.iter().map(views::message).collect();
    Ok(Json(json!({"items": items, "has_more": h.has_more})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    #[serde(default)]
    text: String,
    #[serde(default)]
    attachments: Vec<AttachmentRef>,
    kind: Option<String>,
}

#[handler]
pub async fn send(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
    Json(b): Json<SendBody>,
) -> poem::Result<Response> {
    let kind = match b.kind.as_deref() {
        None | Some("manager") => Kind::Manager,
        Some("bot") if id.session_hash.is_none() => Kind::Bot,
        Some("bot") => {
            return Err(Error::invalid("kind", "only API tokens post bot messages").into());
        }
        Some(other) => {
            return Err(Error::invalid("kind", format!("{other:?} cannot be sent")).into());
        }
    };
    if b.attachments.len() > 10 {
        return Err(Error::invalid("attachments", "at most 10 per message").into());
    }
    let mut atts = Vec::new();
    for a in &b.attachments {
        let who = crate::inbox::blobs::Uploader::Manager(id.manager.id);
        atts.push(st.blobs.attach(who, &a.id, a.name.as_deref()).await?);
    }
    let v = st
        .inbox
        .send(Outgoing {
            chat_id: chat,
            author: Some(id.manager.id),
            kind,
            text: b.text,
            attachments: atts,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(views::message_json(&v))).into_response())
}

#[handler]
pub async fn retry(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    Ok(Json(views::message_json(&st.inbox.retry(id).await?)))
}

/// Cancel a reply that is waiting for its next delivery attempt.
#[handler]
pub async fn cancel_delivery(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(mid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let m = st.inbox.cancel_delivery(mid, id.actor()).await?;
    Ok(Json(views::message_json(&m)))
}

#[handler]
pub async fn read(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    let chat = st.inbox.mark_read(id).await?;
    Ok(Json(json!({"chat": views::chat(&chat)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
    #[serde(default)]
    mentions: Vec<u64>,
}

#[handler]
pub async fn note(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
    Json(b): Json<NoteBody>,
) -> poem::Result<Response> {
    if b.mentions.len() > 50 {
        return Err(Error::invalid("mentions", "at most 50 managers").into());
    }
    let v = st
        .inbox
        .add_note(id.manager.id, chat, b.text, b.mentions)
        .await?;
    Ok((StatusCode::CREATED, Json(views::message_json(&v))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    #[serde(default)]
    text: String,
    blocks: Option<Value>,
}

fn draft_json(d: &Draft) -> Value {
    let blocks = d
        .blocks
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok());
    json!({"text": d.text, "blocks": blocks, "updated_ms": d.updated_ms})
}

#[handler]
pub async fn get_draft(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
) -> poem::Result<Json<Value>> {
    let d = st.inbox.draft(id.actor(), chat).await?;
    Ok(Json(json!({"draft": d.as_ref().map(draft_json)})))
}

#[handler]
pub async fn put_draft(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
    Json(b): Json<DraftBody>,
) -> poem::Result<Json<Value>> {
    let blocks = b.blocks.filter(|v| !v.is_null()).map(|v| v.to_string());
    if b.text.len() > 64 * 1024 || blocks.as_ref().is_some_and(|s| s.len() > 256 * 1024) {
        return Err(Error::invalid("text", "the draft is too long").into());
    }
    let d = Draft {
        text: b.text,
        blocks,
        updated_ms: crate::domain::now_ms(),
    };
    let v = draft_json(&d);
    st.inbox.set_draft(id.actor(), chat, Some(d)).await?;
    Ok(Json(json!({"draft": v})))
}

#[handler]
pub async fn delete_draft(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
) -> poem::Result<StatusCode> {
    st.inbox.set_draft(id.actor(), chat, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
pub async fn typing(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(chat): Path<u64>,
) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .typers(chat, id.manager.id)
        .await?
        .into_iter()
        .map(|(m, n)| json!({"manager_id": m, "name": n}))
        .collect();
    Ok(Json(json!({"items": items})))
}
