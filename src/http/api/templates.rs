//! `/api/v1/templates…` (A3): chat templates for the composer's Variables button, funnels
//! and broadcasts. Those of the config file are listed with `"source": "config"` and cannot
//! be changed here; managers make, edit and delete the others.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::template_json;
use crate::inbox::templates::TemplateView;

#[handler]
pub async fn list(Data(st): Data<&Arc<AppState>>, _a: Auth) -> poem::Result<Json<Value>> {
    let items: Vec<_> = st
        .inbox
        .template_list()
        .await?
        .iter()
        .map(template_json)
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    text: String,
}

#[handler]
pub async fn create(
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Json(b): Json<CreateBody>,
) -> poem::Result<Response> {
    let t = st
        .inbox
        .create_template(id.actor(), &b.name, &b.text)
        .await?;
    let v = template_json(&TemplateView {
        name: t.name,
        text: t.text,
        from_config: false,
        updated_ms: Some(t.updated_ms),
    });
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    name: Option<String>,
    text: Option<String>,
}

#[handler]
pub async fn patch(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(name): Path<String>,
    Json(b): Json<PatchBody>,
) -> poem::Result<Json<Value>> {
    let t = st
        .inbox
        .update_template(&name, b.name.as_deref(), b.text.as_deref())
        .await?;
    Ok(Json(template_json(&TemplateView {
        name: t.name,
        text: t.text,
        from_config: false,
        updated_ms: Some(t.updated_ms),
    })))
}

#[handler]
pub async fn delete(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(name): Path<String>,
) -> poem::Result<StatusCode> {
    st.inbox.delete_template(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
