//! Hostile HTTP (issue 7): what a malicious or broken client can send must be refused by name
//! or cut off, must store nothing, and must leave the server answering. Timing is never
//! asserted here; `cargo bench --bench hostile` prints figures and PASS/FAIL for the latency
//! and memory targets under attack.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use parley::http::guard::{HEAD_TIMEOUT, MAX_HEAD};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::raw::{closed_within, exchange, get, post};
use crate::support::telegram::{self, FakeTelegram};
use crate::support::tls::{connector, connector_with, tcp_from, tls_from};
use crate::support::{TOKEN, TestApp, api_channel, client};

/// What a client observes after sending something hostile: an answer or the server closing.
#[derive(Debug, PartialEq)]
enum Outcome {
    Status(u16),
    Closed,
}

/// Read until a status line arrives or the server closes; `None` if neither within `secs`.
async fn outcome<S: AsyncRead + Unpin>(s: &mut S, secs: u64) -> Option<Outcome> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return Outcome::Closed,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(2).position(|w| w == b"\r\n") {
                        let line = String::from_utf8_lossy(&got[..end]).to_string();
                        let code = line.split(' ').nth(1).and_then(|c| c.parse().ok());
                        return Outcome::Status(code.unwrap_or(0));
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), read)
        .await
        .ok()
}

/// Everything a hostile body could have left behind: managers, chats, the event log.
async fn footprint(app: &TestApp, admin: &crate::support::Browser) -> Value {
    let (_, managers) = admin.get("/api/v1/managers").await;
    let (_, chats) = admin.get("/api/v1/chats").await;
    let (_, filters) = admin.get("/api/v1/filters").await;
    let seq = app
        .running()
        .state
        .inbox
        .store
        .read(parley::store::events::latest)
        .unwrap();
    json!({"managers": managers, "chats": chats["items"], "filters": filters, "seq": seq})
}

fn deep(open: &str, levels: usize) -> Vec<u8> {
    open.repeat(levels).into_bytes()
}

/// Malformed JSON on API and webhook endpoints: a 4xx whose message names the problem, and
/// nothing stored. Platform webhooks (Telegram) acknowledge an authentic body they cannot
/// parse, by design (a 4xx would make the platform resend it forever), and store nothing.
#[tokio::test]
async fn malformed_json_is_refused_by_name_and_stores_nothing() {
    let tg = FakeTelegram::start().await;
    let cfg = format!(
        "{}[[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"Bot\"\ntoken = \"{}\"\n\
         webhook_secret = \"{}\"\nmode = \"webhook\"\napi_base = \"{}\"\n",
        api_channel("crm", None),
        telegram::TOKEN,
        telegram::SECRET,
        tg.api_base()
    );
    let app = TestApp::spawn_with(&format!(
        "[server]\npublic_url = \"https://parley.example.com\"\n\n{cfg}"
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let admin = app.login("boss").await;
    let before = footprint(&app, &admin).await;

    let manager = |extra: &str| {
        format!(
            r#"{{"login": "mallory", "name": "M", "role": "manager", "password": "long enough password"{extra}}}"#
        )
        .into_bytes()
    };
    let webhook = |contact: &str, message: &str| {
        format!(r#"{{"contact": {contact}, "message": {message}}}"#).into_bytes()
    };
    let ok_contact = r#"{"external_id": "c-1", "name": "Olga"}"#;
    let ok_message = r#"{"external_id": "m-1", "text": "hi"}"#;
    let mut bad_utf8 = webhook(ok_contact, r#"{"external_id": "m-1", "text": "XX"}"#);
    let at = bad_utf8.len() - 5;
    bad_utf8[at..at + 2].copy_from_slice(b"\xff\xfe");
    let mut bad_utf8_api = manager("");
    bad_utf8_api[14..16].copy_from_slice(b"\xc3\x28");

    // (what, body, words the message must contain)
    let api_cases: Vec<(&str, Vec<u8>, &[&str])> =
        vec![
        ("truncated", manager("")[..40].to_vec(), &["EOF"]),
        (
            "wrong type",
            br#"{"login": 5, "name": "M", "role": "manager", "password": "long enough password"}"#
                .to_vec(),
            &["invalid type", "integer", "expected a string"],
        ),
        ("array instead of object", b"[1, 2]".to_vec(), &["invalid type"]),
        ("invalid UTF-8", bad_utf8_api, &["unicode"]),
        (
            "duplicate key",
            manager(r#", "login": "eve""#),
            &["duplicate field", "login"],
        ),
        (
            "unknown key",
            manager(r#", "admin": true"#),
            &["unknown field", "admin"],
        ),
        ("trailing garbage", manager("} {"), &["trailing"]),
        // A struct is refused at the first wrong token, before any depth builds up.
        ("100,000 [", deep("[", 100_000), &["parse error", "invalid type"]),
        ("100,000 {\"a\":", deep("{\"a\":", 100_000), &["parse error"]),
    ];
    for (what, body, words) in &api_cases {
        let r = admin
            .request("POST", "/api/v1/managers", None)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            st == 400 || st == 422,
            "API, {what}: expected 400/422, got {st} {v}"
        );
        let msg = v["message"].as_str().unwrap_or("");
        for w in *words {
            assert!(msg.contains(w), "API, {what}: message {msg:?} lacks {w:?}");
        }
    }

    // A filter condition's value is free JSON: here the nesting is parsed, up to serde_json's
    // recursion limit.
    for (what, nest) in [
        ("[", deep("[", 100_000)),
        ("{\"a\":", deep("{\"a\":", 100_000)),
    ] {
        let body = [
            br#"{"name": "deep", "filter": {"messengers": [], "conditions": [{"field": "tag", "op": "equals", "value": "#.as_slice(),
            &nest,
        ]
        .concat();
        let r = admin
            .request("POST", "/api/v1/filters", None)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(st, 400, "filter value nested 100,000 x {what}: {v}");
        let msg = v["message"].as_str().unwrap_or("");
        assert!(msg.contains("recursion limit"), "{msg}");
    }

    let hook_cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "truncated",
            webhook(ok_contact, ok_message)[..30].to_vec(),
            &["EOF"],
        ),
        (
            "wrong type",
            webhook(r#"{"external_id": 42}"#, ok_message),
            &["invalid type", "expected a string"],
        ),
        (
            "attachments not a list",
            webhook(
                ok_contact,
                r#"{"external_id": "m-1", "text": "x", "attachments": "all"}"#,
            ),
            &["invalid type", "expected a sequence"],
        ),
        ("invalid UTF-8", bad_utf8, &["unicode"]),
        (
            "duplicate key",
            format!(
                r#"{{"contact": {ok_contact}, "contact": {ok_contact}, "message": {ok_message}}}"#
            )
            .into_bytes(),
            &["duplicate field", "contact"],
        ),
        ("100,000 [", deep("[", 100_000), &["parse error"]),
        (
            "100,000 {\"a\": inside a valid prefix",
            [br#"{"contact": "#.as_slice(), &deep("{\"a\":", 100_000)].concat(),
            &["parse error"],
        ),
        ("empty", Vec::new(), &["EOF"]),
    ];
    let c = client();
    for (what, body, words) in &hook_cases {
        let r = c
            .post(format!("{}/webhooks/api/crm", app.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            (400..500).contains(&st),
            "webhook, {what}: expected a 4xx, got {st} {v}"
        );
        let msg = v["message"].as_str().unwrap_or("");
        for w in *words {
            assert!(
                msg.contains(w),
                "webhook, {what}: message {msg:?} lacks {w:?}"
            );
        }
    }

    // Telegram: authentic but unparseable updates are acknowledged and change nothing.
    for (what, body) in [
        ("truncated", br#"{"update_id": 1, "message": {"#.to_vec()),
        ("deep", deep("[", 100_000)),
        (
            "wrong types",
            br#"{"update_id": "x", "message": {"chat": 5, "text": []}}"#.to_vec(),
        ),
        ("invalid UTF-8", b"{\"update_id\": \"\xff\"}".to_vec()),
    ] {
        let r = c
            .post(format!("{}/webhooks/telegram/tg", app.url))
            .header("x-telegram-bot-api-secret-token", telegram::SECRET)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "telegram, {what}: {}", r.status());
    }

    let (st, _) = client()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(st, 200, "the server still answers");
    assert_eq!(
        footprint(&app, &admin).await,
        before,
        "a hostile body stored something"
    );
    // The same requests done right do store: the refusals above were about the bodies.
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": "c-1", "name": "Olga"}),
            json!({"external_id": "m-1", "text": "hi"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    app.stop().await;
}

/// Huge heads, too many headers and long URLs get a 4xx (431/414/400) or a clean close, never
/// a hang; the server keeps answering, and a large but sane head is still served.
#[tokio::test]
async fn oversized_heads_and_urls_are_refused() {
    let app = TestApp::spawn().await;
    let send = |head: String| {
        let app = &app;
        async move {
            let mut s = crate::support::ws::tls_connect(app).await;
            // The server may close while the head is still being written.
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.flush().await;
            outcome(&mut s, 10).await
        }
    };
    let refused = |o: &Option<Outcome>| {
        matches!(o, Some(Outcome::Closed))
            || matches!(o, Some(Outcome::Status(s)) if [400, 413, 414, 431].contains(s))
    };

    let many: String = (0..500).map(|i| format!("x-h{i}: v\r\n")).collect();
    let o = send(format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{many}\r\n")).await;
    assert!(refused(&o), "500 headers: {o:?}");

    let big = "a".repeat(MAX_HEAD + 1024);
    let o = send(format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n"
    ))
    .await;
    assert!(refused(&o), "one {} KB header: {o:?}", big.len() / 1024);

    let o = send(format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\ncookie: {}\r\n\r\n",
        "c".repeat(1 << 20)
    ))
    .await;
    assert!(refused(&o), "a 1 MB cookie: {o:?}");

    let o = send(format!(
        "GET /{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "u".repeat(100_000)
    ))
    .await;
    assert!(refused(&o), "a 100 KB URL: {o:?}");

    // The server reads heads only up to the cap: a client sending megabytes never finishes.
    let o = send(format!("GET /{} HTTP/1.1\r\n", "u".repeat(4 << 20))).await;
    assert!(refused(&o), "a 4 MB request line: {o:?}");

    // Below the cap, a large head is an ordinary request.
    let o = send(format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(MAX_HEAD / 2)
    ))
    .await;
    assert_eq!(o, Some(Outcome::Status(200)), "a 32 KB header");

    let r = client()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// Connections that never send a byte (plain TCP) and TLS connections that handshake and then
/// stay silent are closed by the server within the head deadline, and the open count goes
/// back down.
#[tokio::test]
async fn silent_connections_are_closed() {
    const N: usize = 150;
    let app = TestApp::spawn().await;
    let addr = app.running().https_addr;
    let conns = app.running().connections.clone();
    let base = conns.open();
    let mut tcp = Vec::new();
    for _ in 0..N {
        tcp.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut tls = Vec::new();
    for _ in 0..N {
        tls.push(crate::support::ws::tls_connect(&app).await);
    }
    let t0 = Instant::now();
    for _ in 0..50 {
        if conns.open() >= base + 2 * N {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        conns.open() >= base + 2 * N,
        "the server holds all {} connections ({} open)",
        2 * N,
        conns.open()
    );
    // A normal client is served meanwhile.
    let r = client()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let limit = HEAD_TIMEOUT.as_secs() + 5;
    let waits = tcp
        .into_iter()
        .map(|mut s| tokio::spawn(async move { closed_within(&mut s, limit).await }))
        .chain(
            tls.into_iter()
                .map(|mut s| tokio::spawn(async move { closed_within(&mut s, limit).await })),
        )
        .collect::<Vec<_>>();
    let mut slowest = Duration::ZERO;
    for (i, w) in waits.into_iter().enumerate() {
        let kind = if i < N { "plain TCP" } else { "TLS" };
        let took = w
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a silent {kind} connection stayed open past {limit} s"));
        slowest = slowest.max(took);
    }
    assert!(
        t0.elapsed() + Duration::from_secs(1) >= HEAD_TIMEOUT,
        "closed before the deadline: {:?}",
        t0.elapsed()
    );
    for _ in 0..100 {
        if conns.open() <= base + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        conns.open() <= base + 1,
        "connections still counted as open: {}",
        conns.open()
    );
    app.stop().await;
}

/// Past `max_connections` (or one address's share), new connections are closed at once and
/// cost the server nothing; closing connections frees their slots, and other addresses are
/// not affected by one address using up its share.
#[tokio::test]
async fn connection_caps_close_the_excess_and_free_slots() {
    let app =
        TestApp::spawn_with("[limits]\nmax_connections = 40\nmax_connections_per_address = 15\n")
            .await;
    let addr = app.running().https_addr;
    let conns = app.running().connections.clone();
    let wait_open = |n: usize| {
        let conns = conns.clone();
        async move {
            for _ in 0..200 {
                if conns.open() == n {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    };
    assert!(wait_open(0).await, "{} open at start", conns.open());
    let mut held = Vec::new();
    for _ in 0..15 {
        held.push(tcp_from([127, 0, 0, 2], addr).await.unwrap());
    }
    assert!(wait_open(15).await, "{} open", conns.open());
    // The 16th from the same address is closed without an answer.
    let mut extra = tcp_from([127, 0, 0, 2], addr).await.unwrap();
    assert!(
        closed_within(&mut extra, 5).await.is_some(),
        "the 16th connection from one address was not closed"
    );
    // Other addresses fill the rest of the global cap...
    for i in 0..25u8 {
        held.push(tcp_from([127, 0, 0, 3 + i % 2], addr).await.unwrap());
    }
    assert!(wait_open(40).await, "{} open", conns.open());
    let mut extra = tcp_from([127, 0, 0, 9], addr).await.unwrap();
    assert!(
        closed_within(&mut extra, 5).await.is_some(),
        "a connection past max_connections was not closed"
    );
    assert!(conns.refused() >= 2, "{} refused", conns.refused());
    assert_eq!(conns.open(), 40);
    // ...and freeing slots lets a normal client in again.
    held.drain(..10);
    assert!(wait_open(30).await, "{} open", conns.open());
    let r = client()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(held);
    assert!(
        wait_open(1).await || wait_open(0).await,
        "{} open",
        conns.open()
    );
    app.stop().await;

    // Behind a trusted proxy every connection comes from the proxy: no per-address cap.
    let app = TestApp::spawn_with(
        "[server]\ntrust_proxy = true\n[limits]\nmax_connections = 40\nmax_connections_per_address = 5\n",
    )
    .await;
    let addr = app.running().https_addr;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(tcp_from([127, 0, 0, 2], addr).await.unwrap());
    }
    let conns = app.running().connections.clone();
    for _ in 0..200 {
        if conns.open() == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        conns.open(),
        20,
        "with trust_proxy the per-address cap is off"
    );
    drop(held);
    app.stop().await;
}

/// A flood of WebSocket upgrades without credentials is refused (401) and leaves nothing
/// open; a crowd of idle signed-in sockets stays connected and still gets events.
#[tokio::test]
async fn websocket_floods() {
    const N: usize = 150;
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let conns = app.running().connections.clone();

    let mut refusals = Vec::new();
    for i in 0..N {
        let app = &app;
        refusals.push(async move {
            let headers: &[(&str, &str)] = match i % 3 {
                0 => &[],
                1 => &[("cookie", "parley_session=forged")],
                _ => &[("authorization", "Bearer nope")],
            };
            crate::support::ws::connect_with(app, headers, "")
                .await
                .err()
        });
    }
    for r in futures_util::future::join_all(refusals).await {
        assert_eq!(r, Some(401), "an upgrade without credentials");
    }

    let origin = app.url.clone();
    let mut sockets = Vec::new();
    for _ in 0..N {
        let mut ws = crate::support::ws::connect(&app, &b.cookie(), Some(&origin), "")
            .await
            .expect("signed-in socket");
        let hello = ws.next(5).await.expect("hello");
        assert_eq!(hello["type"], "hello");
        sockets.push(ws);
    }
    assert!(conns.open() >= N, "{} open for {N} sockets", conns.open());
    app.client_says("c-1", "Olga", "m-1", "to everyone").await;
    for (i, ws) in sockets.iter_mut().enumerate() {
        let ev = ws.until(10, |v| v["type"] == "message.created").await;
        assert!(ev.is_some(), "socket {i} of {N} got no event");
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The responsiveness measurement: the real binary as its own process, a manager's requests
// timed idle and under attack, the server's RSS read from /proc. Run with:
//   cargo test --test main reliability::hostile::responsiveness -- --ignored --nocapture
// (add --release for figures from an optimised build).
// ---------------------------------------------------------------------------------------------

/// The channels the pre-auth tests call: an API channel, a Telegram bot in webhook mode, one in
/// polling mode and a WhatsApp number.
async fn webhook_app(limits: &str) -> (TestApp, FakeTelegram) {
    let tg = FakeTelegram::start().await;
    let bot = |id: &str, mode: &str| {
        format!(
            "[[channels]]\nid = \"{id}\"\nkind = \"telegram\"\nname = \"Bot\"\ntoken = \"{}\"\n\
             webhook_secret = \"{}\"\nmode = \"{mode}\"\napi_base = \"{}\"\n\n",
            telegram::TOKEN,
            telegram::SECRET,
            tg.api_base()
        )
    };
    let cfg = format!(
        "[server]\npublic_url = \"https://parley.example.com\"\n\n[limits]\n{limits}\n\n{}{}{}{}",
        api_channel("crm", None),
        bot("tg", "webhook"),
        bot("tgpoll", "polling"),
        crate::support::whatsapp::channel("wa", "http://127.0.0.1:9", "")
    );
    (TestApp::spawn_with(&cfg).await, tg)
}

fn https_addr(app: &TestApp) -> SocketAddr {
    app.running().https_addr
}

/// A head announcing a 1 MB JSON body, which is never sent.
fn head_only(path: &str, extra: &str) -> String {
    post(path, extra, 1 << 20)
}

/// Issue 12, item 2: on every webhook route the channel and, where the platform sends it in a
/// header, the credential are checked from the head. The client sends the head of a 1 MB body
/// and never the body: the answer must come anyway (a server that read the body first would
/// still be waiting for it).
#[tokio::test]
async fn webhook_heads_are_checked_before_the_body_is_read() {
    let (app, _tg) = webhook_app("").await;
    let addr = https_addr(&app);
    let c = connector();
    let bearer = format!("authorization: Bearer {TOKEN}\r\n");
    let cases: Vec<(&str, String, u16)> = vec![
        ("/webhooks/api/nope", bearer.clone(), 404),
        ("/webhooks/api/crm", String::new(), 401),
        (
            "/webhooks/api/crm",
            "authorization: Bearer wrong-token-0123456789\r\n".into(),
            401,
        ),
        // The right bearer with a body that is not declared as JSON: refused from the head too.
        (
            "/webhooks/api/crm",
            format!("{bearer}content-type: text/plain\r\n"),
            415,
        ),
        ("/webhooks/telegram/nope", String::new(), 404),
        ("/webhooks/telegram/tg", String::new(), 401),
        (
            "/webhooks/telegram/tg",
            "x-telegram-bot-api-secret-token: wrong-secret-0123\r\n".into(),
            401,
        ),
        // A polling bot has no webhook, even with its own secret.
        (
            "/webhooks/telegram/tgpoll",
            format!("x-telegram-bot-api-secret-token: {}\r\n", telegram::SECRET),
            404,
        ),
        ("/webhooks/whatsapp/nope", String::new(), 404),
        ("/webhooks/whatsapp/wa", String::new(), 401),
        (
            "/webhooks/whatsapp/wa",
            "x-hub-signature-256: sha256=zz\r\n".into(),
            401,
        ),
        ("/webhooks/viber/nope", String::new(), 404),
    ];
    for (path, extra, want) in cases {
        let mut s = tls_from(&c, [127, 0, 0, 1], addr).await.expect("connect");
        let mut head = head_only(path, &extra);
        if extra.contains("content-type") {
            head = head.replacen("content-type: application/json\r\n", "", 1);
        }
        s.write_all(head.as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(
            outcome(&mut s, 5).await,
            Some(Outcome::Status(want)),
            "{path} with {extra:?}: the answer must not wait for the body"
        );
    }
    // Nothing was read into memory meanwhile.
    assert_eq!(app.running().state.bodies.in_use(), 0);
    // The authentic caller still gets its body read and stored.
    let (st, _) = app
        .inbound(
            "crm",
            json!({"external_id": "c-1", "name": "Olga"}),
            json!({"external_id": "m-1", "text": "hi"}),
        )
        .await;
    assert_eq!(st, 200);
}

/// Issue 12, item 2: a body has an absolute deadline. An authentic sender that keeps sending
/// a byte every 100 ms (which kept extending the old, rate-based deadline) is cut off with
/// 408 at `limits.body_timeout_secs`, and nothing is stored.
#[tokio::test]
async fn a_slow_body_is_cut_off_at_its_absolute_deadline() {
    let (app, _tg) = webhook_app("body_timeout_secs = 2").await;
    let addr = https_addr(&app);
    let c = connector();
    let mut s = tls_from(&c, [127, 0, 0, 1], addr).await.expect("connect");
    let head = post(
        "/webhooks/api/crm",
        &format!("authorization: Bearer {TOKEN}\r\n"),
        100_000,
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let t0 = Instant::now();
    let (mut rd, mut wr) = tokio::io::split(s);
    let dribble = tokio::spawn(async move {
        for _ in 0..200 {
            if wr.write_all(b" ").await.is_err() || wr.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let got = outcome(&mut rd, 8).await;
    let took = t0.elapsed();
    dribble.abort();
    assert_eq!(got, Some(Outcome::Status(408)), "after {took:?}");
    assert!(took < Duration::from_secs(6), "cut off after {took:?}");
    assert!(
        closed_within(&mut rd, 3).await.is_some(),
        "the connection is closed after the 408"
    );
    assert_eq!(app.running().state.bodies.in_use(), 0);
    let admin = {
        app.add_manager("boss", "admin").await;
        app.login("boss").await
    };
    let (_, chats) = admin.get("/api/v1/chats").await;
    assert_eq!(chats["items"].as_array().map(Vec::len), Some(0), "{chats}");
}

/// Issue 12, item 2: bodies buffered at once share one budget. While a slow authentic upload
/// holds most of it, a body that does not fit gets 503 + Retry-After at once (before any of it
/// is sent), a small one still fits, and the budget comes back when the slow upload goes away.
#[tokio::test]
async fn the_body_budget_refuses_with_503_before_reading() {
    let (app, _tg) = webhook_app("body_buffer_bytes = 300000").await;
    let addr = https_addr(&app);
    let state = app.running().state.clone();
    let c = connector();
    let auth = format!("authorization: Bearer {TOKEN}\r\n");

    let mut hog = tls_from(&c, [127, 0, 0, 1], addr).await.expect("connect");
    hog.write_all(post("/webhooks/api/crm", &auth, 250_000).as_bytes())
        .await
        .unwrap();
    hog.write_all(&[b' '; 1000]).await.unwrap();
    hog.flush().await.unwrap();
    let t0 = Instant::now();
    while state.bodies.in_use() < 250_000 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the hog never counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut late = tls_from(&c, [127, 0, 0, 1], addr).await.expect("connect");
    let (st, body) = exchange(&mut late, &post("/webhooks/api/crm", &auth, 100_000), b"")
        .await
        .unwrap();
    assert_eq!(st, 503, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("too many request bodies"), "{text}");
    // Unauthenticated callers are told so from the head even while the budget is full.
    let mut anon = tls_from(&c, [127, 0, 0, 1], addr).await.expect("connect");
    anon.write_all(head_only("/webhooks/api/crm", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(outcome(&mut anon, 5).await, Some(Outcome::Status(401)));
    // A small body still fits next to the hog.
    let (st, _) = app
        .inbound(
            "crm",
            json!({"external_id": "c-1", "name": "Olga"}),
            json!({"external_id": "m-1", "text": "small"}),
        )
        .await;
    assert_eq!(st, 200);

    drop(hog);
    let t0 = Instant::now();
    while state.bodies.in_use() > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the hog's share never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let big = "x".repeat(100_000);
    let (st, _) = app
        .inbound(
            "crm",
            json!({"external_id": "c-1", "name": "Olga"}),
            json!({"external_id": "m-2", "text": big}),
        )
        .await;
    assert_eq!(st, 200, "the 100 KB body fits once the budget is free");
}

/// Issue 12, item 3: HTTP/2 is neither offered nor served, so its streams cannot get around
/// the connection guard's deadlines. ALPN picks HTTP/1.1 for a client offering both; a client
/// offering only h2 gets no connection; the HTTP/2 preface sent anyway (over TLS or plain
/// HTTP) closes the connection without an HTTP/2 answer.
#[tokio::test]
async fn http2_is_not_negotiated_or_served() {
    let app = TestApp::spawn().await;
    let addr = https_addr(&app);
    let both = tls_from(&connector_with(&[b"h2", b"http/1.1"]), [127, 0, 0, 1], addr)
        .await
        .expect("a client offering h2 and http/1.1 connects");
    assert_eq!(both.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert!(
        tls_from(&connector_with(&[b"h2"]), [127, 0, 0, 1], addr)
            .await
            .is_none(),
        "a client offering only h2 must not get a connection"
    );

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    // An empty SETTINGS frame, as a client sends right after the preface.
    const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
    let mut tls = tls_from(&connector_with(&[]), [127, 0, 0, 1], addr)
        .await
        .expect("connect without ALPN");
    tls.write_all(&[PREFACE, SETTINGS].concat()).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut got)).await;
    assert!(
        got.is_empty(),
        "the server answered the HTTP/2 preface over TLS: {got:?}"
    );
    assert!(closed_within(&mut tls, 1).await.is_some());

    let http: SocketAddr = app.http_url.as_deref().unwrap()["http://".len()..]
        .parse()
        .unwrap();
    let mut plain = TcpStream::connect(http).await.unwrap();
    plain
        .write_all(&[PREFACE, SETTINGS].concat())
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), plain.read_to_end(&mut got)).await;
    assert!(
        got.is_empty(),
        "the plain listener answered HTTP/2: {got:?}"
    );
}

/// Issue 12, item 3: TLS handshakes do their crypto a few at a time, but a client that
/// stalls in the middle of its ClientHello holds no slot: with more stalled handshakes than
/// slots, 40 normal clients still connect at once and are served.
#[tokio::test]
async fn stalled_handshakes_do_not_block_others() {
    let app = TestApp::spawn().await;
    let addr = https_addr(&app);
    let mut stalled = Vec::new();
    for _ in 0..(4 * parley::http::handshake::HANDSHAKE_SLOTS) {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // The start of a TLS record carrying a ClientHello of 512 bytes, then nothing.
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .unwrap();
        stalled.push(s);
    }
    let c = connector();
    let t0 = Instant::now();
    let clients = (0..40).map(|_| {
        let c = c.clone();
        async move {
            let mut s = tls_from(&c, [127, 0, 0, 1], addr).await?;
            exchange(&mut s, &get("/healthz", ""), b"").await.ok()
        }
    });
    let answers = futures_util::future::join_all(clients).await;
    let ok = answers
        .iter()
        .filter(|a| matches!(a, Some((200, _))))
        .count();
    assert_eq!(ok, 40, "after {:?}", t0.elapsed());
    assert!(
        t0.elapsed() < HEAD_TIMEOUT,
        "served only after the stalled handshakes were cut: {:?}",
        t0.elapsed()
    );
    drop(stalled);
}
