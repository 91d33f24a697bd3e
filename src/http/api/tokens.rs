//! `/api/v1/tokens`: bearer tokens for integrations (admin only). A token acts as the admin
//! who created it; only its SHA-256 is stored, so it is shown once.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::accounts::{random_token, sha256};
use crate::domain::inbox::ApiToken;
use crate::domain::normalise;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::store::{self, inbox as db};

/// Prefix that makes a leaked Parley token easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "pt_";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
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
    let token = format!("{TOKEN_PREFIX}{}", random_token(32));
    let hash = sha256(token.as_bytes());
    let creator = id.manager.id;
    let t = st
        .store
        .write(move |w| {
            let t = ApiToken {
                id: w.next_id("api_token")?,
                name: name.clone(),
                created_by: creator,
                created_ms: store::now_ms(),
            };
            db::put_api_token(w, &hash, &t)?;
            Ok(t)
        })
        .await?;
    let v = json!({"id": t.id, "name": t.name, "token": token, "created_ms": t.created_ms, "created_by": t.created_by});
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[handler]
pub fn list(Data(st): Data<&Arc<AppState>>, _a: Admin) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .store
        .read(db::api_tokens)?
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "created_ms": t.created_ms, "created_by": t.created_by}))
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
