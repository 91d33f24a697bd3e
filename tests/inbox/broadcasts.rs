//! Broadcasts (B3) through the real server: a WhatsApp template reaches the Graph fake as a
//! template (outside the 24-hour window too) and skips clients without a WhatsApp chat; bad
//! templates are refused naming the field; a client whose send fails in the store counts as
//! failed and the broadcast still finishes. Pacing, pause and cancel: tests/inbox/funnels.rs.

use std::time::Duration;

use parley::store::inbox::InboxReads;
use serde_json::{Value, json};

use crate::support::whatsapp::{self as wa, WaFake, body, msg};
use crate::support::{Browser, TestApp, api_channel};

const CLIENT: &str = "79161234567";

async fn spawn() -> (TestApp, WaFake, Browser) {
    let fake = WaFake::start().await;
    let app = TestApp::spawn_with(&format!(
        "{}{}",
        wa::channel("wa", &fake.base(), ""),
        api_channel("crm", None)
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    (app, fake, boss)
}

/// Wait until the broadcast's report satisfies `pred`.
async fn report_until(boss: &Browser, id: &Value, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, b) = boss.get(&format!("/api/v1/broadcasts/{id}")).await;
        if pred(&b) {
            return b;
        }
        last = b;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("broadcast report never got there: {last}");
}

const EVERYONE: &str = r#"{"messengers": ["whatsapp", "api"]}"#;

fn everyone() -> Value {
    serde_json::from_str(EVERYONE).unwrap()
}

#[tokio::test]
async fn a_whatsapp_template_broadcast_sends_the_template_and_skips_other_chats() {
    let (app, fake, boss) = spawn().await;
    let (st, r) = app
        .wa_post(
            "wa",
            &body(wa::messages(
                CLIENT,
                "Anna",
                vec![msg(CLIENT, "wamid.IN1", "text", json!({"body": "hi"}))],
            )),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    app.client_says("c1", "Boris", "m-1", "hello").await;
    let (_, rows) = boss.get("/api/v1/chats").await;
    let wa_chat = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel_kind"] == "whatsapp")
        .map(|r| r["default_chat_id"].as_u64().unwrap())
        .unwrap();
    // Two days since Anna wrote: only a template may reach her now.
    app.running()
        .state
        .inbox
        .store
        .write(move |w| {
            let mut c = w.chat(wa_chat)?.unwrap();
            c.last_inbound_ms -= 48 * 3600 * 1000;
            parley::store::inbox::put_chat(w, &c)
        })
        .await
        .unwrap();
    app.wait_search().await;

    let (st, b) = boss
        .post(
            "/api/v1/broadcasts",
            json!({"name": "Orders", "filter": everyone(),
                   "whatsapp_template": {"name": "order_update", "language": "en_US",
                                         "params": ["{client.name}", "#42  is\nready"]}}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["total"], 2);
    assert_eq!(
        b["whatsapp_template"],
        json!({"name": "order_update", "language": "en_US", "params": ["{client.name}", "#42  is\nready"]})
    );
    let r = report_until(&boss, &b["id"], |r| {
        r["state"] == "done" && r["counts"]["sent"].as_u64() == Some(1)
    })
    .await;
    assert_eq!(r["counts"]["skipped"], 1, "{r}");
    assert_eq!(
        r["reasons"],
        json!([{"reason": "not a WhatsApp chat", "count": 1}])
    );

    let sends = fake.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].json(),
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CLIENT,
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Anna"},
                    {"type": "text", "text": "#42 is ready"},
                ]}]
            }
        })
    );
    // Managers see what went out.
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{wa_chat}/messages?limit=50"))
        .await;
    let bot: Vec<&Value> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "bot")
        .collect();
    assert_eq!(bot.len(), 1, "{h}");
    assert_eq!(
        bot[0]["text"],
        "Template order_update (en_US): Anna, #42  is\nready"
    );
    assert_eq!(bot[0]["status"], "sent");
    app.stop().await;
}

#[tokio::test]
async fn a_bad_whatsapp_template_is_refused_naming_the_field() {
    let (app, fake, boss) = spawn().await;
    let cases = [
        (
            json!({"name": "Order Update", "language": "en_US"}),
            "whatsapp_template.name",
        ),
        (
            json!({"name": "order_update", "language": "english"}),
            "whatsapp_template.language",
        ),
        (
            json!({"name": "x", "language": "en", "params": vec!["p"; 11]}),
            "whatsapp_template.params",
        ),
        (
            json!({"name": "x", "language": "en", "params": ["{client.nmae}"]}),
            "whatsapp_template.params[0]",
        ),
    ];
    for (t, field) in cases {
        let (st, e) = boss
            .post(
                "/api/v1/broadcasts",
                json!({"filter": everyone(), "whatsapp_template": t}),
            )
            .await;
        assert_eq!(st, 422, "{e}");
        assert_eq!(e["field"], field, "{e}");
    }
    let (st, e) = boss
        .post(
            "/api/v1/broadcasts",
            json!({"filter": everyone(), "text": "hi",
                   "whatsapp_template": {"name": "x", "language": "en"}}),
        )
        .await;
    assert_eq!(st, 422, "one payload only: {e}");
    let (_, list) = boss.get("/api/v1/broadcasts").await;
    assert_eq!(list["items"], json!([]), "nothing was created");
    assert!(fake.sends().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_client_whose_send_fails_in_the_store_counts_as_failed_and_the_broadcast_ends() {
    let (app, _fake, boss) = spawn().await;
    for (ext, name) in [("c1", "Anna"), ("c2", "Boris")] {
        app.client_says(ext, name, &format!("m-{ext}"), "hi").await;
    }
    let (st, f) = boss
        .post(
            "/api/v1/funnels",
            json!({"name": "Welcome", "trigger": {"kind": "manual"},
                   "steps": [{"kind": "send", "text": "Hello"}]}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    // The run id sequence no longer decodes: starting any run fails in the store.
    app.running()
        .state
        .inbox
        .store
        .write(|w| parley::store::meta::put(w, b"seq\0run\0", &[1, 2, 3]))
        .await
        .unwrap();
    app.wait_search().await;
    let (st, b) = boss
        .post(
            "/api/v1/broadcasts",
            json!({"filter": everyone(), "funnel": f["id"]}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let r = report_until(&boss, &b["id"], |r| r["state"] == "done").await;
    assert_eq!(r["handled"], 2, "{r}");
    assert_eq!(r["counts"]["failed"], 2, "{r}");
    assert_eq!(r["counts"]["pending"], 0, "{r}");
    let reason = r["reasons"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("unreadable"), "{reason}");
    app.stop().await;
}
