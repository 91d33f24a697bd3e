//! Signing in as the web UI does: the one place tests and benches post `/api/v1/session`
//! to get a session (tests of sign-in itself send their own requests). Shared by tests and
//! benches (`#[path]`).

use serde_json::{Value, json};

/// A signed-in browser's credentials.
pub struct Session {
    /// The session cookie as `name=value`, for clients without a cookie store and WebSockets.
    pub cookie: String,
    /// Sent as `x-csrf-token` on writes.
    pub csrf: String,
}

/// Sign in as `login` at `url` (`https://host:port`); panics unless the server answers 200
/// with a session cookie. A client with a cookie store keeps the session too.
pub async fn sign_in(http: &reqwest::Client, url: &str, login: &str, password: &str) -> Session {
    let r = http
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("sign-in as {login}: {e}"));
    assert_eq!(r.status(), 200, "sign-in as {login}");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("sign-in as {login}: no session cookie"))
        .to_string();
    let body: Value = r.json().await.unwrap_or_default();
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap_or_default().to_string(),
    }
}
