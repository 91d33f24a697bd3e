//! Quick replies (T2): personal ones are their owner's alone, shared ones everyone's and the
//! admins' to manage; the list finds them by shortcut first, then by text.

use serde_json::{Value, json};

use crate::support::{TestApp, api_channel};

fn shortcuts(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["shortcut"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn quick_replies_crud_and_permissions() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    app.add_manager("anna", "manager").await;
    app.add_manager("ivan", "manager").await;
    let (boss, anna, ivan) = (
        app.login("boss").await,
        app.login("anna").await,
        app.login("ivan").await,
    );

    let (st, shared) = boss
        .post(
            "/api/v1/replies",
            json!({"shortcut": "/Hello", "text": "Hello, {client.name}!", "shared": true}),
        )
        .await;
    assert_eq!(st, 201, "{shared}");
    assert_eq!(shared["shortcut"], "hello");
    let (st, e) = anna
        .post(
            "/api/v1/replies",
            json!({"shortcut": "x", "text": "x", "shared": true}),
        )
        .await;
    assert_eq!(st, 403, "only admins share: {e}");
    let (st, mine) = anna
        .post(
            "/api/v1/replies",
            json!({"shortcut": "price", "text": "Our prices: see the list, {client.name}"}),
        )
        .await;
    assert_eq!(st, 201, "{mine}");
    let (st, e) = anna
        .post(
            "/api/v1/replies",
            json!({"shortcut": "hello", "text": "again"}),
        )
        .await;
    assert_eq!(st, 409, "taken by the shared one: {e}");
    let (st, e) = anna
        .post("/api/v1/replies", json!({"shortcut": "a b", "text": "x"}))
        .await;
    assert_eq!((st.as_u16(), e["field"].clone()), (422, json!("shortcut")));
    let (st, e) = anna
        .post(
            "/api/v1/replies",
            json!({"shortcut": "bad", "text": "Hi {client.nonsense}"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["field"].clone()),
        (422, json!("text")),
        "{e}"
    );
    // Ivan may use "price" for his own: personal shortcuts are per manager.
    let (st, _) = ivan
        .post(
            "/api/v1/replies",
            json!({"shortcut": "price", "text": "Ivan's prices"}),
        )
        .await;
    assert_eq!(st, 201);

    let (_, list) = anna.get("/api/v1/replies").await;
    assert_eq!(shortcuts(&list), vec!["hello", "price"]);
    let (_, list) = anna.get("/api/v1/replies?q=pr").await;
    assert_eq!(shortcuts(&list), vec!["price"], "shortcut prefix");
    let (_, list) = anna.get("/api/v1/replies?q=list").await;
    assert_eq!(shortcuts(&list), vec!["price"], "text");
    let (_, list) = ivan.get("/api/v1/replies?q=price").await;
    assert_eq!(list["items"][0]["text"], "Ivan's prices", "only his own");

    // Shared: only admins change or delete; personal: only the owner (others get 404).
    let sid = &shared["id"];
    let (st, _) = anna
        .send(
            "PATCH",
            &format!("/api/v1/replies/{sid}"),
            Some(json!({"text": "Hi"})),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = anna
        .send("DELETE", &format!("/api/v1/replies/{sid}"), None)
        .await;
    assert_eq!(st, 403);
    let mid = &mine["id"];
    let (st, _) = ivan
        .send("DELETE", &format!("/api/v1/replies/{mid}"), None)
        .await;
    assert_eq!(st, 404, "another manager's personal reply is not even seen");
    let (st, _) = anna
        .send(
            "PATCH",
            &format!("/api/v1/replies/{mid}"),
            Some(json!({"shared": true})),
        )
        .await;
    assert_eq!(st, 403, "a manager cannot share");
    let (st, r) = anna
        .send(
            "PATCH",
            &format!("/api/v1/replies/{mid}"),
            Some(json!({"shortcut": "prices", "text": "New prices"})),
        )
        .await;
    assert_eq!((st.as_u16(), r["shortcut"].clone()), (200, json!("prices")));
    let (st, r) = boss
        .send(
            "PATCH",
            &format!("/api/v1/replies/{sid}"),
            Some(json!({"text": "Good day!"})),
        )
        .await;
    assert_eq!((st.as_u16(), r["text"].clone()), (200, json!("Good day!")));
    let (st, _) = anna
        .send("DELETE", &format!("/api/v1/replies/{mid}"), None)
        .await;
    assert_eq!(st, 204);
    let (_, list) = anna.get("/api/v1/replies").await;
    assert_eq!(shortcuts(&list), vec!["hello"]);
}
