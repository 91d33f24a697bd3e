//! Messenger webhook paths under load, against the real server over loopback HTTPS:
//! `cargo bench --bench channels` (BENCH_SECONDS per path, default 10; BENCH_CONNS concurrent
//! connections, default 64). Every request carries the platform's authentication (Telegram's
//! secret token header, WhatsApp's HMAC body signature) and a new message for one of 20,000
//! clients, so each one is a durable insert. Prints one table; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::session::{Session, sign_in};
use common::{Make, closed_loop, env, pct, telegram_update, tls};
use serde_json::json;

const TG_SECRET: &str = "bench-telegram-secret";
const WA_SECRET: &str = "bench-whatsapp-app-secret";
const WA_PNID: &str = "1098765432";
const SITE: &str = "https://shop.example";

// The same allocator as the shipped binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sign(secret: &str, body: &[u8]) -> String {
    parley::channels::api::sign(secret, body)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    parley::install_crypto_provider();
    let secs = env("BENCH_SECONDS", 10);
    let conns = env("BENCH_CONNS", 64);
    let dir = tempfile::tempdir().unwrap();
    // The platform API bases point at a closed port: start-up registration fails and is
    // retried in the background, which the webhook paths do not depend on.
    let running = common::start_in_process(
        dir.path(),
        &format!(
            "[server]\npublic_url = \"https://parley.example.com\"\n\n\
             [[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"TG\"\ntoken = \"1:bench-token-0123456789\"\n\
             webhook_secret = \"{TG_SECRET}\"\napi_base = \"http://127.0.0.1:9\"\n\n\
             [[channels]]\nid = \"wa\"\nkind = \"whatsapp\"\nname = \"WA\"\naccess_token = \"bench-access-token-0123\"\n\
             app_secret = \"{WA_SECRET}\"\nverify_token = \"bench-verify-token-0123\"\nphone_number_id = \"{WA_PNID}\"\n\
             api_base = \"http://127.0.0.1:9\"\n\n\
             [[channels]]\nid = \"site\"\nkind = \"widget\"\nname = \"Site\"\n\
             allowed_origins = [\"{SITE}\"]\n"
        ),
    )
    .await;
    let addr = running.https_addr;
    let mut rows: Vec<(String, String, String)> = Vec::new();

    let tg: Make = Arc::new(|w, i| {
        telegram_update(TG_SECRET, (w << 32) | i, 100_000 + (w * 7919 + i) % 20_000)
    });
    let (rate, p50, p99, bad) = closed_loop(addr, conns, secs, tg).await;
    rows.push((
        format!("Telegram webhook ingest ({conns} conns, secret header)"),
        format!("{rate:.0} msg/s (ack p50 {p50:.1} / p99 {p99:.1} ms; {bad} non-200)"),
        "≥ 5,000 msg/s".into(),
    ));

    // Each path starts with the search index caught up, as on a server that was idle.
    wait_indexed(&running.state).await;
    let wa: Make = Arc::new(|w, i| {
        let from = format!("{}", 79_000_000_000u64 + (w * 7919 + i) % 20_000);
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000", "phone_number_id": WA_PNID},
                "contacts": [{"profile": {"name": format!("Bench {from}")}, "wa_id": from}],
                "messages": [{"from": from, "id": format!("wamid.bench-{w}-{i}"),
                              "timestamp": "1700000000", "type": "text",
                              "text": {"body": "benchmark message through the WhatsApp webhook"}}]}}]}]})
        .to_string()
        .into_bytes();
        let sig = sign(WA_SECRET, &body);
        (
            "/webhooks/whatsapp/wa".into(),
            vec![
                ("content-type", "application/json".into()),
                ("x-hub-signature-256", sig),
            ],
            body,
        )
    });
    let (rate, p50, p99, bad) = closed_loop(addr, conns, secs, wa).await;
    rows.push((
        format!("WhatsApp webhook ingest ({conns} conns, HMAC-SHA256 body signature)"),
        format!("{rate:.0} msg/s (ack p50 {p50:.1} / p99 {p99:.1} ms; {bad} non-200)"),
        "≥ 5,000 msg/s".into(),
    ));

    wait_indexed(&running.state).await;
    let (to_visitor, to_manager, n_in) = widget_round_trip(&running).await;
    rows.push((
        "widget: manager reply → visitor WebSocket frame p50 / p99 (300)".into(),
        format!("{:.1} / {:.1} ms", to_visitor.0, to_visitor.1),
        "-".into(),
    ));
    rows.push((
        format!("widget: visitor message → manager WebSocket frame p50 / p99 ({n_in})"),
        format!("{:.1} / {:.1} ms", to_manager.0, to_manager.1),
        "-".into(),
    ));

    println!("\n| metric | result | target |\n|---|---|---|");
    for (a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
    let _ = running.stop().await;
}

type Ws = tokio_tungstenite::WebSocketStream<tls::Tls>;

async fn ws_connect(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    // Offers no ALPN, as when the figures in BENCHMARKS.md were taken.
    let tls = tls::connect(&tls::connector_with(&[]), addr).await.unwrap();
    let mut req = format!("wss://{addr}{path}").into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    tokio_tungstenite::client_async(req, tls).await.unwrap().0
}

/// Wait for a text frame containing `needle`; its arrival time.
async fn frame_with(ws: &mut Ws, needle: &str) -> Instant {
    use futures_util::StreamExt;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))))
                if t.contains(needle) =>
            {
                return Instant::now();
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no frame with {needle}: {other:?}"),
        }
    }
}

/// Round trips through the widget: a manager's reply to the visitor's socket, and a
/// visitor's message to the manager's socket (few samples: the visitor endpoints are
/// rate-limited per address, as they should be).
async fn widget_round_trip(running: &parley::app::Running) -> ((f64, f64), (f64, f64), usize) {
    let addr = running.https_addr;
    let url = format!("https://{addr}");
    let c = tls::http_client().build().unwrap();
    running
        .state
        .accounts
        .create_manager(parley::accounts::NewManager {
            login: "rt".into(),
            name: "Round Trip".into(),
            role: parley::domain::manager::Role::Manager,
            password: "bench password 123".into(),
        })
        .await
        .unwrap();
    let Session { cookie, csrf } = sign_in(&c, &url, "rt", "bench password 123").await;
    let v: serde_json::Value = c
        .post(format!("{url}/widget/v1/site/sessions"))
        .header("origin", SITE)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    let r = c
        .post(format!("{url}/widget/v1/site/messages"))
        .header("origin", SITE)
        .bearer_auth(&token)
        .json(&json!({"id": "hello", "text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The visitor's chat, as the manager's list shows it (the list is per client; the
    // widget client is the only one on this channel).
    let list: serde_json::Value = c
        .get(format!("{url}/api/v1/chats?section=all&limit=200"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chat = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel_kind"] == "widget")
        .and_then(|r| r["default_chat_id"].as_u64())
        .expect("the visitor's chat is listed");
    let mut visitor = ws_connect(
        addr,
        &format!("/widget/v1/site/ws?token={token}"),
        &[("origin", SITE)],
    )
    .await;
    let mut manager =
        ws_connect(addr, "/api/v1/ws", &[("origin", &url), ("cookie", &cookie)]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut out = Vec::new();
    for i in 0..300 {
        let probe = format!("rt-out-{i}-end");
        let t = Instant::now();
        let r = c
            .post(format!("{url}/api/v1/chats/{chat}/messages"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"text": probe}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let at = frame_with(&mut visitor, &probe).await;
        out.push(at.duration_since(t).as_secs_f64() * 1000.0);
    }
    let mut inbound = Vec::new();
    for i in 0..25 {
        let probe = format!("rt-in-{i}-end");
        let t = Instant::now();
        let r = c
            .post(format!("{url}/widget/v1/site/messages"))
            .header("origin", SITE)
            .bearer_auth(&token)
            .json(&json!({"id": probe, "text": probe}))
            .send()
            .await
            .unwrap();
        if r.status() != 201 {
            break;
        }
        let at = frame_with(&mut manager, &probe).await;
        inbound.push(at.duration_since(t).as_secs_f64() * 1000.0);
    }
    let n = inbound.len();
    (
        (pct(&mut out, 0.5), pct(&mut out, 0.99)),
        (pct(&mut inbound, 0.5), pct(&mut inbound, 0.99)),
        n,
    )
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
