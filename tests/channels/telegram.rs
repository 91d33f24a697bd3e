//! The Telegram adapter against a fake Bot API: webhook registration and authentication,
//! every inbound kind, repeats, edits, blocking, outbound text and files, 429 and 403, and
//! long polling with a durable offset.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::telegram::{
    self as tg, FakeTelegram, JPEG, MP3, MP4, OGG, PDF, SECRET, TOKEN, WEBP, message_update,
};
use crate::support::{Browser, TestApp, client};

fn config(fake: &FakeTelegram, mode: &str) -> String {
    format!(
        "[server]\npublic_url = \"https://parley.example.com\"\n\n[[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"Support bot\"\ntoken = \"{TOKEN}\"\nwebhook_secret = \"{SECRET}\"\nmode = \"{mode}\"\napi_base = \"{}\"\n",
        fake.api_base()
    )
}

async fn admin(app: &TestApp) -> Browser {
    app.add_manager("boss", "admin").await;
    app.login("boss").await
}

async fn post_update(app: &TestApp, secret: Option<&str>, u: &Value) -> reqwest::StatusCode {
    let mut req = client()
        .post(format!("{}/webhooks/telegram/tg", app.url))
        .json(u);
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    req.send().await.unwrap().status()
}

async fn row_of(b: &Browser, name: &str) -> Option<Value> {
    let (_, v) = b.get("/api/v1/chats?section=all").await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
}

async fn history(b: &Browser, chat: u64) -> Vec<Value> {
    let (_, v) = b
        .get(&format!("/api/v1/chats/{chat}/messages?limit=100"))
        .await;
    v["items"].as_array().unwrap().clone()
}

async fn wait_until<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn webhook_is_registered_and_every_inbound_kind_is_stored() {
    let fake = FakeTelegram::start().await;
    let app = TestApp::spawn_with(&config(&fake, "webhook")).await;
    let b = admin(&app).await;

    let set = fake.wait_calls("setWebhook", 1, 10).await;
    assert_eq!(set.len(), 1, "setWebhook is called at start");
    let p = set[0].json();
    assert_eq!(p["url"], "https://parley.example.com/webhooks/telegram/tg");
    assert_eq!(p["secret_token"], SECRET);
    assert_eq!(
        p["allowed_updates"],
        json!(["message", "edited_message", "my_chat_member"])
    );
    assert!(
        wait_until(5, || async {
            let (_, c) = b.get("/api/v1/channels").await;
            c["items"][0]["status"]["state"] == "connected"
        })
        .await
    );

    fake.add_file("photo-small", "photos/small.jpg", b"\xFF\xD8\xFFsmall");
    fake.add_file("photo-big", "photos/big.jpg", JPEG);
    fake.add_file("voice-1", "voice/file_1.oga", OGG);
    fake.add_file("audio-1", "music/file_2.mp3", MP3);
    fake.add_file("video-1", "videos/file_3.mp4", MP4);
    fake.add_file("doc-1", "documents/file_4.pdf", PDF);
    fake.add_file("sticker-1", "stickers/file_5.webp", WEBP);

    let chat_id = 555_000_111;
    let updates = vec![
        message_update(
            1,
            chat_id,
            10,
            json!({"text": "Hello 👋 see our site",
                   "entities": [{"type": "text_link", "offset": 17, "length": 4, "url": "https://shop.example"}]}),
        ),
        message_update(
            2,
            chat_id,
            11,
            json!({"caption": "my receipt", "photo": [
                {"file_id": "photo-small", "file_unique_id": "s", "width": 90, "height": 90},
                {"file_id": "photo-big", "file_unique_id": "b", "width": 1280, "height": 960}]}),
        ),
        message_update(
            3,
            chat_id,
            12,
            json!({"voice": {"file_id": "voice-1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}}),
        ),
        message_update(
            4,
            chat_id,
            13,
            json!({"audio": {"file_id": "audio-1", "file_unique_id": "a", "duration": 3, "mime_type": "audio/mpeg", "file_name": "song.mp3"}}),
        ),
        message_update(
            5,
            chat_id,
            14,
            json!({"video": {"file_id": "video-1", "file_unique_id": "vv", "width": 1, "height": 1, "duration": 1, "mime_type": "video/mp4"}}),
        ),
        message_update(
            6,
            chat_id,
            15,
            json!({"document": {"file_id": "doc-1", "file_unique_id": "d", "file_name": "invoice.pdf", "mime_type": "application/pdf"}}),
        ),
        message_update(
            7,
            chat_id,
            16,
            json!({"sticker": {"file_id": "sticker-1", "file_unique_id": "st", "type": "regular",
                               "width": 512, "height": 512, "is_animated": false, "is_video": false, "emoji": "😀"}}),
        ),
        message_update(
            8,
            chat_id,
            17,
            json!({"contact": {"phone_number": "79123456789", "first_name": "Ivan", "user_id": chat_id}}),
        ),
        message_update(
            9,
            chat_id,
            18,
            json!({"location": {"latitude": 55.751244, "longitude": 37.618423}}),
        ),
    ];
    for u in &updates {
        assert_eq!(post_update(&app, Some(SECRET), u).await, 200, "{u}");
    }
    // Telegram retries: the same update again changes nothing.
    assert_eq!(post_update(&app, Some(SECRET), &updates[1]).await, 200);

    let row = row_of(&b, "Ivan Petrov")
        .await
        .expect("the client has a row");
    assert_eq!(row["channel_kind"], "telegram");
    assert_eq!(row["unread"], 9);
    let chat = row["default_chat_id"].as_u64().unwrap();
    let h = history(&b, chat).await;
    let client_msgs: Vec<&Value> = h.iter().filter(|m| m["kind"] == "client").collect();
    assert_eq!(client_msgs.len(), 9, "{h:#?}");
    let by_text = |t: &str| {
        client_msgs
            .iter()
            .find(|m| m["text"].as_str().unwrap_or("").contains(t))
            .copied()
            .unwrap_or_else(|| panic!("no message with {t:?} in {h:#?}"))
    };
    assert_eq!(
        by_text("Hello")["text"],
        "Hello 👋 see our site (https://shop.example)"
    );
    let photo = by_text("my receipt");
    assert_eq!(photo["attachments"][0]["mime"], "image/jpeg");
    assert_eq!(photo["attachments"][0]["size"], JPEG.len());
    let asked: Vec<String> = fake
        .calls("getFile")
        .iter()
        .map(|r| r.json()["file_id"].as_str().unwrap().to_string())
        .collect();
    assert!(asked.contains(&"photo-big".to_string()));
    assert!(
        !asked.contains(&"photo-small".to_string()),
        "only the largest size"
    );
    assert_eq!(
        asked.iter().filter(|f| *f == "photo-big").count(),
        1,
        "a repeat is not downloaded again"
    );
    let mimes: Vec<&str> = client_msgs
        .iter()
        .filter_map(|m| m["attachments"][0]["mime"].as_str())
        .collect();
    for want in [
        "image/jpeg",
        "audio/ogg",
        "audio/mpeg",
        "video/mp4",
        "application/pdf",
        "image/webp",
    ] {
        assert!(mimes.contains(&want), "{want} in {mimes:?}");
    }
    let doc = client_msgs
        .iter()
        .find(|m| m["attachments"][0]["mime"] == "application/pdf")
        .unwrap();
    assert_eq!(doc["attachments"][0]["name"], "invoice.pdf");
    // The blob is served with the stored bytes.
    let url = doc["attachments"][0]["url"].as_str().unwrap();
    let r = b.request("GET", url, None).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);
    assert!(
        by_text("Contact: Ivan")["text"]
            .as_str()
            .unwrap()
            .contains("79123456789")
    );
    assert!(
        by_text("Location:")["text"]
            .as_str()
            .unwrap()
            .contains("55.751244, 37.618423")
    );
    // The shared contact's phone is now the client's.
    let (_, contact) = b
        .get(&format!("/api/v1/contacts/{}", row["contact_id"]))
        .await;
    assert_eq!(
        contact["contact"]["phones"],
        json!(["79123456789"]),
        "{contact}"
    );

    // An edit replaces the text and marks the message.
    let mut edit = message_update(
        20,
        chat_id,
        10,
        json!({"text": "Hello again", "edit_date": 1_700_000_100}),
    );
    edit["edited_message"] = edit["message"].take();
    edit.as_object_mut().unwrap().remove("message");
    assert_eq!(post_update(&app, Some(SECRET), &edit).await, 200);
    let h = history(&b, chat).await;
    let edited = h
        .iter()
        .find(|m| m["text"] == "Hello again")
        .expect("edited");
    assert_eq!(edited["edited"], true);
    assert_eq!(
        h.iter().filter(|m| m["kind"] == "client").count(),
        9,
        "an edit is not a new message"
    );
}

#[tokio::test]
async fn unauthentic_requests_store_nothing_and_start_blocks_are_recorded() {
    let fake = FakeTelegram::start().await;
    let app = TestApp::spawn_with(&config(&fake, "webhook")).await;
    let b = admin(&app).await;
    let u = message_update(1, 42, 1, json!({"text": "forged"}));
    assert_eq!(post_update(&app, None, &u).await, 401);
    assert_eq!(post_update(&app, Some("wrong-secret"), &u).await, 401);
    let r = client()
        .post(format!("{}/webhooks/telegram/nope", app.url))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&u)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, list) = b.get("/api/v1/chats?section=all").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing stored");
    // Authentic garbage is acknowledged (Telegram would retry it forever) and ignored.
    let r = client()
        .post(format!("{}/webhooks/telegram/tg", app.url))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // /start → subscribed system message; a repeat of it adds nothing.
    let start = message_update(
        2,
        42,
        2,
        json!({"text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}),
    );
    assert_eq!(post_update(&app, Some(SECRET), &start).await, 200);
    assert_eq!(post_update(&app, Some(SECRET), &start).await, 200);
    let row = row_of(&b, "Ivan Petrov").await.unwrap();
    let chat = row["default_chat_id"].as_u64().unwrap();
    let member = |update_id: i64, old: &str, new: &str| {
        json!({"update_id": update_id, "my_chat_member": {
            "chat": {"id": 42, "type": "private", "first_name": "Ivan", "last_name": "Petrov"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ivan", "last_name": "Petrov"},
            "date": 1_700_000_000,
            "old_chat_member": {"status": old, "user": {"id": 1, "is_bot": true, "first_name": "bot"}},
            "new_chat_member": {"status": new, "user": {"id": 1, "is_bot": true, "first_name": "bot"}, "until_date": 0}
        }})
    };
    assert_eq!(
        post_update(&app, Some(SECRET), &member(3, "member", "kicked")).await,
        200
    );
    assert_eq!(
        post_update(&app, Some(SECRET), &member(3, "member", "kicked")).await,
        200
    );
    let row = row_of(&b, "Ivan Petrov").await.unwrap();
    assert_eq!(row["unreachable"], true, "{row}");
    assert_eq!(
        post_update(&app, Some(SECRET), &member(4, "kicked", "member")).await,
        200
    );
    let row = row_of(&b, "Ivan Petrov").await.unwrap();
    assert_eq!(row["unreachable"], false, "{row}");
    let events: Vec<String> = history(&b, chat)
        .await
        .iter()
        .filter(|m| m["kind"] == "system")
        .map(|m| m["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["subscribed", "blocked", "unblocked"]);
}

#[tokio::test]
async fn replies_go_out_as_documented_and_platform_errors_are_handled() {
    let fake = FakeTelegram::start().await;
    let app = TestApp::spawn_with(&config(&fake, "webhook")).await;
    let b = admin(&app).await;
    let u = message_update(1, 777, 1, json!({"text": "hi"}));
    assert_eq!(post_update(&app, Some(SECRET), &u).await, 200);
    let chat = row_of(&b, "Ivan Petrov").await.unwrap()["default_chat_id"]
        .as_u64()
        .unwrap();

    // Text → sendMessage with exactly chat_id and text.
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "Hello <b>Ivan</b> & co"}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    let sent = fake.wait_calls("sendMessage", 1, 10).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
    assert_eq!(
        sent[0].json(),
        json!({"chat_id": "777", "text": "Hello <b>Ivan</b> & co"})
    );
    assert!(
        wait_until(10, || async {
            history(&b, chat)
                .await
                .iter()
                .any(|x| x["id"] == m["id"] && x["status"] == "sent")
        })
        .await
    );

    // A photo with a caption → one multipart sendPhoto.
    let up = b
        .request("POST", "/api/v1/uploads?name=pic.jpg", None)
        .header("content-type", "image/jpeg")
        .body(JPEG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    let up: Value = up.json().await.unwrap();
    let (st, _) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "Your photo", "attachments": [{"id": up["id"], "name": "pic.jpg"}]}),
        )
        .await;
    assert_eq!(st, 201);
    let photos = fake.wait_calls("sendPhoto", 1, 10).await;
    assert_eq!(photos.len(), 1);
    let body = &photos[0].body;
    assert!(
        photos[0]
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );
    assert_eq!(tg::multipart_field(body, "chat_id").as_deref(), Some("777"));
    assert_eq!(
        tg::multipart_field(body, "caption").as_deref(),
        Some("Your photo")
    );
    let head = tg::multipart_part_head(body, "photo").unwrap();
    assert!(head.contains("filename=\"pic.jpg\""), "{head}");
    assert!(
        head.to_lowercase().contains("content-type: image/jpeg"),
        "{head}"
    );
    assert!(
        body.windows(JPEG.len()).any(|w| w == JPEG),
        "the file's bytes are uploaded"
    );

    // 429: the bot pauses for retry_after, then the message goes out.
    fake.fake.inject(
        Some("/sendMessage"),
        tg::error(429, "Too Many Requests: retry after 1", Some(1)),
    );
    let before = fake.calls("sendMessage").len();
    let t0 = Instant::now();
    let (_, slow) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "after a pause"}),
        )
        .await;
    let calls = fake.wait_calls("sendMessage", before + 2, 15).await;
    assert_eq!(calls.len(), before + 2, "tried, throttled, retried");
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "waited retry_after"
    );
    assert!(
        wait_until(10, || async {
            history(&b, chat)
                .await
                .iter()
                .any(|x| x["id"] == slow["id"] && x["status"] == "sent")
        })
        .await
    );

    // 403 blocked: failed with Telegram's reason, and the client is unreachable.
    fake.fake.inject(
        Some("/sendMessage"),
        tg::error(403, "Forbidden: bot was blocked by the user", None),
    );
    let (_, blocked) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "are you there?"}),
        )
        .await;
    assert!(
        wait_until(10, || async {
            history(&b, chat)
                .await
                .iter()
                .any(|x| x["id"] == blocked["id"] && x["status"] == "failed")
        })
        .await
    );
    let h = history(&b, chat).await;
    let f = h.iter().find(|x| x["id"] == blocked["id"]).unwrap();
    assert!(
        f["error"]
            .as_str()
            .unwrap()
            .contains("bot was blocked by the user"),
        "{f}"
    );
    assert_eq!(
        row_of(&b, "Ivan Petrov").await.unwrap()["unreachable"],
        true
    );
    // The token never reaches what managers see.
    let (_, ch) = b.get("/api/v1/channels").await;
    assert!(!ch.to_string().contains(TOKEN), "{ch}");
    assert!(!h.iter().any(|m| m.to_string().contains(TOKEN)));
}

#[tokio::test]
async fn polling_uses_a_durable_offset() {
    let fake = FakeTelegram::start().await;
    let mut app = TestApp::spawn_with(&config(&fake, "polling")).await;
    fake.push_update(message_update(
        500,
        9001,
        1,
        json!({"text": "first by polling"}),
    ));
    fake.push_update(message_update(
        501,
        9001,
        2,
        json!({"text": "second by polling"}),
    ));
    let b = admin(&app).await;
    assert!(
        wait_until(10, || async {
            match row_of(&b, "Ivan Petrov").await {
                Some(r) => r["unread"] == 2,
                None => false,
            }
        })
        .await
    );
    assert!(
        !fake.calls("deleteWebhook").is_empty(),
        "getUpdates needs the webhook removed"
    );
    assert!(fake.calls("setWebhook").is_empty());
    let polls = fake.wait_calls("getUpdates", 3, 10).await;
    assert_eq!(polls[0].json()["offset"], 0);
    assert!(
        polls.iter().any(|p| p.json()["offset"] == 502),
        "offset advances past the last update"
    );
    let (_, c) = b.get("/api/v1/channels").await;
    assert_eq!(c["items"][0]["status"]["state"], "polling");
    assert!(c["items"][0]["status"]["last_inbound_ms"].is_i64());

    // After a restart polling resumes from the stored offset; nothing is stored twice.
    app = app.restart().await;
    let n = fake.calls("getUpdates").len();
    let polls = fake.wait_calls("getUpdates", n + 1, 10).await;
    assert_eq!(
        polls[n].json()["offset"],
        502,
        "resumes from the stored offset"
    );
    fake.push_update(message_update(502, 9001, 3, json!({"text": "third"})));
    let b = app.login("boss").await;
    assert!(
        wait_until(10, || async {
            match row_of(&b, "Ivan Petrov").await {
                Some(r) => r["unread"] == 3,
                None => false,
            }
        })
        .await
    );
}

#[tokio::test]
async fn a_retried_multi_part_send_resumes_at_the_first_unsent_part() {
    let fake = FakeTelegram::start().await;
    let app = TestApp::spawn_with(&config(&fake, "webhook")).await;
    let b = admin(&app).await;
    let u = message_update(1, 777, 1, json!({"text": "hi"}));
    assert_eq!(post_update(&app, Some(SECRET), &u).await, 200);
    let chat = row_of(&b, "Ivan Petrov").await.unwrap()["default_chat_id"]
        .as_u64()
        .unwrap();
    let texts = |calls: &[crate::support::fake::Recorded], want: &str| {
        calls
            .iter()
            .filter(|c| c.json()["text"].as_str() == Some(want))
            .count()
    };
    let sent = |id: Value| {
        let b = &b;
        async move {
            wait_until(15, || async {
                history(b, chat)
                    .await
                    .iter()
                    .any(|x| x["id"] == id && x["status"] == "sent")
            })
            .await
        }
    };

    // A long text in two pieces: Telegram accepts the first, then fails the second once.
    let (one, two) = ("a".repeat(3000), "b".repeat(3000));
    let accepted = crate::support::fake::Reply::json(
        200,
        json!({"ok": true, "result": {"message_id": 1, "date": 1_700_000_000,
               "chat": {"id": 777, "type": "private"}}}),
    );
    fake.fake.inject(Some("sendMessage"), accepted);
    fake.fake
        .inject(Some("sendMessage"), tg::error(502, "Bad Gateway", None));
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": format!("{one}\n{two}")}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert!(sent(m["id"].clone()).await, "delivered after one retry");
    let calls = fake.calls("sendMessage");
    assert_eq!(texts(&calls, &one), 1, "part 1 is not repeated");
    assert_eq!(texts(&calls, &two), 2, "part 2: failed once, then accepted");

    // Text too long for a caption, then a photo: both pieces go once, the photo is retried.
    let up = b
        .request("POST", "/api/v1/uploads?name=pic.jpg", None)
        .header("content-type", "image/jpeg")
        .body(JPEG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    let up: Value = up.json().await.unwrap();
    fake.fake.inject(
        Some("sendPhoto"),
        tg::error(500, "Internal Server Error", None),
    );
    let (three, four) = ("c".repeat(3000), "d".repeat(3000));
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": format!("{three}\n{four}"),
                   "attachments": [{"id": up["id"], "name": "pic.jpg"}]}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert!(sent(m["id"].clone()).await);
    let calls = fake.calls("sendMessage");
    assert_eq!(texts(&calls, &three), 1);
    assert_eq!(texts(&calls, &four), 1);
    assert_eq!(
        fake.calls("sendPhoto").len(),
        2,
        "the photo: failed once, then sent"
    );
    app.stop().await;
}
