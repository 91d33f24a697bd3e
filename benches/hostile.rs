//! Hostile HTTP responsiveness (issue 12, R2): a signed-in manager's latency while the server
//! is attacked, and the server's memory. The real binary runs as its own process on a demo
//! data set (2,000 clients, 20,000 messages); a manager on its own thread and connection
//! repeats "chat list, then open one chat", first on the idle server, then while these run:
//!
//! - idle plain TCP connections (HOSTILE_TCP, default 3,000) and idle TLS connections
//!   (HOSTILE_TLS, 2,000), reopened whenever the server closes them;
//! - idle signed-in WebSockets (HOSTILE_WS, 1,000);
//! - slow clients (HOSTILE_SLOW, 200): a quarter dribble a head, a quarter dribble an
//!   unauthenticated 1 MB webhook body, half dribble an authentic 33 MB webhook body (1 KB/s);
//! - request loops (about 50 a second each): a declared 50 MB body, malformed JSON,
//!   100,000 `[`, 100,000 `{"a":`, and 40 pipelined 33 MB bodies to an unknown webhook;
//! - HTTP/2 floods (HOSTILE_H2 loops, default 4): a connection offering h2 sends the preface
//!   and 1,000 HEADERS frames; another offers only h2.
//!
//! `cargo bench --bench hostile` prints the figures and PASS/FAIL for: manager p99 under attack
//! at most 2x idle, peak RSS under the RSS before plus 64 KB per attacking connection, and the
//! server answering afterwards. It asserts nothing. HOSTILE_ROUNDS (500) sets the manager's
//! rounds per phase; PARLEY_BIN measures another build of `parley`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::pct;
use common::process::{self, Logs, RssPeak, Serve, rss_kb};
use common::raw::{closed_within, exchange, get, post};
use common::session::sign_in;
use common::tls::{self, Tls, connector, connector_with, tcp_from, tls_from};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-api-channel-token-0123456789";

fn env_n(name: &str, default: usize) -> usize {
    common::env(name, default as u64) as usize
}

fn deep(open: &str, levels: usize) -> Vec<u8> {
    open.repeat(levels).into_bytes()
}

/// A manager's session: the chat list's first page, then one chat opened, `rounds` times.
/// Runs on its own thread and runtime so attacker tasks in this process do not delay it.
async fn manager_latencies(addr: SocketAddr, cookie: String, rounds: usize) -> Vec<f64> {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let c = connector();
            let mut s = tls_from(&c, [127, 0, 0, 1], addr).await.expect("connect");
            let mut lat = Vec::with_capacity(rounds * 2);
            for i in 0..rounds {
                let t = Instant::now();
                let (st, body) = exchange(&mut s, &get("/api/v1/chats", &cookie), b"")
                    .await
                    .unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
                let v: Value = serde_json::from_slice(&body).unwrap();
                let items = v["items"].as_array().expect("items");
                let id = items[i % items.len()]["default_chat_id"]
                    .as_u64()
                    .expect("default_chat_id");
                let t = Instant::now();
                let (st, body) = exchange(
                    &mut s,
                    &get(&format!("/api/v1/chats/{id}/messages"), &cookie),
                    b"",
                )
                .await
                .unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
            }
            lat
        })
    })
    .await
    .unwrap()
}

/// Loopback source addresses for attackers: many, so the per-address cap (default 512) is
/// not what stops them; the manager uses 127.0.0.1.
fn attacker_addr(i: usize) -> [u8; 4] {
    [127, 0, 1 + (i / 250 % 200) as u8, 2 + (i % 250) as u8]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    parley::install_crypto_provider();
    let rounds = env_n("HOSTILE_ROUNDS", 500);
    let n_tcp = env_n("HOSTILE_TCP", 3000);
    let n_tls = env_n("HOSTILE_TLS", 2000);
    let n_ws = env_n("HOSTILE_WS", 1000);
    let n_slow = env_n("HOSTILE_SLOW", 200);
    let n_h2 = env_n("HOSTILE_H2", 4);
    let bin = process::bin_from_env();
    let bin = bin.as_path();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();

    let o = process::run(
        bin,
        &[
            "demo",
            "--data-dir",
            &data,
            "--contacts",
            "2000",
            "--messages",
            "20000",
        ],
        None,
    );
    assert!(
        o.status.success(),
        "parley demo failed: {}",
        process::output_text(&o)
    );
    let cfg = format!("{data}/hostile.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    // The demo data has no admin: the first start makes one and prints its password.
    let mut server = Serve::new(bin, &data)
        .config(&cfg)
        .logs(Logs::Banner)
        .env("PARLEY_LOG_LEVEL", "warn")
        .spawn();
    let pid = server.pid();
    let addr = server.addr;
    let password = server
        .banner_field("password:")
        .unwrap_or_else(|| panic!("no password in {}", server.banner));

    let c = connector();
    let http = tls::http_client().build().unwrap();
    let url = server.url();
    let cookie = sign_in(&http, &url, "admin", &password).await.cookie;
    let ws_cookie = sign_in(&http, &url, "admin", &password).await.cookie;

    let mut warm = manager_latencies(addr, cookie.clone(), 50).await;
    let _ = pct(&mut warm, 0.5);
    let rss_before = rss_kb(pid);
    let mut idle = manager_latencies(addr, cookie.clone(), rounds).await;

    // The attack. Each flood keeps its number of connections up: a connection the server
    // closes is opened again.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = {
        let stop = stop.clone();
        move || stop.load(std::sync::atomic::Ordering::Relaxed)
    };
    let peak = RssPeak::watch(pid, Duration::from_millis(100));
    let mut tasks = Vec::new();
    let counters: Arc<[std::sync::atomic::AtomicU64; 12]> = Arc::new(Default::default());
    let bump = |c: &[std::sync::atomic::AtomicU64; 12], i: usize| {
        c[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };

    // 1000 idle signed-in WebSockets first, to read the memory per socket.
    let ws_base = rss_kb(pid);
    let mut ws_up = 0usize;
    for i in 0..n_ws {
        let Some(tls) = tls_from(&c, attacker_addr(i), addr).await else {
            continue;
        };
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("wss://localhost:{}/api/v1/ws", addr.port())
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("cookie", ws_cookie.parse().unwrap());
        req.headers_mut().insert(
            "origin",
            format!("https://localhost:{}", addr.port())
                .parse()
                .unwrap(),
        );
        if let Ok((mut ws, _)) = tokio_tungstenite::client_async(req, tls).await {
            ws_up += 1;
            let stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                use futures_util::StreamExt;
                // Reading answers the server's pings; nothing is ever sent.
                while !stopped() {
                    match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
                        Ok(Some(Ok(_))) | Err(_) => {}
                        Ok(_) => break,
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ws_rss = rss_kb(pid);

    // Idle TLS (handshake, then nothing) and plain TCP (nothing at all).
    let tls_base = rss_kb(pid);
    for i in 0..n_tls {
        let (c, stopped, counters) = (c.clone(), stopped.clone(), counters.clone());
        let from = attacker_addr(n_ws + i);
        tasks.push(tokio::spawn(async move {
            while !stopped() {
                if let Some(mut s) = tls_from(&c, from, addr).await {
                    bump(&counters, 0);
                    let _ = closed_within(&mut s, 120).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tls_rss = rss_kb(pid);
    for i in 0..n_tcp {
        let (stopped, counters) = (stopped.clone(), counters.clone());
        let from = attacker_addr(n_ws + n_tls + i);
        tasks.push(tokio::spawn(async move {
            while !stopped() {
                if let Ok(mut s) = tcp_from(from, addr).await {
                    bump(&counters, 1);
                    let _ = closed_within(&mut s, 120).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    // Slow clients: heads (a header line a second), unauthenticated bodies (refused from the
    // head, so they reconnect after a pause), and authentic 33 MB bodies at 1 KB/s (held by the
    // body budget and its deadline, or refused with 503).
    for i in 0..n_slow {
        let (c, stopped, counters) = (c.clone(), stopped.clone(), counters.clone());
        let from = attacker_addr(n_ws + n_tls + n_tcp + i);
        let kind = if i % 2 == 1 { 2 } else { i / 2 % 2 };
        tasks.push(tokio::spawn(async move {
            while !stopped() {
                let Some(mut s) = tls_from(&c, from, addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                bump(&counters, 2 + kind);
                let auth = format!("authorization: Bearer {TOKEN}\r\n");
                let first = match kind {
                    0 => "GET /healthz HTTP/1.1\r\nhost: localhost\r\n".to_string(),
                    1 => post("/webhooks/api/crm", "", 1 << 20),
                    _ => post("/webhooks/api/crm", &auth, 33 << 20),
                };
                if s.write_all(first.as_bytes()).await.is_err() {
                    continue;
                }
                let (more, every): (&[u8], u64) = match kind {
                    0 => (b"x-slow: 1\r\n", 1000),
                    1 => (b" ", 1000),
                    _ => (&[b' '; 1024], 1000),
                };
                while !stopped() {
                    tokio::time::sleep(Duration::from_millis(every)).await;
                    if s.write_all(more).await.is_err() || s.flush().await.is_err() {
                        break;
                    }
                }
                // Refused or cut off: come back a second later, as a persistent attacker.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }
    // HTTP/2 floods: the preface and 1,000 HEADERS frames on a connection offering h2 and
    // HTTP/1.1, and connections offering only h2. Each loop paced at about 50 a second.
    for k in 0..n_h2 {
        let (stopped, counters) = (stopped.clone(), counters.clone());
        let both = connector_with(&[b"h2", b"http/1.1"]);
        let only = connector_with(&[b"h2"]);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut frames = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            frames.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
            for stream in 0..1000u32 {
                // HEADERS, END_STREAM | END_HEADERS, one indexed field (:method GET).
                let id = (2 * stream + 1).to_be_bytes();
                frames.extend_from_slice(&[0, 0, 1, 1, 5, id[0], id[1], id[2], id[3], 0x82]);
            }
            let mut n = 0u64;
            while !stopped() {
                tick.tick().await;
                n += 1;
                let from = [127, 0, 2, 10 + k as u8];
                if n.is_multiple_of(2) {
                    if tls_from(&only, from, addr).await.is_none() {
                        bump(&counters, 10);
                    }
                    continue;
                }
                let Some(mut s) = tls_from(&both, from, addr).await else {
                    continue;
                };
                let _ = s.write_all(&frames).await;
                let mut got = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut got)).await;
                if got.is_empty() {
                    bump(&counters, 11);
                }
            }
        }));
    }
    // Request loops: oversized bodies, malformed JSON, deep nesting, paced (each loop about
    // 50 requests a second).
    let deep_body = deep("[", 100_000);
    let deep_obj = deep("{\"a\":", 100_000);
    let unexpected = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for kind in 0..5usize {
        let unexpected = unexpected.clone();
        let (c, stopped, counters) = (c.clone(), stopped.clone(), counters.clone());
        let (deep_body, deep_obj) = (deep_body.clone(), deep_obj.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut conn: Option<Tls> = None;
            while !stopped() {
                tick.tick().await;
                if conn.is_none() {
                    conn = tls_from(&c, [127, 0, 0, 200 + kind as u8], addr).await;
                }
                let Some(s) = conn.as_mut() else { continue };
                let auth = format!("authorization: Bearer {TOKEN}\r\n");
                let r = match kind {
                    // A declared 50 MB body: refused from the head.
                    0 => exchange(s, &post("/webhooks/api/crm", "", 50 << 20), b"").await,
                    1 => {
                        let b = br#"{"contact": {"external_id": 5}, "message": {"tex"#;
                        exchange(s, &post("/webhooks/api/crm", &auth, b.len()), b).await
                    }
                    2 => {
                        exchange(
                            s,
                            &post("/webhooks/api/crm", &auth, deep_body.len()),
                            &deep_body,
                        )
                        .await
                    }
                    3 => exchange(s, &post("/api/v1/session", "", deep_obj.len()), &deep_obj).await,
                    // 40 pipelined 33 MB bodies to an unknown webhook: the first gets 404
                    // from its head, and the connection is closed with the rest unread.
                    _ => {
                        let mut heads = String::new();
                        for _ in 0..40 {
                            heads.push_str(&post("/webhooks/api/nope", "", 33 << 20));
                        }
                        exchange(s, &heads, &[b' '; 4096]).await
                    }
                };
                match r {
                    Ok((st, _)) if (400..500).contains(&st) => bump(&counters, 5 + kind),
                    Ok((st, b)) => {
                        unexpected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        eprintln!("attack {kind} got {st}: {}", String::from_utf8_lossy(&b));
                    }
                    Err(_) => conn = None,
                }
                // The unread bodies end the connection: start a fresh one.
                if kind == 4 {
                    conn = None;
                }
            }
        }));
    }
    // Let the floods build up, then measure while they run.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let open_during = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let mut attacked = manager_latencies(addr, cookie.clone(), rounds).await;
    let fds_after_measure = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // Dropping the attackers' sockets closes them.
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss_kb(pid);
    let peak = peak.peak_kb().max(rss_after);
    let n: Vec<u64> = counters
        .iter()
        .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    let alive = exchange(
        &mut tls_from(&c, [127, 0, 0, 1], addr).await.unwrap(),
        &get("/healthz", &cookie),
        b"",
    )
    .await
    .map(|(s, _)| s)
    .unwrap_or(0);
    server.stop(Duration::from_secs(60)).await;

    let (i50, i99) = (pct(&mut idle, 0.5), pct(&mut idle, 0.99));
    let (a50, a99) = (pct(&mut attacked, 0.5), pct(&mut attacked, 0.99));
    let attackers = n_tcp + n_tls + ws_up + n_slow + 5 + n_h2;
    // Bound: the idle server plus 64 KB for every attacking connection (the per-connection
    // budget stated in config.example.toml).
    let bound = rss_before + 64 * attackers as u64;
    println!(
        "Hostile HTTP responsiveness ({} build of the bench client; server {})",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        bin.display()
    );
    println!(
        "  manager requests per phase: {} (chat list + open chat)",
        2 * rounds
    );
    println!("  idle:         p50 {i50:.2} ms  p99 {i99:.2} ms");
    println!(
        "  under attack: p50 {a50:.2} ms  p99 {a99:.2} ms  (p99 ratio {:.2}, target <= 2.00)",
        a99 / i99
    );
    println!(
        "  attackers: {n_tcp} idle TCP, {n_tls} idle TLS, {ws_up} idle WebSockets, {n_slow} slow clients, 5 request loops, {n_h2} HTTP/2 loops"
    );
    println!(
        "  connections opened: TLS {} TCP {} slow-head {} slow-unauthenticated-body {} slow-33MB-body {}",
        n[0], n[1], n[2], n[3], n[4]
    );
    println!(
        "  refused requests: declared 50 MB {} malformed {} deep [ {} deep {{ {} pipelined-unknown {}; unexpected answers {}",
        n[5],
        n[6],
        n[7],
        n[8],
        n[9],
        unexpected.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "  HTTP/2: h2-only handshakes refused {}, preface floods closed unanswered {}",
        n[10], n[11]
    );
    println!("  server fds: {open_during} as measuring began, {fds_after_measure} at its end");
    println!(
        "  memory per idle WebSocket: {:.1} KB; per idle TLS connection: {:.1} KB",
        (ws_rss.saturating_sub(ws_base)) as f64 / ws_up.max(1) as f64,
        (tls_rss.saturating_sub(tls_base)) as f64 / n_tls.max(1) as f64
    );
    println!(
        "  server RSS: before {} MB, peak {} MB, after {} MB (bound {} MB = before + 64 KB x {attackers} connections)",
        rss_before / 1024,
        peak / 1024,
        rss_after / 1024,
        bound / 1024
    );
    println!("  server answers afterwards: {alive}");
    let pass = a99 <= 2.0 * i99 && peak <= bound && alive == 200;
    println!("  {}", if pass { "PASS" } else { "FAIL" });
}
