//! The JSON forms of what the services return and of the live events: the only place the
//! wire format of contacts, chats, messages and events is written. Views borrow the typed
//! values and serialise straight from them (no `Value` tree in between: a list page has 50
//! rows and building maps first took about a fifth of such a request).

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::event::{
    ChatView, Counts, Event, LastMessage, MessageView, NotificationView, Person, Published,
    Retrying, Row, RowChat,
};
use crate::domain::inbox::{Attachment, Chat, Contact, Dialog, Draft, Task};
use crate::inbox::saved::{Plan, SavedFilter};
use crate::inbox::visitors::{MergeCandidate, VisitorMessage};
use crate::realtime::Typing;

#[derive(Serialize)]
pub struct AttachmentJson<'a> {
    id: &'a str,
    name: &'a str,
    mime: &'a str,
    size: u64,
    url: String,
}

pub fn attachment(a: &Attachment) -> AttachmentJson<'_> {
    AttachmentJson {
        id: &a.sha256,
        name: &a.name,
        mime: &a.mime,
        size: a.size,
        url: format!("/api/v1/blobs/{}", a.sha256),
    }
}

pub fn attachment_json(a: &Attachment) -> Value {
    json!(attachment(a))
}

#[derive(Serialize)]
pub struct MessageJson<'a> {
    id: u64,
    chat_id: u64,
    kind: &'static str,
    delivery: Option<&'a Retrying>,
    text: &'a str,
    attachments: Vec<AttachmentJson<'a>>,
    author: Option<&'a Person>,
    created_ms: i64,
    status: Option<&'static str>,
    error: Option<&'a str>,
    edited: bool,
    mentions: &'a [u64],
    event: Option<&'a str>,
    external_id: Option<&'a str>,
}

pub fn message(v: &MessageView) -> MessageJson<'_> {
    let m = &v.message;
    MessageJson {
        id: m.id,
        chat_id: m.chat_id,
        kind: m.kind.as_str(),
        delivery: v.retry.as_ref(),
        text: &m.text,
        attachments: m.attachments.iter().map(attachment).collect(),
        author: v.author.as_ref(),
        created_ms: m.created_ms,
        status: m.status.map(|s| s.as_str()),
        error: m.error.as_deref(),
        edited: m.edited,
        mentions: &m.mentions,
        event: m.event.as_deref(),
        external_id: m.external_id.as_deref(),
    }
}

pub fn message_json(v: &MessageView) -> Value {
    json!(message(v))
}

#[derive(Serialize)]
pub struct ChatJson<'a> {
    id: u64,
    contact_id: u64,
    channel_id: &'a str,
    channel_kind: &'a str,
    channel_name: &'a str,
    unread: u32,
    last_activity_ms: i64,
    disabled: bool,
    bot_disabled: bool,
    assistant_on: bool,
    assistant: Option<&'a str>,
    unreachable: bool,
    created_ms: i64,
}

pub fn chat(v: &ChatView) -> ChatJson<'_> {
    let c: &Chat = &v.chat;
    ChatJson {
        id: c.id,
        contact_id: c.contact_id,
        channel_id: &c.channel_id,
        channel_kind: &c.channel_kind,
        channel_name: &v.channel_name,
        unread: c.unread,
        last_activity_ms: c.last_activity_ms,
        disabled: c.disabled,
        bot_disabled: c.bot_disabled,
        assistant_on: c.assistant_on,
        assistant: c.assistant.as_deref(),
        unreachable: c.unreachable,
        created_ms: c.created_ms,
    }
}

pub fn chat_json(v: &ChatView) -> Value {
    json!(chat(v))
}

pub fn contact_json(c: &Contact) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "phones": c.phones,
        "emails": c.emails,
        "tags": c.tags,
        "custom_fields": c.custom_fields,
        "sales_plan": c.sales_plan,
        "archived": c.archived,
        "blacklisted": c.blacklisted,
        "marked": c.marked,
        "created_ms": c.created_ms,
        "last_activity_ms": c.last_activity_ms,
        "unread": c.unread,
        "open_tasks": c.open_tasks,
        "assignee": c.assignee,
    })
}

pub fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id, "contact_id": t.contact_id, "title": t.title, "due_ms": t.due_ms,
        "assignee": t.assignee, "done": t.done, "created_ms": t.created_ms, "created_by": t.created_by,
    })
}

pub fn dialog_json(d: &Dialog) -> Value {
    json!({
        "id": d.id, "contact_id": d.contact_id, "manager_id": d.manager_id,
        "opened_ms": d.opened_ms, "closed_ms": d.closed_ms,
    })
}

pub fn notification_json(n: &NotificationView) -> Value {
    json!({
        "id": n.id, "chat_id": n.chat_id, "contact_id": n.contact_id, "message_id": n.message_id,
        "from": n.from, "contact": n.contact.as_ref().map(|(id, name)| json!({"id": id, "name": name})),
        "text": n.text, "read": n.read, "created_ms": n.created_ms,
    })
}

pub fn draft_json(d: &Draft) -> Value {
    json!({"text": d.text, "blocks": d.blocks, "updated_ms": d.updated_ms})
}

pub fn merge_candidate_json(m: &MergeCandidate) -> Value {
    json!({
        "contact_id": m.contact_id, "name": m.name, "reason": m.reason, "created_ms": m.created_ms,
    })
}

/// A message as the widget visitor's browser gets it; files are fetched through the
/// widget's own route.
pub fn visitor_message_json(channel_id: &str, m: &VisitorMessage) -> Value {
    let files: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.sha256, "name": a.name, "mime": a.mime, "size": a.size,
                "url": format!("/widget/v1/{channel_id}/files/{}", a.sha256),
            })
        })
        .collect();
    json!({
        "id": m.id,
        "kind": m.kind.as_str(),
        "text": m.text,
        "attachments": files,
        "author": m.author,
        "created_ms": m.created_ms,
        "edited": m.edited,
        "client_message_id": m.client_message_id,
    })
}

#[derive(Serialize)]
pub struct RowJson<'a> {
    contact_id: u64,
    name: &'a str,
    avatar: Option<&'a str>,
    default_chat_id: Option<u64>,
    channel_kind: Option<&'a str>,
    channel_id: Option<&'a str>,
    chats: &'a [RowChat],
    last_message: Option<LastMessageJson<'a>>,
    last_activity_ms: i64,
    unread: u32,
    open_task: bool,
    draft: bool,
    marked: bool,
    archived: bool,
    blacklisted: bool,
    unreachable: bool,
}

#[derive(Serialize)]
pub struct LastMessageJson<'a> {
    id: u64,
    kind: &'static str,
    text: &'a str,
    attachments: Vec<AttachmentJson<'a>>,
    created_ms: i64,
    author_name: Option<&'a str>,
    status: Option<&'static str>,
}

pub fn row(r: &Row) -> RowJson<'_> {
    RowJson {
        contact_id: r.contact_id,
        name: &r.name,
        avatar: r.avatar.as_deref(),
        default_chat_id: r.default_chat_id,
        channel_kind: r.channel_kind.as_deref(),
        channel_id: r.channel_id.as_deref(),
        chats: &r.chats,
        last_message: r.last_message.as_ref().map(last_message),
        last_activity_ms: r.last_activity_ms,
        unread: r.unread,
        open_task: r.open_task,
        draft: r.draft,
        marked: r.marked,
        archived: r.archived,
        blacklisted: r.blacklisted,
        unreachable: r.unreachable,
    }
}

fn last_message(m: &LastMessage) -> LastMessageJson<'_> {
    LastMessageJson {
        id: m.id,
        kind: m.kind.as_str(),
        text: &m.text,
        attachments: m.attachments.iter().map(attachment).collect(),
        created_ms: m.created_ms,
        author_name: m.author_name.as_deref(),
        status: m.status.map(|s| s.as_str()),
    }
}

pub fn rows(rows: &[Row]) -> Vec<RowJson<'_>> {
    rows.iter().map(row).collect()
}

/// The data of an event as browsers get it.
#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Message {
        chat_id: u64,
        contact_id: u64,
        message: MessageJson<'a>,
    },
    Row {
        contact_id: u64,
        row: RowJson<'a>,
    },
    Counts(&'a Counts),
    Contact {
        contact: Value,
    },
    Chat {
        chat: ChatJson<'a>,
    },
    Task {
        task: Value,
    },
    Dialog {
        dialog: Value,
    },
    Notification(Value),
    Unread {
        unread: u64,
    },
    Draft {
        chat_id: u64,
        draft: Option<Value>,
    },
    Order {
        order: Value,
    },
    OrderGone {
        id: u64,
        contact_id: u64,
        plan: &'a str,
    },
}

fn data(e: &Event) -> Data<'_> {
    match e {
        Event::MessageCreated(c) | Event::MessageUpdated(c) => Data::Message {
            chat_id: c.chat_id,
            contact_id: c.contact_id,
            message: message(&c.message),
        },
        Event::RowChanged(r) => Data::Row {
            contact_id: r.contact_id,
            row: row(r),
        },
        Event::Counts(c) => Data::Counts(c),
        Event::ContactUpdated(c) => Data::Contact {
            contact: contact_json(c),
        },
        Event::ChatFlags(c) => Data::Chat { chat: chat(c) },
        Event::TaskUpdated(t) => Data::Task { task: task_json(t) },
        Event::DialogUpdated(d) => Data::Dialog {
            dialog: dialog_json(d),
        },
        Event::NotificationCreated(n) => Data::Notification(notification_json(n)),
        Event::NotificationsRead { unread } => Data::Unread { unread: *unread },
        Event::DraftUpdated { chat_id, draft } => Data::Draft {
            chat_id: *chat_id,
            draft: draft.as_ref().map(draft_json),
        },
        Event::OrderUpdated(o) => Data::Order {
            order: order_json(o),
        },
        Event::OrderDeleted {
            id,
            contact_id,
            plan,
        } => Data::OrderGone {
            id: *id,
            contact_id: *contact_id,
            plan,
        },
    }
}

/// `{"seq":…,"type":…,"data":…}` (plus `committed_us` on a live event, so a client on the
/// same clock can measure commit → frame), made once per event and shared by every
/// connection that sends it.
pub fn event_frame(p: &Published) -> Arc<str> {
    p.wire
        .get_or_init(|| {
            #[derive(Serialize)]
            struct Frame<'a> {
                seq: u64,
                #[serde(rename = "type")]
                kind: &'static str,
                data: Data<'a>,
                #[serde(skip_serializing_if = "Option::is_none")]
                committed_us: Option<u64>,
            }
            let frame = Frame {
                seq: p.seq,
                kind: p.event.kind(),
                data: data(&p.event),
                committed_us: p.committed_us,
            };
            match serde_json::to_string(&frame) {
                Ok(s) => Arc::from(s),
                Err(e) => {
                    tracing::error!("event {} cannot be serialised: {e}", p.seq);
                    Arc::from(json!({"type": "resync"}).to_string())
                }
            }
        })
        .clone()
}

/// A typing signal as managers get it.
pub fn typing_frame(t: &Typing) -> String {
    json!({"type": "typing", "data": {"chat_id": t.chat_id, "manager_id": t.manager_id, "name": t.name}})
        .to_string()
}

/// A saved filter.
pub fn filter_json(f: &SavedFilter) -> Value {
    let spec: Value = serde_json::from_str(&f.spec).unwrap_or(Value::Null);
    json!({"id": f.id, "name": f.name, "owner": f.owner, "shared": f.shared, "filter": spec, "created_ms": f.created_ms})
}

/// A sales plan (the stages of a deal).
/// A plan: `stages` are the names in order (what older clients read), `stage_list` the same
/// with their ids (what renames and orders use).
pub fn plan_json(p: &Plan) -> Value {
    json!({
        "name": p.name,
        "stages": p.stages.iter().map(|s| &s.name).collect::<Vec<_>>(),
        "stage_list": p.stages.iter().map(|s| json!({"id": s.id, "name": s.name})).collect::<Vec<_>>(),
        "created_ms": p.created_ms,
    })
}

/// A funnel in its wire shape (`FunnelInput`), with its id, times and, when known, the
/// clients waiting at each step.
pub fn funnel_json(
    f: &crate::domain::automation::Funnel,
    waiting: Option<&[(String, u64)]>,
) -> Value {
    let mut v = serde_json::to_value(crate::domain::automation::FunnelInput::from(f))
        .unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(f.id));
        m.insert("created_ms".into(), json!(f.created_ms));
        m.insert("updated_ms".into(), json!(f.updated_ms));
        if let Some(w) = waiting {
            let total: u64 = w.iter().map(|(_, n)| n).sum();
            let by_step: serde_json::Map<String, Value> =
                w.iter().map(|(p, n)| (p.clone(), json!(n))).collect();
            m.insert(
                "waiting".into(),
                json!({"total": total, "by_step": by_step}),
            );
        }
    }
    v
}

/// One client's run through a funnel.
pub fn run_json(r: &crate::domain::automation::Run, funnel_name: &str) -> Value {
    use crate::domain::automation::RunState;
    let (due, reason) = match &r.state {
        RunState::Waiting { due_ms } => (Some(*due_ms), None),
        RunState::Stopped { reason } | RunState::Cancelled { reason } => {
            (None, Some(reason.clone()))
        }
        RunState::Done => (None, None),
    };
    json!({
        "id": r.id,
        "funnel_id": r.funnel_id,
        "funnel_name": funnel_name,
        "contact_id": r.contact_id,
        "chat_id": r.chat_id,
        "step": r.path.to_string(),
        "state": r.state.kind(),
        "due_ms": due,
        "reason": reason,
        "started_ms": r.started_ms,
        "updated_ms": r.updated_ms,
    })
}

/// A broadcast, and what became of its clients when the report is given.
pub fn broadcast_json(
    b: &crate::domain::broadcast::Broadcast,
    report: Option<&crate::inbox::broadcasts::Report>,
) -> Value {
    use crate::domain::broadcast::Payload;
    let (kind, what) = match &b.payload {
        Payload::Text(t) => ("text", json!(t)),
        Payload::Template(n) => ("template", json!(n)),
        Payload::Funnel(f) => ("funnel", json!(f)),
        Payload::WhatsAppTemplate(t) => (
            "whatsapp_template",
            json!({"name": t.name, "language": t.language, "params": t.params}),
        ),
    };
    let mut v = json!({
        "id": b.id,
        "name": b.name,
        "state": b.state.as_str(),
        kind: what,
        "total": b.total,
        "handled": b.handled,
        "created_ms": b.created_ms,
        "created_by": b.created_by,
        "finished_ms": b.finished_ms,
    });
    if let (Some(r), Value::Object(m)) = (report, &mut v) {
        let reasons: Vec<Value> = r
            .reasons
            .iter()
            .map(|(why, n)| json!({"reason": why, "count": n}))
            .collect();
        m.insert(
            "counts".into(),
            json!({
                "pending": r.pending, "queued": r.queued, "sent": r.sent,
                "delivered": r.delivered, "read": r.read, "failed": r.failed,
                "started": r.started, "skipped": r.skipped,
            }),
        );
        m.insert("reasons".into(), json!(reasons));
    }
    v
}

/// A chat template as the Variables page lists it.
pub fn reply_json(q: &crate::domain::inbox::QuickReply) -> Value {
    let attachments: Vec<Value> = q
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.sha256, "name": a.name, "mime": a.mime, "size": a.size,
                "url": format!("/api/v1/blobs/{}", a.sha256),
            })
        })
        .collect();
    json!({
        "id": q.id,
        "shortcut": q.shortcut,
        "text": q.text,
        "attachments": attachments,
        "shared": q.shared,
        "owner": q.owner,
        "created_ms": q.created_ms,
        "updated_ms": q.updated_ms,
    })
}

pub fn template_json(t: &crate::inbox::templates::TemplateView) -> Value {
    json!({
        "name": t.name,
        "text": t.text,
        "source": if t.from_config { "config" } else { "ui" },
        "updated_ms": t.updated_ms,
    })
}

/// One assistant's or one chat's usage counters.
fn usage_json(u: &crate::domain::assistant::Usage) -> Value {
    json!({
        "requests": u.requests,
        "failures": u.failures,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "last_ms": (u.last_ms > 0).then_some(u.last_ms),
    })
}

/// `GET /api/v1/assistants/usage`: per assistant (never its key) and per chat.
pub fn assistant_usage(
    configs: &[crate::config::AssistantConfig],
    stats: &[(String, crate::domain::assistant::Stats)],
    chats: &[crate::inbox::assistant::ChatUsage],
) -> Value {
    let assistants: Vec<Value> = configs
        .iter()
        .map(|a| {
            let s = stats
                .iter()
                .find(|(id, _)| *id == a.id)
                .map(|(_, s)| s.clone())
                .unwrap_or_default();
            let host = reqwest::Url::parse(&a.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string));
            json!({
                "id": a.id,
                "name": a.name,
                "model": a.model,
                "host": host,
                "knowledge_files": a.knowledge.len(),
                "usage": usage_json(&s.usage),
                "last_error": s.last_error,
                "last_error_ms": s.last_error_ms,
                "last_ok_ms": s.last_ok_ms,
            })
        })
        .collect();
    let chats: Vec<Value> = chats
        .iter()
        .map(|c| {
            json!({
                "chat_id": c.chat_id,
                "contact_id": c.contact_id,
                "contact_name": c.contact_name,
                "channel_id": c.channel_id,
                "assistant": c.assistant,
                "assistant_on": c.assistant_on,
                "usage": usage_json(&c.usage),
            })
        })
        .collect();
    json!({ "assistants": assistants, "chats": chats })
}

// ---------- Audience and orders (A1, A2) ----------

use crate::inbox::audience::{AudienceRow, Duplicate, ImportReport};
use crate::inbox::jobs::{Job, JobState};
use crate::inbox::orders::{Board, OrderView};

/// A client as the Audience table shows it: the contact plus its channels, the stage of its
/// latest order and the responsible manager's name.
pub fn audience_row_json(r: &AudienceRow) -> Value {
    let mut v = contact_json(&r.contact);
    if let Value::Object(m) = &mut v {
        m.insert("channels".into(), json!(r.channels));
        m.insert("stage".into(), json!(r.stage));
        m.insert("assignee_name".into(), json!(r.assignee));
    }
    v
}

pub fn import_json(r: &ImportReport) -> Value {
    json!({
        "created": r.created,
        "updated": r.updated,
        "skipped": r.skipped,
        "rows": r.rows,
        "error_count": r.error_count,
        "errors": r.errors.iter().map(|(line, m)| json!({"line": line, "message": m})).collect::<Vec<_>>(),
    })
}

pub fn duplicate_json(d: &Duplicate) -> Value {
    json!({"contact": contact_json(&d.contact), "reasons": d.reasons})
}

pub fn job_json(j: &Job) -> Value {
    let (state, error) = match &j.state {
        JobState::Running => ("running", None),
        JobState::Done => ("done", None),
        JobState::Failed(e) => ("failed", Some(e)),
    };
    json!({
        "id": j.id, "kind": j.kind, "state": state, "error": error,
        "total": j.total, "done": j.done, "failed": j.failed,
        "started_ms": j.started_ms, "finished_ms": j.finished_ms,
    })
}

pub fn order_json(o: &OrderView) -> Value {
    let x = &o.order;
    json!({
        "id": x.id,
        "contact_id": x.contact_id,
        "contact_name": o.contact_name,
        "plan": x.plan,
        "stage": o.stage,
        "stage_id": x.stage,
        "title": x.title,
        "amount": x.amount_cents as f64 / 100.0,
        "currency": x.currency,
        "manager_id": x.manager,
        "created_ms": x.created_ms,
        "updated_ms": x.updated_ms,
        "closed_ms": x.closed_ms,
        "custom_fields": x.custom_fields,
    })
}

/// A board (or a plain list when no plan was asked for): the orders, and per stage how many
/// and their sums per currency.
pub fn board_json(b: &Board) -> Value {
    let stages: Vec<Value> = b
        .plan
        .stages
        .iter()
        .map(|s| {
            let mut count = 0u64;
            let mut sums: std::collections::BTreeMap<&str, i64> = Default::default();
            for o in b.orders.iter().filter(|o| o.order.stage == s.id) {
                count += 1;
                *sums.entry(o.order.currency.as_str()).or_default() += o.order.amount_cents;
            }
            let totals: serde_json::Map<String, Value> = sums
                .into_iter()
                .map(|(c, v)| (c.to_string(), json!(v as f64 / 100.0)))
                .collect();
            json!({"id": s.id, "name": s.name, "count": count, "totals": totals})
        })
        .collect();
    json!({
        "plan": if b.plan.name.is_empty() { Value::Null } else { plan_json(&b.plan) },
        "stages": stages,
        "items": b.orders.iter().map(order_json).collect::<Vec<_>>(),
        "truncated": b.truncated,
    })
}

/// The export's columns: what the import reads back (name, phone, email, tags, custom
/// fields) and what it skips (the rest).
const CSV_COLUMNS: &[&str] = &[
    "id",
    "name",
    "phone",
    "email",
    "tags",
    "channels",
    "sales_plan",
    "stage",
    "assignee",
    "created",
    "last_activity",
    "archived",
    "blacklisted",
];

pub fn csv_header(fields: &[String]) -> String {
    let mut cols: Vec<&str> = CSV_COLUMNS.to_vec();
    cols.extend(fields.iter().map(String::as_str));
    let mut s = String::new();
    crate::domain::csv::line(&mut s, &cols);
    s
}

fn iso(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub fn csv_row(out: &mut String, r: &AudienceRow, fields: &[String]) {
    let c = &r.contact;
    let phones: Vec<String> = c.phones.iter().map(|p| format!("+{p}")).collect();
    let cells: Vec<String> = vec![
        c.id.to_string(),
        c.name.clone(),
        phones.join("; "),
        c.emails.join("; "),
        c.tags.join(", "),
        r.channels.join(", "),
        c.sales_plan.clone().unwrap_or_default(),
        r.stage.clone().unwrap_or_default(),
        r.assignee.clone().unwrap_or_default(),
        iso(c.created_ms),
        iso(c.last_activity_ms),
        c.archived.to_string(),
        c.blacklisted.to_string(),
    ];
    let mut all: Vec<&str> = cells.iter().map(String::as_str).collect();
    all.extend(
        fields
            .iter()
            .map(|f| c.custom_fields.get(f).map_or("", String::as_str)),
    );
    crate::domain::csv::line(out, &all);
}

// ---------- Reports (T3) ----------

fn durations_json(d: &crate::domain::report::Tally) -> Value {
    json!({"p50": d.p50(), "avg": d.avg(), "count": d.count})
}

fn figures_json(r: &crate::domain::report::Totals) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("conversations".into(), json!(r.conversations));
    m.insert("messages_in".into(), json!(r.messages_in));
    m.insert("messages_out".into(), json!(r.messages_out));
    m.insert(
        "first_response_ms".into(),
        durations_json(&r.first_response),
    );
    m.insert("reply_ms".into(), durations_json(&r.reply));
    m.insert("resolution_ms".into(), durations_json(&r.resolution));
    m
}

/// What each figure means, shown on the Reports page as the server computes it.
const REPORT_DEFINITIONS: &[(&str, &str)] = &[
    (
        "conversations",
        "A client message in a chat where nobody wrote for 24 hours (or ever) starts a conversation.",
    ),
    ("messages_in", "Client messages."),
    (
        "messages_out",
        "Manager and bot messages (notes and system messages are not counted).",
    ),
    (
        "first_response_ms",
        "From the first client message of a conversation to the first manager or bot message after it.",
    ),
    (
        "reply_ms",
        "From a client message that had no answer yet to the next manager or bot message.",
    ),
    (
        "resolution_ms",
        "From a dialog's opening to its closing, counted on the day it closed.",
    ),
    (
        "manager",
        "Client messages and conversations count for the client's responsible manager at the time; answers for whoever wrote them (none: a bot).",
    ),
];

pub fn report_json(from: &str, to: &str, r: &crate::inbox::reports::Report) -> Value {
    let mut top = figures_json(&r.total);
    top.insert("from".into(), json!(from));
    top.insert("to".into(), json!(to));
    top.insert("time_zone".into(), json!(r.time_zone));
    let by_day: Vec<Value> = r
        .by_day
        .iter()
        .map(|(day, f)| {
            let mut m = figures_json(f);
            m.insert("day".into(), json!(day));
            Value::Object(m)
        })
        .collect();
    let by_channel: Vec<Value> = r
        .by_channel
        .iter()
        .map(|(ch, f)| {
            let mut m = figures_json(f);
            m.insert("channel_id".into(), json!(ch));
            Value::Object(m)
        })
        .collect();
    let by_manager: Vec<Value> = r
        .by_manager
        .iter()
        .map(|(id, name, f)| {
            let mut m = figures_json(f);
            m.insert(
                "manager_id".into(),
                if *id == 0 { Value::Null } else { json!(id) },
            );
            m.insert("name".into(), json!(name));
            Value::Object(m)
        })
        .collect();
    top.insert("by_day".into(), json!(by_day));
    top.insert("by_channel".into(), json!(by_channel));
    top.insert("by_manager".into(), json!(by_manager));
    top.insert("heatmap".into(), json!(r.heatmap));
    top.insert(
        "definitions".into(),
        Value::Object(
            REPORT_DEFINITIONS
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        ),
    );
    Value::Object(top)
}

/// One line per day; durations in seconds.
pub fn report_csv(r: &crate::inbox::reports::Report) -> String {
    let secs = |v: Option<i64>| {
        v.map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_default()
    };
    let mut out = String::from(
        "day,conversations,messages_in,messages_out,first_response_p50_s,first_response_avg_s,reply_p50_s,reply_avg_s,resolution_p50_s,resolution_avg_s\n",
    );
    for (day, f) in &r.by_day {
        out.push_str(&format!(
            "{day},{},{},{},{},{},{},{},{},{}\n",
            f.conversations,
            f.messages_in,
            f.messages_out,
            secs(f.first_response.p50()),
            secs(f.first_response.avg()),
            secs(f.reply.p50()),
            secs(f.reply.avg()),
            secs(f.resolution.p50()),
            secs(f.resolution.avg()),
        ));
    }
    out
}
