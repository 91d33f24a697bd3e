//! Automation benchmarks (issue 15), against the server in this process with its real store,
//! index and HTTPS listener: `cargo bench --bench automation`. Prints one table; asserts
//! nothing. Scale with BENCH_AUTO_CLIENTS (demo clients, default 100k), BENCH_AUTO_FUNNELS
//! (funnels each of them enters and waits in: pending delays = clients × funnels, default 10,
//! i.e. 1M), BENCH_AUTO_RATE and BENCH_SECONDS (the trigger phase, default 1,000/s for 10 s).
//!
//! - trigger → bot message committed: clients write a keyword through the API channel at a
//!   fixed rate (open loop, measured from the scheduled send); the time until the funnel's
//!   bot message is committed (seen on the event hub);
//! - N clients entering one funnel at once (a broadcast that starts a funnel): time to
//!   schedule them all, and RSS;
//! - due-step dispatch lag with the pending delays waiting: 1,000 runs due at once, from
//!   their due time to their next step's message committed;
//! - a broadcast through the API channel to the trigger phase's clients: messages delivered
//!   to the callback per second (paced at the API channel's 500/s), and peak RSS.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley::domain::broadcast::{BroadcastState, Payload};
use parley::domain::event::Event;
use parley::domain::inbox::Kind;
use parley::domain::manager::ManagerId;
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::json;

mod common;
use common::process::rss_kb;
use common::{env, pct, tls};

const TOKEN: &str = "bench-token-0123456789abcdef";

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mb() -> f64 {
    rss_kb(std::process::id()) as f64 / 1024.0
}

/// What the event hub showed: when each chat got its bot and system messages.
#[derive(Default)]
struct Seen {
    bot: HashMap<u64, Vec<(Instant, String)>>,
    system: HashMap<u64, Vec<(Instant, String)>>,
}

/// A callback endpoint that answers 200 and counts.
async fn callback_server(count: Arc<AtomicU64>) -> String {
    let acc = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acc.local_addr()[0].as_socket_addr().copied().unwrap();
    let ep = poem::endpoint::make(move |_req: poem::Request| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            poem::Response::builder()
                .content_type("application/json")
                .body("{}")
        }
    });
    tokio::spawn(poem::Server::new_with_acceptor(acc).run(ep));
    format!("http://{addr}/cb")
}

async fn wait_broadcast(st: &parley::http::AppState, id: u64) -> Duration {
    let t = Instant::now();
    loop {
        let bs = st.inbox.broadcasts().await.unwrap();
        if bs
            .iter()
            .any(|b| b.id == id && b.state == BroadcastState::Done)
        {
            return t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The contacts of these chats.
fn contacts_of(st: &parley::http::AppState, chats: Vec<u64>) -> Vec<u64> {
    st.inbox
        .store
        .read(move |r| {
            use parley::store::inbox::InboxReads;
            let mut out = Vec::new();
            for c in &chats {
                if let Some(ch) = r.chat(*c)? {
                    out.push(ch.contact_id);
                }
            }
            Ok(out)
        })
        .unwrap()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    parley::install_crypto_provider();
    let clients = env("BENCH_AUTO_CLIENTS", 100_000);
    let funnels = env("BENCH_AUTO_FUNNELS", 10);
    let rate = env("BENCH_AUTO_RATE", 1_000);
    let secs = env("BENCH_SECONDS", 10);
    let delivered = Arc::new(AtomicU64::new(0));
    let cb = callback_server(delivered.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let running = common::start_in_process(
        dir.path(),
        &format!(
            "[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"{TOKEN}\"\ncallback_url = \"{cb}\"\nsecret = \"bench-callback-secret-0123456789\"\n"
        ),
    )
    .await;
    let url = format!("https://{}", running.https_addr);
    let st = running.state.clone();
    let admin = st
        .accounts
        .create_manager(parley::accounts::NewManager {
            login: "bench".into(),
            name: "Bench".into(),
            role: parley::domain::manager::Role::Admin,
            password: "bench password 0123".into(),
        })
        .await
        .unwrap();
    let actor = ManagerId(admin.id);
    let mut rows: Vec<(String, String)> = Vec::new();

    let seen = Arc::new(Mutex::new(Seen::default()));
    {
        let (seen, mut rx) = (seen.clone(), st.hub.subscribe());
        tokio::spawn(async move {
            while let Ok(p) = rx.recv().await {
                if let Event::MessageCreated(c) = &p.event {
                    let at = Instant::now();
                    let m = &c.message.message;
                    let mut s = seen.lock().unwrap();
                    let map = match m.kind {
                        Kind::Bot => &mut s.bot,
                        Kind::System => &mut s.system,
                        _ => continue,
                    };
                    map.entry(c.chat_id).or_default().push((at, m.text.clone()));
                }
            }
        });
    }

    // --- trigger → bot message committed, open loop.
    st.inbox
        .create_funnel(
            json!({"name": "Price", "trigger": {"kind": "keyword", "keywords": ["price"]},
                              "steps": [{"kind": "send", "text": "Our prices, {client.name}"}]}),
        )
        .await
        .unwrap();
    let http = tls::http_client()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let n = rate * secs;
    let start = Instant::now();
    let mut hs = Vec::new();
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let (http, url, sent) = (http.clone(), url.clone(), sent.clone());
        hs.push(tokio::spawn(async move {
            let r = http
                .post(format!("{url}/webhooks/api/crm"))
                .bearer_auth(TOKEN)
                .json(&json!({"contact": {"external_id": format!("t{i}"), "name": format!("Trigger {i}")},
                              "message": {"external_id": format!("tm{i}"), "text": "what is the price?"}}))
                .send()
                .await;
            if let Ok(r) = r
                && let Ok(v) = r.json::<serde_json::Value>().await
                && let Some(chat) = v["chat_id"].as_u64()
            {
                sent.lock().unwrap().insert(chat, due);
            }
        }));
    }
    for h in hs {
        let _ = h.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let trigger_chats: Vec<u64> = sent.lock().unwrap().keys().copied().collect();
    let mut lat = Vec::new();
    {
        let s = seen.lock().unwrap();
        for (chat, due) in sent.lock().unwrap().iter() {
            if let Some(v) = s.bot.get(chat).and_then(|v| v.first()) {
                lat.push(v.0.saturating_duration_since(*due).as_secs_f64() * 1000.0);
            }
        }
    }
    rows.push((
        format!("trigger → bot message committed at {rate}/s for {secs} s, p50 / p99"),
        format!(
            "{:.2} / {:.2} ms ({} of {n} answered)",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99),
            lat.len()
        ),
    ));

    // --- many clients entering one funnel at once, then the pending delays.
    let t = Instant::now();
    let rep = parley::inbox::demo::generate(&st.inbox.store, clients, clients * 2, 42, &|_| {})
        .await
        .unwrap();
    eprintln!(
        "demo: {} clients in {:.1} s",
        rep.contacts,
        t.elapsed().as_secs_f64()
    );
    let all: Vec<u64> = st
        .inbox
        .store
        .read(|r| {
            let mut ids = Vec::new();
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = parley::store::inbox::contacts_after(r, after.as_deref(), 10_000)?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                ids.extend(page.into_iter().map(|(_, c)| c.id));
            }
            Ok(ids)
        })
        .unwrap();
    let before = rss_mb();
    let mut first = None;
    for f in 0..funnels {
        let fid = st
            .inbox
            .create_funnel(json!({"name": format!("Nurture {f}"), "trigger": {"kind": "manual"},
                                  "steps": [{"kind": "delay", "seconds": 86400}, {"kind": "send", "text": "later"}]}))
            .await
            .unwrap()
            .id;
        let b = st
            .inbox
            .create_broadcast(
                actor,
                format!("enter {f}"),
                Payload::Funnel(fid),
                all.clone(),
            )
            .await
            .unwrap();
        let took = wait_broadcast(&st, b.id).await;
        if first.is_none() {
            first = Some(took);
        }
        eprintln!(
            "funnel {f}: {} clients scheduled in {:.1} s",
            all.len(),
            took.as_secs_f64()
        );
    }
    // Each run advances once (to its delay) right after it is scheduled; wait for all of them
    // to wait, so the lag probe below is not queued behind them.
    let settle = Instant::now();
    loop {
        let next = st.inbox.next_run_due().await.unwrap();
        if next.is_none_or(|at| at > parley::domain::now_ms() + 3_600_000) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = settle.elapsed();
    let took = first.unwrap_or_default();
    let pending = all.len() as u64 * funnels;
    rows.push((
        format!(
            "{} clients entering one funnel at once: scheduled in",
            all.len()
        ),
        format!(
            "{:.1} s ({:.0} runs/s); RSS {:.0} → {:.0} MB with {pending} pending delays",
            took.as_secs_f64(),
            all.len() as f64 / took.as_secs_f64().max(1e-9),
            before,
            rss_mb(),
        ),
    ));
    rows.push((
        format!("{pending} runs taken to their delay step (after the last was scheduled)"),
        format!("{:.1} s", settled.as_secs_f64()),
    ));

    // --- dispatch lag: 1,000 runs due at once while the pending delays wait.
    let lag_id = st
        .inbox
        .create_funnel(json!({"name": "Lag", "trigger": {"kind": "manual"},
                              "steps": [{"kind": "delay", "seconds": 2}, {"kind": "send", "text": "lag probe"}]}))
        .await
        .unwrap()
        .id;
    let probe: Vec<u64> = trigger_chats.iter().take(1000).copied().collect();
    let b = st
        .inbox
        .create_broadcast(
            actor,
            "lag".into(),
            Payload::Funnel(lag_id),
            contacts_of(&st, probe.clone()),
        )
        .await
        .unwrap();
    wait_broadcast(&st, b.id).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut lag = Vec::new();
    {
        let s = seen.lock().unwrap();
        for chat in &probe {
            let waited = s
                .system
                .get(chat)
                .and_then(|v| v.iter().find(|(_, t)| t == "Funnel Lag: waiting 2 s"));
            let fired = s
                .bot
                .get(chat)
                .and_then(|v| v.iter().find(|(_, t)| t == "lag probe"));
            if let (Some(w), Some(f)) = (waited, fired) {
                let due = w.0 + Duration::from_secs(2);
                lag.push(f.0.saturating_duration_since(due).as_secs_f64() * 1000.0);
            }
        }
    }
    rows.push((
        format!(
            "due-step dispatch lag, 1,000 runs due at once, {pending} pending delays, p50 / p99"
        ),
        format!(
            "{:.1} / {:.1} ms ({} measured)",
            pct(&mut lag, 0.5),
            pct(&mut lag, 0.99),
            lag.len()
        ),
    ));

    // --- a broadcast through the API channel.
    let targets = contacts_of(&st, trigger_chats.clone());
    let peak = Arc::new(AtomicU64::new(0));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    {
        let (peak, stop) = (peak.clone(), stop_sampling.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(std::process::id()), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    let base = delivered.load(Ordering::Relaxed);
    let t = Instant::now();
    let b = st
        .inbox
        .create_broadcast(
            actor,
            "news".into(),
            Payload::Text("News for you, {client.name}".into()),
            targets.clone(),
        )
        .await
        .unwrap();
    wait_broadcast(&st, b.id).await;
    let want = base + targets.len() as u64;
    while delivered.load(Ordering::Relaxed) < want && t.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t.elapsed().as_secs_f64();
    stop_sampling.store(true, Ordering::Relaxed);
    let got = delivered.load(Ordering::Relaxed) - base;
    rows.push((
        format!(
            "broadcast to {} clients through the API channel",
            targets.len()
        ),
        format!(
            "{:.0} messages/s delivered to the callback ({got} in {took:.1} s; paced at 500/s); peak RSS {:.0} MB",
            got as f64 / took,
            peak.load(Ordering::Relaxed) as f64 / 1024.0
        ),
    ));

    println!("\n| metric | result |\n|---|---|");
    for (k, v) in &rows {
        println!("| {k} | {v} |");
    }
}
