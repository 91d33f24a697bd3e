//! The client card: data, tags, log, chat switches, drafts, uploads and API tokens.

use serde_json::{Value, json};

use crate::support::{TestApp, api_channel, client};

#[tokio::test]
async fn card_data_tags_log_and_flags() {
    let app = TestApp::spawn_with(&format!("{}[[assistants]]\nid = \"helper\"\nname = \"Helper\"\nurl = \"https://ai.example/v1/chat/completions\"\nmodel = \"m\"\n", api_channel("crm", None))).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let v = app.client_says("c", "Olga", "m1", "hi").await;
    let (cid, chat) = (
        v["contact_id"].as_u64().unwrap(),
        v["chat_id"].as_u64().unwrap(),
    );

    let (st, c) = b.send("PATCH", &format!("/api/v1/contacts/{cid}"), Some(json!({
        "name": "Olga Petrova", "phones": ["+7 912 345-67-89"], "emails": ["Olga@Example.com"],
        "custom_fields": {"city": "Perm"}, "sales_plan": "Wholesale", "marked": true
    }))).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["phones"], json!(["79123456789"]));
    assert_eq!(c["emails"], json!(["olga@example.com"]));
    assert_eq!(c["custom_fields"]["city"], "Perm");
    let (st, e) = b
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{cid}"),
            Some(json!({"phones": ["call me"]})),
        )
        .await;
    assert_eq!(st, 422);
    assert!(e["message"].as_str().unwrap().starts_with("phones"));
    let (st, _) = b
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{cid}"),
            Some(json!({"nickname": "x"})),
        )
        .await;
    assert_eq!(st, 400, "unknown fields are refused");

    b.post(
        &format!("/api/v1/contacts/{cid}/tags"),
        json!({"tag": "vip"}),
    )
    .await;
    let (_, c) = b
        .post(
            &format!("/api/v1/contacts/{cid}/tags"),
            json!({"tag": "wholesale"}),
        )
        .await;
    assert_eq!(c["tags"], json!(["vip", "wholesale"]));
    let (_, c) = b
        .send("DELETE", &format!("/api/v1/contacts/{cid}/tags/vip"), None)
        .await;
    assert_eq!(c["tags"], json!(["wholesale"]));
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{cid}"),
        Some(json!({"blacklisted": true})),
    )
    .await;
    let (_, log) = b.get(&format!("/api/v1/contacts/{cid}/log")).await;
    let events: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["blacklisted", "tag_removed", "tag_added", "tag_added"],
        "newest first"
    );

    let (_, card) = b.get(&format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(card["contact"]["name"], "Olga Petrova");
    assert_eq!(card["chats"][0]["id"], chat);
    let (_, row) = b.get("/api/v1/chats").await;
    assert_eq!(row["items"][0]["marked"], true);
    assert_eq!(row["items"][0]["name"], "Olga Petrova");

    let (st, ch) = b.send("PATCH", &format!("/api/v1/chats/{chat}"), Some(json!({"disabled": true, "bot_disabled": true, "assistant_on": true, "assistant": "helper"}))).await;
    assert_eq!(st, 200, "{ch}");
    assert_eq!(
        (
            ch["disabled"].clone(),
            ch["bot_disabled"].clone(),
            ch["assistant"].clone()
        ),
        (json!(true), json!(true), json!("helper"))
    );
    let (st, _) = b
        .send(
            "PATCH",
            &format!("/api/v1/chats/{chat}"),
            Some(json!({"assistant": "nobody"})),
        )
        .await;
    assert_eq!(st, 422);
    let (_, ch) = b
        .post(&format!("/api/v1/chats/{chat}/assistant/reset"), json!({}))
        .await;
    assert_eq!(
        (ch["assistant_on"].clone(), ch["assistant"].clone()),
        (json!(false), json!(null))
    );
    let (_, ch) = b.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(ch["chat"]["disabled"], true, "flags are stored");
    app.stop().await;
}

#[tokio::test]
async fn drafts_are_per_manager_and_marked_in_the_list() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    app.add_manager("anna", "manager").await;
    let b = app.login("boss").await;
    let a = app.login("anna").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let (st, d) = b
        .send(
            "PUT",
            &format!("/api/v1/chats/{chat}/draft"),
            Some(json!({"text": "half a thought", "blocks": [{"type": "text", "text": "x"}]})),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    let (_, list) = b.get("/api/v1/chats").await;
    assert_eq!(list["items"][0]["draft"], true);
    let (_, list) = a.get("/api/v1/chats").await;
    assert_eq!(list["items"][0]["draft"], false, "drafts are per manager");
    // Search results carry the same marks, and a client without a draft has none.
    app.client_says("d", "Olga Two", "m2", "hello").await;
    app.wait_search().await;
    let marks = |list: &serde_json::Value| {
        let mut m: Vec<(String, bool)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["name"].as_str().unwrap().to_string(), i["draft"] == true))
            .collect();
        m.sort();
        m
    };
    let (_, found) = b.get("/api/v1/chats?q=olga").await;
    assert_eq!(
        marks(&found),
        vec![("Olga".to_string(), true), ("Olga Two".to_string(), false)],
        "{found}"
    );
    let (_, found) = a.get("/api/v1/chats?q=olga").await;
    assert!(marks(&found).iter().all(|(_, d)| !d), "{found}");
    let (_, d) = app
        .login("boss")
        .await
        .get(&format!("/api/v1/chats/{chat}/draft"))
        .await;
    assert_eq!(
        d["draft"]["text"], "half a thought",
        "survives another device"
    );
    assert_eq!(d["draft"]["blocks"][0]["type"], "text");
    // Sending from the chat clears the sender's draft.
    b.post(
        &format!("/api/v1/chats/{chat}/messages"),
        json!({"text": "full thought"}),
    )
    .await;
    let (_, d) = b.get(&format!("/api/v1/chats/{chat}/draft")).await;
    assert!(d["draft"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn uploads_check_size_and_type_and_attach_to_messages() {
    let app = TestApp::spawn_with(&format!(
        "{}[limits]\nmax_upload_bytes = 2000\n",
        api_channel("crm", None)
    ))
    .await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let up = |mime: &str, name: &str, body: Vec<u8>| {
        b.http
            .post(format!("{}/api/v1/uploads?name={name}", app.url))
            .header("x-csrf-token", b.csrf.clone().unwrap())
            .header("content-type", mime)
            .body(body)
    };
    let r = up("application/pdf", "big.pdf", vec![b'%'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = up("text/html", "x.html", b"<script>".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415, "HTML is never stored");
    let r = up("application/pdf", "x.pdf", b"MZ not a pdf".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = up("application/pdf", "invoice.pdf", b"%PDF-1.4 tiny".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let att: serde_json::Value = r.json().await.unwrap();
    assert_eq!(att["name"], "invoice.pdf");
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "", "attachments": [{"id": att["id"]}]}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["attachments"][0]["mime"], "application/pdf");
    let r = b
        .request("GET", att["url"].as_str().unwrap(), None)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment",
        "documents download, never render"
    );
    let (st, _) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"attachments": [{"id": "0".repeat(64)}]}),
        )
        .await;
    assert_eq!(st, 422);
    let r = client()
        .get(format!("{}{}", app.url, att["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "files need a session");
    app.stop().await;
}

#[tokio::test]
async fn api_tokens_act_without_csrf_and_can_be_revoked() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    app.add_manager("anna", "manager").await;
    let b = app.login("boss").await;
    let (st, _) = app
        .login("anna")
        .await
        .post("/api/v1/tokens", json!({"name": "x"}))
        .await;
    assert_eq!(st, 403);
    let (st, t) = b.post("/api/v1/tokens", json!({"name": "CRM sync"})).await;
    assert_eq!(st, 201);
    let token = t["token"].as_str().unwrap().to_string();
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let c = client();
    let r = c
        .post(format!("{}/api/v1/chats/{chat}/messages", app.url))
        .bearer_auth(&token)
        .json(&json!({"text": "automated", "kind": "bot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let m: serde_json::Value = r.json().await.unwrap();
    assert_eq!(m["kind"], "bot");
    // H3 and H2 hold for an integration's bot messages too: refused, nothing stored or sent.
    for (switch, why) in [
        ("bot_disabled", "bot messages are off"),
        ("disabled", "disabled"),
    ] {
        b.send(
            "PATCH",
            &format!("/api/v1/chats/{chat}"),
            Some(json!({switch: true})),
        )
        .await;
        let r = c
            .post(format!("{}/api/v1/chats/{chat}/messages", app.url))
            .bearer_auth(&token)
            .json(&json!({"text": "refused", "kind": "bot"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{switch}");
        assert!(r.text().await.unwrap().contains(why), "{switch}");
        b.send(
            "PATCH",
            &format!("/api/v1/chats/{chat}"),
            Some(json!({switch: false})),
        )
        .await;
    }
    let (_, h) = b.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(!h.to_string().contains("refused"), "nothing stored: {h}");
    let (_, list) = b.get("/api/v1/tokens").await;
    assert!(
        list["items"][0].get("token").is_none(),
        "the token is shown once"
    );
    b.send("DELETE", &format!("/api/v1/tokens/{}", t["id"]), None)
        .await;
    let r = c
        .get(format!("{}/api/v1/chats", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = TestApp::spawn().await;
    let r = client()
        .get(format!("{}/api/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    // Every route in the routes table is documented, with its method.
    let mut missing = Vec::new();
    for r in crate::support::routes::all() {
        if r.path.contains('*') || r.path == "/" || r.method == "HEAD" {
            continue;
        }
        let p = r.path.replace("{sha}", "{sha256}");
        if paths
            .get(&p)
            .and_then(|o| o.get(r.method.to_lowercase()))
            .is_none()
        {
            missing.push(r.key());
        }
    }
    assert!(missing.is_empty(), "undocumented routes: {missing:?}");
    let r = client()
        .get(format!("{}/api/v1/docs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/docs/docs.js"));
    app.stop().await;
}

#[tokio::test]
async fn managers_set_their_name_and_avatar() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let up = |mime: &str, name: &str, body: &[u8]| {
        b.http
            .post(format!("{}/api/v1/uploads?name={name}", app.url))
            .header("x-csrf-token", b.csrf.clone().unwrap())
            .header("content-type", mime.to_string())
            .body(body.to_vec())
    };
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), b"fake-avatar"].concat();
    let img: Value = up("image/png", "me.png", &png)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pdf: Value = up("application/pdf", "cv.pdf", b"%PDF-1.4 x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let (st, v) = b
        .send(
            "PATCH",
            "/api/v1/session",
            Some(json!({"avatar": pdf["id"]})),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert!(v["message"].as_str().unwrap().contains("avatar"), "{v}");
    let (st, v) = b
        .send(
            "PATCH",
            "/api/v1/session",
            Some(json!({"avatar": "0".repeat(64)})),
        )
        .await;
    assert_eq!(st, 422, "{v}");

    let (st, v) = b
        .send(
            "PATCH",
            "/api/v1/session",
            Some(json!({"name": "Big Boss", "avatar": img["id"]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["manager"]["name"], "Big Boss");
    let url = v["manager"]["avatar_url"].as_str().unwrap().to_string();
    let r = b.request("GET", &url, None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), png.as_slice());

    // Messages carry the author's avatar.
    let chat = app.client_says("c", "Olga", "m1", "hi").await["chat_id"]
        .as_u64()
        .unwrap();
    let (st, m) = b
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "hello"}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["author"]["avatar_url"], url.as_str());
    assert_eq!(m["author"]["name"], "Big Boss");

    // null removes it; absent leaves it alone.
    let (_, v) = b
        .send("PATCH", "/api/v1/session", Some(json!({"name": "Boss"})))
        .await;
    assert_eq!(v["manager"]["avatar_url"], url.as_str());
    let (_, v) = b
        .send("PATCH", "/api/v1/session", Some(json!({"avatar": null})))
        .await;
    assert!(v["manager"]["avatar_url"].is_null(), "{v}");
    // Without the CSRF token nothing changes.
    let r = b
        .http
        .patch(format!("{}/api/v1/session", app.url))
        .json(&json!({"name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
