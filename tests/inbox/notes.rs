//! Notes and mentions: one notification per mentioned manager, private to them.

use serde_json::json;

use crate::support::{TestApp, api_channel};

#[tokio::test]
async fn a_mention_notifies_each_manager_once_and_only_them() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let ivan = app.add_manager("ivan", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let a = app.login("anna").await;
    let i = app.login("ivan").await;
    let chat = app.client_says("c", "Olga", "m1", "invoice?").await["chat_id"]
        .as_u64()
        .unwrap();

    let (st, v) = boss
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "please check the invoice", "mentions": [anna, anna, 999]}),
        )
        .await;
    assert_eq!(st, 422, "unknown manager: {v}");
    assert!(v["message"].as_str().unwrap().starts_with("mentions"));
    let (st, note) = boss
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "please check the invoice", "mentions": [anna, anna]}),
        )
        .await;
    assert_eq!(st, 201, "{note}");
    assert_eq!(note["kind"], "note");
    assert_eq!(note["mentions"], json!([anna]));

    let (_, n) = a.get("/api/v1/notifications").await;
    assert_eq!(n["unread"], 1);
    let items = n["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "exactly one notification for a double mention"
    );
    assert_eq!(items[0]["chat_id"], chat);
    assert_eq!(items[0]["from"]["name"], "boss name");
    assert_eq!(items[0]["text"], "please check the invoice");
    let (_, n) = i.get("/api/v1/notifications").await;
    assert_eq!(
        n["items"].as_array().unwrap().len(),
        0,
        "ivan was not mentioned"
    );
    let nid = items[0]["id"].as_u64().unwrap();
    let (st, _) = i
        .post(&format!("/api/v1/notifications/{nid}/read"), json!({}))
        .await;
    assert_eq!(st, 404, "another manager's notification is not found");
    let (st, r) = a
        .post(&format!("/api/v1/notifications/{nid}/read"), json!({}))
        .await;
    assert_eq!((st.as_u16(), r["read"].clone()), (200, json!(true)));
    let (_, n) = a.get("/api/v1/notifications?unread=true").await;
    assert_eq!(
        (n["unread"].clone(), n["items"].as_array().unwrap().len()),
        (json!(0), 0)
    );

    let _ = ivan;
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{chat}/messages?kinds=note"))
        .await;
    assert_eq!(
        h["items"].as_array().unwrap().len(),
        1,
        "the kind filter shows only notes"
    );
    app.stop().await;
}
