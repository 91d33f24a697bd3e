//! `/api/v1/orders…`: orders on clients, moved through sales-plan stages (A2).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chats::double_option;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::{board_json, order_json};
use crate::inbox::orders::{OrderInput, OrderQuery, StageRef};

#[derive(Deserialize)]
#[serde(untagged)]
pub enum StageBody {
    Id(u64),
    Name(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    contact_id: Option<u64>,
    plan: Option<String>,
    /// A stage's name, or its id.
    stage: Option<StageBody>,
    title: Option<String>,
    amount: Option<f64>,
    currency: Option<String>,
    /// The responsible manager (the creator when left out); null for nobody.
    #[serde(default, with = "double_option")]
    manager_id: Option<Option<u64>>,
    custom_fields: Option<BTreeMap<String, String>>,
}

impl From<OrderBody> for OrderInput {
    fn from(b: OrderBody) -> OrderInput {
        OrderInput {
            contact_id: b.contact_id,
            plan: b.plan,
            stage: b.stage.map(|s| match s {
                StageBody::Id(id) => StageRef::Id(id),
                StageBody::Name(n) => StageRef::Name(n),
            }),
            title: b.title,
            amount: b.amount,
            currency: b.currency,
            manager: b.manager_id,
            custom_fields: b.custom_fields,
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    plan: Option<String>,
    contact_id: Option<u64>,
    manager_id: Option<u64>,
    /// Created at or after (Unix ms).
    from: Option<i64>,
    /// Created before (Unix ms).
    to: Option<i64>,
    limit: Option<usize>,
}

/// # `GET /api/v1/orders?plan=&manager_id=&from=&to=`
/// With `plan`, the plan's board: its stages with counts and totals, and its orders.
#[handler]
pub async fn list(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Query(q): Query<ListQuery>,
) -> poem::Result<Json<Value>> {
    let board = st
        .inbox
        .orders(OrderQuery {
            plan: q.plan.filter(|p| !p.trim().is_empty()),
            contact_id: q.contact_id,
            manager: q.manager_id,
            from_ms: q.from,
            to_ms: q.to,
            limit: q.limit.unwrap_or(20_000).clamp(1, 20_000),
        })
        .await?;
    Ok(Json(board_json(&board)))
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<OrderBody>,
) -> poem::Result<Response> {
    let o = st.inbox.create_order(id.actor(), b.into()).await?;
    Ok((StatusCode::CREATED, Json(order_json(&o))).into_response())
}

#[handler]
pub async fn get(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(oid): Path<u64>,
) -> poem::Result<Json<Value>> {
    Ok(Json(order_json(&st.inbox.order(oid).await?)))
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(oid): Path<u64>,
    Json(b): Json<OrderBody>,
) -> poem::Result<Json<Value>> {
    let o = st.inbox.update_order(id.actor(), oid, b.into()).await?;
    Ok(Json(order_json(&o)))
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(oid): Path<u64>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_order(id.actor(), oid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # `GET /api/v1/contacts/{id}/orders`
#[handler]
pub async fn of_contact(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(cid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .contact_orders(cid)
        .await?
        .iter()
        .map(order_json)
        .collect();
    Ok(Json(json!({"items": items})))
}
