//! Reports (T3) through the real server: a scripted timeline, each figure as the definitions
//! say (conversations, messages in and out, first response, reply and resolution times, per
//! day, channel and manager, the busiest hours), as JSON and CSV.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestApp, api_channel};

#[tokio::test]
async fn the_overview_counts_a_scripted_timeline() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let anna = app.login("anna").await;

    // Olga writes twice (one conversation, one wait), Anna answers after ~300 ms, answers
    // again (nothing waits), Olga writes a third time and Anna answers: a reply, not a first
    // response. Petr writes once and gets no answer. A note and the system messages count
    // for nothing.
    let o = app.client_says("o", "Olga", "m1", "hello").await;
    let chat = o["chat_id"].clone();
    app.client_says("o", "Olga", "m2", "anyone?").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let say = |text: &'static str| {
        let anna = &anna;
        let chat = chat.clone();
        async move {
            let (st, _) = anna
                .post(
                    &format!("/api/v1/chats/{chat}/messages"),
                    json!({"text": text}),
                )
                .await;
            assert_eq!(st, 201);
        }
    };
    say("Hi Olga").await;
    say("How can I help?").await;
    app.client_says("o", "Olga", "m3", "the price").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    say("100 EUR").await;
    anna.post(
        &format!("/api/v1/chats/{chat}/notes"),
        json!({"text": "vip", "mentions": []}),
    )
    .await;
    app.client_says("p", "Petr", "m4", "hi").await;
    // A dialog opened and closed: one resolution time.
    let (st, d) = anna
        .post(
            &format!("/api/v1/contacts/{}/dialogs", o["contact_id"]),
            json!({}),
        )
        .await;
    assert_eq!(st.as_u16() / 100, 2, "{d}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, _) = anna
        .post(&format!("/api/v1/dialogs/{}/close", d["id"]), json!({}))
        .await;
    assert_eq!(st.as_u16() / 100, 2);

    let today = jiff::Timestamp::now().to_string()[..10].to_string();
    let (st, r) = boss
        .get(&format!("/api/v1/reports/overview?from={today}&to={today}"))
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["time_zone"], "UTC");
    assert_eq!(
        (
            r["conversations"].clone(),
            r["messages_in"].clone(),
            r["messages_out"].clone()
        ),
        (json!(2), json!(4), json!(3)),
        "{r}"
    );
    let first = &r["first_response_ms"];
    assert_eq!(first["count"], 1);
    let avg = first["avg"].as_i64().unwrap();
    assert!((250..5_000).contains(&avg), "{first}");
    let p50 = first["p50"].as_i64().unwrap();
    assert!(
        (p50 - avg).abs() * 20 <= avg,
        "one sample: the median is it, within 5 % ({first})"
    );
    let reply = &r["reply_ms"];
    assert_eq!(reply["count"], 2, "{reply}");
    assert!(reply["avg"].as_i64().unwrap() < avg, "{reply}");
    let res = &r["resolution_ms"];
    assert_eq!(res["count"], 1);
    assert!(res["avg"].as_i64().unwrap() >= 150, "{res}");

    let days = r["by_day"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["day"], today.as_str());
    assert_eq!(days[0]["messages_in"], 4);
    assert_eq!(r["by_channel"][0]["channel_id"], "crm");
    let by_manager = r["by_manager"].as_array().unwrap();
    let of = |id: Value| {
        by_manager
            .iter()
            .find(|m| m["manager_id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(of(json!(anna_id))["messages_out"], 3, "{r}");
    assert_eq!(of(json!(anna_id))["name"], "anna name");
    assert_eq!(of(Value::Null)["messages_in"], 4, "nobody was responsible");
    let heat: u64 = r["heatmap"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_array().unwrap().iter().map(|h| h.as_u64().unwrap()))
        .sum();
    assert_eq!(heat, 4);
    assert!(r["definitions"]["first_response_ms"].is_string());

    // Filters, and a day without activity.
    let (_, other) = boss
        .get(&format!(
            "/api/v1/reports/overview?from={today}&to={today}&manager={anna_id}"
        ))
        .await;
    assert_eq!(
        (other["messages_in"].clone(), other["messages_out"].clone()),
        (json!(0), json!(3))
    );
    let (_, none) = boss
        .get("/api/v1/reports/overview?from=2020-01-01&to=2020-01-03")
        .await;
    assert_eq!(none["by_day"].as_array().unwrap().len(), 3);
    assert_eq!(none["conversations"], 0);
    assert_eq!(none["first_response_ms"]["p50"], Value::Null);

    // CSV, and bad input named.
    let csv = boss
        .http
        .get(format!(
            "{}/api/v1/reports/overview?from={today}&to={today}",
            app.url
        ))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("day,conversations,messages_in,messages_out"));
    assert!(lines[1].starts_with(&format!("{today},2,4,3,")), "{text}");
    for (q, field) in [
        ("from=yesterday&to=2026-01-01", "from"),
        ("from=2026-01-02&to=2026-01-01", "to"),
        ("to=2026-01-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "to"),
    ] {
        let (st, e) = boss.get(&format!("/api/v1/reports/overview?{q}")).await;
        assert_eq!(
            (st.as_u16(), e["field"].clone()),
            (422, json!(field)),
            "{q}: {e}"
        );
    }
}
