//! Objects that belong to one manager stay theirs: another manager, an admin and an admin's
//! API token can neither read nor change a manager's draft, notifications (nor see them live)
//! or unshared saved filters; shared filters can be used and copied but only changed by the
//! owner.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::ws::connect;
use crate::support::{Browser, TestApp, api_channel, client};

/// Someone who is not the owner.
enum Other {
    Session(&'static str, Browser),
    /// (server URL, token)
    Token(String, String),
}

impl Other {
    fn name(&self) -> &'static str {
        match self {
            Other::Session(n, _) => n,
            Other::Token(..) => "the admin's API token",
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        match self {
            Other::Session(_, b) => b.send(method, path, body).await,
            Other::Token(base, t) => {
                let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let mut rb = client().request(m, format!("{base}{path}")).bearer_auth(t);
                if let Some(b) = body {
                    rb = rb.json(&b);
                }
                let r = rb.send().await.unwrap();
                let st = r.status();
                (st, r.json().await.unwrap_or(Value::Null))
            }
        }
    }
}

#[tokio::test]
async fn managers_cannot_reach_each_others_private_objects() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    app.add_manager("ivan", "manager").await;
    app.add_manager("boss", "admin").await;
    let anna = app.login("anna").await;
    let ivan = app.login("ivan").await;
    let boss = app.login("boss").await;
    let (_, t) = boss.post("/api/v1/tokens", json!({"name": "crm"})).await;
    let token = t["token"].as_str().unwrap().to_string();
    let v = app.client_says("c1", "Olga", "m1", "hello").await;
    let chat = v["chat_id"].as_u64().unwrap();
    let draft = format!("/api/v1/chats/{chat}/draft");

    // Open live connections before anything private happens.
    let mut anna_ws = connect(&app, &anna.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let mut ivan_ws = connect(&app, &ivan.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    anna_ws.next(5).await.unwrap();
    ivan_ws.next(5).await.unwrap();

    // A draft and a mention for anna; a private and a shared filter of hers.
    let (st, _) = anna
        .send("PUT", &draft, Some(json!({"text": "anna's secret draft"})))
        .await;
    assert_eq!(st, 200);
    let (st, _) = ivan
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "for anna only", "mentions": [anna_id]}),
        )
        .await;
    assert_eq!(st, 201);
    let (_, mine) = anna.get("/api/v1/notifications").await;
    assert_eq!(mine["unread"], 1, "{mine}");
    let note_id = mine["items"][0]["id"].as_u64().unwrap();
    let filter = json!({"has_phone": true});
    let (_, private) = anna
        .post(
            "/api/v1/filters",
            json!({"name": "Anna private", "filter": filter}),
        )
        .await;
    let (_, shared) = anna
        .post(
            "/api/v1/filters",
            json!({"name": "Anna shared", "filter": filter, "shared": true}),
        )
        .await;
    let (p, s) = (
        private["id"].as_u64().unwrap(),
        shared["id"].as_u64().unwrap(),
    );

    // The mention reaches anna live and nobody else: ivan's stream, read up to a later event
    // everyone gets, carries no notification.
    let n = anna_ws
        .until(5, |e| e["type"] == "notification.created")
        .await;
    assert_eq!(n.expect("anna is notified live")["data"]["id"], note_id);
    app.client_says("c1", "Olga", "m2", "sync point").await;
    let mut seen = Vec::new();
    loop {
        let e = ivan_ws.next(5).await;
        let e = e.unwrap_or_else(|| panic!("ivan's stream ended before the sync point: {seen:?}"));
        if e["type"] == "message.created" && e["data"]["message"]["text"] == "sync point" {
            break;
        }
        seen.push(e["type"].as_str().unwrap_or("").to_string());
    }
    assert!(
        !seen.iter().any(|t| t.starts_with("notification")),
        "{seen:?}"
    );

    let others = [
        Other::Session("ivan", ivan),
        Other::Session("boss (admin)", boss),
        Other::Token(app.url.clone(), token),
    ];
    for o in &others {
        let who = o.name();
        // Drafts are per manager: the other sees and deletes only their own.
        // (The token acts as the admin, whose own draft the loop saved just before.)
        let (st, d) = o.send("GET", &draft, None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            !d.to_string().contains("anna's secret"),
            "{who} reads anna's draft: {d}"
        );
        assert_eq!(o.send("DELETE", &draft, None).await.0, 204, "{who}");
        assert_eq!(
            o.send("PUT", &draft, Some(json!({"text": "mine"}))).await.0,
            200,
            "{who}"
        );
        // Notifications.
        let (st, v) = o
            .send(
                "POST",
                &format!("/api/v1/notifications/{note_id}/read"),
                None,
            )
            .await;
        assert_eq!(st, 404, "{who} marks anna's notification read: {v}");
        let (_, list) = o.send("GET", "/api/v1/notifications", None).await;
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["id"] != note_id),
            "{who}: {list}"
        );
        assert_eq!(
            o.send("POST", "/api/v1/notifications/read_all", None)
                .await
                .0,
            204,
            "{who}"
        );
        // An unshared filter does not exist for others; a shared one is usable, not theirs.
        let (_, list) = o.send("GET", "/api/v1/filters", None).await;
        let ids: Vec<_> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect();
        assert!(ids.contains(&s) && !ids.contains(&p), "{who} lists {ids:?}");
        for (method, path) in [
            ("PATCH", format!("/api/v1/filters/{p}")),
            ("DELETE", format!("/api/v1/filters/{p}")),
            ("POST", format!("/api/v1/filters/{p}/duplicate")),
            ("GET", format!("/api/v1/chats?saved_filter={p}")),
            ("GET", format!("/api/v1/contacts?saved_filter={p}")),
        ] {
            let body = (method == "PATCH").then(|| json!({"name": "stolen"}));
            let (st, v) = o.send(method, &path, body).await;
            assert_eq!(st, 404, "{who} {method} {path}: {v}");
        }
        for (method, path) in [
            ("PATCH", format!("/api/v1/filters/{s}")),
            ("DELETE", format!("/api/v1/filters/{s}")),
        ] {
            let body = (method == "PATCH").then(|| json!({"name": "stolen", "shared": false}));
            let (st, v) = o.send(method, &path, body).await;
            assert_eq!(st, 403, "{who} {method} {path}: {v}");
        }
        let (st, copy) = o
            .send("POST", &format!("/api/v1/filters/{s}/duplicate"), None)
            .await;
        assert_eq!(st, 201, "{who}: {copy}");
        assert_eq!(copy["shared"], false);
        assert_eq!(
            o.send("GET", &format!("/api/v1/chats?saved_filter={s}"), None)
                .await
                .0,
            200,
            "{who}"
        );
    }

    // Anna's objects are exactly as she left them.
    let (_, d) = anna.get(&draft).await;
    assert_eq!(d["draft"]["text"], "anna's secret draft");
    let (_, mine) = anna.get("/api/v1/notifications").await;
    assert_eq!(mine["unread"], 1, "{mine}");
    assert_eq!(mine["items"][0]["read"], false);
    let (_, list) = anna.get("/api/v1/filters").await;
    let names: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["name"].as_str().unwrap().to_string(),
                f["shared"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (p, "Anna private".into(), false),
            (s, "Anna shared".into(), true)
        ]
    );
    // And she can do what the others could not (the refusals were about ownership).
    let (st, _) = anna
        .post(&format!("/api/v1/notifications/{note_id}/read"), json!({}))
        .await;
    assert_eq!(st, 200);
    let (st, _) = anna
        .send("DELETE", &format!("/api/v1/filters/{p}"), None)
        .await;
    assert_eq!(st, 204);
    app.stop().await;
}
