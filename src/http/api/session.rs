//! `/api/v1/session`: sign in, who am I, sign out.

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Json};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use serde_json::json;

use crate::domain::manager::Manager;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::{self, Auth, SessionAuth};

pub fn manager_json(m: &Manager) -> serde_json::Value {
    json!({
        "id": m.id,
        "login": m.login,
        "name": m.name,
        "role": m.role.as_str(),
        "disabled": m.disabled,
        "avatar": m.avatar,
        "avatar_url": m.avatar_url(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    name: Option<String>,
    /// The `id` of an uploaded image (POST /api/v1/uploads), or null to remove the avatar.
    #[serde(default, with = "crate::http::api::chats::double_option")]
    avatar: Option<Option<String>>,
}

/// Update one's own profile: display name and avatar.
#[handler]
pub async fn update_profile(
    Data(st): Data<&Arc<AppState>>,
    SessionAuth(id): SessionAuth,
    Json(body): Json<ProfileBody>,
) -> poem::Result<Response> {
    let m = st
        .accounts
        .update_profile(&id.manager, body.name.as_deref(), body.avatar)
        .await?;
    let body = json!({ "manager": manager_json(&m), "csrf_token": id.csrf });
    Ok(Response::builder()
        .header(header::CACHE_CONTROL, "no-store")
        .content_type("application/json")
        .body(body.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    login: String,
    password: String,
}

#[handler]
pub async fn login(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Json(body): Json<LoginBody>,
) -> poem::Result<Response> {
    if body.login.len() > 256 || body.password.len() > 1024 {
        return Err(Error::InvalidCredentials.into());
    }
    let ip = auth::client_ip(req, &st.config.server);
    // A sign-in replaces whatever session the browser had (no session fixation).
    let old = auth::session_token(req).map(|t| crate::accounts::sha256(t.as_bytes()));
    let (token, session, manager) = st.accounts.login(&body.login, &body.password, &ip).await?;
    if let Some(old) = old {
        let _ = st.accounts.logout(old).await;
    }
    let max_age = ((session.expires_ms - session.created_ms) / 1000).max(0) as u64;
    let body = json!({ "manager": manager_json(&manager), "csrf_token": session.csrf });
    Ok(Response::builder()
        .header(header::SET_COOKIE, auth::set_cookie(&token, max_age))
        .header(header::CACHE_CONTROL, "no-store")
        .content_type("application/json")
        .body(body.to_string()))
}

#[handler]
pub fn me(Auth(id): Auth) -> Response {
    let body = json!({ "manager": manager_json(&id.manager), "csrf_token": id.csrf });
    Response::builder()
        .header(header::CACHE_CONTROL, "no-store")
        .content_type("application/json")
        .body(body.to_string())
}

#[handler]
pub async fn logout(Data(st): Data<&Arc<AppState>>, Auth(id): Auth) -> poem::Result<Response> {
    if let Some(h) = id.session_hash {
        st.accounts.logout(h).await?;
    }
    Ok(StatusCode::NO_CONTENT
        .with_header(header::SET_COOKIE, auth::clear_cookie())
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// Change one's own password. Every session of the manager ends, this one included, so the
/// browser signs in again with the new password.
#[handler]
pub async fn change_password(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    SessionAuth(id): SessionAuth,
    Json(body): Json<PasswordBody>,
) -> poem::Result<Response> {
    if body.current_password.len() > 1024 {
        return Err(Error::invalid("current_password", "is wrong").into());
    }
    let ip = auth::client_ip(req, &st.config.server);
    let ok = st
        .accounts
        .check_password(&id.manager, &body.current_password, &ip)
        .await?;
    if !ok {
        return Err(Error::invalid("current_password", "is wrong").into());
    }
    st.accounts
        .set_password(id.manager.id, body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT
        .with_header(header::SET_COOKIE, auth::clear_cookie())
        .into_response())
}
