//! `/api/v1/broadcasts…` (B3): admins send a message, a chat template, a WhatsApp template
//! or a funnel start to every client of a filter; anyone signed in sees the progress and the
//! report.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::broadcast::{BroadcastState, Payload, WaTemplate};
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::views::broadcast_json;
use crate::inbox::broadcasts::MAX_TARGETS;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
    saved_filter: Option<u64>,
    filter: Option<Value>,
    text: Option<String>,
    template: Option<String>,
    whatsapp_template: Option<WaTemplateBody>,
    funnel: Option<u64>,
}

/// `{"name": "order_update", "language": "en_US", "params": ["{client.name}", "…"]}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaTemplateBody {
    name: String,
    language: String,
    #[serde(default)]
    params: Vec<String>,
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Admin(id): Admin,
    Json(b): Json<CreateBody>,
) -> poem::Result<Response> {
    let payload = match (b.text, b.template, b.whatsapp_template, b.funnel) {
        (Some(t), None, None, None) => Payload::Text(t),
        (None, Some(t), None, None) => Payload::Template(t),
        (None, None, Some(t), None) => Payload::WhatsAppTemplate(WaTemplate {
            name: t.name,
            language: t.language,
            params: t.params,
        }),
        (None, None, None, Some(f)) => Payload::Funnel(f),
        _ => {
            return Err(Error::invalid(
                "text",
                "give exactly one of text, template, whatsapp_template or funnel",
            )
            .into());
        }
    };
    let filter_text = b.filter.as_ref().map(Value::to_string);
    let filter =
        super::search::request_filter(st, id.actor(), filter_text.as_deref(), b.saved_filter)?
            .ok_or_else(|| {
                Error::invalid("filter", "give a filter or a saved_filter: who gets it")
            })?;
    let (contacts, total) = st.search.find_all_contacts(filter, MAX_TARGETS).await?;
    if total > MAX_TARGETS {
        return Err(Error::invalid(
            "filter",
            format!("matches {total} clients; a broadcast reaches at most {MAX_TARGETS}"),
        )
        .into());
    }
    let name = b.name.unwrap_or_else(|| "Broadcast".into());
    let br = st
        .inbox
        .create_broadcast(id.actor(), name, payload, contacts)
        .await?;
    Ok((StatusCode::CREATED, Json(broadcast_json(&br, None))).into_response())
}

#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .broadcasts()
        .await?
        .iter()
        .map(|b| broadcast_json(b, None))
        .collect();
    Ok(Json(json!({"items": items})))
}

/// The broadcast's state and what became of its clients.
#[handler]
pub async fn get(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    let (b, r) = st.inbox.broadcast_report(id).await?;
    Ok(Json(broadcast_json(&b, Some(&r))))
}

async fn set(st: &AppState, id: u64, to: BroadcastState) -> poem::Result<Json<Value>> {
    let b = st.inbox.set_broadcast_state(id, to).await?;
    Ok(Json(broadcast_json(&b, None)))
}

#[handler]
pub async fn pause(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    set(st, id, BroadcastState::Paused).await
}

#[handler]
pub async fn resume(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    set(st, id, BroadcastState::Running).await
}

#[handler]
pub async fn cancel(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    set(st, id, BroadcastState::Cancelled).await
}
