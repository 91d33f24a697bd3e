use serde_json::{Value, json};

use super::text::urlencode;
use crate::support::{Browser, TestApp, api_channel};

async fn filtered(b: &Browser, filter: Value) -> (u16, Vec<String>) {
    let (st, v) = b
        .get(&format!(
            "/api/v1/chats?filter={}",
            urlencode(&filter.to_string())
        ))
        .await;
    let names = v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    (st.as_u16(), names)
}

#[tokio::test]
async fn filters_combine_conditions_with_all_or_any() {
    let cfg = format!("{}{}", api_channel("crm", None), api_channel("shop", None));
    let app = TestApp::spawn_with(&cfg).await;
    let boss_id = app.add_manager("boss", "admin").await["id"]
        .as_u64()
        .unwrap();
    let b = app.login("boss").await;
    let a = app
        .inbound(
            "crm",
            json!({"external_id": "a", "name": "Anna", "phone": "+79120000001"}),
            json!({"external_id": "1", "text": "x"}),
        )
        .await
        .1;
    let bo = app
        .inbound(
            "shop",
            json!({"external_id": "b", "name": "Boris", "email": "boris@example.com"}),
            json!({"external_id": "2", "text": "x"}),
        )
        .await
        .1;
    let c = app.inbound("crm", json!({"external_id": "c", "name": "Clara", "phone": "+79120000003", "email": "c@example.com"}), json!({"external_id": "3", "text": "x"})).await.1;
    let (ca, cb, cc) = (
        a["contact_id"].as_u64().unwrap(),
        bo["contact_id"].as_u64().unwrap(),
        c["contact_id"].as_u64().unwrap(),
    );
    for (id, tag) in [(ca, "vip"), (cc, "vip"), (cb, "wholesale")] {
        b.post(&format!("/api/v1/contacts/{id}/tags"), json!({"tag": tag}))
            .await;
    }
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{ca}"),
        Some(json!({"custom_fields": {"City": "Perm Krai"}, "sales_plan": "Retail"})),
    )
    .await;
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{cb}"),
        Some(json!({"custom_fields": {"City": "Moscow"}, "blacklisted": true})),
    )
    .await;
    b.post(
        &format!("/api/v1/contacts/{cc}/tasks"),
        json!({"title": "call"}),
    )
    .await;
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{cc}"),
        Some(json!({"assignee": boss_id})),
    )
    .await;
    b.post(&format!("/api/v1/chats/{}/read", a["chat_id"]), json!({}))
        .await;
    app.wait_search().await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let check = |f: Value, want: &[&str]| {
        let b = &b;
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        async move {
            let (st, got) = filtered(b, f.clone()).await;
            assert_eq!(st, 200, "{f}");
            assert_eq!(sorted(got), want, "{f}");
        }
    };
    check(json!({"messengers": ["api"]}), &["Anna", "Boris", "Clara"]).await;
    check(json!({"has_phone": true}), &["Anna", "Clara"]).await;
    check(json!({"has_email": false}), &["Anna"]).await;
    check(json!({"has_phone": true, "has_email": true}), &["Clara"]).await;
    check(json!({"sales_plan": "retail"}), &["Anna"]).await;
    check(
        json!({"conditions": [{"field": "tag", "op": "is", "value": "VIP"}]}),
        &["Anna", "Clara"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "tag", "op": "is_not", "value": "vip"}]}),
        &["Boris"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "channel", "op": "is", "value": "shop"}]}),
        &["Boris"],
    )
    .await;
    check(json!({"conditions": [{"field": "custom_field", "key": "city", "op": "equals", "value": "moscow"}]}), &["Boris"]).await;
    check(json!({"conditions": [{"field": "custom_field", "key": "city", "op": "contains", "value": "kra"}]}), &["Anna"]).await;
    check(
        json!({"conditions": [{"field": "custom_field", "key": "city", "op": "empty"}]}),
        &["Clara"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "sales_plan", "op": "empty"}]}),
        &["Boris", "Clara"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "blacklisted", "op": "is", "value": true}]}),
        &["Boris"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "open_task", "op": "is", "value": true}]}),
        &["Clara"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "unread", "op": "is", "value": false}]}),
        &["Anna"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "assigned_manager", "op": "is", "value": boss_id}]}),
        &["Clara"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "assigned_manager", "op": "is", "value": null}]}),
        &["Anna", "Boris"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "created", "op": "after", "value": 0}]}),
        &["Anna", "Boris", "Clara"],
    )
    .await;
    check(
        json!({"conditions": [{"field": "last_activity", "op": "before", "value": 1000}]}),
        &[],
    )
    .await;
    // AND vs OR.
    let two = json!([{"field": "tag", "op": "is", "value": "vip"}, {"field": "has_email", "op": "is", "value": true}]);
    check(json!({"conditions": two}), &["Clara"]).await;
    check(
        json!({"match": "any", "conditions": two}),
        &["Anna", "Boris", "Clara"],
    )
    .await;
    // With search text and a section.
    let (_, v) = b
        .get(&format!(
            "/api/v1/chats?q=cla&filter={}",
            urlencode(
                &json!({"conditions": [{"field": "tag", "op": "is", "value": "vip"}]}).to_string()
            )
        ))
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = b
        .get(&format!(
            "/api/v1/chats?section=important&filter={}",
            urlencode(
                &json!({"conditions": [{"field": "tag", "op": "is", "value": "vip"}]}).to_string()
            )
        ))
        .await;
    assert_eq!(v["items"][0]["name"], "Clara");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // Unknown field or operator: 422 naming it.
    let (st, v) = b
        .get(&format!(
            "/api/v1/chats?filter={}",
            urlencode(r#"{"conditions":[{"field":"shoe_size","op":"is","value":1}]}"#)
        ))
        .await;
    assert_eq!(st, 422);
    assert!(v["message"].as_str().unwrap().contains("shoe_size"));
    let (st, v) = b
        .get(&format!(
            "/api/v1/chats?filter={}",
            urlencode(r#"{"conditions":[{"field":"tag","op":"regex","value":".*"}]}"#)
        ))
        .await;
    assert_eq!(st, 422);
    assert!(v["message"].as_str().unwrap().contains("regex"));
    app.stop().await;
}

#[tokio::test]
async fn saved_filters_crud_and_apply_like_typed() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    app.add_manager("anna", "manager").await;
    let b = app.login("boss").await;
    let anna = app.login("anna").await;
    for (ext, name) in [("1", "Vip One"), ("2", "Plain Two"), ("3", "Vip Three")] {
        let v = app.client_says(ext, name, ext, "x").await;
        if name.starts_with("Vip") {
            b.post(
                &format!("/api/v1/contacts/{}/tags", v["contact_id"]),
                json!({"tag": "vip"}),
            )
            .await;
        }
    }
    let spec = json!({"conditions": [{"field": "tag", "op": "is", "value": "vip"}]});
    app.wait_search().await;
    let (st, f) = b
        .post("/api/v1/filters", json!({"name": "VIPs", "filter": spec}))
        .await;
    assert_eq!(st, 201, "{f}");
    let fid = f["id"].as_u64().unwrap();
    let (_, typed) = b
        .get(&format!(
            "/api/v1/chats?filter={}",
            urlencode(&spec.to_string())
        ))
        .await;
    let (_, saved) = b.get(&format!("/api/v1/chats?saved_filter={fid}")).await;
    assert_eq!(
        saved["items"], typed["items"],
        "a saved filter gives the same result as typed"
    );
    assert_eq!(saved["items"].as_array().unwrap().len(), 2);
    let (st, _) = b
        .post(
            "/api/v1/filters",
            json!({"name": "bad", "filter": {"conditions": [{"field": "nope", "op": "is"}]}}),
        )
        .await;
    assert_eq!(st, 422);

    let (_, r) = b
        .send(
            "PATCH",
            &format!("/api/v1/filters/{fid}"),
            Some(json!({"name": "Very important"})),
        )
        .await;
    assert_eq!(r["name"], "Very important");
    let (st, d) = b
        .post(&format!("/api/v1/filters/{fid}/duplicate"), json!({}))
        .await;
    assert_eq!(st, 201);
    assert_eq!(d["name"], "Very important (copy)");
    // Private until shared.
    let (_, l) = anna.get("/api/v1/filters").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 0);
    let (st, _) = anna.get(&format!("/api/v1/chats?saved_filter={fid}")).await;
    assert_eq!(st, 404);
    b.send(
        "PATCH",
        &format!("/api/v1/filters/{fid}"),
        Some(json!({"shared": true})),
    )
    .await;
    let (_, l) = anna.get("/api/v1/filters").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 1);
    let (st, _) = anna
        .send("DELETE", &format!("/api/v1/filters/{fid}"), None)
        .await;
    assert_eq!(st, 403, "only the owner deletes");
    let (st, _) = b
        .send("DELETE", &format!("/api/v1/filters/{}", d["id"]), None)
        .await;
    assert_eq!(st, 204);
    let (_, l) = b.get("/api/v1/filters").await;
    assert_eq!(l["items"].as_array().unwrap().len(), 1);

    // Sales plans.
    let (st, p) = b
        .post(
            "/api/v1/sales_plans",
            json!({"name": "Wholesale", "stages": ["Lead", "Deal"]}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let (_, l) = b.get("/api/v1/sales_plans").await;
    assert_eq!(l["items"][0]["stages"], json!(["Lead", "Deal"]));
    let (st, _) = b
        .send("DELETE", "/api/v1/sales_plans/Wholesale", None)
        .await;
    assert_eq!(st, 204);
    app.stop().await;
}
