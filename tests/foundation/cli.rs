//! The CLI as an admin uses it: config errors, users, backup while serving, restore, and the
//! data-directory lock.

use std::time::Duration;

use serde_json::json;

use crate::support::process::{self, Logs, Serve};
use crate::support::{PASSWORD, TestApp, parley, text};

#[test]
fn version_and_bad_config_are_reported() {
    let o = parley(&["--version"], None);
    assert!(o.status.success());
    assert!(text(&o).contains(env!("CARGO_PKG_VERSION")));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let o = parley(&["check-config", "--config", bad.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(t.contains("lisen") && t.contains("bad.toml"), "{t}");

    let o = parley(
        &["check-config", "--config", "/nonexistent/parley.toml"],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("/nonexistent/parley.toml"));

    // The example config passes as it is (it enables no channel).
    let o = parley(
        &[
            "check-config",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));

    // check-config redacts secrets.
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"tok-0123456789abcdef\"\ncallback_url = \"https://crm.example.com/hook\"\nsecret = \"sec-0123456789abcdef\"\n",
    )
    .unwrap();
    let o = parley(&["check-config", "--config", good.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("<redacted>")
            && !t.contains("tok-0123456789abcdef")
            && !t.contains("sec-0123456789abcdef"),
        "{t}"
    );
}

#[test]
fn environment_and_flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:1111\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "check-config",
            "--config",
            f.to_str().unwrap(),
            "--data-dir",
            "/tmp/flagdir",
        ])
        .env("PARLEY_SERVER_LISTEN", "127.0.0.1:2222")
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        t.contains("127.0.0.1:2222") && t.contains("/tmp/flagdir"),
        "{t}"
    );
}

#[test]
fn user_commands_manage_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = parley(
        &[
            "user",
            "add",
            "Olga",
            "--name",
            "Ольга",
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
            d,
        ],
        Some("a very long password\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = parley(
        &[
            "user",
            "add",
            "olga",
            "--name",
            "Dup",
            "--password-stdin",
            "--data-dir",
            d,
        ],
        Some("a very long password\n"),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("taken"), "{}", text(&o));
    let o = parley(
        &[
            "user",
            "add",
            "short",
            "--name",
            "S",
            "--password-stdin",
            "--data-dir",
            d,
        ],
        Some("short\n"),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("password"));
    let o = parley(
        &["user", "add", "ivan", "--name", "Иван", "--data-dir", d],
        None,
    );
    assert!(o.status.success());
    assert!(
        text(&o).contains("password: "),
        "a generated password is printed"
    );
    let o = parley(&["user", "disable", "ivan", "--data-dir", d], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = parley(&["user", "list", "--data-dir", d], None);
    let t = text(&o);
    assert!(
        t.contains("olga") && t.contains("Ольга") && t.contains("disabled"),
        "{t}"
    );
    let o = parley(&["user", "passwd", "nobody", "--data-dir", d], None);
    assert!(!o.status.success());
}

#[tokio::test]
async fn locked_data_dir_is_refused_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let d = app.dir.to_str().unwrap().to_string();
    let o = parley(
        &[
            "serve",
            "--data-dir",
            &d,
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "off",
        ],
        None,
    );
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("in use by another Parley process"), "{t}");
    let o = parley(&["user", "add", "x", "--name", "X", "--data-dir", &d], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("web UI"), "{}", text(&o));
    app.stop().await;
}

#[tokio::test]
async fn backup_while_serving_then_restore() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    for i in 0..5 {
        let (st, _) = boss.post("/api/v1/managers", json!({"login": format!("before{i}"), "name": "B", "role": "manager", "password": PASSWORD})).await;
        assert_eq!(st, 201);
    }
    // Writes keep going while another process takes the backup.
    let url = app.url.clone();
    let csrf = boss.csrf.clone().unwrap();
    let http = boss.http.clone();
    let writer = tokio::spawn(async move {
        let mut n = 0;
        for i in 0..20 {
            let r = http
                .post(format!("{url}/api/v1/managers"))
                .header("x-csrf-token", &csrf)
                .json(&json!({"login": format!("during{i}"), "name": "D", "role": "manager", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            n += (r.status() == 201) as usize;
        }
        n
    });
    let backup = app
        .dir
        .parent()
        .unwrap()
        .join(format!("backup-{}.redb", std::process::id()));
    let d = app.dir.to_str().unwrap().to_string();
    let b = backup.clone();
    let o = tokio::task::spawn_blocking(move || {
        parley(&["backup", b.to_str().unwrap(), "--data-dir", &d], None)
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        writer.await.unwrap(),
        20,
        "server kept serving during the backup"
    );
    let (st, _) = boss.get("/api/v1/managers").await;
    assert_eq!(st, 200);

    // Restore refuses while the server runs, then works once it is stopped.
    let d = app.dir.to_str().unwrap().to_string();
    let o = parley(
        &["restore", backup.to_str().unwrap(), "--data-dir", &d],
        None,
    );
    assert!(!o.status.success());
    let dir = app.dir.clone();
    let tmp = app.stop().await;
    let o = parley(
        &["restore", backup.to_str().unwrap(), "--data-dir", &d],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = parley(&["restore", "/etc/hostname", "--data-dir", &d], None);
    assert!(
        !o.status.success(),
        "a file that is not a backup is refused"
    );

    let mut app = TestApp::start_in(&dir, "").await;
    let boss = app.login("boss").await;
    let (_, v) = boss.get("/api/v1/managers").await;
    let logins: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["login"].as_str().unwrap())
        .collect();
    for i in 0..5 {
        assert!(
            logins.contains(&format!("before{i}").as_str()),
            "{logins:?}"
        );
    }
    app.running.take().unwrap().stop().await.unwrap();
    let _ = std::fs::remove_file(&backup);
    drop(tmp);
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::new(process::BIN, dir.path()).logs(Logs::Banner);
    let mut s = serve.spawn();
    assert!(
        s.banner.contains("password:"),
        "first admin password printed: {}",
        s.banner
    );
    let st = s.stop_blocking(Duration::from_secs(20));
    assert!(st.success(), "exit status {st:?}");
    // The password is never printed again.
    let mut s = serve.spawn();
    s.stop_blocking(Duration::from_secs(20));
    let t = &s.banner;
    assert!(t.contains("fingerprint") && !t.contains("password:"), "{t}");
}
