//! Outbound delivery through the API channel callback: signing, retries with backoff, a
//! restart in the middle, notes never sent, blacklisted clients, manual retry.

use serde_json::json;

use crate::support::fake::Fake;
use crate::support::{SECRET, TestApp, api_channel};

fn hmac(body: &[u8]) -> String {
    parley::channels::api::sign(SECRET, body)
}

async fn status_of(
    b: &crate::support::Browser,
    chat: u64,
    text: &str,
    want: &str,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
        let m = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == text)
            .cloned()
            .unwrap();
        if m["status"] == want || std::time::Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn replies_are_signed_retried_and_notes_never_sent() {
    let cb = Fake::start(&[503, 502]).await;
    let app = TestApp::spawn_with(&api_channel("crm", Some(&cb.url("/hook")))).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let v = app.client_says("crm-1", "Olga", "m1", "hello").await;
    let chat = v["chat_id"].as_u64().unwrap();
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "Order shipped"}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["status"], "queued");
    assert_eq!(m["kind"], "manager");
    assert_eq!(m["author"]["name"], "boss name");
    let (st, _) = b
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "internal only", "mentions": []}),
        )
        .await;
    assert_eq!(st, 201);

    let reqs = cb.wait_for(20, |r| r.len() >= 3).await;
    assert_eq!(reqs.len(), 3, "two failures, then success");
    for r in &reqs {
        assert_eq!(
            r.header("x-parley-signature").unwrap(),
            hmac(&r.body),
            "every attempt is signed"
        );
        let j = r.json();
        assert_eq!(j["event"], "message.created");
        assert_eq!(j["contact"]["external_id"], "crm-1");
        assert_eq!(j["message"]["text"], "Order shipped");
        assert_eq!(j["message"]["kind"], "manager");
        assert_eq!(j["chat_id"], chat);
    }
    let m = status_of(&b, chat, "Order shipped", "sent").await;
    assert_eq!(m["status"], "sent");
    assert!(m["error"].is_null());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        cb.requests()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("internal only")),
        "a note never reaches the client"
    );
    app.stop().await;
}

#[tokio::test]
async fn pending_delivery_survives_a_restart() {
    // The callback is down for the whole first run.
    let cb = Fake::start(&[503; 200]).await;
    let app = TestApp::spawn_with(&api_channel("crm", Some(&cb.url("/hook")))).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "across restarts"}),
    )
    .await;
    cb.wait_for(10, |r| !r.is_empty()).await;
    let app = app.restart().await;
    // Now it answers.
    cb.script.lock().unwrap().clear();
    let n = cb.requests().len();
    let reqs = cb.wait_for(30, |r| r.len() > n).await;
    assert!(reqs.len() > n, "the restarted server resumed the delivery");
    let b = app.login("boss").await;
    let m = status_of(&b, chat, "across restarts", "sent").await;
    assert_eq!(m["status"], "sent");
    app.stop().await;
}

#[tokio::test]
async fn permanent_failures_show_the_reason_and_can_be_retried() {
    let cb = Fake::start(&[400]).await;
    let app = TestApp::spawn_with(&api_channel("crm", Some(&cb.url("/hook")))).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let v = app.client_says("c", "Olga", "m1", "hi").await;
    let chat = v["chat_id"].as_u64().unwrap();
    let (_, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "first try"}),
        )
        .await;
    let failed = status_of(&b, chat, "first try", "failed").await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("400"),
        "{failed}"
    );
    let (st, r) = b
        .post(&format!("/api/v1/messages/{}/retry", m["id"]), json!({}))
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "queued");
    assert_eq!(
        status_of(&b, chat, "first try", "sent").await["status"],
        "sent"
    );
    let (st, _) = b
        .post(&format!("/api/v1/messages/{}/retry", m["id"]), json!({}))
        .await;
    assert_eq!(st, 409, "only failed messages are retried");

    // Blacklisted: stored, shown failed, never sent.
    let cid = v["contact_id"].as_u64().unwrap();
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{cid}"),
        Some(json!({"blacklisted": true})),
    )
    .await;
    let before = cb.requests().len();
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "to a blacklisted client"}),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("blacklisted"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(cb.requests().len(), before);
    // Client messages from a blacklisted client are still stored.
    app.client_says("c", "Olga", "m2", "still here").await;
    let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(
        h["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "still here")
    );
    let (st, v) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "  "}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_always_fails_ends_failed_after_the_configured_attempts() {
    // Three attempts with waits of 50 and 100 ms: the policy of the README, made short.
    let cb = Fake::start(&[503; 50]).await;
    let config = format!(
        "{}[delivery]\nmax_attempts = 3\nmax_backoff_secs = 1\n",
        api_channel("crm", Some(&cb.url("/hook")))
    );
    let app = TestApp::spawn_with(&config).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let (st, _) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "never lands"}),
        )
        .await;
    assert_eq!(st, 201);
    let m = status_of(&b, chat, "never lands", "failed").await;
    assert_eq!(m["status"], "failed", "{m}");
    let error = m["error"].as_str().unwrap();
    assert!(
        error.contains("503") && error.contains("gave up after 3 attempts"),
        "the message shows the last reason and the give-up: {error}"
    );
    assert_eq!(cb.requests().len(), 3, "exactly the configured attempts");
    // Well past what a fourth attempt would have waited: nothing more goes out, and the
    // outbox holds nothing for it.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(cb.requests().len(), 3, "no attempt after giving up");
    let m = status_of(&b, chat, "never lands", "failed").await;
    assert_eq!(m["status"], "failed");
    app.stop().await;
}

#[tokio::test]
async fn channel_state_survives_a_restart() {
    let cb = Fake::start(&[400]).await;
    let app = TestApp::spawn_with(&api_channel("crm", Some(&cb.url("/hook")))).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "refused"}),
    )
    .await;
    status_of(&b, chat, "refused", "failed").await;
    let status = |v: &serde_json::Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "crm")
            .unwrap()["status"]
            .clone()
    };
    let (_, v) = b.get("/api/v1/channels").await;
    let before = status(&v);
    assert!(before["last_inbound_ms"].as_i64().is_some(), "{before}");
    assert!(
        before["last_error"].as_str().unwrap().contains("400"),
        "{before}"
    );
    assert!(before["last_error_ms"].as_i64().is_some(), "{before}");

    let app = app.restart().await;
    let b = app.login("boss").await;
    let (_, v) = b.get("/api/v1/channels").await;
    let after = status(&v);
    for key in ["last_inbound_ms", "last_error", "last_error_ms"] {
        assert_eq!(after[key], before[key], "{key} kept across the restart");
    }
    assert_eq!(after["state"], "ready", "the state is this run's");
    app.stop().await;
}

/// A reply between attempts says why and when the next one comes; "Retry now" tries at once,
/// "Cancel" stops it for good, naming who cancelled it (issue 13, item 1).
#[tokio::test]
async fn a_retrying_reply_shows_why_and_can_be_retried_now_or_cancelled() {
    use crate::support::fake::Reply;
    let busy =
        || Reply::json(503, json!({"error": "maintenance"})).with_header("retry-after", "30");
    let cb = Fake::with_handler(std::sync::Arc::new(move |_| busy())).await;
    let app = TestApp::spawn_with(&format!(
        "[delivery]\nmax_backoff_secs = 60\n\n{}",
        api_channel("crm", Some(&cb.url("/hook")))
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let (st, _) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "will it go"}),
        )
        .await;
    assert_eq!(st, 201);
    cb.wait_for(10, |r| !r.is_empty()).await;
    let find = |h: &serde_json::Value| {
        h["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == "will it go")
            .cloned()
            .unwrap()
    };
    let mut m = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
        m = find(&h);
        if !m["delivery"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(m["status"], "queued", "{m}");
    let d = &m["delivery"];
    assert_eq!(d["attempts"], 1, "{m}");
    assert!(
        d["last_error"].as_str().unwrap().contains("503"),
        "the reason is shown: {m}"
    );
    let wait = d["next_attempt_ms"].as_i64().unwrap() - parley::store::now_ms();
    assert!(
        (20_000..=31_000).contains(&wait),
        "the platform's Retry-After schedules the next attempt: {wait} ms"
    );

    // Retry now: the second attempt comes at once, not in 30 s.
    let id = m["id"].as_u64().unwrap();
    let (st, _) = b
        .post(&format!("/api/v1/messages/{id}/retry"), json!({}))
        .await;
    assert_eq!(st, 200);
    let reqs = cb.wait_for(5, |r| r.len() >= 2).await;
    assert_eq!(reqs.len(), 2, "Retry now tried again at once");
    for _ in 0..100 {
        let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
        m = find(&h);
        if m["delivery"]["attempts"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(m["delivery"]["attempts"], 2, "{m}");

    // Cancel: failed with who and why, never tried again, Retry still possible.
    let (st, c) = b
        .post(&format!("/api/v1/messages/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["status"], "failed");
    let err = c["error"].as_str().unwrap();
    assert!(
        err.contains("cancelled by boss name")
            && err.contains("2 failed attempts")
            && err.contains("503"),
        "{err}"
    );
    let (st, _) = b
        .post(&format!("/api/v1/messages/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, 409, "nothing left to cancel");
    let (st, _) = b
        .post(&format!("/api/v1/messages/{id}/retry"), json!({}))
        .await;
    assert_eq!(st, 200, "a cancelled reply can be retried by hand");
    let reqs = cb.wait_for(5, |r| r.len() >= 3).await;
    assert_eq!(reqs.len(), 3);
    let (st, _) = b
        .post(&format!("/api/v1/messages/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, 200);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(cb.requests().len(), 3, "a cancelled reply is not sent");
    app.stop().await;
}
