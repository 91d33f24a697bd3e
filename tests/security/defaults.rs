//! Safe to put on the internet (issue 12): a fresh install accepts nothing, published or weak
//! secrets are refused, sign-in limits hold under concurrency and behind proxies, and API
//! tokens cannot outlive or outgrow what they were made for.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::telegram::FakeTelegram;
use crate::support::{PASSWORD, TestApp, client, parley, text};

/// A body the API channel would accept, sent with `token`.
async fn post_api_message(app: &TestApp, channel: &str, token: &str) -> StatusCode {
    client()
        .post(format!("{}/webhooks/api/{channel}", app.url))
        .bearer_auth(token)
        .json(&json!({
            "contact": {"external_id": "intruder", "name": "Intruder"},
            "message": {"external_id": "m1", "text": "hello from the internet"},
        }))
        .send()
        .await
        .unwrap()
        .status()
}

/// The example config with its commented blocks switched on, as an admin who only uncomments
/// would have it.
fn uncommented_example() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
        .unwrap();
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with('[')
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
            {
                rest.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_fresh_init_config_accepts_nothing_from_outside() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let data = dir.path().join("data");
    let o = parley(
        &[
            "init",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(&file).unwrap();
    let app = TestApp::start_in(&data, &written).await;
    app.add_manager("boss", "admin").await;
    // The example's bearer token, which anyone can read in the repository.
    for token in [
        "REPLACE-WITH-A-LONG-RANDOM-TOKEN",
        "REPLACE-ME",
        "",
        "api-channel-token-0123456789",
    ] {
        assert_eq!(
            post_api_message(&app, "crm", token).await,
            StatusCode::NOT_FOUND
        );
    }
    for path in [
        "/webhooks/telegram/telegram-main",
        "/webhooks/viber/viber-main",
        "/webhooks/whatsapp/whatsapp-main",
    ] {
        let r = client()
            .post(format!("{}{path}", app.url))
            .header("x-telegram-bot-api-secret-token", "REPLACE-WITH-A-LONG-RANDOM-STRING")
            .json(&json!({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "date": 1, "text": "hi"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let boss = app.login("boss").await;
    let (st, v) = boss.get("/api/v1/chats").await;
    assert_eq!(st, 200);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
    let (_, channels) = boss.get("/api/v1/channels").await;
    assert_eq!(
        channels["items"].as_array().map(Vec::len),
        Some(0),
        "{channels}"
    );
    app.stop().await;
}

#[test]
fn serve_refuses_published_empty_and_short_secrets_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |name: &str, config: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, config).unwrap();
        let data = dir.path().join(format!("{name}.data"));
        let o = parley(
            &[
                "serve",
                "--config",
                file.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "off",
            ],
            None,
        );
        assert!(!o.status.success(), "{name}: the server started");
        assert!(
            !data.join("parley.redb").exists(),
            "{name}: nothing is created before the config is accepted"
        );
        text(&o)
    };
    // Uncommenting the examples as they are: the first placeholder is named.
    let t = serve("example.toml", &uncommented_example());
    assert!(
        t.contains("channels[0].token") && t.contains("placeholder"),
        "{t}"
    );
    let channel = |body: &str| format!("[[channels]]\nid = \"c\"\nname = \"C\"\n{body}");
    for (name, body, key) in [
        (
            "viber-empty.toml",
            "kind = \"viber\"\ntoken = \"\"\n",
            "channels[0].token",
        ),
        (
            "api-short.toml",
            "kind = \"api\"\ntoken = \"0123456789\"\n",
            "channels[0].token",
        ),
        (
            "tg-empty-secret.toml",
            "kind = \"telegram\"\ntoken = \"123456:abcdefghijklmnopqrstuvwxyz\"\nwebhook_secret = \"\"\nmode = \"polling\"\n",
            "channels[0].webhook_secret",
        ),
        (
            "wa-placeholder.toml",
            "kind = \"whatsapp\"\naccess_token = \"EAAG-0123456789abcdef\"\napp_secret = \"REPLACE-ME\"\nverify_token = \"verify-0123456789abcdef\"\nphone_number_id = \"1\"\n",
            "channels[0].app_secret",
        ),
    ] {
        let t = serve(name, &channel(body));
        assert!(t.contains(key), "{name}: {t}");
    }
}

#[tokio::test]
async fn a_polling_bot_has_no_webhook_route() {
    let tg = FakeTelegram::start().await;
    let app = TestApp::spawn_with(&format!(
        "[[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"Bot\"\ntoken = \"{}\"\nmode = \"polling\"\napi_base = \"{}\"\n",
        crate::support::telegram::TOKEN,
        tg.api_base()
    ))
    .await;
    for secret in [None, Some(""), Some("anything-at-all-0123")] {
        let mut rb = client()
            .post(format!("{}/webhooks/telegram/tg", app.url))
            .json(&crate::support::telegram::message_update(
                7,
                42,
                1,
                json!({"text": "forged"}),
            ));
        if let Some(s) = secret {
            rb = rb.header("x-telegram-bot-api-secret-token", s);
        }
        assert_eq!(rb.send().await.unwrap().status(), 404, "{secret:?}");
    }
    app.add_manager("boss", "admin").await;
    let (_, v) = app.login("boss").await.get("/api/v1/chats").await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
    app.stop().await;
}

async fn sign_in_status(app: &TestApp, login: &str, password: &str, xff: Option<&str>) -> u16 {
    let mut rb = client()
        .post(format!("{}/api/v1/session", app.url))
        .json(&json!({"login": login, "password": password}));
    if let Some(f) = xff {
        rb = rb.header("x-forwarded-for", f);
    }
    rb.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn parallel_guesses_get_no_more_checks_than_the_burst() {
    let app = TestApp::spawn().await;
    app.add_manager("anna", "manager").await;
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let url = app.url.clone();
            tokio::spawn(async move {
                client()
                    .post(format!("{url}/api/v1/session"))
                    .json(&json!({"login": "anna", "password": format!("guess {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            401 => checked += 1,
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    eprintln!("120 parallel guesses: {checked} checked, {limited} refused");
    // login_burst defaults to 5 per account.
    assert!(checked <= 5, "{checked} guesses were checked");
    assert_eq!(checked + limited, 120);
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_is_limited_like_signing_in() {
    let app = TestApp::spawn().await;
    app.add_manager("anna", "manager").await;
    let anna = app.login("anna").await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let (st, _) = anna
            .post(
                "/api/v1/session/password",
                json!({"current_password": format!("guess {i}"), "new_password": "a new passphrase"}),
            )
            .await;
        statuses.push(st.as_u16());
    }
    assert_eq!(&statuses[..5], &[422; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    // While limited, even the right password does not get checked.
    let (st, _) = anna
        .post(
            "/api/v1/session/password",
            json!({"current_password": PASSWORD, "new_password": "a new passphrase"}),
        )
        .await;
    assert_eq!(st, 429);
    app.stop().await;
}

/// Fail with many logins, each once, all claiming to come from `xff(i)`; how many failures
/// until the address was limited (None: never within 40).
async fn failures_until_limited(app: &TestApp, xff: impl Fn(usize) -> String) -> Option<usize> {
    for i in 0..40 {
        match sign_in_status(app, &format!("nobody{i}"), "guess", Some(&xff(i))).await {
            401 => continue,
            429 => return Some(i),
            other => panic!("unexpected {other}"),
        }
    }
    None
}

#[tokio::test]
async fn behind_a_proxy_the_client_cannot_choose_its_address() {
    let app =
        TestApp::spawn_with("[server]\ntrust_proxy = true\n\n[limits]\nlogin_burst = 2\n").await;
    // The client writes a new first entry each time; the proxy appends the real address last.
    let n = failures_until_limited(&app, |i| format!("10.9.{i}.1, 198.51.100.20")).await;
    assert_eq!(n, Some(8), "the appended address is the one limited");
    // IPv6 clients are limited by their /64: rotating the interface id does not help.
    let n = failures_until_limited(&app, |i| format!("2001:db8:7:7::{:x}", i + 1)).await;
    assert_eq!(n, Some(8));
    assert_eq!(
        sign_in_status(&app, "nobody", "guess", Some("2001:db8:7:8::1")).await,
        401,
        "the next /64 is another client"
    );
    app.stop().await;

    // With the proxies listed, trusted hops are skipped from the right; a peer that is not
    // a listed proxy has its header ignored.
    let app = TestApp::spawn_with(
        "[server]\ntrust_proxy = true\ntrusted_proxies = [\"127.0.0.0/8\", \"192.0.2.0/24\"]\n\n[limits]\nlogin_burst = 2\n",
    )
    .await;
    let n = failures_until_limited(&app, |i| {
        format!("10.8.{i}.1, 198.51.100.30, 192.0.2.7, 127.0.0.5")
    })
    .await;
    assert_eq!(n, Some(8));
    assert_eq!(
        sign_in_status(&app, "nobody", "guess", Some("198.51.100.31, 192.0.2.7")).await,
        401,
        "another client behind the same proxies is not limited"
    );
    app.stop().await;

    let app = TestApp::spawn_with(
        "[server]\ntrust_proxy = true\ntrusted_proxies = [\"192.0.2.0/24\"]\n\n[limits]\nlogin_burst = 2\n",
    )
    .await;
    // 127.0.0.1 (this test) is not a listed proxy, so every request counts against it.
    let n = failures_until_limited(&app, |i| format!("198.51.100.{i}")).await;
    assert_eq!(n, Some(8));
    app.stop().await;
}

async fn bearer(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = client()
        .request(m, format!("{}{path}", app.url))
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn api_tokens_have_scopes_and_end_with_the_token_that_made_them() {
    let app = TestApp::spawn_with(&crate::support::api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    app.client_says("c1", "Olga", "m1", "hello").await;

    // The default scope works the inbox but cannot mint tokens or people, or touch the
    // admin's own account.
    let (st, t) = boss
        .post("/api/v1/tokens", json!({"name": "CRM sync"}))
        .await;
    assert_eq!(st, 201, "{t}");
    assert_eq!(t["scope"], "integration");
    let integ = t["token"].as_str().unwrap().to_string();
    let (st, chats) = bearer(&app, &integ, "GET", "/api/v1/chats", None).await;
    assert_eq!(st, 200);
    let chat = chats["items"][0]["default_chat_id"].clone();
    let (st, _) = bearer(
        &app,
        &integ,
        "POST",
        &format!("/api/v1/chats/{chat}/messages"),
        Some(json!({"text": "answer from the CRM"})),
    )
    .await;
    assert!((200..300).contains(&st), "{st}");
    let (st, _) = bearer(&app, &integ, "GET", "/api/v1/channels", None).await;
    assert_eq!(st, 200);
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "backdoor", "scope": "admin"}),
        ),
        ("POST", "/api/v1/tokens", json!({"name": "backdoor"})),
        ("GET", "/api/v1/tokens", Value::Null),
        (
            "POST",
            "/api/v1/managers",
            json!({"login": "mallory", "name": "M", "role": "admin", "password": "a long passphrase"}),
        ),
        (
            "POST",
            "/api/v1/session/password",
            json!({"current_password": PASSWORD, "new_password": "taken over now"}),
        ),
        ("PATCH", "/api/v1/session", json!({"name": "Owned"})),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (st, v) = bearer(&app, &integ, method, path, body).await;
        assert_eq!(st, 403, "{method} {path}: {v}");
    }
    let (_, managers) = boss.get("/api/v1/managers").await;
    assert!(
        managers["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["login"] != "mallory"),
        "{managers}"
    );

    // An admin token, asked for by name, can make tokens; they end with it.
    let (st, a) = boss
        .post("/api/v1/tokens", json!({"name": "ops", "scope": "admin"}))
        .await;
    assert_eq!((st.as_u16(), a["scope"].as_str()), (201, Some("admin")));
    let admin_token = a["token"].as_str().unwrap().to_string();
    let (st, child) = bearer(
        &app,
        &admin_token,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "child", "scope": "admin"})),
    )
    .await;
    assert_eq!(st, 201, "{child}");
    assert_eq!(child["parent"], a["id"]);
    let child_token = child["token"].as_str().unwrap().to_string();
    let (st, grandchild) = bearer(
        &app,
        &child_token,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "grandchild"})),
    )
    .await;
    assert_eq!(st, 201);
    let grandchild_token = grandchild["token"].as_str().unwrap().to_string();
    let (st, _) = boss
        .post("/api/v1/tokens", json!({"name": "x", "scope": "root"}))
        .await;
    assert_eq!(st, 422);

    let (st, _) = boss
        .send("DELETE", &format!("/api/v1/tokens/{}", a["id"]), None)
        .await;
    assert_eq!(st, 204);
    for t in [&admin_token, &child_token, &grandchild_token] {
        let (st, _) = bearer(&app, t, "GET", "/api/v1/chats", None).await;
        assert_eq!(st, 401, "a token made with a deleted token still works");
    }
    let (st, _) = bearer(&app, &integ, "GET", "/api/v1/chats", None).await;
    assert_eq!(st, 200, "unrelated tokens stay");
    let (_, list) = boss.get("/api/v1/tokens").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    app.stop().await;
}

/// 24 clients hammering sign-in must not starve the async workers: argon2 runs on its own
/// low-priority threads. Printed, not asserted (timings are for benchmarks).
#[tokio::test]
async fn sign_in_floods_are_refused_beyond_the_hash_queue() {
    let app = TestApp::spawn_with("[limits]\nlogin_burst = 1000\n").await;
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let url = app.url.clone();
            tokio::spawn(async move {
                client()
                    .post(format!("{url}/api/v1/session"))
                    .json(&json!({"login": format!("user{i}"), "password": "guess"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut health = Vec::new();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let r = client()
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        health.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut counts = std::collections::BTreeMap::new();
    for t in tasks {
        *counts.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    eprintln!(
        "200 concurrent sign-ins: {counts:?} in {:?}; /healthz during the flood: {health:?}",
        started.elapsed()
    );
    // Every request was answered: checked (401) or told to come back (429), none dropped.
    assert_eq!(counts.values().sum::<i32>(), 200);
    assert!(counts.keys().all(|s| *s == 401 || *s == 429), "{counts:?}");
    assert!(
        counts.contains_key(&429),
        "the hash queue is bounded: a flood is partly refused"
    );
    app.stop().await;
}
