//! Assignment (T1): a client's responsible manager set through the API, the "mine" and
//! "unassigned" lists, the system message, the client log and the assignee's notification.

use serde_json::{Value, json};

use crate::support::{TestApp, api_channel};

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_client_gets_one_responsible_manager_and_the_lists_follow() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    let boss_id = app.add_manager("boss", "admin").await["id"]
        .as_u64()
        .unwrap();
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let anna = app.login("anna").await;
    let olga = app.client_says("o", "Olga", "m1", "hello").await;
    let petr = app.client_says("p", "Petr", "m2", "hi").await;
    app.client_says("r", "Rita", "m3", "hey").await;
    let (olga_id, petr_id) = (olga["contact_id"].clone(), petr["contact_id"].clone());

    let (st, c) = boss
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{olga_id}"),
            Some(json!({"assignee": anna_id})),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["assignee"], anna_id);
    let (st, _) = anna
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{petr_id}"),
            Some(json!({"assignee": anna_id})),
        )
        .await;
    assert_eq!(st, 200);
    app.wait_search().await;

    let (st, mine) = anna.get("/api/v1/chats?section=all&assigned=me").await;
    assert_eq!(st, 200, "{mine}");
    assert_eq!(names(&mine), vec!["Olga", "Petr"]);
    assert_eq!(mine["total"], 2);
    let (_, boss_mine) = boss.get("/api/v1/chats?section=all&assigned=me").await;
    assert!(names(&boss_mine).is_empty(), "{boss_mine}");
    let (_, none) = boss.get("/api/v1/chats?section=all&assigned=none").await;
    assert_eq!(names(&none), vec!["Rita"]);
    let (_, by_id) = boss
        .get(&format!(
            "/api/v1/chats?section=all&assigned={anna_id}&q=olga"
        ))
        .await;
    assert_eq!(names(&by_id), vec!["Olga"], "with search text too");
    let (st, e) = boss.get("/api/v1/chats?assigned=someone").await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["field"], "assigned");

    // The history, the client log and the notification.
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{}/messages", olga["chat_id"]))
        .await;
    let sys: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "system")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        sys.contains(&"boss name assigned the client to anna name"),
        "{sys:?}"
    );
    let (_, log) = boss.get(&format!("/api/v1/contacts/{olga_id}/log")).await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "assigned"),
        "{log}"
    );
    let (_, n) = anna.get("/api/v1/notifications").await;
    let items = n["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "Petr was taken by Anna herself: {n}");
    assert_eq!(items[0]["contact_id"], olga_id);
    assert_eq!(items[0]["from"]["name"], "boss name");

    // Unassign, and an unknown manager is refused naming the field.
    let (st, c) = boss
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{olga_id}"),
            Some(json!({"assignee": null})),
        )
        .await;
    assert_eq!((st.as_u16(), c["assignee"].clone()), (200, Value::Null));
    let (st, e) = boss
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{olga_id}"),
            Some(json!({"assignee": 999})),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["field"], "assignee");
    app.wait_search().await;
    let (_, none) = boss.get("/api/v1/chats?section=all&assigned=none").await;
    assert_eq!(names(&none), vec!["Olga", "Rita"]);
    let _ = boss_id;
}
