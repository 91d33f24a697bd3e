//! kill -9 during a funnel's delay: the real binary serves an API channel whose callback is
//! a fake; a keyword funnel sends, waits 6 s and sends again. The process is killed with
//! SIGKILL while the run waits and started again on the same data directory: the second
//! message arrives once, after the delay, and the first is not sent again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fake::{Fake, Recorded};
use crate::support::process::{self, Logs, Serve};
use crate::support::session::sign_in;
use crate::support::{PASSWORD, SECRET, TOKEN, tls};

fn bot_texts(reqs: &[Recorded]) -> Vec<String> {
    reqs.iter()
        .map(|r| r.json())
        .filter(|v| v["event"] == "message.created" && v["message"]["kind"] == "bot")
        .map(|v| v["message"]["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_delay_survives_kill_9_and_fires_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fake = Fake::start(&[]).await;
    let cfg = tmp.path().join("parley.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"{TOKEN}\"\ncallback_url = \"{}\"\nsecret = \"{SECRET}\"\n",
            fake.url("/cb")
        ),
    )
    .unwrap();
    process::add_admin(process::BIN, &data, None, "boss", PASSWORD);
    let port = process::free_port();
    let serve = Serve::new(process::BIN, &data)
        .config(&cfg)
        .port(port)
        .logs(Logs::File(tmp.path().join("serve.log")));
    let mut server = serve.spawn();
    server.ready(Duration::from_secs(60)).await.unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let http = tls::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let s = sign_in(&http, &url, "boss", PASSWORD).await;
    let r = http
        .post(format!("{url}/api/v1/funnels"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(
            &json!({"name": "Survivor", "trigger": {"kind": "keyword", "keywords": ["hello"]},
                      "steps": [{"kind": "send", "text": "one"},
                                {"kind": "delay", "seconds": 6},
                                {"kind": "send", "text": "two"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{url}/webhooks/api/crm"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"contact": {"external_id": "k9", "name": "Kill Nine"},
                      "message": {"external_id": "m-1", "text": "hello"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let chat = r.json::<Value>().await.unwrap()["chat_id"].clone();

    // "one" delivered and recorded as sent, so a kill cannot leave its delivery half done.
    let got = fake.wait_for(10, |r| !bot_texts(r).is_empty()).await;
    assert_eq!(bot_texts(&got), vec!["one"]);
    let mut sent = false;
    for _ in 0..100 {
        let h: Value = http
            .get(format!("{url}/api/v1/chats/{chat}/messages"))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sent = h["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "bot" && m["status"] == "sent");
        if sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sent, "the first message was recorded as sent");

    // Killed while the run waits.
    server.kill().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        bot_texts(&fake.requests()),
        vec!["one"],
        "nothing sent while down"
    );
    let mut server = serve.spawn();
    server.ready(Duration::from_secs(60)).await.unwrap();
    let got = fake.wait_for(20, |r| bot_texts(r).len() >= 2).await;
    assert_eq!(
        bot_texts(&got),
        vec!["one", "two"],
        "the delay fired after the restart"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        bot_texts(&fake.requests()),
        vec!["one", "two"],
        "each exactly once"
    );
    let st = server.stop(Duration::from_secs(30)).await;
    assert!(st.success(), "{}", server.log_tail(20));
}
