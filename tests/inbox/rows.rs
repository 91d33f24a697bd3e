//! Search rows say what matched: clients with one name are told apart by a phone or e-mail.

use serde_json::{Value, json};

use crate::support::{Browser, TestApp, api_channel};

/// (name, matched) of every row the list search gives for `q`.
async fn found(b: &Browser, q: &str) -> Vec<(String, Value)> {
    let (st, v) = b
        .get(&format!("/api/v1/chats?q={}", q.replace(' ', "%20")))
        .await;
    assert_eq!(st, 200, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["matched"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn search_rows_show_the_matched_phone_or_email() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let data = [
        ("a1", json!({"phones": ["+7 912 111-22-33"]})),
        ("a2", json!({"emails": ["anna.work@example.com"]})),
        (
            "a3",
            json!({"phones": ["+44 20 7946 0000"], "emails": ["chen@shop.example"]}),
        ),
    ];
    for (ext, patch) in &data {
        let v = app.client_says(ext, "Anna Chen", ext, "hello").await;
        let cid = v["contact_id"].as_u64().unwrap();
        let (st, c) = b
            .send(
                "PATCH",
                &format!("/api/v1/contacts/{cid}"),
                Some(patch.clone()),
            )
            .await;
        assert_eq!(st, 200, "{c}");
    }
    app.client_says("z", "Zoe", "z", "hi").await;
    app.wait_search().await;

    // A name search: every "Anna Chen" row carries a different phone or e-mail.
    let mut shown: Vec<String> = found(&b, "Anna Chen")
        .await
        .into_iter()
        .map(|(n, m)| {
            assert_eq!(n, "Anna Chen");
            m["text"]
                .as_str()
                .expect("a name match still shows a phone or e-mail")
                .to_string()
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        ["+79121112233", "anna.work@example.com", "chen@shop.example"]
    );

    // A phone fragment shows that phone; an e-mail word shows that e-mail, not the phone; the
    // marks say which characters matched.
    assert_eq!(
        found(&b, "912 111").await,
        [(
            "Anna Chen".to_string(),
            json!({"text": "+79121112233", "marks": [[2, 8]]})
        )]
    );
    assert_eq!(
        found(&b, "chen@shop").await,
        [(
            "Anna Chen".to_string(),
            json!({"text": "chen@shop.example", "marks": [[0, 9]]})
        )]
    );

    // A client with neither gets null; the plain list (no search text) has no such field.
    assert_eq!(found(&b, "Zoe").await, [("Zoe".to_string(), Value::Null)]);
    let (_, v) = b.get("/api/v1/chats").await;
    assert!(v["items"][0].get("matched").is_none(), "{v}");
}
