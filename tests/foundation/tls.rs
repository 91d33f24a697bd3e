//! TLS: a real TLS 1.3 handshake that verifies the self-signed certificate, its reuse across
//! restarts, the HTTP redirect, and SIGHUP-style reload of a configured PEM pair.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestApp, client};

/// Handshake trusting only `cert_pem`; returns the negotiated version and the leaf DER.
async fn handshake(
    addr: std::net::SocketAddr,
    cert_pem: &[u8],
) -> (rustls::ProtocolVersion, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = conn
        .connect(name, tcp)
        .await
        .expect("certificate verifies for 127.0.0.1");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    let (_, c) = tls.get_ref();
    (
        c.protocol_version().unwrap(),
        c.peer_certificates().unwrap()[0].as_ref().to_vec(),
    )
}

#[tokio::test]
async fn self_signed_tls13_reused_across_restarts() {
    let app = TestApp::spawn().await;
    let pem = std::fs::read(app.dir.join("tls/cert.pem")).unwrap();
    let fp = app.running().fingerprint.clone();
    let (v, der) = handshake(app.running().https_addr, &pem).await;
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(
        parley::tls::fingerprint(&der),
        fp,
        "printed fingerprint is the served cert's"
    );

    let app = app.restart().await;
    assert_eq!(
        app.running().fingerprint,
        fp,
        "certificate reused after restart"
    );
    let (_, der2) = handshake(app.running().https_addr, &pem).await;
    assert_eq!(der, der2);
    app.stop().await;
}

#[tokio::test]
async fn plain_http_redirects_to_https() {
    let app = TestApp::spawn().await;
    let http = app.http_url.clone().unwrap();
    let r = client()
        .get(format!("{http}/some/page?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let port = app.running().https_addr.port();
    assert_eq!(loc, format!("https://127.0.0.1:{port}/some/page?x=1"));
    app.stop().await;
}

#[tokio::test]
async fn configured_pem_is_served_and_reloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let mk = |name: &str| {
        let c = rcgen_pair(name);
        std::fs::write(tmp.path().join("cert.pem"), &c.0).unwrap();
        std::fs::write(tmp.path().join("key.pem"), &c.1).unwrap();
        c.0
    };
    let first = mk("one");
    let cfg = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        tmp.path().join("cert.pem").display(),
        tmp.path().join("key.pem").display()
    );
    let app = TestApp::spawn_with(&cfg).await;
    let addr = app.running().https_addr;
    let (_, der) = handshake(addr, &first).await;
    assert_eq!(
        der,
        CertificateDer::from_pem_slice(&first).unwrap().as_ref()
    );

    let second = mk("two");
    app.running().reload_tls();
    let mut served = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(&second).unwrap())
            .unwrap();
        let cfg = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        if let Ok(tls) = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
        {
            served = tls.get_ref().1.peer_certificates().unwrap()[0]
                .as_ref()
                .to_vec();
            break;
        }
    }
    assert_eq!(
        served,
        CertificateDer::from_pem_slice(&second).unwrap().as_ref(),
        "new cert after reload"
    );

    // A broken file on reload keeps the working certificate.
    std::fs::write(tmp.path().join("cert.pem"), "garbage").unwrap();
    app.running().reload_tls();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, der) = handshake(addr, &second).await;
    assert_eq!(
        der,
        CertificateDer::from_pem_slice(&second).unwrap().as_ref()
    );
    app.stop().await;
}

fn rcgen_pair(cn: &str) -> (Vec<u8>, Vec<u8>) {
    // Generated with the same code path the server uses, in a throwaway dir.
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::support::config_from(
        &format!("[server]\npublic_url = \"https://{cn}.example\"\n"),
        dir.path(),
    );
    let m = parley::tls::load(&cfg).unwrap();
    (m.cert_pem, m.key_pem)
}
