//! Reports benchmark (T3): `cargo bench --bench reports`. A year of rollups as 10M messages
//! would leave them (every hour × 3 channels × 8 managers, ~48 messages each), written
//! straight into the store of the server in this process; then the year's overview through
//! the service and over HTTPS. Prints one table; asserts nothing. `BENCH_REPORT_DAYS`
//! (default 365) and `BENCH_RUNS` (default 50) scale it.

use std::time::Instant;

use parley::domain::report::{Durations, Rollup};
use parley::inbox::reports::ReportQuery;

mod common;
use common::{env, pct};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHANNELS: [&str; 3] = ["telegram-main", "whatsapp", "site"];
const MANAGERS: u64 = 8;

fn durations(seed: u64, n: u64) -> Durations {
    let mut d = Durations::default();
    for i in 0..n {
        d.add(((seed * 7919 + i * 104_729) % 600_000) as i64);
    }
    d
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    parley::install_crypto_provider();
    let days = env("BENCH_REPORT_DAYS", 365);
    let runs = env("BENCH_RUNS", 50) as usize;
    let dir = tempfile::tempdir().unwrap();
    let running = common::start_in_process(dir.path(), "").await;
    let st = running.state.clone();
    let now_hour = parley::domain::report::hour_of(parley::domain::now_ms());
    let first = now_hour - days as i64 * 24;
    let t = Instant::now();
    let mut rows = 0u64;
    let mut messages = 0u64;
    let mut h = first;
    while h < now_hour {
        let upto = (h + 200).min(now_hour);
        let from = h;
        let (n, m) = st
            .inbox
            .store
            .write(move |w| {
                let (mut n, mut m) = (0u64, 0u64);
                for hour in from..upto {
                    for (ci, ch) in CHANNELS.iter().enumerate() {
                        for mg in 0..=MANAGERS {
                            let seed = hour as u64 * 31 + ci as u64 * 7 + mg;
                            let r = Rollup {
                                conversations: seed % 5,
                                messages_in: 20 + seed % 10,
                                messages_out: 18 + seed % 8,
                                first_response: durations(seed, 3),
                                reply: durations(seed + 1, 12),
                                resolution: durations(seed + 2, 1),
                            };
                            m += r.messages_in + r.messages_out;
                            parley::store::reports::add(w, hour, ch, mg, |x| *x = r)?;
                            n += 1;
                        }
                    }
                }
                Ok((n, m))
            })
            .await
            .unwrap();
        rows += n;
        messages += m;
        h = upto;
    }
    let fill = t.elapsed().as_secs_f64();
    let today = jiff::Timestamp::now().to_string()[..10].to_string();
    let start = jiff::Timestamp::from_second((first + 24) * 3600)
        .unwrap()
        .to_string()[..10]
        .to_string();
    let q = || ReportQuery {
        from: start.clone(),
        to: today.clone(),
        channel: None,
        manager: None,
    };
    let mut svc = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let r = st.inbox.report(q()).await.unwrap();
        svc.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(r.total.messages_in > 0);
    }
    // Over HTTPS, as the Reports page asks.
    st.accounts
        .create_manager(parley::accounts::NewManager {
            login: "bench".into(),
            name: "Bench".into(),
            role: parley::domain::manager::Role::Admin,
            password: "bench password 0123".into(),
        })
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let base = format!("https://{}", running.https_addr);
    let signed = http
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"login": "bench", "password": "bench password 0123"}))
        .send()
        .await
        .unwrap();
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let url = format!("{base}/api/v1/reports/overview?from={start}&to={today}");
    let mut web = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let r = http
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        web.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("| Reports (T3) | figure |");
    println!("|---|---|");
    println!(
        "| rollup rows for {days} days ({messages} messages' worth) | {rows}, written in {fill:.1} s |"
    );
    println!(
        "| overview of the span, service p50 / p99 | {:.1} / {:.1} ms |",
        pct(&mut svc.clone(), 0.5),
        pct(&mut svc, 0.99)
    );
    println!(
        "| overview of the span over HTTPS p50 / p99 | {:.1} / {:.1} ms |",
        pct(&mut web.clone(), 0.5),
        pct(&mut web, 0.99)
    );
}
