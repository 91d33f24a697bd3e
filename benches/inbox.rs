//! Inbox core benchmarks against the real server over loopback HTTPS/WebSocket:
//! `cargo bench --bench inbox` (BENCH_CONTACTS / BENCH_MESSAGES scale the data set; defaults
//! 100k clients / ~200k chats / 1M messages). Prints one table; asserts nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

mod common;
use common::process::rss_kb;
use common::session::sign_in;
use common::{env, pct, tls};
use serde_json::json;

const TOKEN: &str = "bench-token-0123456789abcdef";

// The same allocator as the shipped binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Row(String, String, String);

fn http() -> reqwest::Client {
    tls::http_client()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    parley::install_crypto_provider();
    let contacts = env("BENCH_CONTACTS", 100_000);
    let messages = env("BENCH_MESSAGES", 1_000_000);
    let secs = env("BENCH_SECONDS", 10);
    let dir = tempfile::tempdir().unwrap();
    let running = common::start_in_process(
        dir.path(),
        &format!(
            "[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .await;
    let url = format!("https://{}", running.https_addr);
    let st = running.state.clone();
    let mut rows: Vec<Row> = Vec::new();

    let t = Instant::now();
    let rep = parley::inbox::demo::generate(&st.inbox.store, contacts, messages, 42, &|_| {})
        .await
        .unwrap();
    let gen_s = t.elapsed().as_secs_f64();
    eprintln!(
        "data: {} clients, {} chats, {} messages in {gen_s:.1} s",
        rep.contacts, rep.chats, rep.messages
    );
    rows.push(Row(
        "data set (generate, group commit)".into(),
        format!(
            "{}/{}/{} in {gen_s:.1} s",
            rep.contacts, rep.chats, rep.messages
        ),
        "-".into(),
    ));
    // Measure with the search index caught up, as a server that has been running would be.
    let t = Instant::now();
    wait_indexed(&st).await;
    rows.push(Row(
        "search index catch-up after generation".into(),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
        "-".into(),
    ));

    // The store and services alone (no HTTP/TLS): what the single writer sustains.
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs.min(5));
    let mut handles = Vec::new();
    for w in 0..256u64 {
        let (inbox, counter) = (st.inbox.clone(), counter.clone());
        handles.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let r = inbox
                    .ingest(parley::inbox::ingest::Inbound {
                        channel_id: "crm".into(),
                        channel_kind: "api".into(),
                        client_id: format!("core-{}", (w * 7919 + i) % 20_000),
                        name: Some("Core Client".into()),
                        message_id: Some(format!("core-{w}-{i}")),
                        text: "core benchmark message".into(),
                        ..Default::default()
                    })
                    .await;
                if r.is_ok() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    let t = Instant::now();
    for h in handles {
        h.await.unwrap();
    }
    let core = counter.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    rows.push(Row(
        "durable ingest, service layer only (no HTTP)".into(),
        format!("{core:.0} msg/s"),
        "-".into(),
    ));
    wait_indexed(&st).await;

    // Managers and sessions.
    let n_managers = env("BENCH_MANAGERS", 100);
    let mut sessions = Vec::new();
    for i in 0..n_managers {
        st.accounts
            .create_manager(parley::accounts::NewManager {
                login: format!("m{i}"),
                name: format!("M {i}"),
                role: parley::domain::manager::Role::Manager,
                password: "bench password 123".into(),
            })
            .await
            .unwrap();
        let session = sign_in(&http(), &url, &format!("m{i}"), "bench password 123").await;
        sessions.push(session.cookie);
    }
    let c = http();
    let cookie = sessions[0].clone();

    // Durable ingest, closed loop with many connections.
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for w in 0..128u64 {
        let (c, url, counter) = (http(), url.clone(), counter.clone());
        handles.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                let body = json!({"contact": {"external_id": format!("ing-{}", (w * 7919 + i) % 20_000), "name": "Bench Client"},
                                  "message": {"external_id": format!("ing-{w}-{i}"), "text": "benchmark message"}});
                let r = c.post(format!("{url}/webhooks/api/crm")).bearer_auth(TOKEN).json(&body).send().await;
                if r.is_ok_and(|r| r.status() == 200) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    let t = Instant::now();
    for h in handles {
        h.await.unwrap();
    }
    let rate = counter.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    wait_indexed(&st).await;
    rows.push(Row(
        "durable ingest, API channel over HTTPS (128 conns)".into(),
        format!("{rate:.0} msg/s"),
        "≥ 10,000 msg/s".into(),
    ));

    // Ack latency at a fixed 1,000 msg/s, measured from the scheduled send time (no
    // coordinated omission: a slow answer does not delay the next request).
    let lat = Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now() + Duration::from_millis(100);
    let total = 1000 * secs;
    let mut hs = Vec::new();
    for i in 0..total {
        let at = start + Duration::from_millis(i);
        tokio::time::sleep_until(at.into()).await;
        let (c, url, lat) = (c.clone(), url.clone(), lat.clone());
        hs.push(tokio::spawn(async move {
            let body = json!({"contact": {"external_id": format!("lat-{}", i % 5000)}, "message": {"external_id": format!("lat-{i}"), "text": "latency probe"}});
            let r = c.post(format!("{url}/webhooks/api/crm")).bearer_auth(TOKEN).json(&body).send().await;
            if r.is_ok_and(|r| r.status() == 200) {
                lat.lock().unwrap().push(at.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let mut l = lat.lock().unwrap().clone();
    rows.push(Row(
        "ack latency at 1,000 msg/s p50 / p99".into(),
        format!("{:.2} / {:.2} ms", pct(&mut l, 0.5), pct(&mut l, 0.99)),
        "p99 ≤ 10 ms".into(),
    ));

    // Chat list first page per section, and open chat.
    for section in ["all", "unread", "important", "dialogs"] {
        let mut v = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            let r = c
                .get(format!("{url}/api/v1/chats?section={section}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await.unwrap();
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        rows.push(Row(
            format!("chat list first page ({section}) p50 / p99"),
            format!("{:.2} / {:.2} ms", pct(&mut v, 0.5), pct(&mut v, 0.99)),
            "p99 ≤ 10 ms".into(),
        ));
    }
    let mut rng = parley::inbox::demo::Rng::new(9);
    let mut v = Vec::new();
    for _ in 0..500 {
        let chat = 1 + rng.below(rep.chats);
        let t = Instant::now();
        let r = c
            .get(format!("{url}/api/v1/chats/{chat}/messages?limit=50"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rows.push(Row(
        "open chat (50 messages) p50 / p99".into(),
        format!("{:.2} / {:.2} ms", pct(&mut v, 0.5), pct(&mut v, 0.99)),
        "p99 ≤ 10 ms".into(),
    ));

    // Webhook → WebSocket frame at every connected manager.
    let host = url.trim_start_matches("https://").to_string();
    let connector = tls::connector();
    let sent: Arc<std::sync::Mutex<std::collections::HashMap<u64, Instant>>> = Default::default();
    let ws_lat = Arc::new(std::sync::Mutex::new(Vec::new()));
    let probes = 300u64;
    let mut readers = Vec::new();
    for cookie in &sessions {
        let stream = tls::connect(&connector, running.https_addr).await.unwrap();
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("wss://{host}/api/v1/ws")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        req.headers_mut().insert("origin", url.parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
        let (sent, ws_lat) = (sent.clone(), ws_lat.clone());
        readers.push(tokio::spawn(async move {
            let mut got = 0;
            while got < probes {
                let Ok(Some(Ok(m))) =
                    tokio::time::timeout(Duration::from_secs(20), ws.next()).await
                else {
                    break;
                };
                if let tokio_tungstenite::tungstenite::Message::Text(t) = m
                    && let Some(pos) = t.find("wsprobe-")
                    && t.contains("message.created")
                {
                    let n: u64 = t[pos + 8..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit())
                        .collect::<String>()
                        .parse()
                        .unwrap();
                    if let Some(at) = sent.lock().unwrap().get(&n) {
                        ws_lat
                            .lock()
                            .unwrap()
                            .push(at.elapsed().as_secs_f64() * 1000.0);
                    }
                    got += 1;
                }
            }
            let _ = ws.close(None).await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..probes {
        sent.lock().unwrap().insert(i, Instant::now());
        let body = json!({"contact": {"external_id": "ws-probe"}, "message": {"external_id": format!("wsprobe-{i}"), "text": format!("wsprobe-{i}")}});
        c.post(format!("{url}/webhooks/api/crm"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for r in readers {
        let _ = r.await;
    }
    let mut l = ws_lat.lock().unwrap().clone();
    rows.push(Row(
        format!(
            "webhook → WS frame, {} managers p50 / p99 ({} frames)",
            sessions.len(),
            l.len()
        ),
        format!("{:.2} / {:.2} ms", pct(&mut l, 0.5), pct(&mut l, 0.99)),
        "commit→frame p99 ≤ 5 ms".into(),
    ));

    rows.push(Row(
        "process RSS after the run (server + load generator)".into(),
        format!("{} kB", rss_kb(std::process::id())),
        "-".into(),
    ));
    let db = std::fs::metadata(dir.path().join("data/parley.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    rows.push(Row(
        "store size on disk".into(),
        format!("{:.1} MB", db as f64 / 1e6),
        "-".into(),
    ));

    println!("\n| metric | result | target |\n|---|---|---|");
    for Row(a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
    running.stop().await.unwrap();
}

async fn wait_indexed(st: &parley::http::AppState) {
    loop {
        let last = st.search.last_change().unwrap();
        if st.search.applied() >= last {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
