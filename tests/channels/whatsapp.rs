//! WhatsApp Cloud API channel: the verification handshake, signed webhooks with every inbound
//! kind, duplicates, statuses, outbound text/media/template against the Graph fake, the
//! 24-hour window and Graph error codes.

use std::time::{Duration, Instant};

use parley::store::inbox::InboxReads;
use serde_json::{Value, json};

use crate::support::whatsapp::{
    self as wa, JPEG, MP4, OGG, PDF, PNID, TOKEN, VERIFY_TOKEN, VERSION, WEBP, WaFake, body, msg,
    status, statuses,
};
use crate::support::{Browser, TestApp, api_channel, client};

const CLIENT: &str = "79161234567";

async fn spawn(extra: &str) -> (TestApp, WaFake, Browser) {
    let fake = WaFake::start().await;
    let app = TestApp::spawn_with(&format!(
        "{}{}",
        wa::channel("wa", &fake.base(), extra),
        api_channel("crm", None)
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    (app, fake, b)
}

async fn rows(b: &Browser) -> Vec<Value> {
    let (st, v) = b.get("/api/v1/chats").await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn history(b: &Browser, chat: u64) -> Vec<Value> {
    let (st, v) = b
        .get(&format!("/api/v1/chats/{chat}/messages?limit=200"))
        .await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

fn find<'a>(items: &'a [Value], text: &str) -> &'a Value {
    items
        .iter()
        .find(|m| m["text"] == text)
        .unwrap_or_else(|| panic!("no message {text:?} in {items:#?}"))
}

/// The client writes once so the chat exists and the 24-hour window is open.
async fn client_writes(app: &TestApp, b: &Browser, wamid: &str, text: &str) -> u64 {
    let (st, r) = app
        .wa_post(
            "wa",
            &body(wa::messages(
                CLIENT,
                "Anna",
                vec![msg(CLIENT, wamid, "text", json!({"body": text}))],
            )),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let row = rows(b)
        .await
        .into_iter()
        .find(|r| r["channel_kind"] == "whatsapp")
        .unwrap();
    row["default_chat_id"].as_u64().unwrap()
}

/// Post a manager reply and return its id.
async fn reply(b: &Browser, chat: u64, text: &str, files: &[Value]) -> u64 {
    let atts: Vec<Value> = files
        .iter()
        .map(|f| json!({"id": f["id"], "name": f["name"]}))
        .collect();
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": text, "attachments": atts}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    m["id"].as_u64().unwrap()
}

/// Wait until message `id` satisfies `pred` (or 15 s pass) and return it.
async fn message_when(b: &Browser, chat: u64, id: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let h = history(b, chat).await;
        let m = h.iter().find(|m| m["id"] == id).cloned().unwrap();
        if pred(&m) || Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn settled(b: &Browser, chat: u64, id: u64) -> Value {
    message_when(b, chat, id, |m| {
        m["status"] == "sent" || m["status"] == "failed"
    })
    .await
}

async fn upload(b: &Browser, mime: &str, name: &str, bytes: &[u8]) -> Value {
    let r = b
        .http
        .post(format!("{}/api/v1/uploads?name={name}", b.url))
        .header("x-csrf-token", b.csrf.clone().unwrap())
        .header("content-type", mime)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Move the chat's last client message `hours` into the past.
async fn age_chat(app: &TestApp, chat: u64, hours: i64) {
    app.running()
        .state
        .inbox
        .store
        .write(move |w| {
            let mut c = w.chat(chat)?.unwrap();
            c.last_inbound_ms -= hours * 3600 * 1000;
            parley::store::inbox::put_chat(w, &c)
        })
        .await
        .unwrap();
}

fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let start = text.find(&format!("name=\"{name}\""))?;
    let rest = &text[start..];
    let value = &rest[rest.find("\r\n\r\n")? + 4..];
    Some(value[..value.find("\r\n--")?].to_string())
}

#[tokio::test]
async fn verification_handshake_echoes_the_challenge_for_our_token_only() {
    let (app, _fake, _b) = spawn("").await;
    let base = app.url.clone();
    let get = |path: String| {
        let url = format!("{base}{path}");
        async move {
            let r = client().get(url).send().await.unwrap();
            let st = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (st, ct, r.text().await.unwrap())
        }
    };
    let (st, ct, text) = get(format!(
        "/webhooks/whatsapp/wa?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    ))
    .await;
    assert_eq!(st, 200);
    assert!(ct.unwrap().starts_with("text/plain"));
    assert_eq!(text, "1158201444");
    for q in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_string(),
        format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        format!("hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        String::new(),
    ] {
        let (st, _, text) = get(format!("/webhooks/whatsapp/wa?{q}")).await;
        assert_eq!(st, 403, "{q}: {text}");
        assert_ne!(text, "1");
    }
    let ok = format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1");
    let (st, _, _) = get(format!("/webhooks/whatsapp/nope?{ok}")).await;
    assert_eq!(st, 404, "unknown channel");
    let (st, _, _) = get(format!("/webhooks/whatsapp/crm?{ok}")).await;
    assert_eq!(st, 404, "not a WhatsApp channel");
    let (st, _) = app.wa_post("crm", &json!({})).await;
    assert_eq!(st, 404);
    app.stop().await;
}

#[tokio::test]
async fn every_inbound_kind_reaches_the_chat_list_and_history() {
    let (app, fake, b) = spawn("").await;
    fake.add_media("m-img", "image/jpeg", JPEG);
    fake.add_media("m-vid", "video/mp4", MP4);
    fake.add_media("m-stk", "image/webp", WEBP);
    fake.add_media("m-voice", "audio/ogg; codecs=opus", OGG);
    fake.add_media("m-doc", "application/pdf", PDF);
    let sha = "a".repeat(64);
    let msgs = vec![
        msg(CLIENT, "wamid.T", "text", json!({"body": "Hello there"})),
        msg(
            CLIENT,
            "wamid.I",
            "image",
            json!({"caption": "Photo of the parcel", "mime_type": "image/jpeg", "sha256": sha, "id": "m-img"}),
        ),
        msg(
            CLIENT,
            "wamid.V",
            "video",
            json!({"mime_type": "video/mp4", "sha256": sha, "id": "m-vid"}),
        ),
        msg(
            CLIENT,
            "wamid.S",
            "sticker",
            json!({"mime_type": "image/webp", "sha256": sha, "id": "m-stk", "animated": false}),
        ),
        msg(
            CLIENT,
            "wamid.A",
            "audio",
            json!({"mime_type": "audio/ogg; codecs=opus", "sha256": sha, "id": "m-voice", "voice": true}),
        ),
        msg(
            CLIENT,
            "wamid.D",
            "document",
            json!({"caption": "Invoice", "filename": "invoice-42.pdf", "mime_type": "application/pdf", "sha256": sha, "id": "m-doc"}),
        ),
        msg(
            CLIENT,
            "wamid.L",
            "location",
            json!({"latitude": 55.7558, "longitude": 37.6173, "name": "Red Square", "address": "Moscow"}),
        ),
        msg(
            CLIENT,
            "wamid.C",
            "contacts",
            json!([{"name": {"formatted_name": "Ivan Petrov", "first_name": "Ivan", "last_name": "Petrov"},
                    "phones": [{"phone": "+7 916 000-00-01", "wa_id": "79160000001", "type": "CELL"}]}]),
        ),
        msg(
            CLIENT,
            "wamid.B",
            "interactive",
            json!({"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes, deliver"}}),
        ),
        msg(
            CLIENT,
            "wamid.LR",
            "interactive",
            json!({"type": "list_reply", "list_reply": {"id": "slot-2", "title": "Tomorrow 10-12", "description": "Morning slot"}}),
        ),
        msg(
            CLIENT,
            "wamid.TB",
            "button",
            json!({"text": "Track order", "payload": "TRACK"}),
        ),
        msg(
            CLIENT,
            "wamid.R",
            "reaction",
            json!({"message_id": "wamid.T", "emoji": "\u{1F44D}"}),
        ),
        msg(
            CLIENT,
            "wamid.SYS",
            "system",
            json!({"body": "changed number", "type": "user_changed_number"}),
        ),
    ];
    let (st, r) = app
        .wa_post("wa", &body(wa::messages(CLIENT, "Anna Petrova", msgs)))
        .await;
    assert_eq!(st, 200, "{r}");

    let list = rows(&b).await;
    assert_eq!(list.len(), 1, "{list:#?}");
    let row = &list[0];
    assert_eq!(row["name"], "Anna Petrova");
    assert_eq!(row["channel_kind"], "whatsapp");
    assert_eq!(row["last_message"]["text"], "Track order");
    let (_, contact) = b
        .get(&format!("/api/v1/contacts/{}", row["contact_id"]))
        .await;
    assert_eq!(
        contact["contact"]["phones"],
        json!([CLIENT]),
        "the client's number, not the shared card's: {contact}"
    );
    let chat = row["default_chat_id"].as_u64().unwrap();
    let h = history(&b, chat).await;
    assert_eq!(h.len(), 11, "reaction and system are ignored: {h:#?}");
    assert!(h.iter().all(|m| m["kind"] == "client"));
    assert_eq!(
        h.iter()
            .map(|m| m["external_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "wamid.T", "wamid.I", "wamid.V", "wamid.S", "wamid.A", "wamid.D", "wamid.L", "wamid.C",
            "wamid.B", "wamid.LR", "wamid.TB"
        ],
        "in the order of the body"
    );
    let att = |m: &Value| {
        let a = &m["attachments"][0];
        (
            a["mime"].as_str().unwrap().to_string(),
            a["name"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(find(&h, "Hello there")["attachments"], json!([]));
    let image = find(&h, "Photo of the parcel");
    assert_eq!(att(image), ("image/jpeg".into(), "image.jpg".into()));
    let by_id = |id: &str| h.iter().find(|m| m["external_id"] == id).unwrap();
    assert_eq!(
        att(by_id("wamid.V")),
        ("video/mp4".into(), "video.mp4".into())
    );
    assert_eq!(
        att(by_id("wamid.S")),
        ("image/webp".into(), "sticker.webp".into())
    );
    assert_eq!(
        att(by_id("wamid.A")),
        ("audio/ogg".into(), "voice.ogg".into())
    );
    assert_eq!(by_id("wamid.V")["text"], "");
    assert_eq!(
        att(find(&h, "Invoice")),
        ("application/pdf".into(), "invoice-42.pdf".into())
    );
    find(&h, "Location: Red Square, Moscow\n55.7558, 37.6173");
    find(&h, "Contact: Ivan Petrov: +7 916 000-00-01");
    find(&h, "Yes, deliver");
    find(&h, "Tomorrow 10-12");
    find(&h, "Track order");

    // The stored file is the platform's, byte for byte.
    let url = image["attachments"][0]["url"].as_str().unwrap();
    let r = b.request("GET", url, None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), JPEG);

    // Two steps per file, both with the token (the fake refuses anything else).
    for id in ["m-img", "m-vid", "m-stk", "m-voice", "m-doc"] {
        let lookups = fake.calls("GET", &format!("/{VERSION}/{id}"));
        let downloads = fake.calls("GET", &format!("/download/{id}"));
        assert_eq!((lookups.len(), downloads.len()), (1, 1), "{id}");
        assert_eq!(
            downloads[0].header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_redelivered_body_is_stored_once_without_fetching_media_again() {
    let (app, fake, b) = spawn("").await;
    fake.add_media("m-img", "image/png", wa::PNG);
    let event = body(wa::messages(
        CLIENT,
        "Anna",
        vec![
            msg(
                CLIENT,
                "wamid.P1",
                "image",
                json!({"mime_type": "image/png", "sha256": "x", "id": "m-img"}),
            ),
            msg(
                CLIENT,
                "wamid.P2",
                "text",
                json!({"body": "see the picture"}),
            ),
        ],
    ));
    for _ in 0..3 {
        let (st, r) = app.wa_post("wa", &event).await;
        assert_eq!(st, 200, "{r}");
    }
    let list = rows(&b).await;
    assert_eq!(list.len(), 1);
    let h = history(&b, list[0]["default_chat_id"].as_u64().unwrap()).await;
    assert_eq!(h.len(), 2, "{h:#?}");
    assert_eq!(list[0]["unread"], 2);
    assert_eq!(fake.calls("GET", &format!("/{VERSION}/m-img")).len(), 1);
    assert_eq!(fake.calls("GET", "/download/m-img").len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn unauthentic_or_foreign_posts_store_nothing() {
    let (app, _fake, b) = spawn("").await;
    let event = body(wa::messages(
        CLIENT,
        "Mallory",
        vec![msg(CLIENT, "wamid.X", "text", json!({"body": "forged"}))],
    ));
    let bytes = event.to_string().into_bytes();
    let other = parley::channels::api::sign("not-the-app-secret", &bytes);
    let of_other_body = wa::sign(b"{}");
    for sig in [
        None,
        Some(other),
        Some(of_other_body),
        Some("sha256=".into()),
        Some("sha1=0123456789abcdef0123456789abcdef01234567".into()),
        Some(wa::sign(&bytes).replace("sha256=", "")),
    ] {
        let (st, text) = app.wa_post_raw("wa", &bytes, sig.clone()).await;
        assert_eq!(st, 401, "{sig:?}: {text}");
    }
    // Authentic but not JSON: accepted so Meta does not resend it for a day, nothing stored.
    let junk = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    let (st, _) = app.wa_post_raw("wa", &junk, Some(wa::sign(&junk))).await;
    assert_eq!(st, 200);
    // Another phone number's change, and a change that is not about messages.
    let foreign = json!({"object": "whatsapp_business_account", "entry": [
        wa::entry("999999999", vec![wa::messages(CLIENT, "X", vec![msg(CLIENT, "wamid.F", "text", json!({"body": "not ours"}))])]),
        {"id": "1", "changes": [{"field": "account_update", "value": {"phone_number": PNID, "event": "VERIFIED_ACCOUNT"}}]}
    ]});
    let (st, _) = app.wa_post("wa", &foreign).await;
    assert_eq!(st, 200);
    assert!(rows(&b).await.is_empty(), "nothing was stored");
    app.stop().await;
}

#[tokio::test]
async fn every_entry_and_change_of_a_body_is_read() {
    let (app, _fake, b) = spawn("").await;
    let event = json!({"object": "whatsapp_business_account", "entry": [
        wa::entry(PNID, vec![
            wa::messages("4915100000001", "Ben", vec![msg("4915100000001", "wamid.E1", "text", json!({"body": "one"}))]),
            wa::messages("4915100000002", "Cleo", vec![msg("4915100000002", "wamid.E2", "text", json!({"body": "two"}))]),
        ]),
        wa::entry(PNID, vec![
            wa::messages("4915100000003", "Dora", vec![
                msg("4915100000003", "wamid.E3", "text", json!({"body": "three"})),
                msg("4915100000003", "wamid.E4", "text", json!({"body": "four"})),
            ]),
        ]),
        wa::entry("555", vec![wa::messages("4915100000004", "Eve", vec![msg("4915100000004", "wamid.E5", "text", json!({"body": "other number"}))])]),
    ]});
    let (st, r) = app.wa_post("wa", &event).await;
    assert_eq!(st, 200, "{r}");
    let list = rows(&b).await;
    let mut names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Ben", "Cleo", "Dora"]);
    let dora = list.iter().find(|r| r["name"] == "Dora").unwrap();
    let h = history(&b, dora["default_chat_id"].as_u64().unwrap()).await;
    assert_eq!(h.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn the_signature_covers_the_raw_bytes_meta_sends() {
    // Meta escapes non-ASCII as \uXXXX; re-serialising would change the bytes.
    let (app, _fake, b) = spawn("").await;
    let raw = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550100000","phone_number_id":"{PNID}"}},"contacts":[{{"profile":{{"name":"\u0410\u043d\u043d\u0430"}},"wa_id":"{CLIENT}"}}],"messages":[{{"from":"{CLIENT}","id":"wamid.U","timestamp":"1717000000","type":"text","text":{{"body":"\u041f\u0440\u0438\u0432\u0435\u0442 \/ hi"}}}}]}}}}]}}]}}"#
    );
    let (st, r) = app
        .wa_post_raw("wa", raw.as_bytes(), Some(wa::sign(raw.as_bytes())))
        .await;
    assert_eq!(st, 200, "{r}");
    let list = rows(&b).await;
    assert_eq!(list[0]["name"], "Анна");
    let h = history(&b, list[0]["default_chat_id"].as_u64().unwrap()).await;
    assert_eq!(h[0]["text"], "Привет / hi");
    app.stop().await;
}

#[tokio::test]
async fn outbound_text_is_the_documented_request_and_statuses_only_move_forward() {
    let (app, fake, b) = spawn("").await;
    let chat = client_writes(&app, &b, "wamid.IN1", "where is my order?").await;
    let id = reply(&b, chat, "Your order shipped today", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "sent", "{m}");
    let sends = fake.sends();
    assert_eq!(sends.len(), 1);
    let r = &sends[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        r.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": CLIENT,
            "type": "text",
            "text": {"body": "Your order shipped today", "preview_url": false}
        })
    );
    let wamid = m["external_id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid.OUT"), "{m}");

    let post_status = |s: &'static str| {
        let ev = body(statuses(vec![status(&wamid, s, CLIENT)]));
        let app = &app;
        async move {
            let (st, r) = app.wa_post("wa", &ev).await;
            assert_eq!(st, 200, "{r}");
        }
    };
    post_status("sent").await;
    assert_eq!(history(&b, chat).await.last().unwrap()["status"], "sent");
    post_status("delivered").await;
    let m = message_when(&b, chat, id, |m| m["status"] == "delivered").await;
    assert_eq!(m["status"], "delivered");
    post_status("read").await;
    assert_eq!(
        message_when(&b, chat, id, |m| m["status"] == "read").await["status"],
        "read"
    );
    // Out of order: a late "delivered" and a "sent" do not move it back.
    post_status("delivered").await;
    post_status("sent").await;
    let m = message_when(&b, chat, id, |_| true).await;
    assert_eq!(m["status"], "read");
    assert!(m["error"].is_null());

    // A failure with WhatsApp's error object.
    let id2 = reply(&b, chat, "second", &[]).await;
    let m2 = settled(&b, chat, id2).await;
    let w2 = m2["external_id"].as_str().unwrap();
    let mut failed = status(w2, "failed", CLIENT);
    failed["errors"] = json!([{
        "code": 131047, "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    }]);
    // A status for a message we never sent is ignored, the rest of the body still applies.
    let ev = body(statuses(vec![
        status("wamid.UNKNOWN", "read", CLIENT),
        failed,
    ]));
    let (st, _) = app.wa_post("wa", &ev).await;
    assert_eq!(st, 200);
    let m2 = message_when(&b, chat, id2, |m| m["status"] == "failed").await;
    assert_eq!(m2["status"], "failed");
    assert_eq!(
        m2["error"],
        "131047: Re-engagement message — Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    );
    app.stop().await;
}

#[tokio::test]
async fn outbound_files_are_uploaded_then_sent_by_id() {
    let (app, fake, b) = spawn("").await;
    let chat = client_writes(&app, &b, "wamid.IN1", "send me the documents").await;
    let jpg = upload(&b, "image/jpeg", "parcel.jpg", JPEG).await;
    let ogg = upload(&b, "audio/ogg", "note.ogg", OGG).await;
    let pdf = upload(&b, "application/pdf", "invoice.pdf", PDF).await;

    // Text rides as the image's caption.
    let id = reply(&b, chat, "Here is your parcel", &[jpg]).await;
    assert_eq!(settled(&b, chat, id).await["status"], "sent");
    let ups = fake.uploads();
    assert_eq!(ups.len(), 1);
    let up = &ups[0];
    assert_eq!(
        up.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(
        up.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let text = String::from_utf8_lossy(&up.body);
    assert!(
        text.contains("name=\"file\"; filename=\"parcel.jpg\"\r\nContent-Type: image/jpeg"),
        "{text}"
    );
    assert!(
        up.body.windows(JPEG.len()).any(|w| w == JPEG),
        "the file's bytes"
    );
    assert_eq!(
        multipart_field(&up.body, "type").as_deref(),
        Some("image/jpeg")
    );
    assert_eq!(
        multipart_field(&up.body, "messaging_product").as_deref(),
        Some("whatsapp")
    );
    let sends = fake.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].json(),
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CLIENT,
            "type": "image", "image": {"id": "up-parcel.jpg", "caption": "Here is your parcel"}
        })
    );
    let all = fake.fake.requests();
    let pos = |p: &str| all.iter().position(|r| r.path.ends_with(p)).unwrap();
    assert!(pos("/media") < pos("/messages"), "upload first");

    // Audio takes no caption: the text goes first on its own, then the voice note.
    let id = reply(&b, chat, "Listen to this", &[ogg]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "sent");
    let sends = fake.sends();
    assert_eq!(sends.len(), 3);
    assert_eq!(
        sends[1].json()["text"],
        json!({"body": "Listen to this", "preview_url": false})
    );
    assert_eq!(
        sends[2].json(),
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CLIENT,
            "type": "audio", "audio": {"id": "up-note.ogg", "voice": true}
        })
    );
    assert!(m["external_id"].as_str().unwrap().starts_with("wamid.OUT"));

    // A document keeps its file name and carries the caption.
    let id = reply(&b, chat, "Invoice attached", &[pdf]).await;
    assert_eq!(settled(&b, chat, id).await["status"], "sent");
    let sends = fake.sends();
    assert_eq!(
        sends[3].json()["document"],
        json!({"id": "up-invoice.pdf", "caption": "Invoice attached", "filename": "invoice.pdf"})
    );
    assert_eq!(fake.uploads().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn outside_the_window_a_reply_fails_clearly_without_a_request() {
    let (app, fake, b) = spawn("").await;
    let chat = client_writes(&app, &b, "wamid.IN1", "hi").await;
    age_chat(&app, chat, 25).await;
    let id = reply(&b, chat, "Are you still there?", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "failed");
    let err = m["error"].as_str().unwrap();
    assert!(err.contains("24-hour customer-service window"), "{err}");
    assert!(err.contains("template"), "{err}");
    assert!(fake.sends().is_empty(), "nothing was sent");
    // A new message from the client opens the window again.
    let (st, _) = app
        .wa_post(
            "wa",
            &body(wa::messages(
                CLIENT,
                "Anna",
                vec![msg(CLIENT, "wamid.IN2", "text", json!({"body": "yes"}))],
            )),
        )
        .await;
    assert_eq!(st, 200);
    let id = reply(&b, chat, "Great", &[]).await;
    assert_eq!(settled(&b, chat, id).await["status"], "sent");
    assert_eq!(fake.sends().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn outside_the_window_the_configured_template_is_sent() {
    let (app, fake, b) = spawn("template = \"order_update\"\ntemplate_language = \"ru\"").await;
    let chat = client_writes(&app, &b, "wamid.IN1", "hi").await;
    age_chat(&app, chat, 48).await;
    let id = reply(&b, chat, "Your order #42\nis ready   for pickup", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "sent", "{m}");
    let sends = fake.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].json(),
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CLIENT,
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "ru"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Your order #42 is ready for pickup"}]}]
            }
        })
    );
    // Files cannot ride on a template.
    let jpg = upload(&b, "image/jpeg", "p.jpg", JPEG).await;
    let id = reply(&b, chat, "photo", &[jpg]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("files"), "{m}");
    assert_eq!(fake.sends().len(), 1);
    assert!(fake.uploads().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn graph_error_codes_retry_fail_or_mark_the_chat_unreachable() {
    let (app, fake, b) = spawn("").await;
    let chat = client_writes(&app, &b, "wamid.IN1", "hi").await;

    // Throughput limit and a server error: retried, then sent.
    fake.fail_next_send(
        400,
        130429,
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
    );
    fake.fake.inject(
        Some("/messages"),
        crate::support::fake::Reply::json(503, json!({})),
    );
    let id = reply(&b, chat, "retry me", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(fake.sends().len(), 3);

    // Window closed on Meta's side.
    fake.fail_next_send(
        400,
        131047,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    );
    let id = reply(&b, chat, "too late", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "failed");
    assert!(
        m["error"]
            .as_str()
            .unwrap()
            .contains("outside WhatsApp's 24-hour customer-service window"),
        "{m}"
    );
    assert_eq!(fake.sends().len(), 4, "not retried");

    // The token expired: failed, and the channel shows the error without the token.
    fake.fail_next_send(
        401,
        190,
        &format!("Error validating access token: Session has expired (token {TOKEN})"),
        "",
    );
    let id = reply(&b, chat, "token", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "failed");
    let err = m["error"].as_str().unwrap();
    assert!(err.contains("access token rejected"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    let (_, ch) = b.get("/api/v1/channels").await;
    let wa = ch["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "wa")
        .unwrap()
        .clone();
    assert_eq!(wa["status"]["state"], "error", "{wa}");
    assert!(
        wa["status"]["last_error"]
            .as_str()
            .unwrap()
            .contains("access token")
    );
    assert!(!wa.to_string().contains(TOKEN), "{wa}");

    // Undeliverable: failed and the chat shows the client cannot be reached.
    fake.fail_next_send(
        400,
        131026,
        "(#131026) Message undeliverable",
        "Receiver is incapable of receiving this message",
    );
    let id = reply(&b, chat, "hello?", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("131026"), "{m}");
    let row = rows(&b)
        .await
        .into_iter()
        .find(|r| r["default_chat_id"] == chat)
        .unwrap();
    assert_eq!(row["unreachable"], true, "{row}");
    // Other 4xx: failed with "code: message".
    fake.fail_next_send(400, 100, "(#100) Invalid parameter", "");
    let id = reply(&b, chat, "bad", &[]).await;
    let m = settled(&b, chat, id).await;
    assert_eq!(m["status"], "failed");
    assert_eq!(m["error"], "100: (#100) Invalid parameter");
    app.stop().await;
}

#[tokio::test]
async fn start_checks_the_token_against_the_phone_number() {
    let fake = WaFake::start().await;
    let app = TestApp::spawn_with(&format!(
        "{}{}",
        wa::channel("wa", &fake.base(), ""),
        wa::channel("wa-bad", &fake.base(), "").replace(TOKEN, "expired-token-0000")
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (good, bad) = loop {
        let (_, ch) = b.get("/api/v1/channels").await;
        let get = |id: &str| {
            ch["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .unwrap()["status"]
                .clone()
        };
        let (good, bad) = (get("wa"), get("wa-bad"));
        if (good["state"] != "ready" && bad["state"] != "ready") || Instant::now() > deadline {
            break (good, bad);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(good["state"], "connected", "{good}");
    assert!(good["detail"].as_str().unwrap().contains("Parley Shop"));
    assert_eq!(bad["state"], "error", "{bad}");
    assert!(!bad.to_string().contains("expired-token-0000"));
    let checks = fake.calls("GET", &format!("/{VERSION}/{PNID}"));
    assert_eq!(checks.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn media_not_fetchable_yet_is_left_for_meta_to_redeliver() {
    let (app, fake, b) = spawn("").await;
    fake.add_media("m-img", "image/jpeg", JPEG);
    fake.add_media("m-amr", "audio/amr", b"#!AMR\n\x3c\x00\x00");
    fake.add_media("m-fake", "image/png", b"<script>alert(1)</script>");
    fake.fake.inject(
        Some(&format!("/{VERSION}/m-img")),
        wa::graph_error(500, 1, "An unknown error occurred", ""),
    );
    let event = body(wa::messages(
        CLIENT,
        "Anna",
        vec![
            msg(CLIENT, "wamid.M1", "text", json!({"body": "before"})),
            msg(
                CLIENT,
                "wamid.M2",
                "image",
                json!({"caption": "the photo", "mime_type": "image/jpeg", "sha256": "x", "id": "m-img"}),
            ),
            msg(
                CLIENT,
                "wamid.M3",
                "audio",
                json!({"mime_type": "audio/amr", "sha256": "x", "id": "m-amr", "voice": false}),
            ),
            msg(
                CLIENT,
                "wamid.M4",
                "image",
                json!({"mime_type": "image/png", "sha256": "x", "id": "m-fake"}),
            ),
        ],
    ));
    // The image lookup fails: everything else is stored, and the 503 makes Meta send it again.
    let (st, r) = app.wa_post("wa", &event).await;
    assert_eq!(st, 503, "{r}");
    let chat = rows(&b).await[0]["default_chat_id"].as_u64().unwrap();
    let h = history(&b, chat).await;
    let ids: Vec<&str> = h
        .iter()
        .map(|m| m["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["wamid.M1", "wamid.M3", "wamid.M4"]);
    // A type Parley does not show is kept as a plain download.
    assert_eq!(h[1]["attachments"][0]["mime"], "application/octet-stream");
    assert_eq!(h[1]["attachments"][0]["name"], "audio.amr");
    // A file that is not what it claims is refused, and the text says so.
    assert_eq!(h[2]["attachments"], json!([]));
    let text = h[2]["text"].as_str().unwrap();
    assert!(
        text.starts_with("[image.png could not be stored: "),
        "{text}"
    );

    let (st, r) = app.wa_post("wa", &event).await;
    assert_eq!(st, 200, "{r}");
    let h = history(&b, chat).await;
    assert_eq!(h.len(), 4, "only the missing message was added: {h:#?}");
    let photo = find(&h, "the photo");
    assert_eq!(photo["attachments"][0]["mime"], "image/jpeg");
    assert_eq!(fake.calls("GET", &format!("/{VERSION}/m-amr")).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn statuses_that_arrive_before_the_send_answer_are_applied() {
    let (app, fake, b) = spawn("").await;
    let chat = client_writes(&app, &b, "wamid.IN1", "quick question").await;

    for (wamid, text, reports, want) in [
        (
            "wamid.EARLY1",
            "read at once",
            vec!["delivered", "read"],
            "read",
        ),
        ("wamid.EARLY2", "bounced at once", vec!["failed"], "failed"),
    ] {
        let gate = fake.hold_next_send(wamid);
        let before = fake.sends().len();
        let id = reply(&b, chat, text, &[]).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while fake.sends().len() == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(fake.sends().len(), before + 1, "the send is under way");
        // Meta reports on the message while our request still waits for its answer.
        let list = reports
            .iter()
            .map(|s| {
                let mut v = status(wamid, s, CLIENT);
                if *s == "failed" {
                    v["errors"] = json!([{"code": 131026, "title": "Message undeliverable"}]);
                }
                v
            })
            .collect();
        let (st, r) = app.wa_post("wa", &body(statuses(list))).await;
        assert_eq!(st, 200, "{r}");
        let m = message_when(&b, chat, id, |_| true).await;
        assert_eq!(m["status"], "queued", "not yet answered: {m}");
        gate.add_permits(1);
        let m = message_when(&b, chat, id, |m| m["status"] == want).await;
        assert_eq!(m["status"], want, "{m}");
        assert_eq!(m["external_id"], wamid);
        if want == "failed" {
            assert_eq!(m["error"], "131026: Message undeliverable", "{m}");
        } else {
            assert!(m["error"].is_null(), "{m}");
        }
    }
    // Applied once: nothing is left waiting for these ids.
    let left = app
        .running()
        .state
        .inbox
        .store
        .read(parley::store::channels::early_receipt_count)
        .unwrap();
    assert_eq!(left, 0);
    app.stop().await;
}
