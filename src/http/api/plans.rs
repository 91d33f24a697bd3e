//! `/api/v1/sales_plans…`: the named stage lists orders move through (A2).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::plan_json;
use crate::inbox::saved::StageInput;

#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st.inbox.plans().await?.iter().map(plan_json).collect();
    Ok(Json(json!({"items": items})))
}

/// A stage in a request: its name, or `{"id", "name"}` to rename a stage keeping its orders.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum StageBody {
    Name(String),
    Named { id: Option<u64>, name: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    name: String,
    #[serde(default)]
    stages: Vec<StageBody>,
}

/// # `POST /api/v1/sales_plans`
/// Create a plan, or replace the stages of the plan with that name.
#[handler]
pub async fn put(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Json(b): Json<PlanBody>,
) -> poem::Result<Response> {
    let stages: Vec<StageInput> = b
        .stages
        .into_iter()
        .map(|s| match s {
            StageBody::Name(name) => StageInput { id: None, name },
            StageBody::Named { id, name } => StageInput { id, name },
        })
        .collect();
    let (p, created) = st.inbox.put_plan(&b.name, &stages).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(plan_json(&p))).into_response())
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(name): Path<String>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_plan(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
