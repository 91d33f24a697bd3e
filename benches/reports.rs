//! Reports benchmark (T3): `cargo bench --bench reports`. A year of rollups as 10M messages
//! would leave them (every day × 3 channels × 9 managers, ~1,000 messages each, answers
//! with their durations), written straight into the store of the server in this process;
//! then the year's overview through the service and over HTTPS. Prints one table; asserts nothing. `BENCH_REPORT_DAYS`
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
    let today: jiff::civil::Date = jiff::Timestamp::now().to_string()[..10].parse().unwrap();
    let first = today
        .checked_sub(jiff::Span::new().days(days as i64 - 1))
        .unwrap();
    let t = Instant::now();
    let mut rows = 0u64;
    let mut messages = 0u64;
    let mut day = first;
    while day <= today {
        let d = day.to_string();
        let seed0 = rows;
        let (n, m) = st
            .inbox
            .store
            .write(move |w| {
                let (mut n, mut m) = (0u64, 0u64);
                for (ci, ch) in CHANNELS.iter().enumerate() {
                    for mg in 0..=MANAGERS {
                        let seed = seed0 + ci as u64 * 17 + mg;
                        let mut hours_in = [0u32; 24];
                        for (h, x) in hours_in.iter_mut().enumerate() {
                            *x = 10 + ((seed + h as u64) % 30) as u32;
                        }
                        let r = Rollup {
                            hours_in,
                            conversations: 60 + seed % 40,
                            messages_in: hours_in.iter().map(|x| u64::from(*x)).sum(),
                            messages_out: 450 + seed % 100,
                            first_response: durations(seed, 60),
                            reply: durations(seed + 1, 200),
                            resolution: durations(seed + 2, 20),
                        };
                        m += r.messages_in + r.messages_out;
                        parley::store::reports::add(w, &d, ch, mg, |x| *x = r)?;
                        n += 1;
                    }
                }
                Ok((n, m))
            })
            .await
            .unwrap();
        rows += n;
        messages += m;
        day = day.tomorrow().unwrap();
    }
    let fill = t.elapsed().as_secs_f64();
    let (start, today) = (first.to_string(), today.to_string());
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
