//! Viber channel: webhook registration, signed callbacks (every message type, duplicates,
//! subscriptions, receipts), outbound text and files through signed public links, and the
//! error statuses Viber answers with HTTP 200.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::viber::{self, FIRST_TOKEN, JPEG, MP4, PDF, PNG, TOKEN, ViberFake};
use crate::support::{Browser, TestApp, client};

const PUBLIC: &str = "https://viber.example";

async fn setup(public_url: Option<&str>) -> (ViberFake, TestApp, Browser) {
    let fake = ViberFake::start().await;
    let app = TestApp::spawn_with(&viber::config(&fake, public_url)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    (fake, app, b)
}

async fn channel_status(b: &Browser) -> Value {
    let (_, v) = b.get("/api/v1/channels").await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "vb")
        .unwrap()["status"]
        .clone()
}

async fn wait_state(b: &Browser, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = channel_status(b).await;
        if s["state"] == want || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn rows(b: &Browser) -> Vec<Value> {
    let (st, v) = b.get("/api/v1/chats").await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn row_of(b: &Browser, name: &str) -> Value {
    rows(b)
        .await
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no chat row for {name}"))
}

async fn history(b: &Browser, chat: &Value) -> Vec<Value> {
    let (st, v) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn bytes(b: &Browser, url: &str) -> Vec<u8> {
    let r = b.request("GET", url, None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

/// The message with `text` in the chat once its status is `want` (or after 20 s).
async fn status_of(b: &Browser, chat: &Value, text: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = history(b, chat)
            .await
            .into_iter()
            .find(|m| m["text"] == text)
            .unwrap();
        if m["status"] == want || Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The client `user` writes `text`; returns the chat id.
async fn client_writes(app: &TestApp, b: &Browser, token: u64, user: &str, name: &str) -> Value {
    let (st, _) = viber::post(
        app,
        "vb",
        &viber::message(token, user, name, json!({"type": "text", "text": "hello"})),
    )
    .await;
    assert_eq!(st, 200);
    row_of(b, name).await["default_chat_id"].clone()
}

async fn upload(b: &Browser, mime: &str, name: &str, body: &[u8]) -> Value {
    let r = b
        .http
        .post(format!("{}/api/v1/uploads?name={name}", b.url))
        .header("x-csrf-token", b.csrf.clone().unwrap())
        .header("content-type", mime)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    json!({"id": r.json::<Value>().await.unwrap()["id"], "name": name})
}

#[tokio::test]
async fn start_sets_the_webhook_and_answers_its_check() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let reqs = fake
        .fake
        .wait_for(10, |r| r.iter().any(|r| r.path.ends_with("/set_webhook")))
        .await;
    let set: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.ends_with("/set_webhook"))
        .collect();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].method, "POST");
    assert_eq!(set[0].path, "/pa/set_webhook");
    assert_eq!(set[0].header("x-viber-auth-token"), Some(TOKEN));
    assert_eq!(
        set[0].json(),
        json!({
            "url": "https://viber.example/webhooks/viber/vb",
            "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
            "send_name": true,
            "send_photo": false
        })
    );
    assert_eq!(wait_state(&b, "connected").await["state"], "connected");

    // Viber checks the URL at once with a `webhook` event.
    let (st, body) = viber::post(
        &app,
        "vb",
        &json!({"event": "webhook", "timestamp": 1457764197627_i64, "chat_hostname": "SN-376_", "message_token": 5741311803571721087_u64}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        body, "",
        "no body: Viber would take it as a welcome message"
    );
    assert!(rows(&b).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_failed_set_webhook_shows_the_error_without_the_token() {
    let fake = ViberFake::start().await;
    fake.fake.inject(
        Some("/set_webhook"),
        crate::support::fake::Reply::json(
            200,
            json!({"status": 2, "status_message": "invalidAuthToken"}),
        ),
    );
    let app = TestApp::spawn_with(&viber::config(&fake, Some(PUBLIC))).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let s = wait_state(&b, "error").await;
    assert_eq!(s["state"], "error", "{s}");
    let detail = s["detail"].as_str().unwrap();
    assert!(detail.contains("status 2: invalidAuthToken"), "{s}");
    assert!(!s.to_string().contains(TOKEN), "{s}");
    app.stop().await;
}

#[tokio::test]
async fn without_public_url_no_webhook_and_files_cannot_go_out() {
    let (fake, app, b) = setup(None).await;
    let s = wait_state(&b, "error").await;
    assert!(s["detail"].as_str().unwrap().contains("public_url"), "{s}");
    let chat = client_writes(&app, &b, 100, "u-1", "Olga").await;
    assert!(
        fake.fake
            .requests()
            .iter()
            .all(|r| !r.path.ends_with("/set_webhook")),
        "nothing to register without an address"
    );
    let id = upload(&b, "image/jpeg", "photo.jpg", JPEG).await;
    let (st, _) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "see this", "attachments": [id]}),
        )
        .await;
    assert_eq!(st, 201);
    let m = status_of(&b, &chat, "see this", "failed").await;
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("public_url"), "{m}");
    assert!(fake.sends().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn every_inbound_type_reaches_the_chat() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let user = "01234567890A=";
    let send = |token: u64, m: Value| {
        let app = &app;
        async move {
            let (st, body) = viber::post(app, "vb", &viber::message(token, user, "Olga", m)).await;
            assert_eq!(st, 200, "{body}");
        }
    };
    let t = FIRST_TOKEN - 1000;
    send(t, json!({"type": "text", "text": "a message to the bot"})).await;
    send(
        t + 1,
        json!({"type": "picture", "text": "my cat", "media": fake.media("photo.jpg"), "thumbnail": fake.media("photo.jpg")}),
    )
    .await;
    send(
        t + 2,
        json!({"type": "video", "media": fake.media("clip.mp4"), "size": MP4.len(), "duration": 3}),
    )
    .await;
    send(
        t + 3,
        json!({"type": "file", "media": fake.media("report.pdf"), "size": PDF.len(), "file_name": "report.pdf"}),
    )
    .await;
    send(
        t + 4,
        json!({"type": "sticker", "sticker_id": 46105, "media": fake.media("sticker.png")}),
    )
    .await;
    send(t + 5, json!({"type": "sticker", "sticker_id": 46106})).await;
    send(
        t + 6,
        json!({"type": "contact", "contact": {"name": "Ivan", "phone_number": "+7 912 345-67-89"}}),
    )
    .await;
    send(
        t + 7,
        json!({"type": "url", "media": "https://shop.example/item/7"}),
    )
    .await;
    send(
        t + 8,
        json!({"type": "location", "location": {"lat": 55.7558, "lon": 37.6173}}),
    )
    .await;

    let all = rows(&b).await;
    assert_eq!(all.len(), 1, "one client, one row: {all:?}");
    let row = &all[0];
    assert_eq!(row["name"], "Olga");
    assert_eq!(row["channel_kind"], "viber");
    assert_eq!(row["channel_id"], "vb");
    let chat = row["default_chat_id"].clone();
    let h = history(&b, &chat).await;
    assert_eq!(h.len(), 9, "{h:?}");
    let by = |ext: u64| {
        let want = ext.to_string();
        h.iter()
            .find(|m| m["external_id"] == want.as_str())
            .unwrap_or_else(|| panic!("message {ext} missing: {h:?}"))
            .clone()
    };
    assert!(h.iter().all(|m| m["kind"] == "client"));
    assert_eq!(by(t)["text"], "a message to the bot");

    let pic = by(t + 1);
    assert_eq!(pic["text"], "my cat");
    assert_eq!(pic["attachments"][0]["mime"], "image/jpeg");
    assert_eq!(pic["attachments"][0]["name"], "picture.jpg");
    assert_eq!(
        bytes(&b, pic["attachments"][0]["url"].as_str().unwrap()).await,
        JPEG
    );
    let video = by(t + 2);
    assert_eq!(video["attachments"][0]["mime"], "video/mp4");
    assert_eq!(
        bytes(&b, video["attachments"][0]["url"].as_str().unwrap()).await,
        MP4
    );
    let file = by(t + 3);
    assert_eq!(file["attachments"][0]["name"], "report.pdf");
    assert_eq!(file["attachments"][0]["mime"], "application/pdf");
    assert_eq!(
        bytes(&b, file["attachments"][0]["url"].as_str().unwrap()).await,
        PDF
    );
    let sticker = by(t + 4);
    assert_eq!(sticker["attachments"][0]["mime"], "image/png");
    assert_eq!(
        bytes(&b, sticker["attachments"][0]["url"].as_str().unwrap()).await,
        PNG
    );
    assert_eq!(by(t + 5)["text"], "[sticker]");
    assert_eq!(by(t + 5)["attachments"], json!([]));
    assert_eq!(by(t + 6)["text"], "Contact: Ivan, +7 912 345-67-89");
    assert_eq!(by(t + 7)["text"], "https://shop.example/item/7");
    assert_eq!(by(t + 8)["text"], "55.7558, 37.6173");

    // The shared contact's phone is on the client's card.
    let (_, card) = b
        .get(&format!("/api/v1/contacts/{}", row["contact_id"]))
        .await;
    let phones = card["contact"]["phones"].to_string();
    assert!(phones.contains("79123456789"), "{card}");
    app.stop().await;
}

#[tokio::test]
async fn duplicates_bad_signatures_and_unknown_channels_store_nothing() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let body = viber::message(
        9_007_199_254_740_993, // 2^53 + 1: not representable as f64
        "dup-user",
        "Dora",
        json!({"type": "picture", "text": "once", "media": fake.media("photo.jpg")}),
    );
    for _ in 0..3 {
        let (st, _) = viber::post(&app, "vb", &body).await;
        assert_eq!(st, 200);
    }
    let chat = row_of(&b, "Dora").await["default_chat_id"].clone();
    let h = history(&b, &chat).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["external_id"], "9007199254740993");
    let downloads = fake
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == "/media/photo.jpg")
        .count();
    assert_eq!(downloads, 1, "a redelivery is not downloaded again");
    // A neighbouring token (equal to it as f64) is a different message.
    let (st, _) = viber::post(
        &app,
        "vb",
        &viber::message(
            9_007_199_254_740_992,
            "dup-user",
            "Dora",
            json!({"type": "text", "text": "twice"}),
        ),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(history(&b, &chat).await.len(), 2);

    let other = viber::message(
        777,
        "intruder",
        "Mallory",
        json!({"type": "text", "text": "forged"}),
    );
    let raw = other.to_string().into_bytes();
    let wrong = parley::channels::viber::signature("not-the-token", &raw);
    let (st, _) = viber::post_raw(&app, "vb", raw.clone(), Some(&wrong)).await;
    assert_eq!(st, 401);
    let (st, _) = viber::post_raw(&app, "vb", raw.clone(), None).await;
    assert_eq!(st, 401);
    // Signed for one body, sent with another.
    let good = parley::channels::viber::signature(TOKEN, b"{}");
    let (st, _) = viber::post_raw(&app, "vb", raw.clone(), Some(&good)).await;
    assert_eq!(st, 401);
    let (st, _) = viber::post(&app, "nope", &other).await;
    assert_eq!(st, 404);
    assert!(
        rows(&b).await.iter().all(|r| r["name"] != "Mallory"),
        "nothing stored"
    );

    // Authentic but not understood: acknowledged so Viber stops retrying, nothing stored.
    let junk = b"not json at all".to_vec();
    let sig = parley::channels::viber::signature(TOKEN, &junk);
    let (st, _) = viber::post_raw(&app, "vb", junk, Some(&sig)).await;
    assert_eq!(st, 200);
    let (st, _) = viber::post(&app, "vb", &json!({"event": "message", "message_token": 5})).await;
    assert_eq!(st, 200);
    assert_eq!(rows(&b).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_media_outage_is_retried_by_viber() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let body = viber::message(
        42,
        "u-media",
        "Mia",
        json!({"type": "file", "media": fake.media("report.pdf"), "file_name": "report.pdf", "size": PDF.len()}),
    );
    fake.media_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (st, _) = viber::post(&app, "vb", &body).await;
    assert_eq!(st, 503, "Viber redelivers after a failure that may heal");
    assert!(rows(&b).await.is_empty());
    fake.media_down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let (st, _) = viber::post(&app, "vb", &body).await;
    assert_eq!(st, 200);
    let chat = row_of(&b, "Mia").await["default_chat_id"].clone();
    let h = history(&b, &chat).await;
    assert_eq!(h[0]["attachments"][0]["name"], "report.pdf");

    // A file whose content is not its type keeps the message, with a note instead of the file.
    let (st, _) = viber::post(
        &app,
        "vb",
        &viber::message(
            43,
            "u-media",
            "Mia",
            json!({"type": "picture", "text": "", "media": fake.media("forged.jpg")}),
        ),
    )
    .await;
    assert_eq!(st, 200);
    let h = history(&b, &chat).await;
    let m = h.iter().find(|m| m["external_id"] == "43").unwrap();
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .starts_with("[picture could not be stored"),
        "{m}"
    );
    assert_eq!(m["attachments"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn subscriptions_and_conversation_starts() {
    let (_fake, app, b) = setup(Some(PUBLIC)).await;
    let started = |token: u64| {
        json!({"event": "conversation_started", "timestamp": 1457764197627_i64, "message_token": token,
               "type": "open", "context": "ad-7", "user": {"id": "sub-1", "name": "Sam", "avatar": "http://a", "country": "UK", "language": "en", "api_version": 1}, "subscribed": false})
    };
    for token in [501_u64, 502, 501] {
        let (st, body) = viber::post(&app, "vb", &started(token)).await;
        assert_eq!(st, 200);
        assert_eq!(body, "", "no welcome message");
    }
    let chat = row_of(&b, "Sam").await["default_chat_id"].clone();
    let h = history(&b, &chat).await;
    assert_eq!(h.len(), 1, "recorded once per client: {h:?}");
    assert_eq!(h[0]["kind"], "system");
    assert_eq!(h[0]["event"], "conversation_started");

    let subscribed = json!({"event": "subscribed", "timestamp": 1457764197627_i64, "message_token": 503_u64,
        "user": {"id": "sub-1", "name": "Sam", "country": "UK", "language": "en", "api_version": 1}});
    for _ in 0..2 {
        assert_eq!(viber::post(&app, "vb", &subscribed).await.0, 200);
    }
    let unsubscribed = json!({"event": "unsubscribed", "timestamp": 1457764197627_i64, "message_token": 504_u64, "user_id": "sub-1"});
    for _ in 0..2 {
        assert_eq!(viber::post(&app, "vb", &unsubscribed).await.0, 200);
    }
    let h = history(&b, &chat).await;
    let events: Vec<_> = h.iter().map(|m| m["event"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 3, "{h:?}");
    assert!(events.contains(&"subscribed") && events.contains(&"unsubscribed"));
    let row = row_of(&b, "Sam").await;
    assert_eq!(row["unreachable"], true, "{row}");

    // Writing again subscribes the client.
    client_writes(&app, &b, 505, "sub-1", "Sam").await;
    assert_eq!(row_of(&b, "Sam").await["unreachable"], false);
    app.stop().await;
}

#[tokio::test]
async fn outbound_text_is_the_documented_request_and_receipts_move_it_forward() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let chat = client_writes(&app, &b, 1, "rcv-1", "Rita").await;
    let token = fake.next_token();
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "Your order has shipped"}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    let sends = fake.wait_sends(1).await;
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].path, "/pa/send_message");
    assert_eq!(sends[0].header("x-viber-auth-token"), Some(TOKEN));
    assert_eq!(
        sends[0].json(),
        json!({
            "receiver": "rcv-1",
            "min_api_version": 1,
            "sender": {"name": "Parley Support Bot for Viber"},
            "type": "text",
            "text": "Your order has shipped"
        })
    );
    let text = "Your order has shipped";
    let sent = status_of(&b, &chat, text, "sent").await;
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["external_id"], token.to_string());

    let receipt = |event: &str, extra: Value| {
        let mut v = json!({"event": event, "timestamp": 1457764197627_i64, "message_token": token, "user_id": "rcv-1"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    assert_eq!(
        viber::post(&app, "vb", &receipt("delivered", json!({})))
            .await
            .0,
        200
    );
    assert_eq!(
        status_of(&b, &chat, text, "delivered").await["status"],
        "delivered"
    );
    assert_eq!(
        viber::post(&app, "vb", &receipt("seen", json!({}))).await.0,
        200
    );
    assert_eq!(status_of(&b, &chat, text, "read").await["status"], "read");
    // Late or repeated receipts never move it back.
    assert_eq!(
        viber::post(&app, "vb", &receipt("delivered", json!({})))
            .await
            .0,
        200
    );
    assert_eq!(status_of(&b, &chat, text, "read").await["status"], "read");

    let token2 = fake.next_token();
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "second"}),
    )
    .await;
    status_of(&b, &chat, "second", "sent").await;
    let mut failed = receipt(
        "failed",
        json!({"desc": "failed with status: 1, user is not subscribed"}),
    );
    failed["message_token"] = json!(token2);
    assert_eq!(viber::post(&app, "vb", &failed).await.0, 200);
    let m = status_of(&b, &chat, "second", "failed").await;
    assert_eq!(m["status"], "failed");
    assert!(
        m["error"]
            .as_str()
            .unwrap()
            .contains("user is not subscribed"),
        "{m}"
    );
    app.stop().await;
}

#[tokio::test]
async fn outbound_files_go_out_as_signed_public_links() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let chat = client_writes(&app, &b, 1, "pic-1", "Pia").await;
    let jpeg = upload(&b, "image/jpeg", "holiday", JPEG).await;
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "Look at this", "attachments": [jpeg]}),
    )
    .await;
    let sends = fake.wait_sends(1).await;
    let j = sends[0].json();
    assert_eq!(j["type"], "picture");
    assert_eq!(j["text"], "Look at this", "the text is the caption");
    assert_eq!(j["receiver"], "pic-1");
    assert_eq!(j["min_api_version"], 1);
    let media = j["media"].as_str().unwrap();
    assert!(
        media.starts_with("https://viber.example/public/blobs/"),
        "{media}"
    );
    assert!(
        media.ends_with("/holiday.jpg"),
        "Viber wants the extension: {media}"
    );
    assert_eq!(j.as_object().unwrap().len(), 6, "{j}");
    status_of(&b, &chat, "Look at this", "sent").await;

    // The link works without a session, for an hour.
    let path = media.strip_prefix(PUBLIC).unwrap();
    let r = client()
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), JPEG);
    let segs: Vec<&str> = path.split('/').collect(); // "", public, blobs, sha, expires, sig, name
    let (sha, expires, sig) = (segs[3], segs[4].parse::<i64>().unwrap(), segs[5]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((3500..=3700).contains(&(expires - now)), "one hour");
    let get = |p: String| {
        let url = format!("{}{p}", app.url);
        async move {
            let r = client().get(url).send().await.unwrap();
            let st = r.status();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut tampered = sig.to_string();
    tampered.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
    let (st, v) = get(format!("/public/blobs/{sha}/{expires}/{tampered}/x.jpg")).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "forbidden");
    let (st, _) = get(format!("/public/blobs/{sha}/{}/{sig}/x.jpg", expires + 1)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "the expiry is signed");
    let key = app.running().state.channels.link_key.clone();
    let old = now - 10;
    let old_sig = parley::channels::blob_link_signature(&key, sha, old);
    let (st, v) = get(format!("/public/blobs/{sha}/{old}/{old_sig}/x.jpg")).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    let missing = "ab".repeat(32);
    let msig = parley::channels::blob_link_signature(&key, &missing, expires);
    let (st, _) = get(format!("/public/blobs/{missing}/{expires}/{msig}/x.jpg")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Text with a document and a video: the text first, then each file.
    let pdf = upload(&b, "application/pdf", "terms.pdf", PDF).await;
    let mp4 = upload(&b, "video/mp4", "how-to.mp4", MP4).await;
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "Terms and a video", "attachments": [pdf, mp4]}),
    )
    .await;
    let sends = fake.wait_sends(4).await;
    assert_eq!(sends.len(), 4);
    let (t, f, v) = (sends[1].json(), sends[2].json(), sends[3].json());
    assert_eq!(t["type"], "text");
    assert_eq!(t["text"], "Terms and a video");
    assert_eq!(f["type"], "file");
    assert_eq!(f["file_name"], "terms.pdf");
    assert_eq!(f["size"], PDF.len());
    assert_eq!(v["type"], "video");
    assert_eq!(v["size"], MP4.len());
    for (part, body) in [(&f, PDF), (&v, MP4)] {
        let p = part["media"]
            .as_str()
            .unwrap()
            .strip_prefix(PUBLIC)
            .unwrap();
        let r = client()
            .get(format!("{}{p}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), body);
    }
    let m = status_of(&b, &chat, "Terms and a video", "sent").await;
    assert_eq!(
        m["external_id"],
        (FIRST_TOKEN + 3).to_string(),
        "receipts follow the last part"
    );
    app.stop().await;
}

#[tokio::test]
async fn viber_error_statuses() {
    let (fake, app, b) = setup(Some(PUBLIC)).await;
    let chat = client_writes(&app, &b, 1, "err-1", "Emil").await;

    // 6 notSubscribed: failed, and the chat shows the client cannot be reached.
    fake.fake.inject(
        Some("/send_message"),
        crate::support::fake::Reply::json(
            200,
            json!({"status": 6, "status_message": "notSubscribed"}),
        ),
    );
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "are you there?"}),
    )
    .await;
    let m = status_of(&b, &chat, "are you there?", "failed").await;
    assert_eq!(m["status"], "failed");
    assert!(
        m["error"]
            .as_str()
            .unwrap()
            .contains("status 6: notSubscribed"),
        "{m}"
    );
    assert_eq!(row_of(&b, "Emil").await["unreachable"], true);

    // 12 tooManyRequests: retried, then sent.
    client_writes(&app, &b, 2, "err-1", "Emil").await;
    *fake.throttle_once.lock().unwrap() = Some("text".into());
    let before = fake.sends().len();
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "slow down"}),
    )
    .await;
    let m = status_of(&b, &chat, "slow down", "sent").await;
    assert_eq!(m["status"], "sent", "{m}");
    let tries = fake.sends()[before..]
        .iter()
        .filter(|r| r.json()["text"] == "slow down")
        .count();
    assert_eq!(tries, 2);

    // A part that is throttled after the text went out: the retry does not resend the text.
    let pdf = upload(&b, "application/pdf", "a.pdf", PDF).await;
    *fake.throttle_once.lock().unwrap() = Some("file".into());
    let before = fake.sends().len();
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "with a file", "attachments": [pdf]}),
    )
    .await;
    status_of(&b, &chat, "with a file", "sent").await;
    let kinds: Vec<String> = fake.sends()[before..]
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["text", "file", "file"]);

    // 2 invalidAuthToken: failed, and the channel shows the problem.
    fake.fake.inject(
        Some("/send_message"),
        crate::support::fake::Reply::json(
            200,
            json!({"status": 2, "status_message": "invalidAuthToken"}),
        ),
    );
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "bad token"}),
    )
    .await;
    let m = status_of(&b, &chat, "bad token", "failed").await;
    assert!(
        m["error"]
            .as_str()
            .unwrap()
            .contains("status 2: invalidAuthToken"),
        "{m}"
    );
    let s = channel_status(&b).await;
    assert_eq!(s["state"], "error", "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("invalidAuthToken")
    );

    // An HTTP 5xx is retried like a transport error.
    fake.fake.inject(
        Some("/send_message"),
        crate::support::fake::Reply::json(502, json!({})),
    );
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "after a blip"}),
    )
    .await;
    assert_eq!(
        status_of(&b, &chat, "after a blip", "sent").await["status"],
        "sent"
    );
    app.stop().await;
}
