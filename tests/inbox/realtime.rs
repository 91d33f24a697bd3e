//! The WebSocket: events after commit, replay on reconnect, Origin check, typing relay,
//! closed on sign-out.

use serde_json::json;

use crate::support::ws::connect;
use crate::support::{TestApp, api_channel};

#[tokio::test]
async fn events_arrive_live_and_replay_after_a_reconnect() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let origin = app.url.clone();
    let mut ws = connect(&app, &b.cookie(), Some(&origin), "").await.unwrap();
    let hello = ws.next(5).await.unwrap();
    assert_eq!(hello["type"], "hello");
    let v = app.client_says("c", "Olga", "m1", "live one").await;
    let ev = ws
        .until(5, |e| e["type"] == "message.created")
        .await
        .expect("live message event");
    assert_eq!(ev["data"]["message"]["text"], "live one");
    assert_eq!(ev["data"]["chat_id"], v["chat_id"]);
    let row = ws.until(5, |e| e["type"] == "chat.updated").await.unwrap();
    assert_eq!(row["data"]["row"]["name"], "Olga");
    let counts = ws.until(5, |e| e["type"] == "counts").await.unwrap();
    assert_eq!(counts["data"]["unread"], 1);
    let seen = counts["seq"].as_u64().unwrap();
    drop(ws);

    // While disconnected, more happens; the reconnect replays exactly what was missed.
    app.client_says("c", "Olga", "m2", "missed one").await;
    let mut ws = connect(&app, &b.cookie(), Some(&origin), &format!("?since={seen}"))
        .await
        .unwrap();
    ws.next(5).await.unwrap();
    let ev = ws
        .until(5, |e| e["type"] == "message.created")
        .await
        .expect("replayed");
    assert_eq!(ev["data"]["message"]["text"], "missed one");
    assert!(ev["seq"].as_u64().unwrap() > seen);
    app.stop().await;
}

#[tokio::test]
async fn handshake_needs_session_and_same_origin_and_closes_on_sign_out() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    assert_eq!(
        connect(&app, "__Host-parley=nope", Some(&app.url), "")
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        connect(&app, &b.cookie(), Some("https://evil.example"), "")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(connect(&app, &b.cookie(), None, "").await.err(), Some(403));
    let mut ws = connect(&app, &b.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    ws.next(5).await.unwrap();
    let (st, _) = b.send("DELETE", "/api/v1/session", None).await;
    assert_eq!(st, 204);
    assert!(ws.closed(5).await, "signing out closes the socket");
    app.stop().await;
}

#[tokio::test]
async fn typing_is_relayed_to_other_managers() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("anna", "manager").await;
    app.add_manager("ivan", "manager").await;
    let a = app.login("anna").await;
    let i = app.login("ivan").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let mut wa = connect(&app, &a.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let mut wi = connect(&app, &i.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    wa.next(5).await.unwrap();
    wi.next(5).await.unwrap();
    wa.send(json!({"type": "typing", "chat_id": chat})).await;
    let t = wi
        .until(5, |e| e["type"] == "typing")
        .await
        .expect("ivan sees anna typing");
    assert_eq!(t["data"]["name"], "anna name");
    assert_eq!(t["data"]["chat_id"], chat);
    let (_, ty) = i.get(&format!("/api/v1/chats/{chat}/typing")).await;
    assert_eq!(ty["items"][0]["name"], "anna name");
    let (_, ty) = a.get(&format!("/api/v1/chats/{chat}/typing")).await;
    assert!(
        ty["items"].as_array().unwrap().is_empty(),
        "own typing is not listed"
    );
    assert!(
        wa.until(1, |e| e["type"] == "typing").await.is_none(),
        "no echo to the typist"
    );
    app.stop().await;
}
