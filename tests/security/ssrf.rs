//! Server-side request forgery: an attachment URL on the API-channel webhook
//! (`message.attachments[].url`) pointing anywhere but a public address is refused with a 4xx
//! naming the URL, and nothing is fetched: recording servers on loopback see no connection,
//! and no message is stored. (That a redirect from a public host is not followed is the unit
//! test `channels::fetch::tests::a_redirect_is_refused_not_followed`: a test cannot stand up
//! a public host.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{TestApp, api_channel};

/// A listener that counts connections and answers each with `reply`.
async fn recorder(bind: &str, reply: String) -> Option<(SocketAddr, Arc<AtomicUsize>)> {
    let l = TcpListener::bind(bind).await.ok()?;
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    Some((addr, hits))
}

/// This machine's host name, when it resolves only to loopback (it does in /etc/hosts here).
async fn loopback_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_string();
    let addrs: Vec<_> = tokio::net::lookup_host((name.as_str(), 80))
        .await
        .ok()?
        .collect();
    (!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())).then_some(name)
}

#[tokio::test]
async fn attachment_urls_inside_the_network_are_refused_and_never_fetched() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let secret = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\nsecret";
    let (v4, v4_hits) = recorder("127.0.0.1:0", secret.into()).await.unwrap();
    // IPv6 loopback may be missing in a container; the URL is refused either way.
    let v6 = recorder("[::1]:0", secret.into()).await;
    let (redirect, redirect_hits) = recorder(
        "127.0.0.1:0",
        format!("HTTP/1.1 302 Found\r\nlocation: http://{v4}/secret\r\ncontent-length: 0\r\n\r\n"),
    )
    .await
    .unwrap();
    let p = v4.port();
    let p6 = v6.as_ref().map_or(p, |(a, _)| a.port());
    let r = redirect.port();

    const PRIVATE: &str = "private address";
    const SCHEME: &str = "must be http(s)";
    let mut cases: Vec<(String, &str)> = vec![
        (format!("http://127.0.0.1:{p}/secret"), PRIVATE),
        (format!("https://127.0.0.1:{p}/secret"), PRIVATE),
        (format!("http://127.0.0.2:{p}/secret"), PRIVATE),
        (format!("http://localhost:{p}/secret"), PRIVATE),
        (format!("http://LocalHost:{p}/secret"), PRIVATE),
        (format!("http://[::1]:{p6}/secret"), PRIVATE),
        (format!("http://[::ffff:127.0.0.1]:{p}/secret"), PRIVATE),
        (format!("http://[::ffff:7f00:1]:{p}/secret"), PRIVATE),
        (format!("http://0.0.0.0:{p}/secret"), PRIVATE),
        (format!("http://0:{p}/secret"), PRIVATE),
        (format!("http://2130706433:{p}/secret"), PRIVATE), // decimal 127.0.0.1
        (format!("http://0x7f000001:{p}/secret"), PRIVATE), // hex
        (format!("http://0x7f.0.0.1:{p}/secret"), PRIVATE),
        (format!("http://0177.0.0.1:{p}/secret"), PRIVATE), // octal
        (format!("http://127.1:{p}/secret"), PRIVATE),
        (format!("http://user:pass@127.0.0.1:{p}/secret"), PRIVATE),
        (format!("http://example.com@127.0.0.1:{p}/secret"), PRIVATE),
        (format!("http://127.0.0.1:{r}/redirect"), PRIVATE),
        ("http://10.0.0.1/secret".into(), PRIVATE),
        ("http://10.255.255.254:8080/".into(), PRIVATE),
        ("http://172.16.0.1/".into(), PRIVATE),
        ("http://192.168.1.1/".into(), PRIVATE),
        (
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into(),
            PRIVATE,
        ),
        ("http://100.64.0.1/".into(), PRIVATE),
        ("http://[fd00::1]/".into(), PRIVATE),
        ("http://[fe80::1]/".into(), PRIVATE),
        ("http://224.0.0.1/".into(), PRIVATE),
        ("http://255.255.255.255/".into(), PRIVATE),
        ("http://198.18.0.1/".into(), PRIVATE), // benchmarking, not routed
        ("http://192.0.0.1/".into(), PRIVATE),
        // IPv6 forms that carry an IPv4 address: IPv4-compatible, NAT64 (on an IPv6-only host
        // with a NAT64 gateway these reach the private IPv4 network), 6to4.
        (format!("http://[::127.0.0.1]:{p}/secret"), PRIVATE),
        (format!("http://[64:ff9b::7f00:1]:{p}/secret"), PRIVATE),
        (
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/".into(),
            PRIVATE,
        ),
        ("http://[64:ff9b::a00:1]/".into(), PRIVATE),
        (format!("http://[2002:7f00:1::]:{p}/secret"), PRIVATE),
        ("http://[2002:a00:1::]/".into(), PRIVATE),
        ("http://[2001:db8::1]/".into(), PRIVATE),
        ("http://[fec0::1]/".into(), PRIVATE),
        ("file:///etc/passwd".into(), SCHEME),
        (format!("gopher://127.0.0.1:{p}/_GET%20/secret"), SCHEME),
        (format!("ftp://127.0.0.1:{p}/secret"), SCHEME),
    ];
    let host = loopback_hostname().await;
    if let Some(h) = &host {
        cases.push((format!("http://{h}:{p}/secret"), PRIVATE));
    }

    for (i, (url, why)) in cases.iter().enumerate() {
        let (st, v) = app
            .inbound(
                "crm",
                json!({"external_id": "ssrf"}),
                json!({"external_id": format!("m{i}"), "text": "see file",
                       "attachments": [{"url": url, "name": "x.txt", "mime": "text/plain"}]}),
            )
            .await;
        let msg = v["message"].as_str().unwrap_or("");
        assert!(st.is_client_error(), "{url}: {st} {v}");
        assert!(msg.starts_with("message.attachments[0]"), "{url}: {v}");
        assert!(
            msg.contains(url.as_str()),
            "the refusal names the url {url}: {v}"
        );
        assert!(msg.contains(why), "{url}: expected {why:?} in {v}");
    }
    assert_eq!(
        v4_hits.load(Ordering::SeqCst),
        0,
        "a loopback URL was fetched"
    );
    if let Some((_, hits)) = &v6 {
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "an IPv6 loopback URL was fetched"
        );
    }
    assert_eq!(
        redirect_hits.load(Ordering::SeqCst),
        0,
        "the redirecting server was contacted"
    );
    let boss = app.login("boss").await;
    let (_, counts) = boss.get("/api/v1/chats/counts").await;
    assert_eq!(
        counts["all"], 0,
        "a refused webhook stored something: {counts}"
    );

    // Control: the same message with the file inline is accepted, so the refusals above were
    // about the URLs.
    let data = base64::engine::general_purpose::STANDARD.encode("inline file");
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": "ssrf"}),
            json!({"external_id": "ok", "text": "see file",
                   "attachments": [{"data_base64": data, "name": "x.txt", "mime": "text/plain"}]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    eprintln!(
        "ssrf: {} URLs refused (host name {:?}, IPv6 loopback {}), 0 connections",
        cases.len(),
        host,
        if v6.is_some() { "bound" } else { "absent" }
    );
    app.stop().await;
}
