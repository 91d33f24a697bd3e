//! Complete backups (issue 12, item 9): one file with the store, every attachment and the
//! generated TLS files, taken while the server runs, restored into an empty directory on
//! another path; corrupt files refused; data files private whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{Browser, TestApp, api_channel, parley, text};

fn sha256(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file under `dir` (recursively).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A test PNG whose bytes differ by `seed`; `len` bytes long.
fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = seed as u32 + 1;
    while v.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        v.push((x >> 16) as u8);
    }
    v
}

async fn send_file(app: &TestApp, client: &str, mid: &str, text: &str, file: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(file);
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": client, "name": format!("Client {client}")}),
            json!({"external_id": mid, "text": text,
                   "attachments": [{"data_base64": b64, "name": format!("{mid}.png"), "mime": "image/png"}]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

/// Every chat with its whole history, and the SHA-256 of every attachment as downloaded.
async fn everything(b: &Browser) -> (Value, Vec<(String, String)>) {
    let (st, list) = b.get("/api/v1/chats?limit=100").await;
    assert_eq!(st, 200, "{list}");
    let mut chats = Vec::new();
    let mut blobs = Vec::new();
    let mut ids: Vec<u64> = Vec::new();
    for row in list["items"].as_array().unwrap() {
        for c in row["chats"].as_array().cloned().unwrap_or_default() {
            ids.push(c["id"].as_u64().unwrap());
        }
        if let Some(id) = row["default_chat_id"].as_u64() {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    assert!(!ids.is_empty(), "no chats in {list}");
    for id in ids {
        let (st, chat) = b.get(&format!("/api/v1/chats/{id}")).await;
        assert_eq!(st, 200);
        let (st, h) = b
            .get(&format!("/api/v1/chats/{id}/messages?limit=200"))
            .await;
        assert_eq!(st, 200);
        for m in h["items"].as_array().unwrap() {
            for a in m["attachments"].as_array().cloned().unwrap_or_default() {
                let r = b
                    .request("GET", a["url"].as_str().unwrap(), None)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{a}");
                let body = r.bytes().await.unwrap();
                blobs.push((a["id"].as_str().unwrap().to_string(), sha256(&body)));
            }
        }
        chats.push(json!({"chat": chat, "messages": h["items"]}));
    }
    blobs.sort();
    (Value::Array(chats), blobs)
}

fn backup_cli(dir: &Path, file: &Path) -> std::process::Output {
    parley(
        &[
            "backup",
            file.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        None,
    )
}

fn restore_cli(dir: &Path, file: &Path) -> std::process::Output {
    parley(
        &[
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        None,
    )
}

#[tokio::test]
async fn backup_while_serving_restores_chats_messages_and_files_on_another_path() {
    let cfg = api_channel("crm", None);
    let app = TestApp::spawn_with(&cfg).await;
    app.add_manager("boss", "admin").await;
    // Two small files, one over the backup's 256 KiB copy chunk, one sent twice (stored once).
    let files_sent = [png(1, 300), png(2, 700 << 10), png(3, 5000)];
    for (i, f) in files_sent.iter().enumerate() {
        send_file(
            &app,
            &format!("c{i}"),
            &format!("m{i}"),
            &format!("file {i}"),
            f,
        )
        .await;
    }
    send_file(&app, "c0", "again", "the same file", &files_sent[0]).await;
    for i in 0..5 {
        app.client_says(
            &format!("c{i}"),
            &format!("Client c{i}"),
            &format!("t{i}"),
            &format!("hello number {i}"),
        )
        .await;
    }
    let boss = app.login("boss").await;
    let (before, before_blobs) = everything(&boss).await;
    assert_eq!(before_blobs.len(), 4, "{before_blobs:?}");

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("parley.backup");

    // Messages with new files keep arriving while another process takes the backup.
    let url = app.url.clone();
    let writer = tokio::spawn(async move {
        let c = crate::support::client();
        let mut ok = 0;
        for i in 0..15 {
            let b64 = base64::engine::general_purpose::STANDARD.encode(png(100 + i as u8, 2000));
            let r = c
                .post(format!("{url}/webhooks/api/crm"))
                .bearer_auth(crate::support::TOKEN)
                .json(&json!({"contact": {"external_id": "busy"}, "message": {"external_id": format!("busy{i}"),
                    "attachments": [{"data_base64": b64, "name": "b.png", "mime": "image/png"}]}}))
                .send()
                .await
                .unwrap();
            ok += (r.status() == 200) as usize;
        }
        ok
    });
    let (dir, f) = (app.dir.clone(), file.clone());
    let o = tokio::task::spawn_blocking(move || backup_cli(&dir, &f))
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(writer.await.unwrap(), 15, "the server kept taking messages");
    let t = text(&o);
    assert!(t.contains("attachments: "), "{t}");
    assert!(t.contains("TLS"), "{t}");
    assert_eq!(mode(&file), 0o600, "the backup holds hashes and keys");
    // Nothing but the backup is left next to it (no temporary files).
    assert_eq!(files(work.path()), vec![file.clone()]);

    // Restore into an empty directory on another path, start a server there.
    let other = tempfile::tempdir().unwrap();
    let b_dir = other.path().join("restored");
    let o = restore_cli(&b_dir, &file);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("held no Parley data"), "{}", text(&o));
    let b = TestApp::start_in(&b_dir, &cfg).await;
    let boss_b = b.login("boss").await;
    let (after, after_blobs) = everything(&boss_b).await;
    // Everything from before the backup is there, byte for byte; the messages that arrived
    // during it are there with their files or not at all.
    let busy_files: Vec<_> = after_blobs
        .iter()
        .filter(|x| !before_blobs.contains(x))
        .collect();
    for (id, got) in &after_blobs {
        assert_eq!(id, got, "attachment bytes match their hash");
    }
    for x in &before_blobs {
        assert!(after_blobs.contains(x), "{x:?} missing after restore");
    }
    let before_chats = before.as_array().unwrap();
    for c in before_chats {
        let id = &c["chat"]["chat"]["id"];
        let a = after
            .as_array()
            .unwrap()
            .iter()
            .find(|x| &x["chat"]["chat"]["id"] == id)
            .unwrap_or_else(|| panic!("chat {id} missing"));
        assert_eq!(a["messages"], c["messages"]);
    }
    assert!(busy_files.len() <= 15);
    // The generated certificate came along: the same fingerprint on the new path.
    assert_eq!(b.running().fingerprint, app.running().fingerprint);
    let tmp_b = b.stop().await;
    drop(tmp_b);

    // A second backup of the quiet server, restored elsewhere: identical in every respect.
    let (now, now_blobs) = everything(&boss).await;
    let o = backup_cli(&app.dir, &file);
    assert!(o.status.success(), "{}", text(&o));
    let c_dir = other.path().join("again");
    let o = restore_cli(&c_dir, &file);
    assert!(o.status.success(), "{}", text(&o));
    let c = TestApp::start_in(&c_dir, &cfg).await;
    let boss_c = c.login("boss").await;
    let (same, same_blobs) = everything(&boss_c).await;
    assert_eq!(same, now);
    assert_eq!(same_blobs, now_blobs);
    assert_eq!(same_blobs.len(), 4 + 15);
    // Message search works once the index has been rebuilt from the restored store.
    c.wait_search().await;
    let (st, v) = boss_c.get("/api/v1/search/messages?q=number").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 5, "{v}");
    c.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn restore_keeps_existing_data_aside_and_refuses_damaged_backups() {
    let cfg = api_channel("crm", None);
    let app = TestApp::spawn_with(&cfg).await;
    send_file(&app, "x", "x1", "keep me", &png(7, 1000)).await;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("b.parley");
    let o = backup_cli(&app.dir, &file);
    assert!(o.status.success(), "{}", text(&o));
    let good = std::fs::read(&file).unwrap();

    // A second server with its own data: restoring over it keeps that data aside.
    let target = TestApp::spawn_with(&cfg).await;
    send_file(&target, "y", "y1", "old data", &png(8, 1000)).await;
    let dir = target.dir.clone();
    let tmp = target.stop().await;
    let old_store = std::fs::read(dir.join("parley.redb")).unwrap();
    let old_blobs: Vec<Vec<u8>> = files(&dir.join("blobs"))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let snapshot = |d: &Path| {
        let mut v: Vec<(PathBuf, Vec<u8>)> = files(d)
            .into_iter()
            .filter(|p| !p.ends_with("parley.lock"))
            .map(|p| {
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        v.sort();
        v
    };
    let untouched = snapshot(&dir);

    // Damaged copies are refused by name and change nothing.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("corrupt", {
            let mut b = good.clone();
            let at = b.len() - 200;
            b[at] ^= 1;
            b
        }),
        ("end record", {
            let mut b = good.clone();
            b.extend_from_slice(b"junk");
            b
        }),
        ("not an intact", b"hello, not a backup".to_vec()),
    ];
    for (want, bytes) in cases {
        let bad = work.path().join("bad");
        std::fs::write(&bad, &bytes).unwrap();
        let o = restore_cli(&dir, &bad);
        let t = text(&o);
        assert!(!o.status.success(), "{want}: {t}");
        assert!(
            t.contains(want) || (want == "end record" && t.contains("after the end")),
            "{want}: {t}"
        );
        assert!(t.contains("nothing was changed"), "{t}");
        assert_eq!(snapshot(&dir), untouched, "{want}: the data dir changed");
    }

    let o = restore_cli(&dir, &file);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let kept = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("before-restore-")
        })
        .expect("the old data is kept aside");
    assert!(t.contains(kept.to_str().unwrap()), "says where: {t}");
    assert_eq!(std::fs::read(kept.join("parley.redb")).unwrap(), old_store);
    let kept_blobs: Vec<Vec<u8>> = files(&kept.join("blobs"))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(kept_blobs, old_blobs);
    assert_eq!(mode(&kept), 0o700);

    // The restored server has the backed-up client, not the old one.
    let restored = TestApp::start_in(&dir, &cfg).await;
    restored.add_manager("boss", "admin").await;
    let boss = restored.login("boss").await;
    let (all, blobs) = everything(&boss).await;
    let s = all.to_string();
    assert!(s.contains("keep me") && !s.contains("old data"), "{s}");
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].0, sha256(&png(7, 1000)));
    restored.stop().await;
    drop(tmp);
    app.stop().await;
}

/// Old backups (a bare store file, from before attachments were included) still restore.
#[tokio::test]
async fn a_store_only_backup_from_an_older_parley_restores() {
    let app = TestApp::spawn().await;
    app.add_manager("olduser", "admin").await;
    let work = tempfile::tempdir().unwrap();
    let dir = app.dir.clone();
    let tmp = app.stop().await;
    let old = work.path().join("old.redb");
    std::fs::copy(dir.join("parley.redb"), &old).unwrap();
    let target = work.path().join("new");
    let o = restore_cli(&target, &old);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("store-only"), "{}", text(&o));
    let b = TestApp::start_in(&target, "").await;
    b.login("olduser").await;
    b.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn data_files_are_private_whatever_the_umask() {
    // What a default login shell or service manager gives: files 0644, directories 0755.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    let cfg = api_channel("crm", None);
    let app = TestApp::spawn_with(&cfg).await;
    send_file(&app, "p", "p1", "private", &png(9, 3000)).await;
    let dir = app.dir.clone();
    let check = |dir: &Path| {
        assert_eq!(mode(dir), 0o700, "data dir");
        for f in ["parley.redb", "parley.lock", "tls/key.pem", "tls/cert.pem"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        let blobs = files(&dir.join("blobs"));
        assert!(!blobs.is_empty());
        for b in &blobs {
            assert_eq!(mode(b), 0o600, "{}", b.display());
        }
    };
    check(&dir);

    // An install from before: everything readable by others. The next start tightens it.
    let tmp = app.stop().await;
    let loosen = |p: &Path| {
        let m = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    loosen(&dir);
    for sub in ["blobs", "tls"] {
        loosen(&dir.join(sub));
        for f in files(&dir.join(sub)) {
            loosen(&f);
            loosen(f.parent().unwrap());
        }
    }
    for f in ["parley.redb", "parley.lock"] {
        loosen(&dir.join(f));
    }
    let app = TestApp::start_in(&dir, &cfg).await;
    check(&dir);
    app.stop().await;
    rustix::process::umask(old);
    drop(tmp);
}

/// After a restore the index is rebuilt in the background: the server answers at once, the
/// chat list works, searches answer from what is indexed and say the index is incomplete,
/// and find everything afterwards.
#[tokio::test]
async fn after_a_restore_the_server_serves_while_the_search_index_rebuilds() {
    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("a");
    let ad = a.to_str().unwrap();
    let o = parley(
        &[
            "demo",
            "--contacts",
            "2000",
            "--messages",
            "30000",
            "--data-dir",
            ad,
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = parley(
        &[
            "user",
            "add",
            "boss",
            "--name",
            "Boss",
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
            ad,
        ],
        Some(&format!("{}\n", crate::support::PASSWORD)),
    );
    assert!(o.status.success(), "{}", text(&o));
    let file = work.path().join("demo.backup");
    assert!(backup_cli(&a, &file).status.success());
    let b = work.path().join("b");
    assert!(restore_cli(&b, &file).status.success());

    let t0 = std::time::Instant::now();
    let app = TestApp::start_in(&b, "").await;
    let start_took = t0.elapsed();
    let c = crate::support::client();
    let health = |c: reqwest::Client, url: String| async move {
        c.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let h = health(c.clone(), app.url.clone()).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["index"]["state"], "rebuilding", "{h}");
    let boss = app.login("boss").await;
    let (st, list) = boss.get("/api/v1/chats?limit=5").await;
    assert_eq!(st, 200, "the chat list works during the rebuild");
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    let name = list["items"][0]["name"].as_str().unwrap().to_string();
    let q = name.split_whitespace().next().unwrap().to_string();
    let (st, v) = boss.get(&format!("/api/v1/chats?q={q}")).await;
    let still = health(c.clone(), app.url.clone()).await["index"]["state"] == "rebuilding";
    if still {
        // Answered while rebuilding: from what is indexed, and saying the index is
        // incomplete, so a missing client reads as "not indexed yet", not "no such client".
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["index_building"]["index"], "contacts", "{v}");
        let (st, e) = boss
            .post(
                "/api/v1/broadcasts",
                json!({"name": "All", "text": "hi", "filter": {"has_email": false}}),
            )
            .await;
        if health(c.clone(), app.url.clone()).await["index"]["state"] == "rebuilding" {
            assert_eq!(st, 503, "a broadcast needs every recipient: {e}");
        }
    }
    let mut rebuilt = None;
    for _ in 0..1200 {
        if health(c.clone(), app.url.clone()).await["index"]["state"] == "ready" {
            rebuilt = Some(t0.elapsed());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rebuilt = rebuilt.expect("the index was rebuilt within 60 s");
    app.wait_search().await;
    let (st, v) = boss.get(&format!("/api/v1/chats?q={q}")).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["total"].as_u64().unwrap() >= 1, "{v}");
    let h = health(c, app.url.clone()).await;
    assert_eq!(h["index"]["contacts"], 2000, "{h}");
    eprintln!(
        "restored demo (2,000 clients, 30,000 messages): serving after {:.2} s, index rebuilt after {:.2} s, search answered (incomplete) during the rebuild: {still}",
        start_took.as_secs_f64(),
        rebuilt.as_secs_f64()
    );
    assert!(
        start_took < rebuilt,
        "the server served before the rebuild ended"
    );
    app.stop().await;
}
