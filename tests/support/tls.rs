//! Clients that accept the server's self-signed certificate: the one rustls verifier that
//! skips verification, raw TLS connections (from a chosen loopback address), and the reqwest
//! builder every test and bench starts from. Shared by tests and benches (`#[path]`), so it
//! uses only crates both can see.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

pub type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// Accepts any certificate: the server makes its own on first start, and what these clients
/// measure or attack is the server, not the PKI. Tests of certificate checking itself
/// (`foundation/tls.rs`, `support/ws.rs`) trust the server's PEM instead.
#[derive(Debug)]
pub struct NoVerify;

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A connector that offers `alpn` (empty: no ALPN extension) and trusts any certificate.
/// It names its crypto provider (the server's), so it works before, or without, a
/// process-wide default being installed.
pub fn connector_with(alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify))
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// A connector for HTTP/1.1, what the server speaks.
pub fn connector() -> tokio_rustls::TlsConnector {
    connector_with(&[b"http/1.1"])
}

/// A TCP connection from a chosen loopback address (127.0.0.0/8 is all local on Linux), so
/// per-address caps can be exercised, or kept out of the way, from one machine.
pub async fn tcp_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((from, 0)))?;
    sock.connect(to).await
}

/// A TLS connection from `from` to `to`; `None` when the server refuses it at any step.
pub async fn tls_from(
    c: &tokio_rustls::TlsConnector,
    from: [u8; 4],
    to: SocketAddr,
) -> Option<Tls> {
    let tcp = tcp_from(from, to).await.ok()?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("localhost").ok()?;
    c.connect(name, tcp).await.ok()
}

/// A TLS connection with `c` from the default address (Nagle off: requests are small and
/// latency is what is measured).
pub async fn connect(c: &tokio_rustls::TlsConnector, to: SocketAddr) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(to).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    c.connect(name, tcp).await
}

/// The reqwest builder for the server under test: its certificate is self-signed.
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_danger_accept_invalid_certs(true)
}
