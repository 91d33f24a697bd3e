//! The API channel inbound contract: authentication, idempotency, contact linking,
//! attachments and bad input.

use base64::Engine;
use serde_json::json;

use crate::support::{TestApp, api_channel, client};

#[tokio::test]
async fn inbound_is_authenticated_stored_once_and_linked_by_phone() {
    let cfg = format!("{}{}", api_channel("crm", None), api_channel("shop", None));
    let app = TestApp::spawn_with(&cfg).await;
    app.add_manager("boss", "admin").await;
    let contact =
        json!({"external_id": "crm-42", "name": "Ольга Петрова", "phone": "+7 (912) 345-67-89"});
    let msg = json!({"external_id": "m-1", "text": "Где мой заказ?"});

    let r = client()
        .post(format!("{}/webhooks/api/crm", app.url))
        .bearer_auth("wrong")
        .json(&json!({"contact": contact, "message": msg}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(format!("{}/webhooks/api/crm", app.url))
        .json(&json!({"contact": contact, "message": msg}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token");
    let (st, _) = app.inbound("nope", contact.clone(), msg.clone()).await;
    assert_eq!(st, 404);

    let (st, first) = app.inbound("crm", contact.clone(), msg.clone()).await;
    assert_eq!(st, 200);
    assert_eq!(first["duplicate"], false);
    let (_, again) = app.inbound("crm", contact.clone(), msg.clone()).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["message_id"], first["message_id"]);
    assert_eq!(again["chat_id"], first["chat_id"]);

    let boss = app.login("boss").await;
    let (_, c) = boss.get("/api/v1/channels").await;
    assert!(
        c["items"][0]["status"]["last_inbound_ms"].is_i64(),
        "Settings shows the last inbound message: {c}"
    );
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{}/messages", first["chat_id"]))
        .await;
    let items = h["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "a redelivery is stored once");
    assert_eq!(items[0]["kind"], "client");
    assert_eq!(items[0]["text"], "Где мой заказ?");

    // The same person on another channel, written in the national form: one client, two chats.
    let (_, other) = app
        .inbound(
            "shop",
            json!({"external_id": "s-7", "phone": "8 912 345 67 89"}),
            json!({"external_id": "x1", "text": "и ещё вопрос"}),
        )
        .await;
    assert_eq!(other["contact_id"], first["contact_id"]);
    assert_ne!(other["chat_id"], first["chat_id"]);
    let (_, list) = boss.get("/api/v1/chats").await;
    let rows = list["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "one row per client: {list}");
    assert_eq!(rows[0]["chats"].as_array().unwrap().len(), 2);
    assert_eq!(
        rows[0]["default_chat_id"], other["chat_id"],
        "opens on the most recent chat"
    );
    assert_eq!(
        rows[0]["unread"], 2,
        "unread summed over the client's chats"
    );
    assert_eq!(rows[0]["channel_id"], "shop");
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_name_the_problem() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    let (st, v) = app
        .inbound(
            "crm",
            json!({"name": "x"}),
            json!({"external_id": "1", "text": "t"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(
        v["message"].as_str().unwrap().contains("external_id"),
        "{v}"
    );
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": "c"}),
            json!({"external_id": "1"}),
        )
        .await;
    assert_eq!(st, 422);
    assert!(
        v["message"].as_str().unwrap().starts_with("message.text"),
        "{v}"
    );
    let r = client()
        .post(format!("{}/webhooks/api/crm", app.url))
        .bearer_auth(crate::support::TOKEN)
        .header("content-type", "application/json")
        .body("{\"contact\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn attachments_are_stored_by_digest_and_private_urls_refused() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n0000IHDR-fake-image-body".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let (st, v) = app
        .inbound("crm", json!({"external_id": "c1"}), json!({"external_id": "a1", "attachments": [{"data_base64": b64, "name": "../../photo.png", "mime": "image/png"}]}))
        .await;
    assert_eq!(st, 200, "{v}");
    let boss = app.login("boss").await;
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{}/messages", v["chat_id"]))
        .await;
    let att = &h["items"][0]["attachments"][0];
    assert_eq!(att["name"], "photo.png", "path parts are dropped");
    assert_eq!(att["mime"], "image/png");
    let r = boss
        .request("GET", att["url"].as_str().unwrap(), None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().as_ref(), png.as_slice());

    // An HTML file claiming to be an image is refused.
    let fake = base64::engine::general_purpose::STANDARD.encode(b"<script>alert(1)</script>");
    let (st, v) = app.inbound("crm", json!({"external_id": "c1"}), json!({"external_id": "a2", "attachments": [{"data_base64": fake, "name": "x.png", "mime": "image/png"}]})).await;
    assert_eq!(st, 415, "{v}");
    // A URL pointing inside the network is never fetched.
    let (st, v) = app.inbound("crm", json!({"external_id": "c1"}), json!({"external_id": "a3", "attachments": [{"url": format!("{}/healthz", app.url), "name": "x.txt", "mime": "text/plain"}]})).await;
    assert_eq!(st, 422, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("private address"),
        "{v}"
    );
    app.stop().await;
}
