//! AI assistant benchmarks (issue 16), against the server in this process with its real
//! store and HTTPS listener and a fake OpenAI-compatible endpoint on loopback:
//! `cargo bench --bench assistant`. Prints one table; asserts nothing.
//!
//! - added latency apart from the model: a client message POSTed to the API channel's
//!   webhook → the chat-completions request arriving at the endpoint (quiet period 0, the
//!   endpoint answering at once), open loop at BENCH_AI_RATE/s (default 20) for
//!   BENCH_AI_SAMPLES (default 400) messages over as many chats;
//! - knowledge search p50/p99 over BENCH_AI_PASSAGES synthetic passages (default 10,000),
//!   with the index build time;
//! - BENCH_AI_CHATS chats (default 1,000) whose clients all write at once to an assistant
//!   whose endpoint answers in 2 s: peak RSS over the idle server, and the time until every
//!   answer is committed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley::domain::event::Event;
use parley::domain::inbox::Kind;
use parley::domain::manager::ManagerId;
use parley::inbox::clients::ChatPatch;
use parley::search::knowledge::{Knowledge, Passage};
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::{Value, json};

mod common;
use common::process::{RssPeak, rss_kb};
use common::{env, pct, tls};

const TOKEN: &str = "bench-token-0123456789abcdef";

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// When each client text first reached the endpoint.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A chat-completions endpoint: records when each request's last user text arrived and
/// answers after `delay_ms` (by model: "fast" at once, "slow" after 2 s).
async fn fake_llm(arrivals: Arrivals) -> String {
    let acc = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acc.local_addr()[0].as_socket_addr().copied().unwrap();
    let ep = poem::endpoint::make(move |mut req: poem::Request| {
        let arrivals = arrivals.clone();
        async move {
            let at = Instant::now();
            let body: Value = req.take_body().into_json().await.unwrap_or(Value::Null);
            let last = body["messages"]
                .as_array()
                .and_then(|m| m.iter().rev().find(|x| x["role"] == "user"))
                .and_then(|x| x["content"].as_str())
                .unwrap_or("")
                .to_string();
            arrivals.lock().unwrap().entry(last).or_insert(at);
            if body["model"] == "slow" {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            poem::Response::builder()
                .content_type("application/json")
                .body(
                    json!({"choices": [{"index": 0, "message": {"role": "assistant",
                           "content": "Thanks, we will check."}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 50, "completion_tokens": 6}})
                    .to_string(),
                )
        }
    });
    tokio::spawn(poem::Server::new_with_acceptor(acc).run(ep));
    format!("http://{addr}/v1")
}

/// A callback endpoint that answers 200.
async fn callback_server() -> String {
    let acc = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acc.local_addr()[0].as_socket_addr().copied().unwrap();
    let ep = poem::endpoint::make(|_req: poem::Request| async {
        poem::Response::builder()
            .content_type("application/json")
            .body("{}")
    });
    tokio::spawn(poem::Server::new_with_acceptor(acc).run(ep));
    format!("http://{addr}/cb")
}

async fn say(http: &reqwest::Client, url: &str, client: &str, mid: &str, text: &str) -> u64 {
    let r = http
        .post(format!("{url}/webhooks/api/crm"))
        .bearer_auth(TOKEN)
        .json(&json!({"contact": {"external_id": client, "name": client},
                      "message": {"external_id": mid, "text": text}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["chat_id"]
        .as_u64()
        .unwrap()
}

/// Create `n` chats (prefix `p`) and turn the assistant `ai` on in each.
async fn chats(
    st: &parley::http::AppState,
    http: &reqwest::Client,
    url: &str,
    actor: ManagerId,
    p: &str,
    n: u64,
    ai: &str,
) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let assistants: Vec<(String, String)> = st
        .config
        .assistants
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    for i in 0..n {
        let client = format!("{p}-{i}");
        let chat = say(http, url, &client, &format!("{client}-hello"), "Hello").await;
        st.inbox
            .update_chat(
                actor,
                chat,
                ChatPatch {
                    assistant_on: Some(true),
                    assistant: Some(Some(ai.into())),
                    ..ChatPatch::default()
                },
                false,
                assistants.clone(),
            )
            .await
            .unwrap();
        out.push((client, chat));
    }
    out
}

fn search_bench(rows: &mut Vec<(String, String)>) {
    let n = env("BENCH_AI_PASSAGES", 10_000) as usize;
    // A seeded vocabulary and passages of 40-80 words, Zipf-ish: low ids are common words.
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let vocab: Vec<String> = (0..20_000).map(|i| format!("w{i:x}q")).collect();
    let word = |next: &mut dyn FnMut() -> u64| {
        let r = next() % 1_000_000;
        let i = ((r as f64 / 1_000_000.0).powi(3) * vocab.len() as f64) as usize;
        vocab[i.min(vocab.len() - 1)].clone()
    };
    let passages: Vec<Passage> = (0..n)
        .map(|i| {
            let len = 40 + (next() % 41) as usize;
            let text = (0..len)
                .map(|_| word(&mut next))
                .collect::<Vec<_>>()
                .join(" ");
            Passage {
                source: "kb.md".into(),
                title: format!("Section {i}"),
                text,
            }
        })
        .collect();
    let t = Instant::now();
    let k = Knowledge::build(passages).unwrap();
    let build = t.elapsed();
    let mut lat = Vec::new();
    for _ in 0..3000 {
        let q = (0..8)
            .map(|_| word(&mut next))
            .collect::<Vec<_>>()
            .join(" ");
        let t = Instant::now();
        let hits = k.find(&q, 3).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(hits);
    }
    rows.push((
        format!("knowledge search over {n} passages (3 best, 8-word queries) p50 / p99"),
        format!(
            "{:.3} ms / {:.3} ms",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        ),
    ));
    rows.push((
        format!("knowledge index build, {n} passages"),
        format!("{:.0} ms", build.as_secs_f64() * 1000.0),
    ));
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    parley::install_crypto_provider();
    let samples = env("BENCH_AI_SAMPLES", 400);
    let rate = env("BENCH_AI_RATE", 20).max(1);
    let crowd = env("BENCH_AI_CHATS", 1_000);
    let mut rows: Vec<(String, String)> = Vec::new();

    search_bench(&mut rows);

    let arrivals: Arrivals = Arc::default();
    let llm = fake_llm(arrivals.clone()).await;
    let cb = callback_server().await;
    let dir = tempfile::tempdir().unwrap();
    let running = common::start_in_process(
        dir.path(),
        &format!(
            "[log]\nlevel = \"warn\"\n[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"{TOKEN}\"\ncallback_url = \"{cb}\"\nsecret = \"bench-callback-secret-0123456789\"\n\
             [[assistants]]\nid = \"fast\"\nname = \"Fast\"\nurl = \"{llm}\"\nmodel = \"fast\"\nquiet_ms = 0\nmax_replies_per_hour = 10000\n\
             [[assistants]]\nid = \"slow\"\nname = \"Slow\"\nurl = \"{llm}\"\nmodel = \"slow\"\nquiet_ms = 0\ntimeout = 30\n"
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
    let http = tls::http_client()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    let answered = Arc::new(AtomicU64::new(0));
    {
        let (answered, mut rx) = (answered.clone(), st.hub.subscribe());
        tokio::spawn(async move {
            while let Ok(p) = rx.recv().await {
                if let Event::MessageCreated(c) = &p.event
                    && c.message.message.kind == Kind::Bot
                {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    // --- client message → request at the endpoint, open loop.
    let fast = chats(&st, &http, &url, actor, "lat", samples, "fast").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sent: Vec<(String, Instant)> = Vec::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, (client, _)) in fast.iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let text = format!("question {i} from {client}");
        sent.push((text.clone(), due));
        let (http, url, client) = (http.clone(), url.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            say(&http, &url, &client, &format!("{client}-q"), &text).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lat: Vec<f64> = {
        let a = arrivals.lock().unwrap();
        sent.iter()
            .filter_map(|(text, at)| {
                a.get(text)
                    .map(|r| r.duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    let got = lat.len();
    rows.push((
        format!("client message → request sent (webhook over HTTPS, quiet period 0, {rate}/s, {got}/{samples} seen) p50 / p99"),
        format!("{:.1} ms / {:.1} ms", pct(&mut lat, 0.5), pct(&mut lat, 0.99)),
    ));

    // --- many chats talking at once to a 2-second endpoint.
    let crowd_chats = chats(&st, &http, &url, actor, "crowd", crowd, "slow").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = std::process::id();
    let idle = rss_kb(pid) as f64 / 1024.0;
    let peak = RssPeak::watch(pid, Duration::from_millis(20));
    let before = answered.load(Ordering::Relaxed);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (client, _) in &crowd_chats {
        let (http, url, client) = (http.clone(), url.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            say(
                &http,
                &url,
                &client,
                &format!("{client}-q"),
                "Where is my order?",
            )
            .await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let accepted = t.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while answered.load(Ordering::Relaxed) - before < crowd && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = t.elapsed();
    let done = answered.load(Ordering::Relaxed) - before;
    rows.push((
        format!("{crowd} chats writing at once, endpoint answering in 2 s: messages accepted / all {done} answers committed"),
        format!("{:.2} s / {:.2} s", accepted.as_secs_f64(), all.as_secs_f64()),
    ));
    rows.push((
        format!(
            "RSS idle (after {} chats) / peak while {crowd} requests were in flight",
            samples + crowd
        ),
        format!("{idle:.0} MB / {:.0} MB", peak.peak_mb()),
    ));

    println!("\n| metric | result |\n|---|---|");
    for (k, v) in &rows {
        println!("| {k} | {v} |");
    }
    running.stop().await.unwrap();
}
