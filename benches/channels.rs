//! Messenger webhook paths under load, against the real server over loopback HTTPS:
//! `cargo bench --bench channels` (BENCH_SECONDS per path, default 10; BENCH_CONNS concurrent
//! connections, default 64). Every request carries the platform's authentication (Telegram's
//! secret token header, WhatsApp's HMAC body signature) and a new message for one of 20,000
//! clients, so each one is a durable insert. Prints one table; asserts nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parley::config::{Config, Overrides};

mod common;
use common::{RawConn, env, pct};
use serde_json::json;

const TG_SECRET: &str = "bench-telegram-secret";
const WA_SECRET: &str = "bench-whatsapp-app-secret";
const WA_PNID: &str = "1098765432";

// The same allocator as the shipped binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sign(secret: &str, body: &[u8]) -> String {
    parley::channels::api::sign(secret, body)
}

/// One request of a path: URL suffix, headers, body.
type Make = Arc<dyn Fn(u64, u64) -> (String, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync>;

async fn drive(
    addr: std::net::SocketAddr,
    conns: u64,
    secs: u64,
    make: Make,
) -> (f64, f64, f64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut hs = Vec::new();
    for w in 0..conns {
        let (make, ok, bad, lat) = (make.clone(), ok.clone(), bad.clone(), lat.clone());
        hs.push(tokio::spawn(async move {
            let mut conn = RawConn::connect(addr).await;
            let mut i = 0u64;
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let (path, headers, body) = make(w, i);
                let t = Instant::now();
                match conn.post(&path, &headers, &body).await {
                    Ok((200, _)) => {
                        mine.push(t.elapsed().as_secs_f64() * 1000.0);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                        conn = RawConn::connect(addr).await;
                    }
                }
                i += 1;
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    let t = Instant::now();
    for h in hs {
        h.await.unwrap();
    }
    let rate = ok.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    (
        rate,
        pct(&mut l, 0.5),
        pct(&mut l, 0.99),
        bad.load(Ordering::Relaxed),
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    parley::install_crypto_provider();
    let secs = env("BENCH_SECONDS", 10);
    let conns = env("BENCH_CONNS", 64);
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("c.toml");
    // The platform API bases point at a closed port: start-up registration fails and is
    // retried in the background, which the webhook paths do not depend on.
    std::fs::write(
        &cfg_path,
        format!(
            "[server]\npublic_url = \"https://parley.example.com\"\n\n\
             [[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"TG\"\ntoken = \"1:bench\"\n\
             webhook_secret = \"{TG_SECRET}\"\napi_base = \"http://127.0.0.1:9\"\n\n\
             [[channels]]\nid = \"wa\"\nkind = \"whatsapp\"\nname = \"WA\"\naccess_token = \"bench\"\n\
             app_secret = \"{WA_SECRET}\"\nverify_token = \"v\"\nphone_number_id = \"{WA_PNID}\"\n\
             api_base = \"http://127.0.0.1:9\"\n"
        ),
    )
    .unwrap();
    let config = Config::load_from(
        Some(&cfg_path),
        &[],
        &Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
            http_listen: Some("off".into()),
        },
    )
    .unwrap();
    let running = parley::app::start(config).await.unwrap();
    let addr = running.https_addr;
    let mut rows: Vec<(String, String, String)> = Vec::new();

    let tg: Make = Arc::new(|w, i| {
        let chat = 100_000 + (w * 7919 + i) % 20_000;
        let update_id = (w << 32) | i;
        let body = json!({"update_id": update_id, "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "from": {"id": chat, "is_bot": false, "first_name": "Bench", "last_name": format!("{chat}")},
            "chat": {"id": chat, "type": "private", "first_name": "Bench"},
            "text": "benchmark message through the Telegram webhook"}});
        (
            "/webhooks/telegram/tg".into(),
            vec![
                ("content-type", "application/json".into()),
                ("x-telegram-bot-api-secret-token", TG_SECRET.into()),
            ],
            body.to_string().into_bytes(),
        )
    });
    let (rate, p50, p99, bad) = drive(addr, conns, secs, tg).await;
    rows.push((
        format!("Telegram webhook ingest ({conns} conns, secret header)"),
        format!("{rate:.0} msg/s (ack p50 {p50:.1} / p99 {p99:.1} ms; {bad} non-200)"),
        "≥ 5,000 msg/s".into(),
    ));

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
    let (rate, p50, p99, bad) = drive(addr, conns, secs, wa).await;
    rows.push((
        format!("WhatsApp webhook ingest ({conns} conns, HMAC-SHA256 body signature)"),
        format!("{rate:.0} msg/s (ack p50 {p50:.1} / p99 {p99:.1} ms; {bad} non-200)"),
        "≥ 5,000 msg/s".into(),
    ));

    println!("\n| metric | result | target |\n|---|---|---|");
    for (a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
    let _ = running.stop().await;
}
