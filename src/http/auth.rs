//! Who is calling: session cookie (browsers) or bearer API token (integrations), with CSRF
//! checked for every state-changing request made with a cookie.

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::Method;
use poem::{FromRequest, Request, RequestBody};

use super::AppState;
use crate::accounts::ratelimit::address_key;
use crate::accounts::{Identity, same_secret};
use crate::config::{ServerConfig, in_cidr, parse_cidr};
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

/// The client's address. Without `trust_proxy` it is the socket peer. Behind a proxy it is
/// taken from `X-Forwarded-For` read from the right: each proxy appends the address it was
/// connected from, so entries to the left of the last trusted proxy are whatever the client
/// wrote and never count. With `trusted_proxies` empty, the proxy connected to us is the only
/// trusted one and the last entry is the client; with a list, the header is read only when
/// the peer is in it, and trusted entries are skipped from the right.
pub fn client_addr(req: &Request, server: &ServerConfig) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    if !server.trust_proxy {
        return peer;
    }
    let trusted: Vec<_> = server
        .trusted_proxies
        .iter()
        .filter_map(|p| parse_cidr(p))
        .collect();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|&c| in_cidr(ip, c));
    if !trusted.is_empty() && !peer.is_some_and(is_trusted) {
        return peer;
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // Garbage the client wrote, or a proxy we do not know: stop at the last good hop.
            return peer;
        };
        if trusted.is_empty() || !is_trusted(ip) {
            return Some(ip);
        }
    }
    peer
}

/// The key per-address limits count under (IPv6 by /64), from `client_addr`.
pub fn client_ip(req: &Request, server: &ServerConfig) -> String {
    client_addr(req, server)
        .map(address_key)
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
        if !id.is_admin() {
            return Err(Error::Forbidden(
                "this API token has the integration scope; this needs a token made with \"scope\": \"admin\"".into(),
            )
            .into());
        }
        Ok(Admin(id))
    }
}

/// A manager signed in with a browser session: changes to the account itself (password,
/// profile) are never open to API tokens, which act for their admin but are not them.
pub struct SessionAuth(pub Identity);

impl<'a> FromRequest<'a> for SessionAuth {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let Auth(id) = Auth::from_request(req, body).await?;
        if id.token.is_some() {
            return Err(Error::Forbidden(
                "this needs a signed-in session, not an API token".into(),
            )
            .into());
        }
        Ok(SessionAuth(id))
    }
}
