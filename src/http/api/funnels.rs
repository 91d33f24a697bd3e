//! `/api/v1/funnels…` and a client's runs (B1). Any manager may look and start or stop a
//! client's run; creating, changing and deleting funnels is for admins (they message
//! clients on the business's behalf).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::views::{funnel_json, run_json};

#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .funnels()
        .await?
        .iter()
        .map(|f| funnel_json(&f.funnel, Some(&f.waiting)))
        .collect();
    Ok(Json(json!({"items": items})))
}

#[handler]
pub async fn get(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(id): Path<u64>,
) -> poem::Result<Json<Value>> {
    Ok(Json(funnel_json(&st.inbox.funnel(id).await?, None)))
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Json(body): Json<Value>,
) -> poem::Result<Response> {
    let f = st.inbox.create_funnel(body).await?;
    Ok((StatusCode::CREATED, Json(funnel_json(&f, None))).into_response())
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Path(id): Path<u64>,
    Json(body): Json<Value>,
) -> poem::Result<Json<Value>> {
    let f = st.inbox.update_funnel(id, body).await?;
    Ok(Json(funnel_json(&f, None)))
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Path(id): Path<u64>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_funnel(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    contact_id: u64,
}

/// Start the funnel for one client now, whatever its trigger.
#[handler]
pub async fn start(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
    Json(b): Json<StartBody>,
) -> poem::Result<Response> {
    let run = st.inbox.start_funnel(id.actor(), fid, b.contact_id).await?;
    let name = st.inbox.funnel(fid).await?.name;
    Ok((StatusCode::CREATED, Json(run_json(&run, &name))).into_response())
}

/// The client's runs, newest first.
#[handler]
pub async fn runs(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(cid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .contact_runs(cid)
        .await?
        .iter()
        .map(|r| run_json(&r.run, &r.funnel_name))
        .collect();
    Ok(Json(json!({"items": items})))
}

/// Stop a client's run ("stop" on the card).
#[handler]
pub async fn stop_run(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(rid): Path<u64>,
) -> poem::Result<Json<Value>> {
    let run = st.inbox.stop_run(id.actor(), rid).await?;
    let name = st
        .inbox
        .funnel(run.funnel_id)
        .await
        .map(|f| f.name)
        .unwrap_or_default();
    Ok(Json(run_json(&run, &name)))
}
