//! `/api/v1/managers`: staff accounts (admin only, except the list of names for mentions).

use crate::store::prelude::*;
use std::sync::Arc;

use poem::web::{Data, Json, Path};
use poem::{Response, handler};
use serde::Deserialize;
use serde_json::json;

use super::session::manager_json;
use crate::accounts::NewManager;
use crate::domain::manager::Role;
use crate::error::Error;
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
pub fn list(Data(st): Data<&Arc<AppState>>, Auth(id): Auth) -> poem::Result<Response> {
    let all = st.store.read(|r| r.managers())?;
    let admin = id.is_admin();
    let items: Vec<_> = all
        .iter()
        .filter(|m| admin || !m.disabled)
        .map(manager_json)
        .collect();
    Ok(json_response(json!({ "items": items }), 200))
}

fn parse_role(s: &str) -> Result<Role, Error> {
    Role::parse(s).ok_or_else(|| Error::invalid("role", "must be \"admin\" or \"manager\""))
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
    if st.store.read(|r| r.manager(id))?.is_none() {
        return Err(Error::NotFound(format!("manager {id}")).into());
    }
    let role = b.role.as_deref().map(parse_role).transpose()?;
    let mut m = None;
    if let Some(name) = b.name {
        m = Some(st.accounts.set_name(id, &name).await?);
    }
    if let Some(role) = role {
        m = Some(st.accounts.set_role(id, role).await?);
    }
    if let Some(pw) = b.password {
        m = Some(st.accounts.set_password(id, pw).await?);
    }
    if let Some(d) = b.disabled {
        m = Some(st.accounts.set_disabled(id, d).await?);
    }
    let m = match m {
        Some(m) => m,
        None => st
            .store
            .read(|r| r.manager(id))?
            .ok_or_else(|| Error::NotFound(format!("manager {id}")))?,
    };
    Ok(json_response(manager_json(&m), 200))
}
