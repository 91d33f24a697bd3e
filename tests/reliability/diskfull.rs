//! Disk full (issue 7): the real binary runs with its whole data directory (redb file, search
//! index, blobs, TLS files) on a small tmpfs that a filler file and the webhooks themselves fill
//! up. While writes fail, every webhook answers 503 with Retry-After (never 2xx for something
//! not stored, never 500, never a dropped connection), a signed-in manager can still list chats,
//! read histories, search and load the UI, and nothing acknowledged is lost or half-written.
//! When the filler is deleted, the same process takes writes again by itself, the retried
//! messages are stored once and become searchable, and a restart shows exactly what was
//! acknowledged. Needs root (it mounts a tmpfs); CI runs as root.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::process::{self, Logs, Serve};
use crate::support::session::sign_in;
use crate::support::telegram::{self as tg, FakeTelegram, JPEG};
use crate::support::{self, Browser, PASSWORD, TOKEN, api_channel, client};

/// Big enough for the redb file, the two search indexes and the TLS files at start.
const TMPFS_MB: u64 = 24;
/// Space the filler leaves for the webhooks to fill.
const LEAVE_MB: u64 = 3;
/// Messages sent to fill the database before giving up on ever seeing the disk full.
const MAX_FILL: usize = 4000;

/// A tmpfs mounted for the test; unmounted (lazily if still busy) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mb: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mb}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Tmpfs { dir },
            Ok(o) => panic!(
                "the disk-full test needs root (or CAP_SYS_ADMIN) to mount a {mb} MB tmpfs: mount said {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("the disk-full test needs root and mount(8) to mount a tmpfs: {e}"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Shows the server's log when the test fails.
struct LogOnFailure(PathBuf);

impl Drop for LogOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("DISKFULL_LOG").is_some() {
            let text = std::fs::read_to_string(&self.0).unwrap_or_default();
            eprintln!("--- server log ---\n{text}--- end of server log ---");
        }
    }
}

/// `parley serve` as a child process (killed when dropped, before the tmpfs goes), with
/// both outputs appended to `log`. The log level comes from nothing but the config, so the
/// log's counts below mean the same on every machine.
async fn start(data: &Path, config: &Path, log: &Path) -> process::Server {
    let mut s = Serve::new(process::BIN, data)
        .config(config)
        .port(process::free_port())
        .logs(Logs::File(log.to_path_buf()))
        .env_remove("PARLEY_LOG")
        .env_remove("RUST_LOG")
        .spawn();
    if let Err(e) = s.ready(Duration::from_secs(60)).await {
        panic!("the server did not start: {e}");
    }
    s
}

/// SIGTERM and wait for a clean exit.
async fn stop(mut s: process::Server) {
    let st = s.stop(Duration::from_secs(30)).await;
    assert!(st.success(), "the server exited with {st:?}");
}

async fn login(url: &str) -> Browser {
    let http = client();
    let s = sign_in(&http, url, "boss", PASSWORD).await;
    Browser {
        http,
        url: url.to_string(),
        csrf: Some(s.csrf),
        cookie: None,
    }
}

/// One inbound message, as a platform would (re)deliver it.
#[derive(Clone)]
enum Msg {
    Api {
        contact: String,
        ext: String,
        text: String,
        file: Option<Vec<u8>>,
    },
    Telegram {
        update: i64,
        message: i64,
        text: String,
        photo: bool,
    },
}

impl Msg {
    fn text(&self) -> &str {
        match self {
            Msg::Api { text, .. } | Msg::Telegram { text, .. } => text,
        }
    }

    fn chat_name(&self) -> String {
        match self {
            Msg::Api { contact, .. } => format!("Disk {contact}"),
            Msg::Telegram { .. } => "Ivan Petrov".into(),
        }
    }
}

fn api_msg(i: usize, file: bool) -> Msg {
    // About 2 KB of text, so the database grows quickly; the token makes it findable.
    let filler = "lorem ipsum dolor sit amet ".repeat(75);
    Msg::Api {
        contact: format!("c{}", i % 5),
        ext: format!("m{i:05}"),
        text: format!("dfm{i:05} {}", filler.trim_end()),
        file: file.then(|| {
            let mut b = b"%PDF-1.4 disk full test ".to_vec();
            b.extend(format!("{i:05}").bytes().cycle().take(48 * 1024));
            b
        }),
    }
}

fn tg_msg(n: i64, photo: bool) -> Msg {
    Msg::Telegram {
        update: 5000 + n,
        message: 100 + n,
        text: format!("dft{n:04} from telegram"),
        photo,
    }
}

#[derive(Debug, PartialEq)]
enum Answer {
    Stored,
    Busy,
}

/// Deliver `m`; 2xx is "stored", 503 with Retry-After is "try later", anything else fails.
async fn deliver(url: &str, m: &Msg) -> Answer {
    let req = match m {
        Msg::Api {
            contact,
            ext,
            text,
            file,
        } => {
            let mut message = json!({"external_id": ext, "text": text});
            if let Some(f) = file {
                let data = base64::engine::general_purpose::STANDARD.encode(f);
                message["attachments"] = json!([{"data_base64": data, "name": format!("{ext}.pdf"), "mime": "application/pdf"}]);
            }
            client()
                .post(format!("{url}/webhooks/api/crm"))
                .bearer_auth(TOKEN)
                .json(&json!({"contact": {"external_id": contact, "name": format!("Disk {contact}")}, "message": message}))
        }
        Msg::Telegram {
            update,
            message,
            text,
            photo,
        } => {
            let fields = if *photo {
                json!({"caption": text, "photo": [{"file_id": "photo-big", "file_unique_id": "b", "width": 1280, "height": 960}]})
            } else {
                json!({"text": text})
            };
            client()
                .post(format!("{url}/webhooks/telegram/tg"))
                .header("X-Telegram-Bot-Api-Secret-Token", tg::SECRET)
                .json(&tg::message_update(*update, 777_001, *message, fields))
        }
    };
    let r = req
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_or_else(|e| panic!("webhook {} dropped: {e}", m.text()));
    let status = r.status();
    let retry_after = r.headers().get("retry-after").cloned();
    let body = r.text().await.unwrap_or_default();
    if status.is_success() {
        return Answer::Stored;
    }
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a webhook must answer 2xx or 503: {body}"
    );
    let secs: u64 = retry_after
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or_else(|| panic!("503 without a numeric Retry-After: {body}"));
    assert!(secs >= 1, "Retry-After {secs}");
    Answer::Busy
}

/// Deliver a group concurrently, like several platforms at once.
async fn deliver_all(url: &str, ms: &[Msg]) -> Vec<Answer> {
    let tasks: Vec<_> = ms
        .iter()
        .cloned()
        .map(|m| {
            let url = url.to_string();
            tokio::spawn(async move { deliver(&url, &m).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Every message of a chat, oldest first.
async fn history(b: &Browser, chat: u64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let q = before.map(|id| format!("&before={id}")).unwrap_or_default();
        let (st, v) = b
            .get(&format!("/api/v1/chats/{chat}/messages?limit=200{q}"))
            .await;
        assert_eq!(st, StatusCode::OK, "history of chat {chat}: {v}");
        let items = v["items"].as_array().unwrap().clone();
        before = items.first().and_then(|m| m["id"].as_u64());
        let mut page = items;
        page.append(&mut all);
        all = page;
        if v["has_more"] != true || before.is_none() {
            return all;
        }
    }
}

/// The store holds exactly the acknowledged messages, each once, with intact attachments.
async fn check_exactly_acked(b: &Browser, acked: &BTreeMap<String, Msg>, when: &str) {
    let (st, v) = b.get("/api/v1/chats?section=all&limit=100").await;
    assert_eq!(st, StatusCode::OK, "{when}: chat list: {v}");
    let rows = v["items"].as_array().unwrap().clone();
    let wanted: BTreeSet<String> = acked.values().map(Msg::chat_name).collect();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for name in &wanted {
        let row = rows
            .iter()
            .find(|r| r["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{when}: chat {name} missing from the list"));
        let chat = row["default_chat_id"].as_u64().unwrap();
        for m in history(b, chat).await {
            if m["kind"] != "client" {
                continue;
            }
            let text = m["text"].as_str().unwrap_or_default().to_string();
            let Some(sent) = acked.get(&text) else {
                panic!("{when}: {name} shows a message that was never acknowledged: {text:.40}");
            };
            *seen.entry(text.clone()).or_default() += 1;
            let expect = match sent {
                Msg::Api { file: Some(f), .. } => Some(f.clone()),
                Msg::Telegram { photo: true, .. } => Some(JPEG.to_vec()),
                _ => None,
            };
            let atts = m["attachments"].as_array().unwrap();
            match expect {
                None => assert!(atts.is_empty(), "{when}: {text:.20}: {atts:?}"),
                Some(bytes) => {
                    assert_eq!(atts.len(), 1, "{when}: {text:.20} lost its file: {m}");
                    let url = atts[0]["url"].as_str().unwrap();
                    let r = b.request("GET", url, None).send().await.unwrap();
                    assert_eq!(r.status(), StatusCode::OK, "{when}: {url}");
                    let got = r.bytes().await.unwrap();
                    assert!(got == bytes, "{when}: {text:.20}: the stored file differs");
                }
            }
        }
    }
    for text in acked.keys() {
        assert_eq!(
            seen.get(text).copied().unwrap_or(0),
            1,
            "{when}: acknowledged message {text:.20} must be stored exactly once"
        );
    }
}

/// Message search for `token` answers and finds it.
async fn search_finds(b: &Browser, token: &str, when: &str) {
    let (st, v) = b.get(&format!("/api/v1/search/messages?q={token}")).await;
    assert_eq!(st, StatusCode::OK, "{when}: search {token}: {v}");
    let found = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["snippet"].as_str().unwrap_or_default().contains(token));
    assert!(found, "{when}: search {token} found nothing: {v}");
}

async fn wait_indexed(url: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v: Value = client()
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["index"]["behind"] == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the index did not catch up within {secs} s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fill the filesystem with one file until writes fail; returns its size.
fn fill(path: &Path) -> u64 {
    std::fs::File::create(path).unwrap();
    fill_more(path)
}

/// Append to the filler until the filesystem refuses; returns its size.
fn fill_more(path: &Path) -> u64 {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for chunk in [1 << 20, 4096, 512] {
        let buf = vec![0x5au8; chunk];
        loop {
            match f.write(&buf) {
                Ok(w) if w == buf.len() => {}
                Ok(_) => break,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                    break;
                }
            }
        }
    }
    f.metadata().unwrap().len()
}

fn no_partial_blobs(data: &Path) {
    let tmp = data.join("blobs/tmp");
    let left: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "partial uploads left behind: {left:?}");
    assert!(!data.join(".parley-space-probe").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_keeps_reads_and_recovers_by_itself() {
    support::init();
    let started = Instant::now();
    let fs = Tmpfs::mount(TMPFS_MB);
    let outside = tempfile::tempdir().unwrap();
    let data = fs.path().join("data");
    let log = outside.path().join("server.log");
    let _show_log = LogOnFailure(log.clone());
    let fake = FakeTelegram::start().await;
    fake.add_file("photo-big", "photos/big.jpg", JPEG);
    let config = outside.path().join("parley.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\npublic_url = \"https://parley.example.com\"\n\n{}\n[[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"Support bot\"\ntoken = \"{}\"\nwebhook_secret = \"{}\"\nmode = \"webhook\"\napi_base = \"{}\"\n",
            api_channel("crm", None),
            tg::TOKEN,
            tg::SECRET,
            fake.api_base()
        ),
    )
    .unwrap();
    process::add_admin(process::BIN, &data, Some(&config), "boss", PASSWORD);

    let server = start(&data, &config, &log).await;
    let url = server.url();
    let boss = login(&url).await;
    let mut acked: BTreeMap<String, Msg> = BTreeMap::new();

    // Before: a few messages with files on both channels, all searchable.
    let mut next = 0usize;
    let mut first: Vec<Msg> = (0..20).map(|i| api_msg(i, i % 5 == 0)).collect();
    next += 20;
    first.push(tg_msg(0, false));
    first.push(tg_msg(1, true));
    for (m, a) in first.iter().zip(deliver_all(&url, &first).await) {
        assert_eq!(a, Answer::Stored, "{:.20} with free space", m.text());
        acked.insert(m.text().to_string(), m.clone());
    }
    wait_indexed(&url, 30).await;

    // Fill: a filler file leaves a few MB, then webhooks with and without files fill those
    // (blobs, the database file, the index) until whole batches are refused.
    let filler = fs.path().join("filler");
    let full = fill(&filler);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(full - (LEAVE_MB << 20))
        .unwrap();
    let mut pending: Vec<Msg> = Vec::new();
    let mut sent = 0usize;
    let mut stored_while_filling = 0usize;
    loop {
        assert!(
            sent < MAX_FILL,
            "{MAX_FILL} messages on a filling disk, and writes still pass"
        );
        let batch: Vec<Msg> = (next..next + 8).map(|i| api_msg(i, i % 2 == 0)).collect();
        next += 8;
        sent += 8;
        let mut refused = 0;
        for (m, a) in batch.iter().zip(deliver_all(&url, &batch).await) {
            match a {
                Answer::Stored => {
                    stored_while_filling += 1;
                    acked.insert(m.text().to_string(), m.clone());
                }
                Answer::Busy => {
                    refused += 1;
                    pending.push(m.clone());
                }
            }
        }
        if refused == batch.len() {
            break;
        }
    }
    // Take whatever the failed writes gave back, so the disk is surely full. Then every kind
    // of write is refused: text, files, Telegram text and photos.
    let filled = fill_more(&filler);
    let mut more: Vec<Msg> = (next..next + 6).map(|i| api_msg(i, i % 2 == 0)).collect();
    next += 6;
    more.push(tg_msg(2, false));
    more.push(tg_msg(3, true));
    for (m, a) in more.iter().zip(deliver_all(&url, &more).await) {
        assert_eq!(a, Answer::Busy, "{:.20} accepted on a full disk", m.text());
        pending.push(m.clone());
    }
    let refused_while_full = pending.len();
    no_partial_blobs(&data);

    // Reads keep working for the signed-in manager, and show exactly what was acknowledged.
    check_exactly_acked(&boss, &acked, "while full").await;
    search_finds(&boss, "dfm00003", "search while full").await;
    search_finds(&boss, "dft0001", "search while full").await;
    let r = client().get(format!("{url}/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the UI while full");
    assert!(r.text().await.unwrap().contains("<html"), "the UI page");
    let (st, v) = boss.get("/api/v1/contacts?q=Disk").await;
    assert_eq!(st, StatusCode::OK, "contact search while full: {v}");

    // Free the space: the same process must take writes again, with no restart. Platforms
    // retry what was refused (faster than Retry-After, to keep the test short).
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    while !pending.is_empty() {
        assert!(
            freed.elapsed() < Duration::from_secs(30),
            "{} messages still refused 30 s after space was freed",
            pending.len()
        );
        let answers = deliver_all(&url, &pending).await;
        let mut still = Vec::new();
        for (m, a) in pending.into_iter().zip(answers) {
            match a {
                Answer::Stored => {
                    acked.insert(m.text().to_string(), m);
                }
                Answer::Busy => still.push(m),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let recovered_in = freed.elapsed();
    let after: Vec<Msg> = (next..next + 5).map(|i| api_msg(i, true)).collect();
    let last_token = format!("dfm{:05}", next + 4);
    for (m, a) in after.iter().zip(deliver_all(&url, &after).await) {
        assert_eq!(a, Answer::Stored, "{:.20} after recovery", m.text());
        acked.insert(m.text().to_string(), m.clone());
    }
    wait_indexed(&url, 30).await;
    let retried_token = more[0].text()[..8].to_string();
    search_finds(&boss, &last_token, "new message indexed").await;
    search_finds(&boss, &retried_token, "retried message indexed").await;
    search_finds(&boss, "dft0003", "retried Telegram photo indexed").await;
    check_exactly_acked(&boss, &acked, "after recovery").await;
    no_partial_blobs(&data);

    // A restart shows the same: everything acknowledged, once.
    stop(server).await;
    let server = start(&data, &config, &log).await;
    let boss = login(&server.url()).await;
    check_exactly_acked(&boss, &acked, "after restart").await;
    search_finds(&boss, &retried_token, "after restart").await;
    stop(server).await;

    // The log says what happened once, not once per refused request.
    let text = std::fs::read_to_string(&log).unwrap();
    let failed = text.matches("store: a write failed").count();
    let recovered = text.matches("store: writes work again").count();
    let errors = text.lines().filter(|l| l.contains("ERROR")).count();
    assert!(failed >= 1 && recovered >= 1, "log:\n{text}");
    assert!(
        failed <= 3 && errors <= 10,
        "the log floods ({failed} write failures, {errors} errors):\n{text}"
    );
    eprintln!(
        "disk full: {TMPFS_MB} MB tmpfs, filler up to {} MB, {} messages stored on the last {LEAVE_MB} MB, {refused_while_full} refused while full, writes back {:.1} s after freeing space, {} acknowledged in all, {errors} ERROR lines; {:.0} s in all",
        filled >> 20,
        stored_while_filling,
        recovered_in.as_secs_f64(),
        acked.len(),
        started.elapsed().as_secs_f64()
    );
}
