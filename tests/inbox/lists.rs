//! Sections, counts, ordering and paging of the person-centric chat list.

use serde_json::{Value, json};

use crate::support::{Browser, TestApp, api_channel};

async fn names(b: &Browser, q: &str) -> (Vec<String>, Value) {
    let (st, v) = b.get(&format!("/api/v1/chats?{q}")).await;
    assert_eq!(st, 200, "{v}");
    let n = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    (n, v["counts"].clone())
}

#[tokio::test]
async fn sections_and_counts_follow_every_change() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let anna = app.client_says("a", "Anna", "1", "hello").await;
    app.client_says("b", "Boris", "2", "hi").await;
    let (all, counts) = names(&b, "section=all").await;
    assert_eq!(all, ["Boris", "Anna"], "newest first");
    assert_eq!(
        counts,
        json!({"all": 2, "unread": 2, "important": 0, "dialogs": 0})
    );
    let (oldest, _) = names(&b, "section=all&sort=oldest").await;
    assert_eq!(oldest, ["Anna", "Boris"]);

    // A new message moves its client to the top; reading is explicit only.
    app.client_says("a", "Anna", "3", "again").await;
    assert_eq!(names(&b, "").await.0, ["Anna", "Boris"]);
    let chat = anna["chat_id"].as_u64().unwrap();
    let (_, _) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert_eq!(
        names(&b, "section=unread").await.0,
        ["Anna", "Boris"],
        "opening a chat does not mark it read"
    );
    let (st, v) = b
        .post(&format!("/api/v1/chats/{chat}/read"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["chat"]["unread"], 0);
    let (unread, counts) = names(&b, "section=unread").await;
    assert_eq!(unread, ["Boris"]);
    assert_eq!(counts["unread"], 1);
    assert_eq!(counts["all"], 2);

    // Important: first open task in, last one done out.
    let cid = anna["contact_id"].as_u64().unwrap();
    let (_, t1) = b
        .post(
            &format!("/api/v1/contacts/{cid}/tasks"),
            json!({"title": "Call back"}),
        )
        .await;
    let (_, t2) = b
        .post(
            &format!("/api/v1/contacts/{cid}/tasks"),
            json!({"title": "Send invoice"}),
        )
        .await;
    let (imp, counts) = names(&b, "section=important").await;
    assert_eq!(
        (imp, counts["important"].clone()),
        (vec!["Anna".to_string()], json!(1))
    );
    let (_, list) = b.get("/api/v1/chats").await;
    assert_eq!(list["items"][0]["open_task"], true);
    b.send(
        "PATCH",
        &format!("/api/v1/tasks/{}", t1["id"]),
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(
        names(&b, "section=important").await.0,
        ["Anna"],
        "one task still open"
    );
    let (st, _) = b
        .send(
            "PATCH",
            &format!("/api/v1/tasks/{}", t2["id"]),
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(st, 200);
    assert!(names(&b, "section=important").await.0.is_empty());

    // Dialogs.
    let (st, d) = b
        .post(&format!("/api/v1/contacts/{cid}/dialogs"), json!({}))
        .await;
    assert_eq!(st, 201);
    let (st, d2) = b
        .post(&format!("/api/v1/contacts/{cid}/dialogs"), json!({}))
        .await;
    assert_eq!(
        (st.as_u16(), &d2["id"]),
        (200, &d["id"]),
        "the active dialog is picked, not a second one"
    );
    assert_eq!(names(&b, "section=dialogs").await.0, ["Anna"]);
    b.post(&format!("/api/v1/dialogs/{}/close", d["id"]), json!({}))
        .await;
    assert_eq!(names(&b, "section=dialogs").await.1["dialogs"], 0);

    // Archive hides the client until they write again.
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{cid}"),
        Some(json!({"archived": true})),
    )
    .await;
    assert_eq!(
        names(&b, "").await,
        (
            vec!["Boris".to_string()],
            json!({"all": 1, "unread": 1, "important": 0, "dialogs": 0})
        )
    );
    app.client_says("a", "Anna", "4", "are you there?").await;
    assert_eq!(names(&b, "").await.0, ["Anna", "Boris"]);

    // System messages recorded the events in order.
    let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
    let events: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["event"].as_str())
        .collect();
    assert_eq!(
        events,
        [
            "task_added",
            "task_added",
            "task_done",
            "task_done",
            "dialog_opened",
            "dialog_closed",
            "archived"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_params_are_named() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    for i in 0..7 {
        app.client_says(
            &format!("c{i}"),
            &format!("Client {i}"),
            &format!("m{i}"),
            "x",
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, v) = b
            .get(&format!("/api/v1/chats?limit=3&cursor={cursor}"))
            .await;
        for r in v["items"].as_array().unwrap() {
            seen.push(r["name"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).rev().map(|i| format!("Client {i}")).collect();
    assert_eq!(seen, want);
    let (st, v) = b.get("/api/v1/chats?section=spam").await;
    assert_eq!(st, 422);
    assert!(v["message"].as_str().unwrap().starts_with("section"));
    let (st, _) = b.get("/api/v1/chats?cursor=zz").await;
    assert_eq!(st, 422);
    let (st, _) = b.get("/api/v1/chats/999/messages").await;
    assert_eq!(st, 404);
    let (st, _) = b.get("/api/v1/chats/abc").await;
    assert_eq!(st, 400);
    app.stop().await;
}
