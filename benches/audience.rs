//! Audience and orders benchmarks (issue 17), against the server in this process with its
//! real store, index and HTTPS listener: `cargo bench --bench audience`. Prints one table;
//! asserts nothing. Scale with BENCH_AUD_IMPORT (CSV rows, default 100k), BENCH_AUD_EXPORT
//! (clients exported, default 1M), BENCH_AUD_MERGES (default 200), BENCH_AUD_ORDERS
//! (orders on one board, default 10k).
//!
//! - import: a CSV of N rows (names, phones in mixed forms, e-mails, tags, a field) through
//!   the import use case, batched through the single writer: rows/s and RSS;
//! - export: `GET /api/v1/contacts/export` over HTTPS of every client, streamed and counted
//!   by the client: time, bytes, and peak RSS of the server while it streams;
//! - merge: one client with a chat merged into another, one at a time: latency p50/p99;
//! - board: `GET /api/v1/orders?plan=` with N orders on the plan: latency and body size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parley::domain::manager::ManagerId;
use parley::inbox::audience::ImportOptions;
use parley::inbox::orders::OrderInput;

mod common;
use common::process::rss_kb;
use common::{env, pct, session, tls};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mb() -> f64 {
    rss_kb(std::process::id()) as f64 / 1024.0
}

/// Samples this process's RSS every 20 ms until stopped; returns the peak in MB.
fn watch_rss(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak = 0u64;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_kb(std::process::id()));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak as f64 / 1024.0
    })
}

fn csv(n: u64) -> String {
    let mut s = String::from("\u{feff}name;phone;email;tags;City\n");
    for i in 0..n {
        // Every tenth row writes a phone in the national form the previous row used
        // internationally: the import must match them as one client.
        let phone = if i % 10 == 9 {
            format!(
                "8 (9{:02}) {:03}-{:04}",
                (i - 1) / 10_000_000 % 100,
                (i - 1) / 10_000 % 1000,
                (i - 1) % 10_000
            )
        } else {
            format!(
                "+7 9{:02} {:03} {:04}",
                i / 10_000_000 % 100,
                i / 10_000 % 1000,
                i % 10_000
            )
        };
        s.push_str(&format!(
            "Client {i};{phone};client{i}@example.com;\"vip, batch{}\";City {}\n",
            i % 7,
            i % 100
        ));
    }
    s
}

#[tokio::main]
async fn main() {
    parley::install_crypto_provider();
    let import_rows = env("BENCH_AUD_IMPORT", 100_000);
    let export_n = env("BENCH_AUD_EXPORT", 1_000_000);
    let merges = env("BENCH_AUD_MERGES", 200);
    let orders_n = env("BENCH_AUD_ORDERS", 10_000);
    let dir = tempfile::tempdir().unwrap();
    let running = common::start_in_process(
        dir.path(),
        // The page cache a server restarted on a 1M-client store sizes for itself (an
        // eighth of its 1.2 GB file, capped at 96 MB); this one starts empty and would
        // otherwise keep the 16 MB of an empty store.
        "[memory]\nstore_cache_mb = 96\n\n[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"bench-token-0123456789abcdef\"\n",
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
    let idle = rss_mb();

    // --- import
    let text = csv(import_rows);
    let bytes = text.len();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_rss(stop.clone());
    let t0 = Instant::now();
    let rep = st
        .inbox
        .import_csv(actor, text, ImportOptions::default())
        .await
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();
    rows.push((
        format!("import {import_rows} rows ({} MB CSV)", bytes / 1_000_000),
        format!(
            "{:.1} s, {:.0} rows/s; created {}, matched {}; RSS {idle:.0} → peak {peak:.0} MB",
            secs,
            import_rows as f64 / secs,
            rep.created,
            rep.updated + rep.skipped
        ),
    ));
    eprintln!("{:?}", rows.last());

    // --- export: top up to export_n clients with demo clients (with chats), then stream.
    let extra = export_n.saturating_sub(rep.created);
    if extra > 0 {
        let t = Instant::now();
        parley::inbox::demo::generate(&st.inbox.store, extra, extra, 7, &|_| {})
            .await
            .unwrap();
        eprintln!(
            "generated {extra} demo clients in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    let http = tls::http_client().build().unwrap();
    let s = session::sign_in(&http, &url, "bench", "bench password 0123").await;
    // Twice: the first export fills the page cache (bounded by store_cache_mb); the second
    // shows whether anything else grows with the number of clients exported.
    for pass in ["first", "second"] {
        let before = rss_mb();
        let stop = Arc::new(AtomicBool::new(false));
        let peak = watch_rss(stop.clone());
        let t0 = Instant::now();
        let r = http
            .get(format!("{url}/api/v1/contacts/export"))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let mut stream = r.bytes_stream();
        let (mut total, mut lines) = (0usize, 0usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            total += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let secs = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let peak = peak.join().unwrap();
        rows.push((
            format!(
                "export {} clients (HTTPS, streamed), {pass} run",
                lines.saturating_sub(1)
            ),
            format!(
                "{secs:.1} s, {:.0} MB; process RSS {before:.0} → peak {peak:.0} MB",
                total as f64 / 1e6
            ),
        ));
        eprintln!("{:?}", rows.last());
    }

    // --- merge latency: demo clients (each has chats, messages, maybe a task) in pairs.
    // Demo clients come after the imported ones; skip to them.
    let from = (rep.created + 1).to_be_bytes();
    let page = st
        .inbox
        .store
        .query(move |r| parley::store::inbox::contacts_after(r, Some(&from), 20_000))
        .await
        .unwrap();
    let ids: Vec<u64> = page
        .iter()
        .filter(|(_, c)| c.chat_count > 0)
        .map(|(_, c)| c.id)
        .take(merges as usize * 2)
        .collect();
    let mut lat = Vec::new();
    for pair in ids.chunks(2) {
        if let [a, b] = pair {
            let t = Instant::now();
            st.inbox.merge(actor, *a, vec![*b]).await.unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    rows.push((
        format!("merge two clients with chats ({} merges)", lat.len()),
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        ),
    ));
    eprintln!("{:?}", rows.last());

    // --- board with orders_n orders
    st.inbox
        .put_plan(
            "Bench",
            &["Lead", "Offer", "Invoice", "Won", "Lost"].map(|n| {
                parley::inbox::saved::StageInput {
                    id: None,
                    name: n.into(),
                }
            }),
        )
        .await
        .unwrap();
    let owners: Vec<u64> = page
        .iter()
        .map(|(_, c)| c.id)
        .skip(ids.len())
        .take(1000)
        .collect();
    let made = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..32u64 {
        let (inbox, owners, made) = (st.inbox.clone(), owners.clone(), made.clone());
        set.spawn(async move {
            let mut i = w;
            while i < orders_n {
                let o = OrderInput {
                    contact_id: Some(owners[i as usize % owners.len()]),
                    plan: Some("Bench".into()),
                    stage: Some(parley::inbox::orders::StageRef::Id(1 + i % 5)),
                    title: Some(format!("Order {i}")),
                    amount: Some((i % 1000) as f64 + 0.5),
                    currency: Some("EUR".into()),
                    ..OrderInput::default()
                };
                inbox.create_order(actor, o).await.unwrap();
                made.fetch_add(1, Ordering::Relaxed);
                i += 32;
            }
        });
    }
    while set.join_next().await.is_some() {}
    let made_secs = t0.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    let mut size = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let r = http
            .get(format!("{url}/api/v1/orders?plan=Bench"))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        size = r.bytes().await.unwrap().len();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rows.push((
        format!(
            "board load, {} orders (created at {:.0}/s)",
            made.load(Ordering::Relaxed),
            orders_n as f64 / made_secs
        ),
        format!(
            "p50 {:.0} ms, max {:.0} ms, {:.1} MB JSON",
            pct(&mut lat.clone(), 0.5),
            lat.iter().cloned().fold(0.0, f64::max),
            size as f64 / 1e6
        ),
    ));

    println!(
        "\nAudience and orders ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (k, v) in rows {
        println!("  {k:<52} {v}");
    }
    drop(running);
}
