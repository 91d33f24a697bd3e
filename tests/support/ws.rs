//! A WebSocket client over real TLS carrying a browser's cookie, as the web UI connects.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::TestApp;

pub type Stream =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    pub stream: Stream,
}

/// Connect as the browser with `cookie` (the `name=value` pair) and Origin `origin`.
/// Returns the HTTP status on a refused handshake.
pub async fn connect(
    app: &TestApp,
    cookie: &str,
    origin: Option<&str>,
    query: &str,
) -> Result<Ws, u16> {
    connect_to(app, &format!("/api/v1/ws{query}"), Some(cookie), origin).await
}

/// A raw TLS connection to the app that trusts its self-signed certificate.
pub async fn tls_connect(app: &TestApp) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pem = std::fs::read(app.dir.join("tls/cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&pem).unwrap())
        .unwrap();
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(app.running().https_addr)
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap()
}

/// Connect to any WebSocket path (with its query), with or without a cookie.
pub async fn connect_to(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, u16> {
    let mut headers = Vec::new();
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    if let Some(o) = origin {
        headers.push(("origin", o));
    }
    connect_headers(app, path, &headers).await
}

/// The managers' WebSocket with exactly these handshake headers (a bearer token, none, …).
pub async fn connect_with(app: &TestApp, headers: &[(&str, &str)], query: &str) -> Result<Ws, u16> {
    connect_headers(app, &format!("/api/v1/ws{query}"), headers).await
}

/// Connect to any WebSocket path with exactly these handshake headers.
pub async fn connect_headers(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, u16> {
    let addr = app.running().https_addr;
    let tls = tls_connect(app).await;
    let mut req = format!("wss://127.0.0.1:{}{path}", addr.port())
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            k.parse::<tokio_tungstenite::tungstenite::http::HeaderName>()
                .unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::client_async(req, tls).await {
        Ok((stream, _)) => Ok(Ws { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

impl Ws {
    /// Next JSON text frame within `secs`, or None.
    pub async fn next(&mut self, secs: u64) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Read frames until one satisfies `pred` (within `secs`).
    pub async fn until(&mut self, secs: u64, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let v = self.next(left.as_secs().max(1)).await?;
            if pred(&v) {
                return Some(v);
            }
        }
    }

    /// True when the server closed the socket within `secs`.
    pub async fn closed(&mut self, secs: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }
}
