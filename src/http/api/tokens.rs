//! `/api/v1/tokens`: bearer tokens for integrations (admin only). A token acts as the admin
//! who created it within its scope; only its SHA-256 is stored, so it is shown once.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::inbox::TokenScope;
use crate::domain::normalise;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::store::inbox as db;

pub use crate::accounts::TOKEN_PREFIX;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    /// "integration" (the default) or "admin".
    #[serde(default)]
    scope: Option<String>,
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Admin(id): Admin,
    Json(b): Json<CreateBody>,
) -> poem::Result<Response> {
    let name = normalise::text(&b.name, 100);
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty").into());
    }
    let scope = match b.scope.as_deref() {
        None => TokenScope::Integration,
        Some(s) => TokenScope::parse(s).ok_or_else(|| {
            Error::invalid(
                "scope",
                format!("{s:?} must be \"integration\" or \"admin\""),
            )
        })?,
    };
    let (token, t) = st.accounts.create_token(&id, name, scope).await?;
    let v = json!({
        "id": t.id, "name": t.name, "token": token, "scope": t.scope.as_str(),
        "parent": t.parent, "created_ms": t.created_ms, "created_by": t.created_by,
    });
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[handler]
pub fn list(Data(st): Data<&Arc<AppState>>, _a: Admin) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .store
        .read(db::api_tokens)?
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "scope": t.scope.as_str(), "parent": t.parent,
                "created_ms": t.created_ms, "created_by": t.created_by,
            })
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    _a: Admin,
    Path(tid): Path<u64>,
) -> poem::Result<StatusCode> {
    if !st.accounts.delete_token(tid).await? {
        return Err(Error::NotFound(format!("token {tid}")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}
