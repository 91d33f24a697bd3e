//! kill -9 during ingest. The real binary serves a Telegram webhook channel whose Bot API is a
//! fake run here. A driver replays N distinct updates through the webhook, retrying each one
//! with the same body until a 2xx comes back (as Telegram does), while replies go out through
//! the API and the outbox delivers them to the fake. A killer sends SIGKILL at random moments
//! and restarts the server on the same data directory. Afterwards every acknowledged message is
//! stored exactly once, nothing is stored twice, the search index agrees with the store, and
//! every acknowledged reply reached the fake, twice only where a kill cut a delivery short.
//!
//! Sizes: `PARLEY_CRASH_MESSAGES` (default 3,000) and `PARLEY_CRASH_KILLS` (default 10);
//! `PARLEY_CRASH_SEED` picks the kill moments; `PARLEY_CRASH_KEEP=1` keeps the data directory
//! and every run's log. RELIABILITY.md has the full-size run.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley::domain::inbox::{Kind, Status};
use parley::store::Store;
use parley::store::inbox as db;
use serde_json::{Value, json};

use crate::support::PASSWORD;
use crate::support::process::{self, Logs, Serve};
use crate::support::session::sign_in;
use crate::support::telegram::{FakeTelegram, SECRET, TOKEN, message_update, run_of};
use crate::support::tls;

const CHANNEL: &str = "tg";
/// Webhook requests in flight at once (Telegram itself allows up to 100 per bot).
const IN_FLIGHT: usize = 24;
/// Replies being posted through the API at once.
const REPLIERS: usize = 4;
const CLIENTS: usize = 300;
/// Base of the fake Telegram chat ids (one per client).
const CHAT_BASE: i64 = 7_000_000_000;

/// splitmix64: a seeded, dependency-free source of kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// A fixed-length lowercase word for `n`: as a search prefix it matches only itself, because
/// every word made here with the same prefix has the same length.
fn word(prefix: &str, mut n: usize, len: usize) -> String {
    let mut s = vec![b'a'; len];
    for c in s.iter_mut().rev() {
        *c = b'a' + (n % 26) as u8;
        n /= 26;
    }
    format!("{prefix}{}", String::from_utf8_lossy(&s))
}

fn client_name(c: usize) -> String {
    word("zk", c, 4)
}

fn inbound_word(n: usize) -> String {
    word("in", n, 5)
}

fn reply_word(n: usize) -> String {
    word("ou", n, 5)
}

/// Message `n` as Telegram would post it; the same bytes on every retry.
fn update(n: usize) -> Vec<u8> {
    let c = n % CLIENTS;
    let chat = CHAT_BASE + c as i64;
    let who =
        json!({"id": chat, "is_bot": false, "first_name": "Crash", "last_name": client_name(c)});
    let u = message_update(
        n as i64 + 1,
        chat,
        (n / CLIENTS) as i64 + 1,
        json!({
            "text": format!("crash test {}", inbound_word(n)),
            "from": who,
            "chat": {"id": chat, "type": "private", "first_name": "Crash", "last_name": client_name(c)},
        }),
    );
    serde_json::to_vec(&u).unwrap()
}

/// The store key the server dedupes message `n` by (Telegram message ids are per chat).
fn ext_id(n: usize) -> String {
    format!("{}:{}", CHAT_BASE + (n % CLIENTS) as i64, n / CLIENTS + 1)
}

/// A loopback port below the ephemeral range, so no outgoing connection can take it while the
/// server is down between a kill and its restart.
fn free_port(rng: &mut Rng) -> u16 {
    for _ in 0..200 {
        let p = rng.range(20_000, 32_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free port");
}

/// The server process across runs: run 0 is the first start, each restart is the next run.
struct Server {
    dir: PathBuf,
    port: u16,
    fake: FakeTelegram,
    process: Option<process::Server>,
    run: u32,
}

impl Server {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn log(&self, run: u32) -> PathBuf {
        self.dir.join(format!("run-{run}.log"))
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn spawn(&mut self) {
        self.run += 1;
        // Each run calls the fake through its own base URL, so every delivery the fake sees
        // says which process made it.
        let config = format!(
            "[server]\npublic_url = \"https://parley.example.com\"\n\n[[channels]]\nid = \"{CHANNEL}\"\nkind = \"telegram\"\nname = \"Crash bot\"\ntoken = \"{TOKEN}\"\nwebhook_secret = \"{SECRET}\"\nmode = \"webhook\"\napi_base = \"{}\"\n",
            self.fake.api_base_for(self.run)
        );
        let cfg = self.dir.join("parley.toml");
        std::fs::write(&cfg, config).unwrap();
        let serve = Serve::new(process::BIN, self.data())
            .config(cfg)
            .port(self.port)
            .logs(Logs::File(self.log(self.run)));
        self.process = Some(serve.spawn());
    }

    fn process(&mut self) -> &mut process::Server {
        self.process.as_mut().expect("a run was started")
    }

    /// Fails when the process is gone: only the killer ends a run.
    fn alive(&mut self) -> Result<(), String> {
        let run = self.run;
        self.process()
            .alive()
            .map_err(|e| format!("run {run} exited by itself: {e}"))
    }

    async fn ready(&mut self) -> Result<(), String> {
        let run = self.run;
        self.process()
            .ready(Duration::from_secs(120))
            .await
            .map(|_| ())
            .map_err(|e| format!("run {run} not ready: {e}"))
    }

    async fn kill(&mut self) -> Result<(), String> {
        self.alive()?;
        self.process().kill().await;
        Ok(())
    }

    /// SIGTERM and a clean exit.
    async fn stop(&mut self) {
        self.alive().unwrap();
        let run = self.run;
        let p = self.process();
        let st = p.stop(Duration::from_secs(60)).await;
        assert!(
            st.success(),
            "clean stop of run {run}: {st:?}\n{}",
            p.log_tail(30)
        );
    }
}

fn http() -> reqwest::Client {
    tls::http_client()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// What the driver saw.
#[derive(Default)]
struct Tally {
    retries: AtomicU64,
    acked: AtomicUsize,
    /// Texts of replies the API answered 201 for.
    replies_acked: Mutex<HashSet<String>>,
    replies_tried: AtomicUsize,
}

/// Post update `n` until a 2xx comes back, like a platform redelivering.
async fn deliver(http: &reqwest::Client, url: &str, n: usize, tally: &Tally) {
    let body = update(n);
    loop {
        let r = http
            .post(format!("{url}/webhooks/telegram/{CHANNEL}"))
            .header("content-type", "application/json")
            .header("x-telegram-bot-api-secret-token", SECRET)
            .body(body.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {
                tally.acked.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => {
                let st = r.status();
                assert!(
                    st.is_server_error() || st == 429,
                    "update {n} refused for good: {st} {}",
                    r.text().await.unwrap_or_default()
                );
            }
            Err(_) => {}
        }
        tally.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replies to the chats the list shows, each with a text no other reply has.
async fn reply_loop(
    http: reqwest::Client,
    url: String,
    token: String,
    next: Arc<AtomicUsize>,
    tally: Arc<Tally>,
    done: Arc<AtomicBool>,
) {
    let mut chats: Vec<u64> = Vec::new();
    let mut pick = Rng(next.load(Ordering::Relaxed) as u64);
    while !done.load(Ordering::Relaxed) {
        if chats.is_empty() || pick.range(0, 50) == 0 {
            if let Ok(r) = http
                .get(format!("{url}/api/v1/chats?section=all&limit=200"))
                .bearer_auth(&token)
                .send()
                .await
                && r.status() == 200
                && let Ok(v) = r.json::<Value>().await
            {
                chats = v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["default_chat_id"].as_u64())
                    .collect();
            }
            if chats.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        let chat = chats[pick.range(0, chats.len() as u64) as usize];
        let n = next.fetch_add(1, Ordering::Relaxed);
        let text = format!("reply {}", reply_word(n));
        tally.replies_tried.fetch_add(1, Ordering::Relaxed);
        let r = http
            .post(format!("{url}/api/v1/chats/{chat}/messages"))
            .bearer_auth(&token)
            .json(&json!({"text": text}))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => {
                tally.replies_acked.lock().unwrap().insert(text);
            }
            Ok(r) if r.status().is_server_error() || r.status() == 429 => {}
            Ok(r) => panic!(
                "reply refused: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn admin_token(http: &reqwest::Client, url: &str) -> String {
    let session = sign_in(http, url, "boss", PASSWORD).await;
    let r = http
        .post(format!("{url}/api/v1/tokens"))
        .header("cookie", session.cookie)
        .header("x-csrf-token", session.csrf)
        .json(&json!({"name": "crash driver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "token");
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// What the store holds, read with the library once the server is stopped.
struct Stored {
    /// External id → how many client messages carry it.
    inbound: HashMap<String, usize>,
    /// Reply text → how many manager messages carry it, and whether all are marked sent.
    replies: HashMap<String, (usize, bool)>,
    searchable: u64,
    contacts: u64,
    outbox: u64,
    other: Vec<String>,
}

fn read_store(dir: &Path) -> Stored {
    let store = Store::open(dir).expect("the store opens after the run");
    store
        .read(|r| {
            let mut s = Stored {
                inbound: HashMap::new(),
                replies: HashMap::new(),
                searchable: 0,
                contacts: db::contact_count(r)?,
                outbox: db::outbox_len(r)?,
                other: vec![],
            };
            let mut after: Option<Vec<u8>> = None;
            loop {
                let rows = db::messages_after(r, after.as_deref(), 10_000)?;
                let Some((last, _)) = rows.last() else { break };
                after = Some(last.clone());
                for (_, m) in &rows {
                    s.searchable += parley::search::schema::searchable(m) as u64;
                    match m.kind {
                        Kind::Client => {
                            *s.inbound
                                .entry(m.external_id.clone().unwrap_or_default())
                                .or_default() += 1;
                        }
                        Kind::Manager => {
                            let e = s.replies.entry(m.text.clone()).or_insert((0, true));
                            e.0 += 1;
                            e.1 &= m.status == Some(Status::Sent);
                        }
                        _ => s.other.push(format!("{:?}: {}", m.kind, m.text)),
                    }
                }
            }
            Ok(s)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_ingest_loses_and_duplicates_nothing() {
    let started = Instant::now();
    let n_messages = env_num("PARLEY_CRASH_MESSAGES", 3_000) as usize;
    let kills_wanted = env_num("PARLEY_CRASH_KILLS", 10) as usize;
    let seed = env_num("PARLEY_CRASH_SEED", 7);
    let mut rng = Rng(seed);

    let tmp = tempfile::tempdir().unwrap();
    // PARLEY_CRASH_KEEP=1 keeps the data directory and the runs' logs for a post-mortem.
    let dir = if std::env::var("PARLEY_CRASH_KEEP").is_ok() {
        let d = tmp.keep();
        println!("crash: data and logs in {}", d.display());
        d
    } else {
        tmp.path().to_path_buf()
    };
    let fake = FakeTelegram::start().await;
    let mut server = Server {
        dir,
        port: free_port(&mut rng),
        fake: fake.clone(),
        process: None,
        run: 0,
    };
    let data = server.data();
    process::add_admin(process::BIN, &data, None, "boss", PASSWORD);

    let http = http();
    server.spawn();
    server.ready().await.unwrap();
    let url = server.url();
    let token = admin_token(&http, &url).await;

    // Updates are released in K+1 slices, one more after each kill, so the kills are spread
    // over the whole ingest however fast the build is.
    let released = Arc::new(AtomicUsize::new(n_messages.div_ceil(kills_wanted + 1)));
    let taken = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Tally::default());
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (http, url, released, taken, tally) = (
            http.clone(),
            url.clone(),
            released.clone(),
            taken.clone(),
            tally.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = taken.fetch_add(1, Ordering::Relaxed);
                if n >= n_messages {
                    return;
                }
                while n >= released.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                deliver(&http, &url, n, &tally).await;
            }
        }));
    }
    let done = Arc::new(AtomicBool::new(false));
    let next_reply = Arc::new(AtomicUsize::new(0));
    let mut repliers = Vec::new();
    for _ in 0..REPLIERS {
        repliers.push(tokio::spawn(reply_loop(
            http.clone(),
            url.clone(),
            token.clone(),
            next_reply.clone(),
            tally.clone(),
            done.clone(),
        )));
    }

    // The killer. Most kills come 0.2–1.5 s into a run that is serving; one in five lands
    // while the process is still starting (opening the store, catching up the index).
    let mut kills = 0;
    // Runs that ended in a kill (the fake's calls from them may be cut short).
    let mut killed_runs: HashSet<u32> = HashSet::new();
    while kills < kills_wanted {
        if rng.range(0, 5) == 0 {
            tokio::time::sleep(Duration::from_millis(rng.range(0, 400))).await;
        } else {
            server.ready().await.unwrap();
            tokio::time::sleep(Duration::from_millis(rng.range(200, 1500))).await;
        }
        killed_runs.insert(server.run);
        server.kill().await.unwrap();
        kills += 1;
        released.store(
            n_messages * (kills + 1) / (kills_wanted + 1),
            Ordering::Relaxed,
        );
        server.spawn();
    }
    server.ready().await.unwrap();
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(tally.acked.load(Ordering::Relaxed), n_messages);
    done.store(true, Ordering::Relaxed);
    for r in repliers {
        r.await.unwrap();
    }
    let ingest_s = started.elapsed().as_secs_f64();

    // A clean restart, then let the outbox and the index finish.
    server.stop().await;
    server.spawn();
    server.ready().await.unwrap();
    let acked_replies = tally.replies_acked.lock().unwrap().clone();
    let sent_texts = || -> Vec<(u32, String)> {
        fake.calls("sendMessage")
            .iter()
            .map(|r| {
                (
                    run_of(r).expect("every call came through a run's api_base"),
                    r.json()["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut quiet_since = (Instant::now(), 0);
    loop {
        let sent = sent_texts();
        let texts: HashSet<&String> = sent.iter().map(|(_, t)| t).collect();
        let health = get_json(&http, &format!("{url}/healthz"), &token).await;
        if sent.len() != quiet_since.1 {
            quiet_since = (Instant::now(), sent.len());
        }
        if acked_replies.iter().all(|t| texts.contains(t))
            && health["index"]["behind"] == 0
            && quiet_since.0.elapsed() > Duration::from_millis(1500)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "outbox or index did not catch up: {} of {} replies delivered, index {}",
            acked_replies.iter().filter(|t| texts.contains(t)).count(),
            acked_replies.len(),
            health["index"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = get_json(&http, &format!("{url}/healthz"), &token).await;

    // The index answers for every client by name, exactly once.
    for c in 0..CLIENTS.min(n_messages) {
        let v = get_json(
            &http,
            &format!(
                "{url}/api/v1/chats?section=all&q={}&limit=5",
                client_name(c)
            ),
            &token,
        )
        .await;
        assert_eq!(v["total"], 1, "client {} in the index", client_name(c));
    }
    // And for a sample of messages by their unique word.
    let mut pick = Rng(seed ^ 0x5eed);
    for _ in 0..200.min(n_messages) {
        let n = pick.range(0, n_messages as u64) as usize;
        let v = get_json(
            &http,
            &format!("{url}/api/v1/search/messages?q={}", inbound_word(n)),
            &token,
        )
        .await;
        assert_eq!(v["total"], 1, "message {n} in the index");
    }
    server.stop().await;

    let stored = read_store(&data);
    // Every update was acknowledged, so each is stored exactly once, and nothing else is.
    let mut missing = vec![];
    let mut doubled = vec![];
    for n in 0..n_messages {
        match stored.inbound.get(&ext_id(n)) {
            None => missing.push(n),
            Some(1) => {}
            Some(k) => doubled.push((n, *k)),
        }
    }
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(doubled.is_empty(), "stored twice: {doubled:?}");
    assert_eq!(
        stored.inbound.len(),
        n_messages,
        "unexpected client messages"
    );
    assert!(stored.other.is_empty(), "{:?}", stored.other);
    assert_eq!(stored.outbox, 0, "deliveries left in the outbox");
    for t in &acked_replies {
        assert!(
            stored.replies.get(t).is_some_and(|(k, _)| *k == 1),
            "acknowledged reply {t:?} stored {:?} times",
            stored.replies.get(t)
        );
    }
    // Unacknowledged replies that were committed anyway are stored once and go out too.
    for (t, (k, sent)) in &stored.replies {
        assert_eq!(*k, 1, "reply {t:?} stored {k} times");
        assert!(sent, "reply {t:?} not marked sent");
    }
    assert_eq!(
        health["index"]["messages"].as_u64(),
        Some(stored.searchable),
        "indexed messages vs the store"
    );
    assert_eq!(
        health["index"]["contacts"].as_u64(),
        Some(stored.contacts),
        "indexed contacts vs the store"
    );
    assert_eq!(stored.contacts, CLIENTS.min(n_messages) as u64);

    // Deliveries. A reply goes out once per run at most: two sends from one process would be
    // an outbox bug. Across runs it can go out again only when the run that sent it was killed
    // between the platform's answer and the commit that records it: such a delivery was in
    // flight at the kill, and the outbox keeps at most MAX_CONCURRENT deliveries in flight. So
    // per killed run at most MAX_CONCURRENT replies reappear in a later run, and the total
    // number of duplicates is at most kills × MAX_CONCURRENT.
    let sent = sent_texts();
    let mut runs_of: HashMap<&str, Vec<u32>> = HashMap::new();
    for (run, t) in &sent {
        runs_of.entry(t.as_str()).or_default().push(*run);
    }
    for t in &acked_replies {
        assert!(
            runs_of.contains_key(t.as_str()),
            "reply {t:?} never delivered"
        );
    }
    for t in runs_of.keys() {
        assert!(
            stored.replies.contains_key(*t),
            "the fake got a text that was never stored: {t:?}"
        );
    }
    let mut duplicates = 0;
    let mut cut_short: HashMap<u32, usize> = HashMap::new();
    for (t, runs) in &mut runs_of {
        runs.sort();
        let distinct: HashSet<u32> = runs.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            runs.len(),
            "reply {t:?} delivered twice by one process (runs {runs:?})"
        );
        duplicates += runs.len() - 1;
        for r in &runs[..runs.len() - 1] {
            assert!(
                killed_runs.contains(r),
                "reply {t:?} went out again after run {r}, which was not killed"
            );
            *cut_short.entry(*r).or_default() += 1;
        }
    }
    let per_run_max = parley::channels::outbox::MAX_CONCURRENT;
    for (run, k) in &cut_short {
        assert!(
            *k <= per_run_max,
            "{k} deliveries repeated after the kill of run {run}"
        );
    }
    assert!(duplicates <= kills * per_run_max);

    let inbound_dups: usize = stored.inbound.values().map(|k| k - 1).sum();
    println!(
        "crash: {n_messages} messages, {kills} kills, {} restarts, {} webhook retries, \
         {} replies acknowledged of {} tried, {} deliveries ({duplicates} repeated after a kill, \
         bound {}), {inbound_dups} duplicate messages, {} contacts, {} indexed messages; \
         ingest {ingest_s:.1} s, total {:.1} s (seed {seed})",
        server.run - 1,
        tally.retries.load(Ordering::Relaxed),
        acked_replies.len(),
        tally.replies_tried.load(Ordering::Relaxed),
        sent.len(),
        kills * per_run_max,
        stored.contacts,
        stored.searchable,
        started.elapsed().as_secs_f64(),
    );
}
