//! Channels: one adapter per platform, translating protocols only, plus the outbox worker
//! that delivers outbound messages through them.

pub mod api;
pub mod fetch;
pub mod outbox;

use std::time::Duration;

use crate::error::{Error, Result};

/// The one outbound HTTP client: rustls with bundled roots (a static binary on a bare host
/// has no CA store), timeouts, and no redirects (a redirect could point at an internal host).
pub fn http_client() -> Result<reqwest::Client> {
    http_client_builder()?
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

pub fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| reqwest::Certificate::from_der(c.as_ref()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("bundled CA roots: {e}")))?;
    Ok(reqwest::Client::builder()
        .tls_certs_only(roots)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Parley/", env!("CARGO_PKG_VERSION"))))
}

/// How a delivery attempt ended.
#[derive(Debug)]
pub enum SendError {
    /// Try again later (network error, 5xx, 429); `after` when the peer said how long.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will not work by retrying (4xx, bad config, blocked by the client).
    Permanent(String),
}

/// Classify an HTTP answer from a platform or callback.
pub fn classify(status: reqwest::StatusCode, retry_after: Option<&str>, body: &str) -> SendError {
    let snippet: String = body.chars().take(200).collect();
    let reason = format!(
        "HTTP {}{}",
        status.as_u16(),
        if snippet.is_empty() {
            String::new()
        } else {
            format!(": {snippet}")
        }
    );
    if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        SendError::Retry {
            reason,
            after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        }
    } else {
        SendError::Permanent(reason)
    }
}
