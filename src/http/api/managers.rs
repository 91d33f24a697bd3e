//! `/api/v1/managers`: staff accounts (admin only, except the list of names for mentions).

use std::sync::Arc;

use poem::web::{Data, Json, Path};
use poem::{Response, handler};
use serde::Deserialize;
use serde_json::json;

use super::session::manager_json;
use crate::accounts::{ManagerChanges, NewManager, parse_role};
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};

fn json_response(v: serde_json::Value, status: u16) -> Response {
    Response::builder()
        .status(poem::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("application/json")
        .body(v.to_string())
}

/// Every manager can see who the managers are (mentions, assignment); only admins see
/// disabled accounts.
#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, Auth(id): Auth) -> poem::Result<Response> {
    let all = st.accounts.managers().await?;
    let admin = id.is_admin();
    let items: Vec<_> = all
        .iter()
        .filter(|m| admin || !m.disabled)
        .map(|m| {
            let mut j = manager_json(m);
            j["presence"] = json!(st.hub.presence(m.id).as_str());
            j
        })
        .collect();
    Ok(json_response(json!({ "items": items }), 200))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    login: String,
    name: String,
    role: String,
    password: String,
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Admin(_): Admin,
    Json(b): Json<CreateBody>,
) -> poem::Result<Response> {
    let m = st
        .accounts
        .create_manager(NewManager {
            login: b.login,
            name: b.name,
            role: parse_role(&b.role)?,
            password: b.password,
        })
        .await?;
    Ok(json_response(manager_json(&m), 201))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
}

#[handler]
pub async fn update(
    Data(st): Data<&Arc<AppState>>,
    Admin(_): Admin,
    Path(id): Path<u64>,
    Json(b): Json<UpdateBody>,
) -> poem::Result<Response> {
    let changes = ManagerChanges {
        name: b.name,
        role: b.role,
        password: b.password,
        disabled: b.disabled,
    };
    let m = st.accounts.update_manager(id, changes).await?;
    Ok(json_response(manager_json(&m), 200))
}
