//! Orders and sales (A2) through the real server: plans with renamable stages, orders
//! created, moved, filtered and deleted, and what a move leaves in the client's history.

use serde_json::{Value, json};

use crate::support::{TestApp, api_channel};

fn titles(v: &Value) -> Vec<&str> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["title"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn orders_move_through_stages_and_the_client_sees_it() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    let boss_id = app.add_manager("boss", "admin").await["id"]
        .as_u64()
        .unwrap();
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let b = app.login("boss").await;
    let v = app.client_says("c1", "Carla", "m1", "I want a sofa").await;
    let (cid, chat) = (
        v["contact_id"].as_u64().unwrap(),
        v["chat_id"].as_u64().unwrap(),
    );

    let (st, p) = b
        .post(
            "/api/v1/sales_plans",
            json!({"name": "Retail", "stages": ["Lead", "Offer", "Won"]}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    // Another manager's open board follows every order live.
    let anna = app.login("anna").await;
    let mut ws = crate::support::ws::connect(&app, &anna.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let offer = p["stage_list"][1]["id"].as_u64().unwrap();

    let (st, e) = b
        .post(
            "/api/v1/orders",
            json!({"contact_id": cid, "plan": "Nope", "title": "x"}),
        )
        .await;
    assert_eq!((st.as_u16(), &e["field"]), (422, &json!("plan")), "{e}");
    let (st, e) = b
        .post(
            "/api/v1/orders",
            json!({"contact_id": cid, "plan": "Retail", "title": " "}),
        )
        .await;
    assert_eq!((st.as_u16(), &e["field"]), (422, &json!("title")), "{e}");
    let (st, o) = b
        .post("/api/v1/orders", json!({"contact_id": cid, "plan": "retail", "title": "Sofa", "amount": 1200.5, "currency": "eur"}))
        .await;
    assert_eq!(st, 201, "{o}");
    assert_eq!(
        (&o["stage"], &o["plan"], &o["currency"]),
        (&json!("Lead"), &json!("Retail"), &json!("EUR"))
    );
    assert_eq!(
        (&o["manager_id"], &o["closed_ms"]),
        (&json!(boss_id), &Value::Null)
    );
    let oid = o["id"].as_u64().unwrap();
    let e = ws
        .until(5, |e| e["type"] == "order.updated")
        .await
        .expect("the new order reaches the board");
    assert_eq!(
        (&e["data"]["order"]["id"], &e["data"]["order"]["stage"]),
        (&json!(oid), &json!("Lead")),
        "{e}"
    );
    assert_eq!(e["data"]["order"]["contact_name"], "Carla", "{e}");
    let (_, o2) = b
        .post("/api/v1/orders", json!({"contact_id": cid, "plan": "Retail", "stage": "Offer", "title": "Chair", "amount": 80, "currency": "EUR", "manager_id": anna_id}))
        .await;

    // Move by stage id, then by name to the last stage (closed).
    let (st, m) = b
        .send(
            "PATCH",
            &format!("/api/v1/orders/{oid}"),
            Some(json!({"stage": offer})),
        )
        .await;
    assert_eq!((st.as_u16(), &m["stage"]), (200, &json!("Offer")), "{m}");
    let e = ws
        .until(5, |e| {
            e["type"] == "order.updated"
                && e["data"]["order"]["id"] == oid
                && e["data"]["order"]["stage"] == "Offer"
        })
        .await
        .expect("the stage move reaches the board");
    assert!(e["data"]["order"]["updated_ms"].as_i64().is_some(), "{e}");
    let (_, m) = b
        .send(
            "PATCH",
            &format!("/api/v1/orders/{oid}"),
            Some(json!({"stage": "won"})),
        )
        .await;
    assert_eq!(m["stage"], "Won");
    assert!(
        m["closed_ms"].as_i64().is_some(),
        "the last stage closes the order: {m}"
    );
    let (st, e) = b
        .send(
            "PATCH",
            &format!("/api/v1/orders/{oid}"),
            Some(json!({"stage": "Lost"})),
        )
        .await;
    assert_eq!((st.as_u16(), &e["field"]), (422, &json!("stage")));

    // The move is in the client log and the chat; the client is on the plan (the L3 filter).
    let (_, log) = b.get(&format!("/api/v1/contacts/{cid}/log")).await;
    let log = log.to_string();
    assert!(
        log.contains("moved the order “Sofa” from Lead to Offer (Retail)"),
        "{log}"
    );
    assert!(log.contains("from Offer to Won"), "{log}");
    let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(
        h["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "system"
                && m["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("from Offer to Won")),
        "{h}"
    );
    let (_, c) = b.get(&format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(c["contact"]["sales_plan"], "Retail");
    app.wait_search().await;
    let f = r#"{"sales_plan":"retail"}"#;
    let (_, l) = b
        .get(&format!(
            "/api/v1/chats?section=all&filter={}",
            f.replace('"', "%22")
                .replace('{', "%7B")
                .replace('}', "%7D")
                .replace(':', "%3A")
        ))
        .await;
    assert_eq!(l["items"].as_array().unwrap().len(), 1, "{l}");

    // The board: stages with counts and totals; filters by manager and date.
    let (st, board) = b.get("/api/v1/orders?plan=Retail").await;
    assert_eq!(st, 200, "{board}");
    assert_eq!(board["stages"][1]["count"], 1);
    assert_eq!(board["stages"][1]["totals"]["EUR"], 80.0);
    assert_eq!(board["stages"][2]["totals"]["EUR"], 1200.5);
    let (_, mine) = b
        .get(&format!("/api/v1/orders?plan=Retail&manager_id={anna_id}"))
        .await;
    assert_eq!(titles(&mine), vec!["Chair"]);
    let (_, none) = b.get("/api/v1/orders?plan=Retail&from=9999999999999").await;
    assert!(titles(&none).is_empty());

    // Renaming a stage keeps its orders; removing a stage with orders is refused.
    let (st, p) = b
        .post(
            "/api/v1/sales_plans",
            json!({"name": "Retail", "stages": ["Lead", {"id": offer, "name": "Proposal"}, "Won"]}),
        )
        .await;
    assert_eq!(st, 200, "{p}");
    let (_, o) = b.get(&format!("/api/v1/orders/{}", o2["id"])).await;
    assert_eq!(o["stage"], "Proposal");
    let (st, e) = b
        .post(
            "/api/v1/sales_plans",
            json!({"name": "Retail", "stages": ["Lead", "Won"]}),
        )
        .await;
    assert_eq!(st, 409, "{e}");
    let (st, _) = b.send("DELETE", "/api/v1/sales_plans/Retail", None).await;
    assert_eq!(st, 409, "a plan with orders stays");

    let (st, _) = b
        .send("DELETE", &format!("/api/v1/orders/{oid}"), None)
        .await;
    assert_eq!(st, 204);
    let e = ws
        .until(5, |e| e["type"] == "order.deleted")
        .await
        .expect("the deletion reaches the board");
    assert_eq!(
        (
            &e["data"]["id"],
            &e["data"]["contact_id"],
            &e["data"]["plan"]
        ),
        (&json!(oid), &json!(cid), &json!("Retail")),
        "{e}"
    );
    let (_, list) = b.get(&format!("/api/v1/contacts/{cid}/orders")).await;
    assert_eq!(titles(&list), vec!["Chair"]);
    let (st, _) = b.get(&format!("/api/v1/orders/{oid}")).await;
    assert_eq!(st, 404);
    let (st, _) = b.get("/api/v1/contacts/999999/orders").await;
    assert_eq!(st, 404);
    app.stop().await;
}
