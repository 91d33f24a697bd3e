//! Who is calling: session cookie (browsers) or bearer API token (integrations), with CSRF
//! checked for every state-changing request made with a cookie.

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::Method;
use poem::{FromRequest, Request, RequestBody};

use super::AppState;
use crate::accounts::{Identity, same_secret};
use crate::domain::manager::Role;
use crate::error::Error;

/// `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
pub const SESSION_COOKIE: &str = "__Host-parley";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn state(req: &Request) -> poem::Result<&Arc<AppState>> {
    req.data::<Arc<AppState>>()
        .ok_or_else(|| Error::Internal("app state missing".into()).into())
}

pub fn session_token(req: &Request) -> Option<&str> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
}

pub fn set_cookie(token: &str, max_age_secs: u64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    )
}

pub fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` hop when the admin
/// said a proxy is in front (otherwise that header is attacker-controlled).
pub fn client_ip(req: &Request, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(ip) = req
            .header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ip.to_string();
    }
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolve the caller; `Ok(None)` when nobody is signed in.
pub fn identify(req: &Request) -> poem::Result<Option<Identity>> {
    let st = state(req)?;
    if let Some(token) = req
        .header(poem::http::header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer "))
    {
        // Bearer tokens are not sent by browsers on their own, so CSRF does not apply.
        return Ok(st.accounts.authenticate_token(token.trim())?);
    }
    if let Some(token) = session_token(req) {
        let Some(id) = st.accounts.authenticate(token)? else {
            return Ok(None);
        };
        if !is_safe(req.method()) {
            let sent = req.header(CSRF_HEADER).unwrap_or("");
            let want = id.csrf.as_deref().unwrap_or("");
            if want.is_empty() || !same_secret(sent.as_bytes(), want.as_bytes()) {
                return Err(Error::Forbidden("missing or wrong X-CSRF-Token header".into()).into());
            }
        }
        return Ok(Some(id));
    }
    Ok(None)
}

/// Any signed-in manager.
pub struct Auth(pub Identity);

impl<'a> FromRequest<'a> for Auth {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match identify(req)? {
            Some(id) => Ok(Auth(id)),
            None => Err(Error::Unauthenticated.into()),
        }
    }
}

/// A signed-in admin.
pub struct Admin(pub Identity);

impl<'a> FromRequest<'a> for Admin {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let Auth(id) = Auth::from_request(req, body).await?;
        if id.manager.role != Role::Admin {
            return Err(Error::Forbidden("this needs the admin role".into()).into());
        }
        Ok(Admin(id))
    }
}
