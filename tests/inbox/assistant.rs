//! The AI assistant (B2, H4) through the real server and a fake OpenAI-compatible endpoint:
//! an answer reaches the API channel's callback as a bot message; the request carries the
//! instructions, the knowledge passages and the history since the last Reset (notes and
//! system messages never); quick messages get one answer; hand-over by the client's words or
//! the model's tool call; H2 and H3 stop it; a manager's reply pauses it; 500, timeouts and
//! 429 leave system messages and retry; a suggestion sends nothing; the key never leaks.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fake::{Fake, Recorded};
use crate::support::openai::{self, KEY, Llm, assistant_toml, messages};
use crate::support::{Browser, TestApp, api_channel};

struct Ctx {
    app: TestApp,
    cb: Fake,
    llm: Llm,
    boss: Browser,
    _kb: tempfile::TempDir,
}

const KNOWLEDGE: &str = "# Opening hours\nWe are open Monday to Friday 9 to 18.\nOn Saturday we open 10 to 16.\n\n# Returns\nReturns are accepted within 30 days with the receipt.\n\n# Delivery\nCouriers deliver within two days across the city.\n";

async fn setup(extra: &str) -> Ctx {
    let cb = Fake::start(&[]).await;
    let llm = Llm::start("We open at 10 on Saturday.").await;
    let kb = tempfile::tempdir().unwrap();
    let file = kb.path().join("shop.md");
    std::fs::write(&file, KNOWLEDGE).unwrap();
    let cfg = format!(
        "{}{}",
        api_channel("crm", Some(&cb.url("/cb"))),
        assistant_toml(
            &llm.base(),
            &format!("knowledge = [\"{}\"]\n{extra}", file.display())
        )
    );
    let app = TestApp::spawn_with(&cfg).await;
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    Ctx {
        app,
        cb,
        llm,
        boss,
        _kb: kb,
    }
}

fn bot_texts(reqs: &[Recorded]) -> Vec<String> {
    reqs.iter()
        .map(|r| r.json())
        .filter(|v| v["event"] == "message.created" && v["message"]["kind"] == "bot")
        .map(|v| v["message"]["text"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn history(b: &Browser, chat: &Value) -> Vec<Value> {
    let (_, h) = b
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

async fn switch_on(b: &Browser, chat: &Value) {
    let (st, v) = b
        .send(
            "PATCH",
            &format!("/api/v1/chats/{chat}"),
            Some(json!({"assistant_on": true, "assistant": "helper"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

/// Wait until the chat's history has a message of `kind` containing `part`.
async fn wait_history(b: &Browser, chat: &Value, kind: &str, part: &str, secs: u64) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let h = history(b, chat).await;
        if texts_of(&h, kind).iter().any(|t| t.contains(part))
            || std::time::Instant::now() > deadline
        {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_answer_reaches_the_callback_with_history_passages_and_one_request_for_quick_messages() {
    let c = setup("").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hello!").await;
    let chat = r["chat_id"].clone();
    let (st, _) = c
        .boss
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "internal: VIP client, be nice", "mentions": []}),
        )
        .await;
    assert_eq!(st, 201);
    switch_on(&c.boss, &chat).await;
    // Three quick messages: one answer after the quiet period.
    c.app
        .client_says("c-1", "Ivo", "m-2", "When are you open on Saturday?")
        .await;
    c.app.client_says("c-1", "Ivo", "m-3", "I mean this").await;
    c.app.client_says("c-1", "Ivo", "m-4", "Saturday.").await;

    let got = c.cb.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&got), vec!["We open at 10 on Saturday."]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let bodies = c.llm.bodies();
    assert_eq!(
        bodies.len(),
        1,
        "three quick messages, one request: {bodies:#?}"
    );
    let b = &bodies[0];
    assert_eq!(b["model"], "test-model");
    let msgs = messages(b);
    assert_eq!(msgs[0].0, "system");
    assert!(msgs[0].1.contains("You are the shop's helper."), "{msgs:?}");
    assert!(
        msgs.iter()
            .any(|(r, t)| r == "system" && t.contains("On Saturday we open 10 to 16")),
        "the best passage is in the prompt: {msgs:?}"
    );
    assert!(
        !msgs.iter().any(|(_, t)| t.contains("Returns are accepted")),
        "an unrelated passage is not: {msgs:?}"
    );
    let users: Vec<&str> = msgs
        .iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        users,
        vec![
            "Hello!",
            "When are you open on Saturday?",
            "I mean this",
            "Saturday."
        ]
    );
    assert!(
        !msgs
            .iter()
            .any(|(_, t)| t.contains("VIP client") || t.contains("turned the AI assistant on")),
        "notes and system messages never reach the model: {msgs:?}"
    );
    assert_eq!(b["tools"][0]["function"]["name"], "hand_over_to_human");
    let req = c
        .llm
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    // The answer is a bot message of the assistant in the history.
    let h = history(&c.boss, &chat).await;
    let bot = h.iter().find(|m| m["kind"] == "bot").unwrap();
    assert_eq!(bot["text"], "We open at 10 on Saturday.");
    assert_eq!(bot["event"], "assistant:helper");

    // The next exchange sends the assistant's own answer back as the assistant's turn.
    c.app
        .client_says("c-1", "Ivo", "m-5", "And do you deliver?")
        .await;
    let bodies = c.llm.wait(2, 10).await;
    let msgs = messages(&bodies[1]);
    let tail: Vec<(String, String)> = msgs.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(
        tail,
        vec![
            ("assistant".into(), "We open at 10 on Saturday.".into()),
            ("user".into(), "And do you deliver?".into())
        ]
    );
    assert!(msgs.iter().any(|(_, t)| t.contains("Couriers deliver")));

    // Usage per assistant and per chat, for Settings.
    let (st, u) = c.boss.get("/api/v1/assistants/usage").await;
    assert_eq!(st, 200, "{u}");
    let a = &u["assistants"][0];
    assert_eq!(a["id"], "helper");
    assert!(a["usage"]["requests"].as_u64().unwrap() >= 1, "{u}");
    assert!(a["usage"]["prompt_tokens"].as_u64().unwrap() >= 21, "{u}");
    assert_eq!(u["chats"][0]["chat_id"], chat);
    assert!(!u.to_string().contains(KEY));
}

#[tokio::test]
async fn reset_starts_the_next_request_fresh() {
    let c = setup("").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Old question").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;
    c.app
        .client_says("c-1", "Ivo", "m-2", "Second old one")
        .await;
    c.llm.wait(1, 10).await;
    c.cb.wait_for(10, |r| !bot_texts(r).is_empty()).await;

    let (st, v) = c
        .boss
        .post(&format!("/api/v1/chats/{chat}/assistant/reset"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["assistant_on"], false,
        "Reset drops the chat's settings: {v}"
    );
    switch_on(&c.boss, &chat).await;
    c.app.client_says("c-1", "Ivo", "m-3", "A new start").await;
    let bodies = c.llm.wait(2, 10).await;
    assert_eq!(bodies.len(), 2);
    let turns: Vec<(String, String)> = messages(&bodies[1])
        .into_iter()
        .filter(|(r, _)| r != "system")
        .collect();
    assert_eq!(turns, vec![("user".to_string(), "A new start".to_string())]);
}

#[tokio::test]
async fn the_client_asking_for_a_person_hands_over_without_asking_the_model() {
    let c = setup("").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hi").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;
    c.app
        .client_says("c-1", "Ivo", "m-2", "Can I talk to an operator please")
        .await;
    let got = c.cb.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(
        bot_texts(&got),
        vec!["I am passing you to a colleague; they will answer here shortly."]
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(c.llm.bodies().is_empty(), "the model is not asked");
    let (_, ch) = c.boss.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(ch["chat"]["assistant_on"], false, "{ch}");
    let h = history(&c.boss, &chat).await;
    assert!(
        texts_of(&h, "system").iter().any(|t| t
            == "AI assistant Helper handed the chat over to a person: the client asked for a person (\u{2018}operator\u{2019})"),
        "{:?}",
        texts_of(&h, "system")
    );
    let (_, n) = c.boss.get("/api/v1/notifications").await;
    let items = n["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|x| x["chat_id"] == chat
                && x["text"].as_str().unwrap().contains("Ivo needs a person")),
        "{n}"
    );
    // Off now: the next message is not answered.
    c.app.client_says("c-1", "Ivo", "m-3", "Hello?").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(c.llm.bodies().is_empty());
}

#[tokio::test]
async fn the_model_handing_over_with_its_tool_turns_the_assistant_off() {
    let c = setup("").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hi").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;
    c.llm.then(openai::tool_call(
        "hand_over_to_human",
        json!({"reason": "refund dispute"}),
    ));
    c.app
        .client_says(
            "c-1",
            "Ivo",
            "m-2",
            "I want my money back for the broken kettle",
        )
        .await;
    let h = wait_history(&c.boss, &chat, "system", "handed the chat over", 10).await;
    assert!(
        texts_of(&h, "system").iter().any(|t| t
            == "AI assistant Helper handed the chat over to a person: it cannot help with this (refund dispute)"),
        "{:?}",
        texts_of(&h, "system")
    );
    let got = c.cb.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(
        bot_texts(&got),
        vec!["I am passing you to a colleague; they will answer here shortly."]
    );
    let (_, ch) = c.boss.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(ch["chat"]["assistant_on"], false);

    // The marker does the same for servers without tools.
    switch_on(&c.boss, &chat).await;
    c.llm
        .then(openai::answer("[[HANDOVER]] a question about a contract"));
    c.app
        .client_says("c-1", "Ivo", "m-3", "About the contract…")
        .await;
    wait_history(&c.boss, &chat, "system", "a question about a contract", 10).await;
    let (_, ch) = c.boss.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(ch["chat"]["assistant_on"], false);
}

#[tokio::test]
async fn bot_messages_off_and_a_disabled_chat_stop_the_assistant() {
    let c = setup("").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hi").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;
    for (i, (patch, why)) in [
        (
            json!({"bot_disabled": true}),
            "bot messages are off in this chat",
        ),
        (
            json!({"bot_disabled": false, "disabled": true}),
            "the chat is disabled",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (st, v) = c
            .boss
            .send("PATCH", &format!("/api/v1/chats/{chat}"), Some(patch))
            .await;
        assert_eq!(st, 200, "{v}");
        c.app
            .client_says("c-1", "Ivo", &format!("m-h{i}"), "Anyone?")
            .await;
        let h = wait_history(&c.boss, &chat, "system", why, 10).await;
        assert!(
            texts_of(&h, "system")
                .iter()
                .any(|t| t == &format!("AI assistant Helper is not answering: {why}")),
            "{:?}",
            texts_of(&h, "system")
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.llm.bodies().is_empty(), "the model is never asked");
    assert!(bot_texts(&c.cb.requests()).is_empty(), "nothing is sent");
}

#[tokio::test]
async fn a_manager_reply_pauses_the_assistant_in_that_chat() {
    let c = setup("manager_pause = 3600\n").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hi").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;
    let (st, v) = c
        .boss
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "Hello, I am Anna from the shop"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    c.app
        .client_says("c-1", "Ivo", "m-2", "Great, thanks")
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        c.llm.bodies().is_empty(),
        "paused after the manager's reply"
    );
    let h = history(&c.boss, &chat).await;
    assert!(
        texts_of(&h, "system")
            .iter()
            .any(|t| t == "AI assistant Helper paused for 1 h: a manager replied"),
        "{:?}",
        texts_of(&h, "system")
    );
}

#[tokio::test]
async fn failures_leave_system_messages_and_are_retried() {
    let c = setup("timeout = 1\n").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hi").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;

    // 429 with Retry-After: a system message, then the retry after a second answers.
    c.llm.then(
        openai::error(429, "Rate limit reached for requests").with_header("Retry-After", "1"),
    );
    c.app.client_says("c-1", "Ivo", "m-2", "Question one").await;
    let h = wait_history(&c.boss, &chat, "system", "rate limited", 10).await;
    assert!(
        texts_of(&h, "system").iter().any(|t| t
            == "AI assistant Helper did not answer: rate limited (429): Rate limit reached for requests; trying again in 1 s"),
        "{:?}",
        texts_of(&h, "system")
    );
    let got = c.cb.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&got).len(), 1, "the retry answered");
    assert_eq!(c.llm.bodies().len(), 2);

    // 500: the reason and the next try.
    c.llm.then(openai::error(500, "model crashed"));
    c.app.client_says("c-1", "Ivo", "m-3", "Question two").await;
    let h = wait_history(&c.boss, &chat, "system", "answered 500", 10).await;
    assert!(
        texts_of(&h, "system").iter().any(|t| t
            == "AI assistant Helper did not answer: the endpoint answered 500: model crashed; trying again in 5 s"),
        "{:?}",
        texts_of(&h, "system")
    );
    let got = c.cb.wait_for(15, |r| bot_texts(r).len() >= 2).await;
    assert_eq!(bot_texts(&got).len(), 2, "the retry after 5 s answered");

    // A slow endpoint: the timeout is a reason too.
    let mut slow = openai::answer("too late");
    slow.delay_ms = 3000;
    c.llm.then(slow);
    c.app
        .client_says("c-1", "Ivo", "m-4", "Question three")
        .await;
    let h = wait_history(&c.boss, &chat, "system", "no answer within", 10).await;
    assert!(
        texts_of(&h, "system").iter().any(|t| t
            == "AI assistant Helper did not answer: no answer within 1 s; trying again in 5 s"),
        "{:?}",
        texts_of(&h, "system")
    );

    // Settings shows the last error.
    let (_, u) = c.boss.get("/api/v1/assistants/usage").await;
    assert_eq!(
        u["assistants"][0]["last_error"], "no answer within 1 s",
        "{u}"
    );
    assert!(u["assistants"][0]["usage"]["failures"].as_u64().unwrap() >= 3);

    // A wrong key is not retried: the same request would fail the same way.
    let before = c.llm.bodies().len();
    tokio::time::sleep(Duration::from_millis(5500)).await;
    c.llm.then(openai::error(401, "Invalid key"));
    c.app
        .client_says("c-1", "Ivo", "m-5", "Question four")
        .await;
    wait_history(&c.boss, &chat, "system", "answered 401", 10).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let h = history(&c.boss, &chat).await;
    assert!(
        texts_of(&h, "system").iter().any(|t| t
            == "AI assistant Helper did not answer: the endpoint answered 401: Invalid key; not trying again"),
        "{:?}",
        texts_of(&h, "system")
    );
    assert!(c.llm.bodies().len() <= before + 2);
}

#[tokio::test]
async fn a_suggestion_fills_nothing_but_the_answer_and_sends_nothing() {
    let c = setup("").await;
    let r = c
        .app
        .client_says("c-1", "Ivo", "m-1", "Do you open on Saturday?")
        .await;
    let chat = r["chat_id"].clone();
    let before = history(&c.boss, &chat).await.len();
    // Off for the chat: a suggestion works all the same.
    let (st, v) = c
        .boss
        .post(&format!("/api/v1/chats/{chat}/suggest"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["text"], "We open at 10 on Saturday.");
    let bodies = c.llm.bodies();
    assert_eq!(bodies.len(), 1);
    let msgs = messages(&bodies[0]);
    assert!(
        msgs.iter()
            .any(|(r, t)| r == "user" && t == "Do you open on Saturday?")
    );
    assert!(
        msgs.iter()
            .any(|(_, t)| t.contains("On Saturday we open 10 to 16"))
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bot_texts(&c.cb.requests()).is_empty(), "nothing is sent");
    assert_eq!(
        history(&c.boss, &chat).await.len(),
        before,
        "nothing is stored"
    );

    // The endpoint failing: 502 with the reason, still nothing in the chat.
    c.llm.then(openai::error(503, "overloaded"));
    let (st, v) = c
        .boss
        .post(&format!("/api/v1/chats/{chat}/suggest"), json!({}))
        .await;
    assert_eq!(st, 502, "{v}");
    assert!(v["message"].as_str().unwrap().contains("overloaded"), "{v}");
    assert_eq!(history(&c.boss, &chat).await.len(), before);
}

#[tokio::test]
async fn the_api_key_never_appears_in_errors_logs_or_check_config() {
    use crate::support::process::{self, Logs, Serve};
    let cb = Fake::start(&[]).await;
    // The endpoint echoes the key back, as some providers do in their 401 text.
    let llm = Llm::start("unused").await;
    for _ in 0..3 {
        llm.then(openai::error(
            401,
            &format!("Incorrect API key provided: {KEY}"),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("parley.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}{}",
            api_channel("crm", Some(&cb.url("/cb"))),
            assistant_toml(&llm.base(), "")
        ),
    )
    .unwrap();
    let o = crate::support::parley(&["check-config", "--config", cfg.to_str().unwrap()], None);
    let out = crate::support::text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("helper") && !out.contains(KEY), "{out}");

    let data = dir.path().join("data");
    process::add_admin(
        process::BIN,
        &data,
        Some(&cfg),
        "boss",
        crate::support::PASSWORD,
    );
    let log = dir.path().join("parley.log");
    let mut srv = Serve::new(process::BIN, &data)
        .config(&cfg)
        .port(process::free_port())
        .logs(Logs::File(log.clone()))
        .env("PARLEY_LOG_LEVEL", "debug")
        .spawn();
    srv.ready(Duration::from_secs(30)).await.unwrap();
    let http = crate::support::client();
    let s =
        crate::support::session::sign_in(&http, &srv.url(), "boss", crate::support::PASSWORD).await;
    let boss = Browser {
        http,
        url: srv.url(),
        csrf: Some(s.csrf),
        cookie: Some(s.cookie),
    };
    let r = crate::support::client()
        .post(format!("{}/webhooks/api/crm", srv.url()))
        .bearer_auth(crate::support::TOKEN)
        .json(&json!({"contact": {"external_id": "c-1", "name": "Ivo"},
                      "message": {"external_id": "m-1", "text": "Hi"}}))
        .send()
        .await
        .unwrap();
    let chat = r.json::<Value>().await.unwrap()["chat_id"].clone();
    switch_on(&boss, &chat).await;
    let (st, v) = boss
        .post(&format!("/api/v1/chats/{chat}/suggest"), json!({}))
        .await;
    assert_eq!(st, 502, "{v}");
    assert!(!v.to_string().contains(KEY), "{v}");
    let r = crate::support::client()
        .post(format!("{}/webhooks/api/crm", srv.url()))
        .bearer_auth(crate::support::TOKEN)
        .json(&json!({"contact": {"external_id": "c-1"},
                      "message": {"external_id": "m-2", "text": "Hello?"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = wait_history(&boss, &chat, "system", "answered 401", 10).await;
    let all = serde_json::to_string(&h).unwrap();
    assert!(all.contains("Incorrect API key provided"), "{all}");
    assert!(!all.contains(KEY), "{all}");
    let (_, u) = boss.get("/api/v1/assistants/usage").await;
    assert!(u["assistants"][0]["last_error"].is_string(), "{u}");
    assert!(!u.to_string().contains(KEY), "{u}");
    let (_, a) = boss.get("/api/v1/assistants").await;
    assert!(!a.to_string().contains(KEY));
    srv.stop(Duration::from_secs(10)).await;
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("assistant request failed"),
        "the failure is logged"
    );
    assert!(!logs.contains(KEY), "the key is in the log");
    // The fake did get the key: it was sent, only never shown.
    assert!(
        llm.fake
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {KEY}")))
    );
}

#[tokio::test]
async fn an_owed_answer_survives_a_restart() {
    let c = setup("quiet_ms = 1500\n").await;
    let r = c.app.client_says("c-1", "Ivo", "m-1", "Hi").await;
    let chat = r["chat_id"].clone();
    switch_on(&c.boss, &chat).await;
    c.app.client_says("c-1", "Ivo", "m-2", "Still there?").await;
    // Stopped inside the quiet period: the answer is owed in the store, not in memory.
    let app = c.app.restart().await;
    let got = c.cb.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&got), vec!["We open at 10 on Saturday."]);
    assert_eq!(c.llm.bodies().len(), 1, "answered once");
    drop(app);
}
