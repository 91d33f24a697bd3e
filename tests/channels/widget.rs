//! The website widget over real TLS: visitor sessions, messages both ways (the reply arrives on
//! the visitor's WebSocket), isolation between visitors, CORS and Origin policy, per-address
//! limits, idempotent retries, files and contact details.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::ws::{Ws, connect_to};
use crate::support::{Browser, TestApp, api_channel, client};

const SITE: &str = "https://shop.example";

fn config() -> String {
    format!(
        "[[channels]]\nid = \"site\"\nkind = \"widget\"\nname = \"Website chat\"\n\
         allowed_origins = [\"{SITE}\", \"http://127.0.0.1:9\"]\ngreeting = \"Hi there!\"\n\n\
         [[channels]]\nid = \"other\"\nkind = \"widget\"\nname = \"Other site\"\n\
         allowed_origins = [\"*\"]\n"
    )
}

/// A visitor's browser on the shop's page.
struct Visitor {
    channel: String,
    token: String,
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut rb = client().request(method, format!("{}{path}", app.url));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(o) = origin {
        rb = rb.header("origin", o);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let (st, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    (
        st,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl Visitor {
    async fn new(app: &TestApp, channel: &str) -> Visitor {
        let path = format!("/widget/v1/{channel}/sessions");
        let (st, h, v) = call(app, reqwest::Method::POST, &path, None, Some(SITE), None).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(h["access-control-allow-origin"], SITE);
        let token = v["token"].as_str().unwrap().to_string();
        assert!(token.len() >= 32);
        Visitor {
            channel: channel.to_string(),
            token,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/widget/v1/{}/{rest}", self.channel)
    }

    async fn post(&self, app: &TestApp, rest: &str, body: Value) -> (StatusCode, Value) {
        let (st, _, v) = call(
            app,
            reqwest::Method::POST,
            &self.path(rest),
            Some(&self.token),
            Some(SITE),
            Some(body),
        )
        .await;
        (st, v)
    }

    async fn get(&self, app: &TestApp, rest: &str) -> (StatusCode, Value) {
        let (st, _, v) = call(
            app,
            reqwest::Method::GET,
            &self.path(rest),
            Some(&self.token),
            Some(SITE),
            None,
        )
        .await;
        (st, v)
    }

    async fn says(&self, app: &TestApp, id: &str, text: &str) -> Value {
        let (st, v) = self
            .post(app, "messages", json!({"id": id, "text": text}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v["message"].clone()
    }

    async fn history(&self, app: &TestApp) -> Vec<Value> {
        let (st, v) = self.get(app, "messages").await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v["items"].as_array().unwrap().clone()
    }

    async fn ws(&self, app: &TestApp) -> Ws {
        let path = self.path(&format!("ws?token={}", self.token));
        connect_to(app, &path, None, Some(SITE)).await.unwrap()
    }
}

async fn manager(app: &TestApp) -> Browser {
    app.add_manager("anna", "admin").await;
    app.login("anna").await
}

/// The chat id of the one widget client in the manager's list.
async fn widget_chat(b: &Browser, name: &str) -> u64 {
    let (_, list) = b.get("/api/v1/chats").await;
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the chat list: {list}"));
    assert_eq!(row["channel_kind"], "widget");
    row["default_chat_id"].as_u64().unwrap()
}

#[tokio::test]
async fn a_visitor_writes_and_gets_the_reply_live() {
    let app = TestApp::spawn_with(&config()).await;
    let anna = manager(&app).await;
    let v = Visitor::new(&app, "site").await;
    let (st, cfg) = v.get(&app, "config").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (cfg["title"].as_str(), cfg["greeting"].as_str()),
        (Some("Website chat"), Some("Hi there!"))
    );
    let mut ws = v.ws(&app).await;

    let sent = v.says(&app, "m-1", "Do you deliver on Sundays?").await;
    assert_eq!(sent["kind"], "client");
    assert_eq!(sent["client_message_id"], "m-1");
    let chat = widget_chat(&anna, "Website visitor 1").await;
    let (_, h) = anna.get(&format!("/api/v1/chats/{chat}/messages")).await;
    let texts: Vec<_> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert!(texts.contains(&json!("Do you deliver on Sundays?")), "{h}");

    // The visitor's own message comes back on their socket too (other tabs show it).
    let own = ws
        .until(5, |f| f["type"] == "message")
        .await
        .expect("own message pushed");
    assert_eq!(own["data"]["id"], sent["id"]);

    // A note is for managers only; the reply goes to the visitor live.
    let (st, _) = anna
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "VIP, be nice"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, reply) = anna
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "Yes, 10:00–16:00."}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reply}");
    let got = ws
        .until(5, |f| {
            f["type"] == "message" && f["data"]["kind"] != "client"
        })
        .await
        .expect("the reply reaches the visitor's WebSocket");
    assert_eq!(got["data"]["text"], "Yes, 10:00–16:00.");
    assert_eq!(got["data"]["kind"], "manager");
    assert_eq!(got["data"]["author"], "anna name");
    assert!(got["data"].get("error").is_none() && got["data"].get("mentions").is_none());

    // History: the two messages, never the note.
    let hist = v.history(&app).await;
    let texts: Vec<_> = hist.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Do you deliver on Sundays?", "Yes, 10:00–16:00."]);

    // The outbox counts a widget reply as sent; the visitor's panel showing it makes it read.
    let reply_id = reply["id"].as_u64().unwrap();
    let status = |h: &Value| {
        h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == reply_id)
            .unwrap()["status"]
            .clone()
    };
    let mut sent_seen = false;
    for _ in 0..100 {
        let (_, h) = anna.get(&format!("/api/v1/chats/{chat}/messages")).await;
        if status(&h) == "sent" {
            sent_seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(sent_seen, "the widget reply was marked sent");
    let (st, r) = v.post(&app, "seen", json!({"up_to": reply_id})).await;
    assert_eq!((st, r["changed"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, h) = anna.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert_eq!(status(&h), "read");
    app.stop().await;
}

#[tokio::test]
async fn typing_goes_both_ways() {
    let app = TestApp::spawn_with(&config()).await;
    let anna = manager(&app).await;
    let v = Visitor::new(&app, "site").await;
    v.says(&app, "m-1", "hello").await;
    let chat = widget_chat(&anna, "Website visitor 1").await;
    let mut visitor_ws = v.ws(&app).await;
    let mut manager_ws = crate::support::ws::connect(&app, &anna.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let (st, _) = v.post(&app, "typing", json!({})).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let t = manager_ws
        .until(5, |e| e["type"] == "typing")
        .await
        .expect("managers see the visitor typing");
    assert_eq!(t["data"]["chat_id"], chat);
    assert_eq!(t["data"]["name"], "Website visitor 1");
    manager_ws
        .send(json!({"type": "typing", "chat_id": chat}))
        .await;
    let t = visitor_ws
        .until(5, |f| f["type"] == "typing")
        .await
        .expect("the visitor sees the manager typing");
    assert_eq!(t["data"]["name"], "anna name");
    app.stop().await;
}

#[tokio::test]
async fn a_retried_message_is_stored_once() {
    let app = TestApp::spawn_with(&config()).await;
    let v = Visitor::new(&app, "site").await;
    let first = v.says(&app, "retry-me", "once only").await;
    let (st, again) = v
        .post(
            &app,
            "messages",
            json!({"id": "retry-me", "text": "once only"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["message"]["id"], first["id"]);
    assert_eq!(v.history(&app).await.len(), 1);
    // Bad ids and empty messages are refused, naming the field.
    for (body, field) in [
        (json!({"id": "has space", "text": "x"}), "id"),
        (json!({"id": "ok", "text": "  "}), "text"),
        (json!({"id": "ok", "text": "x".repeat(4001)}), "text"),
    ] {
        let (st, e) = v.post(&app, "messages", body).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e["message"].as_str().unwrap().starts_with(field), "{e}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_visitor_reads_only_their_own_chat() {
    let app = TestApp::spawn_with(&config()).await;
    let anna = manager(&app).await;
    let alice = Visitor::new(&app, "site").await;
    let bob = Visitor::new(&app, "site").await;
    alice.says(&app, "m-1", "alice's secret").await;
    let png = b"\x89PNG\r\n\x1a\n0000000000000000".to_vec();
    let (st, up) = upload(&app, &alice, "image/png", "a.png", png).await;
    assert_eq!(st, StatusCode::CREATED, "{up}");
    let (st, _) = alice
        .post(
            &app,
            "messages",
            json!({"id": "m-2", "attachments": [{"id": up["id"], "name": "a.png"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let mut bob_ws = bob.ws(&app).await;

    // Bob's history is empty, and the same client message id is his own message, not a
    // duplicate of Alice's.
    assert!(bob.history(&app).await.is_empty());
    let mine = bob.says(&app, "m-1", "bob here").await;
    assert_eq!(mine["text"], "bob here");
    let texts: Vec<_> = bob
        .history(&app)
        .await
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, [json!("bob here")]);
    let (st, _) = bob
        .get(&app, &format!("files/{}", up["id"].as_str().unwrap()))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "another visitor's file");
    let (st, _, _) = call(
        &app,
        reqwest::Method::GET,
        &alice.path(&format!("files/{}", up["id"].as_str().unwrap())),
        Some(&alice.token),
        Some(SITE),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "the visitor's own file");

    // A reply to Alice never reaches Bob's socket.
    let chat = widget_chat(&anna, "Website visitor 1").await;
    anna.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "for alice"}),
    )
    .await;
    let leaked = bob_ws
        .until(2, |f| {
            f["type"] == "message" && f["data"]["text"] == "for alice"
        })
        .await;
    assert!(leaked.is_none(), "Bob received Alice's reply: {leaked:?}");
    app.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_401_and_other_origins_403() {
    let app = TestApp::spawn_with(&config()).await;
    let v = Visitor::new(&app, "site").await;
    for token in [Some("not-a-token"), None] {
        let (st, h, _) = call(
            &app,
            reqwest::Method::GET,
            &v.path("messages"),
            token,
            Some(SITE),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        // Errors carry CORS headers, so the script can read them.
        assert_eq!(h["access-control-allow-origin"], SITE);
    }
    // A token belongs to its channel.
    let (st, _, _) = call(
        &app,
        reqwest::Method::GET,
        "/widget/v1/other/messages",
        Some(&v.token),
        Some(SITE),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let bad = connect_to(&app, &v.path("ws?token=nope"), None, Some(SITE))
        .await
        .err();
    assert_eq!(bad, Some(401));

    // Pages on other sites are refused, for plain requests and WebSockets alike.
    let evil = Some("https://evil.example");
    let (st, h, _) = call(
        &app,
        reqwest::Method::POST,
        &v.path("sessions"),
        None,
        evil,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(h.get("access-control-allow-origin").is_none());
    let (st, _, _) = call(
        &app,
        reqwest::Method::POST,
        &v.path("messages"),
        Some(&v.token),
        evil,
        Some(json!({"id": "x", "text": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let ws = connect_to(&app, &v.path(&format!("ws?token={}", v.token)), None, evil)
        .await
        .err();
    assert_eq!(ws, Some(403));
    assert!(v.history(&app).await.is_empty(), "nothing was stored");
    // "*" allows any site; an unknown channel is 404.
    let (st, _, _) = call(
        &app,
        reqwest::Method::POST,
        "/widget/v1/other/sessions",
        None,
        evil,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _, _) = call(
        &app,
        reqwest::Method::POST,
        "/widget/v1/nope/sessions",
        None,
        Some(SITE),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Preflight for the allowed origin.
    let r = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{}", app.url, v.path("messages")),
        )
        .header("origin", SITE)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], SITE);
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(
        h.get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Origin"))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_script_loads_from_any_site() {
    let text = format!(
        "[server]\npublic_url = \"https://parley.example/\"\n\n{}",
        config()
    );
    let app = TestApp::spawn_with(&text).await;
    // Settings shows admins the tag, built from public_url.
    let anna = manager(&app).await;
    let (_, list) = anna.get("/api/v1/channels").await;
    let site = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "site")
        .unwrap();
    assert_eq!(
        site["widget"]["script_src"],
        "https://parley.example/widget.js"
    );
    assert_eq!(site["widget"]["allowed_origins"][0], SITE);
    let r = client()
        .get(format!("{}/widget.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
    let body = r.text().await.unwrap();
    assert!(body.contains("attachShadow") && !body.contains("innerHTML"));
    app.stop().await;
}

#[tokio::test]
async fn anonymous_endpoints_are_limited_per_address() {
    let app = TestApp::spawn_with(&config()).await;
    let v = Visitor::new(&app, "other").await;
    let path = "/widget/v1/site/sessions";
    let mut last = None;
    for _ in 0..25 {
        let (st, h, _) = call(&app, reqwest::Method::POST, path, None, Some(SITE), None).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            last = Some(h);
            break;
        }
        assert_eq!(st, StatusCode::CREATED);
    }
    let h = last.expect("session creation is limited per address");
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "Retry-After {wait}");
    assert_eq!(h["access-control-expose-headers"], "retry-after");

    // Open sockets per address are capped too; the server's stop closes them all.
    let path = v.path(&format!("ws?token={}", v.token));
    let mut open = Vec::new();
    let refused = loop {
        match connect_to(&app, &path, None, Some(SITE)).await {
            Ok(ws) if open.len() < 100 => open.push(ws),
            other => break other.err(),
        }
    };
    assert_eq!((open.len(), refused), (32, Some(429)));
    let stopping = tokio::spawn(app.stop());
    for ws in &mut open {
        assert!(ws.closed(5).await, "closed when the server stops");
    }
    stopping.await.unwrap();
}

async fn upload(
    app: &TestApp,
    v: &Visitor,
    mime: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let r = client()
        .post(format!("{}{}?name={name}", app.url, v.path("uploads")))
        .bearer_auth(&v.token)
        .header("origin", SITE)
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let st = r.status();
    (st, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_visitor_sends_a_file() {
    let app = TestApp::spawn_with(&config()).await;
    let anna = manager(&app).await;
    let v = Visitor::new(&app, "site").await;
    let pdf = b"%PDF-1.4\n%visitor's invoice\n".to_vec();
    let (st, up) = upload(&app, &v, "application/pdf", "invoice.pdf", pdf.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{up}");
    let (st, sent) = v
        .post(&app, "messages", json!({"id": "f1", "text": "my invoice", "attachments": [{"id": up["id"], "name": "invoice.pdf"}]}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{sent}");
    let att = &sent["message"]["attachments"][0];
    assert_eq!(
        (att["name"].as_str(), att["mime"].as_str()),
        (Some("invoice.pdf"), Some("application/pdf"))
    );
    let chat = widget_chat(&anna, "Website visitor 1").await;
    let (_, h) = anna.get(&format!("/api/v1/chats/{chat}/messages")).await;
    let m = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "my invoice")
        .unwrap();
    assert_eq!(m["attachments"][0]["id"], up["id"]);
    let r = client()
        .get(format!("{}{}", app.url, att["url"].as_str().unwrap()))
        .bearer_auth(&v.token)
        .header("origin", SITE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    // Pages and scripts are refused whatever they claim to be.
    let (st, _) = upload(
        &app,
        &v,
        "text/html",
        "x.html",
        b"<script>1</script>".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (st, _) = upload(
        &app,
        &v,
        "image/png",
        "x.png",
        b"<script>1</script>".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    app.stop().await;
}

#[tokio::test]
async fn contact_details_go_onto_the_contact() {
    let app = TestApp::spawn_with(&config()).await;
    let anna = manager(&app).await;
    let v = Visitor::new(&app, "site").await;
    // Before the first message the details wait on the visitor…
    let (st, p) = v
        .post(
            &app,
            "profile",
            json!({"name": "Olga Petrova", "phone": "+7 912 345-67-89"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    assert_eq!(p["phone"], "79123456789");
    v.says(&app, "m1", "hello").await;
    let chat = widget_chat(&anna, "Olga Petrova").await;
    let (_, c) = anna.get(&format!("/api/v1/chats/{chat}")).await;
    let contact = c["contact"]["id"].as_u64().unwrap();
    // …and afterwards they go straight onto the contact, with a note in the chat.
    let (st, _) = v
        .post(&app, "profile", json!({"email": "Olga@Example.com"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, c) = anna.get(&format!("/api/v1/contacts/{contact}")).await;
    let c = &c["contact"];
    assert_eq!(c["phones"], json!(["79123456789"]));
    assert_eq!(c["emails"], json!(["olga@example.com"]));
    let (_, h) = anna.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(
        h["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "system"
                && m["text"].as_str().unwrap().contains("olga@example.com")),
        "{h}"
    );
    assert_eq!(
        v.history(&app).await.len(),
        1,
        "system messages are not the visitor's"
    );
    let (st, e) = v
        .post(&app, "profile", json!({"email": "not-an-address"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().starts_with("email"), "{e}");
    app.stop().await;
}

/// The id of the client named `name` in the manager's chat list, and that row's chat count.
async fn client_row(b: &Browser, name: &str) -> Option<(u64, u64)> {
    let (_, list) = b.get("/api/v1/chats").await;
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)?
        .clone();
    let chat = row["default_chat_id"].as_u64().unwrap();
    let (_, c) = b.get(&format!("/api/v1/chats/{chat}")).await;
    let contact = c["contact"]["id"].as_u64().unwrap();
    let (_, card) = b.get(&format!("/api/v1/contacts/{contact}")).await;
    Some((contact, card["chats"].as_array().unwrap().len() as u64))
}

/// A manager's reply with `attachments` in chat `chat`.
async fn manager_attaches(b: &Browser, chat: u64, sha: &Value) -> (StatusCode, Value) {
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "here", "attachments": [{"id": sha, "name": "x.pdf"}]}),
    )
    .await
}

fn blob_path(app: &TestApp, sha: &str) -> std::path::PathBuf {
    app.dir.join("blobs").join(&sha[..2]).join(&sha[2..])
}

#[tokio::test]
async fn a_visitor_attaches_only_their_own_uploads() {
    let app = TestApp::spawn_with(&config()).await;
    let anna = manager(&app).await;
    let a = Visitor::new(&app, "site").await;
    let b = Visitor::new(&app, "site").await;
    let secret = b"%PDF-1.4\n%A's contract, not for B\n".to_vec();
    let (st, up) = upload(&app, &a, "application/pdf", "contract.pdf", secret).await;
    assert_eq!(st, StatusCode::CREATED, "{up}");
    let sha = up["id"].as_str().unwrap().to_string();

    // B knows the digest: attaching it is refused, and says the same as for a digest nobody
    // uploaded (so B learns nothing about which files exist).
    let try_attach = |id: String| {
        let b = &b;
        let app = &app;
        async move {
            b.post(
                app,
                "messages",
                json!({"id": "steal", "text": "mine now", "attachments": [{"id": id}]}),
            )
            .await
        }
    };
    let (st, stolen) = try_attach(sha.clone()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{stolen}");
    let nobody = "0".repeat(64);
    let (st2, missing) = try_attach(nobody.clone()).await;
    assert_eq!(st2, st);
    assert_eq!(
        stolen["message"].as_str().unwrap().replace(&sha, "X"),
        missing["message"].as_str().unwrap().replace(&nobody, "X"),
    );
    // Nothing was stored: B has no chat, managers see no second visitor, the file is not B's.
    assert!(b.history(&app).await.is_empty());
    let (st, _) = b.get(&app, &format!("files/{sha}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    b.says(&app, "b1", "just text").await;
    assert!(
        b.history(&app)
            .await
            .iter()
            .all(|m| m["attachments"] == json!([]))
    );
    let (st, _) = b.get(&app, &format!("files/{sha}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A manager cannot take a visitor's pending upload either…
    let b_chat = widget_chat(&anna, "Website visitor 2").await;
    let (st, v) = manager_attaches(&anna, b_chat, &up["id"]).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        b.history(&app)
            .await
            .iter()
            .all(|m| m["attachments"] == json!([]))
    );

    // …while its owner attaches it, and then it is a file in a chat every manager sees.
    let (st, sent) = a
        .post(
            &app,
            "messages",
            json!({"id": "a1", "text": "contract", "attachments": [{"id": sha}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{sent}");
    let a_chat = widget_chat(&anna, "Website visitor 1").await;
    let (st, v) = manager_attaches(&anna, a_chat, &up["id"]).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // A manager's own upload is theirs to attach.
    let r = anna
        .request("POST", "/api/v1/uploads?name=m.pdf", None)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n%manager's price list\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let mine: Value = r.json().await.unwrap();
    let (st, v) = manager_attaches(&anna, a_chat, &mine["id"]).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_visitor_claiming_a_clients_phone_gets_a_merge_suggestion_not_their_row() {
    let app = TestApp::spawn_with(&format!("{}{}", config(), api_channel("crm", None))).await;
    let anna = manager(&app).await;
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": "c1", "name": "Ivan Real", "phone": "+7 912 000-11-22", "email": "ivan@example.com"}),
            json!({"external_id": "m1", "text": "order 42 to 5 Elm Street"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (ivan, chats) = client_row(&anna, "Ivan Real").await.unwrap();
    assert_eq!(chats, 1);

    // The phone before the first message…
    let mallory = Visitor::new(&app, "site").await;
    let (st, p) = mallory
        .post(
            &app,
            "profile",
            json!({"name": "Mallory", "phone": "79120001122"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    mallory.says(&app, "m1", "what is my order status?").await;
    let (mal, mal_chats) = client_row(&anna, "Mallory")
        .await
        .expect("the visitor is a client of their own");
    assert_ne!(mal, ivan);
    assert_eq!(mal_chats, 1);
    assert_eq!(client_row(&anna, "Ivan Real").await, Some((ivan, 1)));
    // …the e-mail after it.
    let eve = Visitor::new(&app, "site").await;
    eve.says(&app, "e1", "hi").await;
    let (st, _) = eve
        .post(
            &app,
            "profile",
            json!({"name": "Eve", "email": "IVAN@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (eve_id, _) = client_row(&anna, "Eve").await.unwrap();
    assert_eq!(client_row(&anna, "Ivan Real").await, Some((ivan, 1)));

    // Managers see the suggestions on both cards.
    let (_, card) = anna.get(&format!("/api/v1/contacts/{ivan}")).await;
    let mut s: Vec<(u64, String)> = card["merge_suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["contact_id"].as_u64().unwrap(),
                s["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    s.sort();
    assert_eq!(
        s,
        vec![(mal, "same phone".into()), (eve_id, "same e-mail".into())]
    );
    let (_, card) = anna.get(&format!("/api/v1/contacts/{mal}")).await;
    assert_eq!(card["merge_suggestions"][0]["contact_id"], ivan);
    // The visitors see their own chat only, nothing of Ivan's.
    for v in [&mallory, &eve] {
        let h = v.history(&app).await;
        assert!(
            h.iter().all(|m| !m.to_string().contains("Elm Street")),
            "{h:?}"
        );
    }
    let (_, p) = mallory.post(&app, "profile", json!({})).await;
    assert!(!p.to_string().contains("Ivan"), "{p}");

    // Dismissed from one card, gone from both, and not suggested again.
    let path = format!("/api/v1/contacts/{ivan}/merge_suggestions/{mal}");
    let (st, _) = anna.send("DELETE", &path, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, card) = anna.get(&format!("/api/v1/contacts/{mal}")).await;
    assert_eq!(card["merge_suggestions"], json!([]));
    mallory
        .post(&app, "profile", json!({"phone": "+79120001122"}))
        .await;
    let (_, card) = anna.get(&format!("/api/v1/contacts/{ivan}")).await;
    assert_eq!(
        card["merge_suggestions"].as_array().unwrap().len(),
        1,
        "{card}"
    );
    let (st, _) = anna
        .send(
            "DELETE",
            &format!("/api/v1/contacts/{ivan}/merge_suggestions/999"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A number a visitor typed first does not pull its real owner into the visitor's row
    // when the owner writes through a channel that vouches for it.
    let early = Visitor::new(&app, "site").await;
    early
        .post(
            &app,
            "profile",
            json!({"name": "Early Bird", "phone": "+44 7700 900123"}),
        )
        .await;
    early.says(&app, "x1", "hello").await;
    let (st, _) = app
        .inbound(
            "crm",
            json!({"external_id": "c2", "name": "Real Owner", "phone": "+44 7700 900123"}),
            json!({"external_id": "m2", "text": "it's me"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (early_id, n) = client_row(&anna, "Early Bird").await.unwrap();
    assert_eq!(n, 1);
    let (owner, n) = client_row(&anna, "Real Owner")
        .await
        .expect("the owner is a client of their own");
    assert_eq!(n, 1);
    let (_, card) = anna.get(&format!("/api/v1/contacts/{owner}")).await;
    assert_eq!(card["merge_suggestions"][0]["contact_id"], early_id);
    // Verified channels still link by phone as before.
    let (st, _) = app
        .inbound(
            "crm",
            json!({"external_id": "c3", "name": "Ivan again", "phone": "+7 912 000 11 22"}),
            json!({"external_id": "m3", "text": "second account"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(client_row(&anna, "Ivan Real").await, Some((ivan, 2)));
    app.stop().await;
}

#[tokio::test]
async fn idle_visitors_and_unattached_uploads_are_swept() {
    let cfg = format!(
        "[retention]\nidle_visitor_secs = 3\nunattached_upload_secs = 3\n\n{}",
        config()
    );
    let app = TestApp::spawn_with(&cfg).await;
    let anna = manager(&app).await;
    let idle = Visitor::new(&app, "site").await;
    let writer = Visitor::new(&app, "site").await;
    let kept = b"%PDF-1.4\n%attached\n".to_vec();
    let (_, k) = upload(&app, &writer, "application/pdf", "k.pdf", kept.clone()).await;
    let (_, left) = upload(
        &app,
        &writer,
        "application/pdf",
        "l.pdf",
        b"%PDF-1.4\n%left\n".to_vec(),
    )
    .await;
    let (st, v) = writer
        .post(
            &app,
            "messages",
            json!({"id": "w1", "text": "file", "attachments": [{"id": k["id"]}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // The same content uploaded again and left: the file stays, a message holds it.
    let (_, again) = upload(&app, &writer, "application/pdf", "k2.pdf", kept.clone()).await;
    assert_eq!(again["id"], k["id"]);
    let r = anna
        .request("POST", "/api/v1/uploads?name=m.pdf", None)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n%manager's draft\n".to_vec())
        .send()
        .await
        .unwrap();
    let mine: Value = r.json().await.unwrap();
    let [k, left, mine] = [&k, &left, &mine].map(|v| v["id"].as_str().unwrap().to_string());
    assert!(blob_path(&app, &left).exists() && blob_path(&app, &mine).exists());

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (st, _) = idle.get(&app, "messages").await;
        if st == StatusCode::UNAUTHORIZED
            && !blob_path(&app, &left).exists()
            && !blob_path(&app, &mine).exists()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not swept within 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The visitor who wrote stays, with their file.
    assert_eq!(writer.history(&app).await.len(), 1);
    assert_eq!(std::fs::read(blob_path(&app, &k)).unwrap(), kept);
    let (st, _) = writer.get(&app, &format!("files/{k}")).await;
    assert_eq!(st, StatusCode::OK);
    // A swept upload is gone for its owner too.
    let (st, _) = writer
        .post(
            &app,
            "messages",
            json!({"id": "w2", "text": "late", "attachments": [{"id": left}]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = manager_attaches(
        &anna,
        widget_chat(&anna, "Website visitor 2").await,
        &json!(mine),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}
