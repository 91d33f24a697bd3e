//! Funnels (B1) through the real server: a keyword funnel with a delay reaches the API
//! channel's callback in order and once; H2 (a disabled chat cancels its runs for good) and
//! H3 (bot messages off skips sends); a condition takes its branch; bad funnels are refused
//! naming the step; the client's runs can be listed and stopped.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fake::{Fake, Recorded};
use crate::support::{Browser, TestApp, api_channel};

/// The bot messages the callback received, in order.
fn bot_texts(reqs: &[Recorded]) -> Vec<String> {
    reqs.iter()
        .map(|r| r.json())
        .filter(|v| v["event"] == "message.created" && v["message"]["kind"] == "bot")
        .map(|v| v["message"]["text"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn setup() -> (TestApp, Fake, Browser) {
    let fake = Fake::start(&[]).await;
    let app = TestApp::spawn_with(&api_channel("crm", Some(&fake.url("/cb")))).await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    (app, fake, boss)
}

async fn funnel(boss: &Browser, body: Value) -> u64 {
    let (st, f) = boss.post("/api/v1/funnels", body).await;
    assert_eq!(st, 201, "{f}");
    f["id"].as_u64().unwrap()
}

async fn history(boss: &Browser, chat: &Value) -> Vec<Value> {
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{chat}/messages?limit=200"))
        .await;
    h["items"].as_array().unwrap().clone()
}

fn texts_of(items: &[Value], kind: &str) -> Vec<String> {
    items
        .iter()
        .filter(|m| m["kind"] == kind)
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_keyword_funnel_with_a_delay_sends_both_messages_in_order_once() {
    let (app, fake, boss) = setup().await;
    funnel(
        &boss,
        json!({"name": "Welcome", "channels": ["crm"],
               "trigger": {"kind": "keyword", "keywords": ["price"]},
               "steps": [{"kind": "send", "text": "Hello, {client.name}!"},
                         {"kind": "delay", "seconds": 3},
                         {"kind": "send", "text": "Still interested?"}]}),
    )
    .await;
    // Not the keyword: nothing happens.
    app.client_says("c-1", "Ирина", "m-1", "hello there").await;
    let r = app
        .client_says("c-1", "Ирина", "m-2", "What is the PRICE?")
        .await;
    let chat = r["chat_id"].clone();

    let got = fake.wait_for(5, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(
        bot_texts(&got),
        vec!["Hello, Ирина!"],
        "the first send at once"
    );
    // During the delay nothing more goes out.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(bot_texts(&fake.requests()).len(), 1, "the delay holds");
    let got = fake.wait_for(12, |r| bot_texts(r).len() >= 2).await;
    assert_eq!(
        bot_texts(&got),
        vec!["Hello, Ирина!", "Still interested?"],
        "both, in order"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(bot_texts(&fake.requests()).len(), 2, "each exactly once");

    let items = history(&boss, &chat).await;
    let system = texts_of(&items, "system");
    assert!(
        system
            .iter()
            .any(|t| t.contains("Funnel Welcome: trigger: keyword")),
        "{system:?}"
    );
    assert!(
        system.iter().any(|t| t == "Funnel Welcome: waiting 3 s"),
        "{system:?}"
    );
    assert!(
        system.iter().any(|t| t == "Funnel Welcome: finished"),
        "{system:?}"
    );
    assert_eq!(texts_of(&items, "bot").len(), 2);

    let contact = r["contact_id"].clone();
    let (_, runs) = boss.get(&format!("/api/v1/contacts/{contact}/runs")).await;
    let runs = runs["items"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["state"], "done");
    assert_eq!(runs[0]["funnel_name"], "Welcome");
}

#[tokio::test]
async fn a_disabled_chat_cancels_its_runs_for_good_and_bot_messages_off_skips_sends() {
    let (app, fake, boss) = setup().await;
    funnel(
        &boss,
        json!({"name": "Nurture", "trigger": {"kind": "first_message"},
               "steps": [{"kind": "delay", "seconds": 3},
                         {"kind": "send", "text": "Day two"}]}),
    )
    .await;
    // H2: the chat is disabled during the delay; enabling it again does not resume the run.
    let r = app.client_says("h2", "Пётр", "m-1", "hi").await;
    let (chat, contact) = (r["chat_id"].clone(), r["contact_id"].clone());
    let (st, _) = boss
        .send(
            "PATCH",
            &format!("/api/v1/chats/{chat}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, runs) = boss.get(&format!("/api/v1/contacts/{contact}/runs")).await;
    assert_eq!(runs["items"][0]["state"], "cancelled", "{runs}");
    boss.send(
        "PATCH",
        &format!("/api/v1/chats/{chat}"),
        Some(json!({"disabled": false})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert!(
        bot_texts(&fake.requests()).is_empty(),
        "nothing sent after H2"
    );
    let (_, runs) = boss.get(&format!("/api/v1/contacts/{contact}/runs")).await;
    assert_eq!(
        runs["items"][0]["state"], "cancelled",
        "not resumed: {runs}"
    );

    // H3: bot messages off; the step is skipped with a system message, the run ends.
    let r = app.client_says("h3", "Вера", "m-2", "hi").await;
    let chat = r["chat_id"].clone();
    boss.send(
        "PATCH",
        &format!("/api/v1/chats/{chat}"),
        Some(json!({"bot_disabled": true})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert!(
        bot_texts(&fake.requests()).is_empty(),
        "nothing sent with H3 on"
    );
    let system = texts_of(&history(&boss, &chat).await, "system");
    assert!(
        system
            .iter()
            .any(|t| t == "Funnel Nurture: skipped: bot messages are off"),
        "{system:?}"
    );
}

#[tokio::test]
async fn a_condition_takes_its_branch_and_bad_funnels_are_refused_naming_the_step() {
    let (app, fake, boss) = setup().await;
    let id = funnel(
        &boss,
        json!({"name": "Qualify", "trigger": {"kind": "keyword", "keywords": ["order"]},
               "steps": [{"kind": "condition", "filter": {"has_phone": true},
                          "yes": [{"kind": "send", "text": "We will call you"}],
                          "no": [{"kind": "send", "text": "Your phone, please?"},
                                 {"kind": "tag", "add": ["no-phone"]}]},
                         {"kind": "send", "text": "Thanks"}]}),
    )
    .await;
    let (st, _) = app
        .inbound(
            "crm",
            json!({"external_id": "p1", "name": "With Phone", "phone": "+7 900 111-22-33"}),
            json!({"external_id": "m-1", "text": "my order"}),
        )
        .await;
    assert_eq!(st, 200);
    let r = app
        .client_says("p2", "No Phone", "m-2", "order status")
        .await;
    let got = fake.wait_for(5, |r| bot_texts(r).len() >= 4).await;
    let mut sent = bot_texts(&got);
    sent.sort();
    assert_eq!(
        sent,
        vec![
            "Thanks",
            "Thanks",
            "We will call you",
            "Your phone, please?"
        ]
    );
    let (_, c) = boss
        .get(&format!("/api/v1/contacts/{}", r["contact_id"]))
        .await;
    assert!(
        c.to_string().contains("no-phone"),
        "the no branch tagged the client: {c}"
    );

    // Refused with 422 naming the step; nothing stored.
    let (st, e) = boss
        .post(
            "/api/v1/funnels",
            json!({"name": "Bad", "trigger": {"kind": "manual"},
                   "steps": [{"kind": "send", "text": "ok"},
                             {"kind": "condition", "filter": {"has_phone": true},
                              "yes": [{"kind": "teleport"}], "no": []}]}),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    assert!(e.to_string().contains("steps[1].yes[0]"), "{e}");
    let (st, e) = boss
        .post(
            "/api/v1/funnels",
            json!({"name": "Hours", "trigger": {"kind": "manual"},
                   "steps": [{"kind": "delay_business_hours"}]}),
        )
        .await;
    assert_eq!(st, 422, "not available yet, so not accepted: {e}");
    let (_, all) = boss.get("/api/v1/funnels").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // A manager starts a funnel by hand and stops the run while it waits.
    let wait = funnel(
        &boss,
        json!({"name": "Later", "trigger": {"kind": "manual"},
               "steps": [{"kind": "delay", "seconds": 3600}, {"kind": "send", "text": "late"}]}),
    )
    .await;
    let (st, run) = boss
        .post(
            &format!("/api/v1/funnels/{wait}/start"),
            json!({"contact_id": r["contact_id"]}),
        )
        .await;
    assert_eq!(st, 201, "{run}");
    let (st, again) = boss
        .post(
            &format!("/api/v1/funnels/{wait}/start"),
            json!({"contact_id": r["contact_id"]}),
        )
        .await;
    assert_eq!(st, 409, "one run per client and funnel: {again}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, list) = boss.get("/api/v1/funnels").await;
    let later = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == wait)
        .unwrap()
        .clone();
    assert_eq!(later["waiting"]["total"], 1, "{later}");
    let (st, stopped) = boss
        .post(&format!("/api/v1/runs/{}/stop", run["id"]), json!({}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(stopped["state"], "cancelled");
    // Deleting a funnel leaves the others.
    let (st, _) = boss
        .send("DELETE", &format!("/api/v1/funnels/{id}"), None)
        .await;
    assert_eq!(st, 204);
}

#[tokio::test]
async fn outside_business_hours_the_away_reply_comes_once_and_delays_wait_for_the_hours() {
    let fake = Fake::start(&[]).await;
    // Open only on a holiday-free day that never comes around in this test: closed now.
    let cfg = format!(
        "{}[business_hours]\ntime_zone = \"Europe/Moscow\"\nholidays = [\"2026-12-31\"]\naway_message = \"We are closed, {{client.name}}. We answer in business hours.\"\n",
        api_channel("crm", Some(&fake.url("/cb")))
    );
    let app = TestApp::spawn_with(&cfg).await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    let r = app.client_says("a1", "Лев", "m-1", "anyone there?").await;
    let got = fake.wait_for(5, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(
        bot_texts(&got),
        vec!["We are closed, Лев. We answer in business hours."]
    );
    app.client_says("a1", "Лев", "m-2", "hello?").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        bot_texts(&fake.requests()).len(),
        1,
        "once per closed period"
    );

    // With [business_hours] set, "until business hours" is accepted; with no hours at all
    // the run cannot be scheduled and stops, saying why.
    let id = funnel(
        &boss,
        json!({"name": "Tomorrow", "trigger": {"kind": "manual"},
               "steps": [{"kind": "delay_business_hours"}, {"kind": "send", "text": "Good morning"}]}),
    )
    .await;
    let (st, run) = boss
        .post(
            &format!("/api/v1/funnels/{id}/start"),
            json!({"contact_id": r["contact_id"]}),
        )
        .await;
    assert_eq!(st, 201, "{run}");
    let mut state = Value::Null;
    for _ in 0..50 {
        let (_, runs) = boss
            .get(&format!("/api/v1/contacts/{}/runs", r["contact_id"]))
            .await;
        state = runs["items"][0].clone();
        if state["state"] != "waiting" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state["state"], "stopped", "{state}");
    assert_eq!(state["reason"], "the business hours never open");
    assert_eq!(bot_texts(&fake.requests()).len(), 1, "nothing more sent");
}

#[tokio::test]
async fn a_send_step_may_name_a_chat_template() {
    let fake = Fake::start(&[]).await;
    let cfg = format!(
        "{}[[templates]]\nname = \"Greeting\"\ntext = \"Hello, {{client.name}}! How can we help?\"\n",
        api_channel("crm", Some(&fake.url("/cb")))
    );
    let app = TestApp::spawn_with(&cfg).await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    let (st, e) = boss
        .post(
            "/api/v1/funnels",
            json!({"name": "T", "trigger": {"kind": "manual"},
                   "steps": [{"kind": "send", "template": "Nope", "text": ""}]}),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    assert!(e.to_string().contains("steps[0].template"), "{e}");
    funnel(
        &boss,
        json!({"name": "Hi", "trigger": {"kind": "keyword", "keywords": ["hi"]},
               "steps": [{"kind": "send", "template": "greeting", "text": ""}]}),
    )
    .await;
    app.client_says("t1", "Маша", "m-1", "hi").await;
    let got = fake.wait_for(5, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&got), vec!["Hello, Маша! How can we help?"]);
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

#[tokio::test]
async fn a_broadcast_reaches_the_filter_skips_whom_it_must_and_can_be_paused_and_cancelled() {
    // The API channel paced at 20 a second, so a broadcast to 150 clients takes long enough
    // to pause and cancel it midway on any machine.
    let fake = Fake::start(&[]).await;
    let app = TestApp::spawn_with(&format!(
        "{}[automation]\nbroadcast_per_second = {{ api = 20 }}\n",
        api_channel("crm", Some(&fake.url("/cb")))
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    for (ext, name) in [("b1", "Анна"), ("b2", "Борис"), ("b3", "Вика")] {
        app.client_says(ext, name, &format!("m-{ext}"), "hi").await;
    }
    let (_, list) = boss.get("/api/v1/contacts").await;
    let ids: Vec<u64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    for id in &ids {
        boss.post(
            &format!("/api/v1/contacts/{id}/tags"),
            json!({"tag": "vip"}),
        )
        .await;
    }
    // Вика's chat takes no bot messages: she is skipped, with the reason in the report.
    app.wait_search().await;
    let (_, rows) = boss.get("/api/v1/chats").await;
    let vika_chat = rows["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Вика")
        .map(|r| r["default_chat_id"].clone())
        .unwrap();
    boss.send(
        "PATCH",
        &format!("/api/v1/chats/{vika_chat}"),
        Some(json!({"bot_disabled": true})),
    )
    .await;
    app.wait_search().await;

    let (st, b) = boss
        .post(
            "/api/v1/broadcasts",
            json!({"name": "Sale", "filter": {"conditions": [{"field": "tag", "op": "is", "value": "vip"}]},
                   "text": "Sale today, {client.name}!"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["total"], 3);
    let r = report_until(&boss, &b["id"], |r| {
        r["state"] == "done" && r["counts"]["sent"].as_u64() == Some(2)
    })
    .await;
    assert_eq!(r["counts"]["skipped"], 1, "{r}");
    assert_eq!(
        r["reasons"][0]["reason"],
        "bot messages are off in the chat"
    );
    let mut sent = bot_texts(&fake.requests());
    sent.sort();
    assert_eq!(sent, vec!["Sale today, Анна!", "Sale today, Борис!"]);

    // Bad input: no audience, two payloads, an unknown template.
    let (st, _) = boss
        .post("/api/v1/broadcasts", json!({"text": "to whom?"}))
        .await;
    assert_eq!(st, 422);
    let (st, _) = boss
        .post(
            "/api/v1/broadcasts",
            json!({"filter": {"has_phone": false}, "text": "a", "template": "b"}),
        )
        .await;
    assert_eq!(st, 422);

    // Pause, resume and cancel, on enough clients that the pace leaves time to act.
    for i in 0..150 {
        app.client_says(
            &format!("p{i}"),
            &format!("Client {i}"),
            &format!("mp-{i}"),
            "hi",
        )
        .await;
    }
    app.wait_search().await;
    let (st, b) = boss
        .post(
            "/api/v1/broadcasts",
            json!({"filter": {"messengers": ["api"]}, "text": "News"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let id = b["id"].clone();
    let (st, p) = boss
        .post(&format!("/api/v1/broadcasts/{id}/pause"), json!({}))
        .await;
    assert_eq!(st, 200, "{p}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, a) = boss.get(&format!("/api/v1/broadcasts/{id}")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, c) = boss.get(&format!("/api/v1/broadcasts/{id}")).await;
    assert_eq!(a["state"], "paused");
    assert_eq!(a["handled"], c["handled"], "nothing sent while paused");
    assert!(c["handled"].as_u64().unwrap() < 153, "{c}");
    boss.post(&format!("/api/v1/broadcasts/{id}/resume"), json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, x) = boss
        .post(&format!("/api/v1/broadcasts/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, 200, "{x}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, d) = boss.get(&format!("/api/v1/broadcasts/{id}")).await;
    let (_, e) = boss.get(&format!("/api/v1/broadcasts/{id}")).await;
    assert_eq!(d["state"], "cancelled");
    assert_eq!(d["handled"], e["handled"], "nothing after cancel");
    assert!(
        d["counts"]["pending"].as_u64().unwrap() > 0,
        "cancelled before the end: {d}"
    );
    let (st, _) = boss
        .post(&format!("/api/v1/broadcasts/{id}/resume"), json!({}))
        .await;
    assert_eq!(st, 409, "a cancelled broadcast stays cancelled");
}

#[tokio::test]
async fn chat_templates_are_managed_in_the_ui_and_config_ones_stay_read_only() {
    let fake = Fake::start(&[]).await;
    let cfg = format!(
        "{}[[templates]]\nname = \"Greeting\"\ntext = \"Hello!\"\n",
        api_channel("crm", Some(&fake.url("/cb")))
    );
    let app = TestApp::spawn_with(&cfg).await;
    app.add_manager("anna", "manager").await;
    let anna = app.login("anna").await;
    let (st, t) = anna
        .post(
            "/api/v1/templates",
            json!({"name": "Delivery", "text": "Your order ships today, {client.name}."}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let (st, _) = anna
        .post(
            "/api/v1/templates",
            json!({"name": "delivery", "text": "again"}),
        )
        .await;
    assert_eq!(st, 409, "names differ by more than case");
    let (st, _) = anna
        .post(
            "/api/v1/templates",
            json!({"name": "Привет", "text": "Здравствуйте!"}),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = anna
        .post(
            "/api/v1/templates",
            json!({"name": "ПРИВЕТ", "text": "again"}),
        )
        .await;
    assert_eq!(st, 409, "in any script");
    let (st, _) = anna
        .send(
            "DELETE",
            "/api/v1/templates/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82",
            None,
        )
        .await;
    assert_eq!(st, 204, "found by its name in another case");
    let (st, e) = anna
        .post(
            "/api/v1/templates",
            json!({"name": "Bad", "text": "Hi {client.nmae}"}),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    let (st, _) = anna
        .send(
            "PATCH",
            "/api/v1/templates/Greeting",
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(st, 409, "the config's are read-only");
    let (_, list) = anna.get("/api/v1/templates").await;
    let sources: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        vec![
            ("Greeting".to_string(), "config".to_string()),
            ("Delivery".to_string(), "ui".to_string())
        ]
    );
    // A funnel uses the template as it is when the step runs.
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    funnel(
        &boss,
        json!({"name": "Ship", "trigger": {"kind": "keyword", "keywords": ["ship"]},
               "steps": [{"kind": "send", "template": "delivery", "text": ""}]}),
    )
    .await;
    let (st, _) = anna
        .send(
            "PATCH",
            "/api/v1/templates/Delivery",
            Some(json!({"text": "Shipping now, {client.name}!"})),
        )
        .await;
    assert_eq!(st, 200);
    app.client_says("s1", "Оля", "m-1", "ship it").await;
    let got = fake.wait_for(5, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&got), vec!["Shipping now, Оля!"]);
    let (st, _) = anna
        .send("DELETE", "/api/v1/templates/Delivery", None)
        .await;
    assert_eq!(st, 204);
    let (st, _) = anna
        .send("DELETE", "/api/v1/templates/Delivery", None)
        .await;
    assert_eq!(st, 404);
}

const HOOK_SECRET: &str = "hook-secret-0123456789abcdef";

/// A webhook step POSTs the client's details (signed, with a stable idempotency key), is
/// retried once the receiver is back, leaves its answer in the history, and the run goes on.
#[tokio::test]
async fn a_webhook_step_posts_the_client_retries_and_goes_on() {
    let fake = Fake::start(&[]).await;
    let hook = Fake::start(&[503]).await;
    let config = format!(
        "{}[automation]\nwebhook_allow = [\"127.0.0.1\"]\nwebhook_secret = \"{HOOK_SECRET}\"\n",
        api_channel("crm", Some(&fake.url("/cb")))
    );
    let app = TestApp::spawn_with(&config).await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    funnel(
        &boss,
        json!({"name": "Leads", "trigger": {"kind": "keyword", "keywords": ["order"]},
               "steps": [{"kind": "tag", "add": ["lead"]},
                         {"kind": "webhook", "url": hook.url("/lead?src=parley")},
                         {"kind": "send", "text": "We got your order"}]}),
    )
    .await;
    let r = app
        .client_says("w-1", "Анна", "m-1", "I want to order")
        .await;
    let got = hook.wait_for(20, |r| r.len() >= 2).await;
    assert_eq!(got.len(), 2, "503, then a second try");
    let key = got[0].header("idempotency-key").unwrap().to_string();
    for req in &got {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/lead?src=parley");
        assert_eq!(
            req.header("idempotency-key"),
            Some(key.as_str()),
            "same key"
        );
        assert_eq!(
            req.header("x-parley-signature").unwrap(),
            parley::channels::api::sign(HOOK_SECRET, &req.body)
        );
        let j = req.json();
        assert_eq!(j["event"], "funnel.webhook");
        assert_eq!(j["funnel"]["name"], "Leads");
        assert_eq!(j["client"]["name"], "Анна");
        assert_eq!(j["client"]["id"], r["contact_id"]);
        assert_eq!(
            j["client"]["tags"],
            json!(["lead"]),
            "the step before ran first"
        );
        assert_eq!(j["chat"]["id"], r["chat_id"]);
        assert_eq!(j["chat"]["channel_id"], "crm");
    }
    let sent = fake.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&sent), vec!["We got your order"]);
    let items = history(&boss, &r["chat_id"]).await;
    let system = texts_of(&items, "system");
    let host = hook.url("").trim_start_matches("http://").to_string();
    assert!(
        system
            .iter()
            .any(|t| *t == format!("Funnel Leads: webhook {host}: answered 200")),
        "{system:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.requests().len(), 2, "no call after the answer");
}

/// Without the admin's allowance a webhook to a private address is refused like an
/// attachment URL (SSRF): no request is made, the history says why, the run goes on.
#[tokio::test]
async fn a_webhook_step_to_a_private_address_is_refused_and_the_run_goes_on() {
    let (app, fake, boss) = setup().await;
    let hook = Fake::start(&[]).await;
    funnel(
        &boss,
        json!({"name": "Inside", "trigger": {"kind": "first_message"},
               "steps": [{"kind": "webhook", "url": hook.url("/admin")},
                         {"kind": "send", "text": "Hello"}]}),
    )
    .await;
    let r = app.client_says("w-2", "Олег", "m-1", "hi").await;
    let sent = fake.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&sent), vec!["Hello"]);
    assert!(hook.requests().is_empty(), "the private address was called");
    let items = history(&boss, &r["chat_id"]).await;
    let system = texts_of(&items, "system");
    assert!(
        system
            .iter()
            .any(|t| t.starts_with("Funnel Inside: webhook 127.0.0.1")
                && t.contains("failed")
                && t.contains("private address")),
        "{system:?}"
    );
}

/// An assign step makes a manager responsible (system message, notification); a manager
/// who does not exist is refused when the funnel is saved, naming the step.
#[tokio::test]
async fn an_assign_step_makes_a_manager_responsible() {
    let (app, _fake, boss) = setup().await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let (st, e) = boss
        .post(
            "/api/v1/funnels",
            json!({"name": "Bad", "trigger": {"kind": "first_message"},
                   "steps": [{"kind": "tag", "add": ["x"]}, {"kind": "assign", "manager_id": 999}]}),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["field"], "steps[1].manager_id");
    funnel(
        &boss,
        json!({"name": "Route", "trigger": {"kind": "keyword", "keywords": ["wholesale"]},
               "steps": [{"kind": "assign", "manager_id": anna}]}),
    )
    .await;
    let r = app
        .client_says("a-1", "Борис", "m-1", "wholesale prices")
        .await;
    let contact = r["contact_id"].clone();
    let mut assigned = Value::Null;
    for _ in 0..50 {
        let (_, c) = boss.get(&format!("/api/v1/contacts/{contact}")).await;
        assigned = c["contact"]["assignee"].clone();
        if assigned != Value::Null {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        assigned,
        anna,
        "{:?}",
        texts_of(&history(&boss, &r["chat_id"]).await, "system")
    );
    let items = history(&boss, &r["chat_id"]).await;
    let system = texts_of(&items, "system");
    assert!(
        system
            .iter()
            .any(|t| t == "Funnel Route assigned the client to anna name"),
        "{system:?}"
    );
    let a = app.login("anna").await;
    let (_, n) = a.get("/api/v1/notifications").await;
    assert_eq!(n["items"][0]["contact_id"], contact, "{n}");
}
