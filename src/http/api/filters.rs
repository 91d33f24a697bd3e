//! `/api/v1/filters…`: saved filters, a manager's own or shared.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::filter::FilterSpec;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::filter_json;
use crate::inbox::saved::FilterInput;

#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, Auth(id): Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .filters_for(id.actor())
        .await?
        .iter()
        .map(filter_json)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    name: Option<String>,
    filter: Option<FilterSpec>,
    shared: Option<bool>,
}

impl From<FilterBody> for FilterInput {
    fn from(b: FilterBody) -> FilterInput {
        FilterInput {
            name: b.name,
            filter: b.filter,
            shared: b.shared,
        }
    }
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<FilterBody>,
) -> poem::Result<Response> {
    let f = st.inbox.create_filter(id.actor(), b.into()).await?;
    Ok((StatusCode::CREATED, Json(filter_json(&f))).into_response())
}

/// Change (rename, new conditions, share) a filter; only its owner may.
#[handler]
pub async fn update(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
    Json(b): Json<FilterBody>,
) -> poem::Result<Json<Value>> {
    let f = st.inbox.update_filter(id.actor(), fid, b.into()).await?;
    Ok(Json(filter_json(&f)))
}

#[handler]
pub async fn duplicate(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
) -> poem::Result<Response> {
    let f = st.inbox.duplicate_filter(id.actor(), fid).await?;
    Ok((StatusCode::CREATED, Json(filter_json(&f))).into_response())
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Path(fid): Path<u64>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_filter(id.actor(), fid).await?;
    Ok(StatusCode::NO_CONTENT)
}
