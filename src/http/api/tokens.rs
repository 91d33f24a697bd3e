//! `/api/v1/tokens`: bearer tokens for integrations (admin only). A token acts as the admin
//! who created it within its scope; only its SHA-256 is stored, so it is shown once.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::inbox::ApiToken;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Admin;

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
    let (token, t) = st
        .accounts
        .create_token(&id, &b.name, b.scope.as_deref())
        .await?;
    let v = json!({
        "id": t.id, "name": t.name, "token": token, "scope": t.scope.as_str(),
        "parent": t.parent, "created_ms": t.created_ms, "created_by": t.created_by,
    });
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

fn token_json(t: &ApiToken) -> Value {
    json!({
        "id": t.id, "name": t.name, "scope": t.scope.as_str(), "parent": t.parent,
        "created_ms": t.created_ms, "created_by": t.created_by,
    })
}

#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, _a: Admin) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .accounts
        .api_tokens()
        .await?
        .iter()
        .map(token_json)
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
