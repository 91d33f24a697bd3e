//! Issue 13 items 7 and 10: every action on a chat or client leaves a system message in the
//! chat's history and a client-log entry naming the manager; the AI switch cannot be turned on
//! without a configured assistant; the notification names the client.

use serde_json::{Value, json};

use crate::support::ws::connect;
use crate::support::{Browser, TestApp, api_channel};

const HELPER: &str = "[[assistants]]\nid = \"helper\"\nname = \"Shop helper\"\nurl = \"https://ai.example/v1\"\nmodel = \"m\"\n";

/// The chat's system messages as (event, text, author id), oldest first.
async fn system_messages(b: &Browser, chat: u64) -> Vec<(String, String, Value)> {
    let (st, v) = b
        .get(&format!("/api/v1/chats/{chat}/messages?kinds=system"))
        .await;
    assert_eq!(st, 200, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["event"].as_str().unwrap_or_default().to_string(),
                m["text"].as_str().unwrap().to_string(),
                m["author"]["id"].clone(),
            )
        })
        .collect()
}

/// The client log as (event, text, manager id), newest first.
async fn log(b: &Browser, contact: u64) -> Vec<(String, String, Value)> {
    let (st, v) = b.get(&format!("/api/v1/contacts/{contact}/log")).await;
    assert_eq!(st, 200, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["text"].as_str().unwrap().to_string(),
                e["manager_id"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_chat_action_leaves_a_system_message_and_a_log_entry_naming_the_manager() {
    let app = TestApp::spawn_with(&format!(
        "{}{}{HELPER}",
        api_channel("crm", None),
        api_channel("shop", None)
    ))
    .await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let b = app.login("anna").await;
    // Two chats of one client: the older one (crm) is acted on, so the message must land in
    // that chat, not in the client's most recent one.
    let v = app.client_says("c1", "Olga", "m1", "hi").await;
    let (contact, chat) = (
        v["contact_id"].as_u64().unwrap(),
        v["chat_id"].as_u64().unwrap(),
    );
    let (st, v) = app
        .inbound(
            "shop",
            json!({"external_id": "c1", "name": "Olga"}),
            json!({"external_id": "s1", "text": "again"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let other = v["chat_id"].as_u64().unwrap();
    assert_ne!(other, chat);
    // The web UI links contacts across channels by phone/e-mail; the API channel may create a
    // second contact here. Either way the action must not leak into another chat.
    let other_contact = v["contact_id"].as_u64().unwrap();

    let mut ws = connect(&app, &b.cookie(), Some(&app.url.clone()), "")
        .await
        .unwrap();
    assert_eq!(ws.next(5).await.unwrap()["type"], "hello");

    let path = format!("/api/v1/chats/{chat}");
    let steps: Vec<(&str, Option<Value>, &str, &str)> = vec![
        (
            "PATCH",
            Some(json!({"disabled": true})),
            "chat_disabled",
            "anna name disabled the chat",
        ),
        (
            "PATCH",
            Some(json!({"disabled": false})),
            "chat_enabled",
            "anna name enabled the chat",
        ),
        (
            "PATCH",
            Some(json!({"bot_disabled": true})),
            "bot_disabled",
            "anna name disabled bot messages",
        ),
        (
            "PATCH",
            Some(json!({"bot_disabled": false})),
            "bot_enabled",
            "anna name enabled bot messages",
        ),
        (
            "PATCH",
            Some(json!({"assistant_on": true})),
            "assistant_on",
            "anna name turned the AI assistant on (Shop helper)",
        ),
        (
            "PATCH",
            Some(json!({"assistant_on": false})),
            "assistant_off",
            "anna name turned the AI assistant off",
        ),
        (
            "POST",
            Some(json!({})),
            "assistant_reset",
            "anna name reset the AI assistant",
        ),
    ];
    for (i, (method, body, event, text)) in steps.iter().enumerate() {
        let p = if *method == "POST" {
            format!("{path}/assistant/reset")
        } else {
            path.clone()
        };
        let (st, v) = b.send(method, &p, body.clone()).await;
        assert_eq!(st, 200, "{event}: {v}");
        let sys = system_messages(&b, chat).await;
        assert_eq!(sys.len(), i + 1, "one system message per action: {sys:?}");
        assert_eq!(
            sys.last().unwrap(),
            &(event.to_string(), text.to_string(), json!(anna)),
            "history after {event}"
        );
        let entries = log(&b, contact).await;
        assert_eq!(
            entries[0],
            (
                event.to_string(),
                format!("{text} in the crm channel chat"),
                json!(anna)
            ),
            "client log after {event}"
        );
        // Managers watching see the system message arrive live.
        let ev = ws
            .until(5, |e| {
                e["type"] == "message.created" && e["data"]["message"]["event"] == *event
            })
            .await
            .unwrap_or_else(|| panic!("no live system message for {event}"));
        assert_eq!(ev["data"]["chat_id"], chat);
        assert_eq!(ev["data"]["message"]["text"], *text);
    }
    let (_, ch) = b.get(&path).await;
    assert_eq!(
        (
            ch["chat"]["disabled"].clone(),
            ch["chat"]["assistant_on"].clone()
        ),
        (json!(false), json!(false))
    );

    // A patch that changes nothing leaves no trace.
    let before = log(&b, contact).await.len();
    let (st, _) = b
        .send("PATCH", &path, Some(json!({"disabled": false})))
        .await;
    assert_eq!(st, 200);
    assert_eq!(system_messages(&b, chat).await.len(), steps.len());
    assert_eq!(log(&b, contact).await.len(), before);

    // Choosing an assistant while the switch is off is an action too.
    let (st, _) = b
        .send("PATCH", &path, Some(json!({"assistant": "helper"})))
        .await;
    assert_eq!(st, 200);
    let sys = system_messages(&b, chat).await;
    assert_eq!(
        sys.last().unwrap().1,
        "anna name chose the AI assistant Shop helper"
    );

    // Dialog open and close: in the history and the log, with who did it.
    let (st, d) = b
        .post(&format!("/api/v1/contacts/{contact}/dialogs"), json!({}))
        .await;
    assert!(st.is_success(), "{d}");
    let (st, _) = b
        .post(&format!("/api/v1/dialogs/{}/close", d["id"]), json!({}))
        .await;
    assert!(st.is_success());
    let entries = log(&b, contact).await;
    assert_eq!(
        (entries[0].0.as_str(), entries[0].2.clone()),
        ("dialog_closed", json!(anna))
    );
    assert_eq!(
        (entries[1].0.as_str(), entries[1].2.clone()),
        ("dialog_opened", json!(anna))
    );
    assert!(entries[0].1.contains("anna name"), "{entries:?}");
    let chats_of_contact: Vec<u64> = {
        let (_, card) = b.get(&format!("/api/v1/contacts/{contact}")).await;
        card["chats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect()
    };
    let mut dialog_events = Vec::new();
    for c in chats_of_contact {
        for (e, t, who) in system_messages(&b, c).await {
            if e.starts_with("dialog_") {
                dialog_events.push((e, t, who));
            }
        }
    }
    assert_eq!(
        dialog_events,
        [
            (
                "dialog_opened".to_string(),
                "anna name opened a dialog".to_string(),
                json!(anna)
            ),
            (
                "dialog_closed".to_string(),
                "anna name closed the dialog".to_string(),
                json!(anna)
            ),
        ]
    );

    // None of the chat actions leaked into the other chat.
    let leaked: Vec<_> = system_messages(&b, other)
        .await
        .into_iter()
        .filter(|(e, _, _)| {
            e.starts_with("chat_") || e.starts_with("bot_") || e.starts_with("assistant")
        })
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    if other_contact != contact {
        assert!(log(&b, other_contact).await.is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn the_ai_switch_cannot_be_turned_on_without_a_configured_assistant() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("anna", "manager").await;
    let b = app.login("anna").await;
    let v = app.client_says("c1", "Olga", "m1", "hi").await;
    let (contact, chat) = (
        v["contact_id"].as_u64().unwrap(),
        v["chat_id"].as_u64().unwrap(),
    );
    let path = format!("/api/v1/chats/{chat}");
    let (st, e) = b
        .send("PATCH", &path, Some(json!({"assistant_on": true})))
        .await;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no AI assistant is configured"),
        "{e}"
    );
    // Nothing half-written: the switch stays off and no trace of an action that did not happen.
    let (_, ch) = b.get(&path).await;
    assert_eq!(ch["chat"]["assistant_on"], false);
    assert!(system_messages(&b, chat).await.is_empty());
    assert!(log(&b, contact).await.is_empty());
    // Together with a valid change, the whole patch is refused.
    let (st, _) = b
        .send(
            "PATCH",
            &path,
            Some(json!({"disabled": true, "assistant_on": true})),
        )
        .await;
    assert_eq!(st, 422);
    let (_, ch) = b.get(&path).await;
    assert_eq!(ch["chat"]["disabled"], false);
    // The assistants endpoint the UI reads to hide the switch says there are none.
    let (_, list) = b.get("/api/v1/assistants").await;
    assert_eq!(list["items"], json!([]));

    // With an assistant configured: an unknown id is refused by name; a valid one works.
    let dir = app.dir.clone();
    let tmp = app.stop().await;
    let app = TestApp::start_in(&dir, &format!("{}{HELPER}", api_channel("crm", None))).await;
    let b = app.login("anna").await;
    let (st, e) = b
        .send(
            "PATCH",
            &path,
            Some(json!({"assistant_on": true, "assistant": "nobody"})),
        )
        .await;
    assert_eq!(st, 422);
    assert!(e["message"].as_str().unwrap().contains("nobody"), "{e}");
    let (st, ch) = b
        .send("PATCH", &path, Some(json!({"assistant_on": true})))
        .await;
    assert_eq!(st, 200, "{ch}");
    assert_eq!(
        (ch["assistant_on"].clone(), ch["assistant"].clone()),
        (json!(true), json!("helper")),
        "on with none chosen takes the configured one"
    );
    let (st, _) = b
        .send("PATCH", &path, Some(json!({"assistant_on": false})))
        .await;
    assert_eq!(st, 200);

    // The chosen assistant was removed from the config: turning on again is refused, turning
    // off still works (a chat must never be stuck on).
    let tmp2 = app.stop().await;
    let other = "[[assistants]]\nid = \"other\"\nname = \"Other\"\nurl = \"https://ai.example/v1\"\nmodel = \"m\"\n";
    let app = TestApp::start_in(&dir, &format!("{}{other}", api_channel("crm", None))).await;
    let b = app.login("anna").await;
    let (st, e) = b
        .send("PATCH", &path, Some(json!({"assistant_on": true})))
        .await;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no longer in the config"),
        "{e}"
    );
    app.stop().await;
    drop((tmp, tmp2));
}

#[tokio::test]
async fn the_notification_names_the_client() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let a = app.login("anna").await;
    let v = app.client_says("c1", "Olga Petrova", "m1", "hi").await;
    let (contact, chat) = (
        v["contact_id"].as_u64().unwrap(),
        v["chat_id"].as_u64().unwrap(),
    );
    let mut ws = connect(&app, &a.cookie(), Some(&app.url.clone()), "")
        .await
        .unwrap();
    assert_eq!(ws.next(5).await.unwrap()["type"], "hello");
    let (st, _) = boss
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "please call back", "mentions": [anna]}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, n) = a.get("/api/v1/notifications").await;
    assert_eq!(
        n["items"][0]["contact"],
        json!({"id": contact, "name": "Olga Petrova"})
    );
    let ev = ws
        .until(5, |e| e["type"] == "notification.created")
        .await
        .expect("live notification");
    assert_eq!(ev["data"]["contact"]["name"], "Olga Petrova");
    app.stop().await;
}
