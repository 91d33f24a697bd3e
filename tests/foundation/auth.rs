//! Sign-in, sessions, CSRF, rate limits and roles, as a browser meets them.

use serde_json::json;

use crate::support::{PASSWORD, TestApp};

#[tokio::test]
async fn sign_in_sets_a_hardened_cookie_and_returns_csrf() {
    let app = TestApp::spawn().await;
    app.add_manager("anna", "manager").await;
    let c = app.client();
    let r = c
        .request(
            "POST",
            "/api/v1/session",
            Some(json!({"login": "Anna", "password": PASSWORD})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in [
        "__Host-parley=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(cookie.contains(attr), "cookie lacks {attr}: {cookie}");
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies must be host-only"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["manager"]["login"], "anna");
    assert_eq!(v["manager"]["role"], "manager");
    assert!(v["manager"].get("password_hash").is_none());
    assert_eq!(v["csrf_token"].as_str().unwrap().len(), 64);
    let (st, me) = c.get("/api/v1/session").await;
    assert_eq!(st, 200);
    assert_eq!(me["manager"]["login"], "anna");
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_is_401_then_429_with_retry_after() {
    let app = TestApp::spawn().await;
    app.add_manager("anna", "manager").await;
    let c = app.client();
    let bad = json!({"login": "anna", "password": "not the password"});
    let (st, v) = c.post("/api/v1/session", bad.clone()).await;
    assert_eq!(st, 401);
    assert_eq!(v["code"], "invalid_credentials");
    let (st, _) = c
        .post(
            "/api/v1/session",
            json!({"login": "nobody", "password": "x"}),
        )
        .await;
    assert_eq!(st, 401, "unknown login looks the same as a wrong password");
    let mut limited = None;
    for _ in 0..10 {
        let r = c
            .request("POST", "/api/v1/session", Some(bad.clone()))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("repeated failures are rate limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // While limited, even the right password is refused for this account.
    let (st, _) = c
        .post(
            "/api/v1/session",
            json!({"login": "anna", "password": PASSWORD}),
        )
        .await;
    assert_eq!(st, 429);
    app.stop().await;
}

#[tokio::test]
async fn state_changes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    let mut b = app.login("boss").await;
    let token = b.csrf.take();
    let (st, v) = b.send("DELETE", "/api/v1/session", None).await;
    assert_eq!(st, 403, "{v}");
    b.csrf = Some("0".repeat(64));
    let (st, _) = b.post("/api/v1/managers", json!({"login": "x1", "name": "X", "role": "manager", "password": "long enough password"})).await;
    assert_eq!(st, 403);
    b.csrf = token;
    let (st, _) = b.post("/api/v1/managers", json!({"login": "x1", "name": "X", "role": "manager", "password": "long enough password"})).await;
    assert_eq!(st, 201);
    let (st, _) = b.get("/api/v1/session").await;
    assert_eq!(st, 200, "the session survived the refused requests");
    app.stop().await;
}

#[tokio::test]
async fn sign_out_revokes_the_session_even_for_a_copied_cookie() {
    let app = TestApp::spawn().await;
    app.add_manager("anna", "manager").await;
    let b = app.login("anna").await;
    // Capture the cookie as an attacker who copied it would.
    let r = b
        .request(
            "POST",
            "/api/v1/session",
            Some(json!({"login": "anna", "password": PASSWORD})),
        )
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = r.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = b
        .http
        .delete(format!("{}/api/v1/session", app.url))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let other = crate::support::client();
    let r = other
        .get(format!("{}/api/v1/session", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn roles_are_enforced() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    app.add_manager("anna", "manager").await;
    let anna = app.login("anna").await;
    let (st, v) = anna.post("/api/v1/managers", json!({"login": "eve", "name": "Eve", "role": "admin", "password": "long enough password"})).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["code"], "forbidden");
    let (st, _) = anna
        .send(
            "PATCH",
            "/api/v1/managers/1",
            Some(json!({"role": "manager"})),
        )
        .await;
    assert_eq!(st, 403);
    let (st, v) = anna.get("/api/v1/managers").await;
    assert_eq!(st, 200, "managers may list colleagues for mentions");
    // boss, anna and the first admin created at start.
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let anon = app.client();
    let (st, v) = anon.get("/api/v1/managers").await;
    assert_eq!(st, 401);
    assert_eq!(v["code"], "unauthenticated");
    app.stop().await;
}

#[tokio::test]
async fn password_change_and_disable_end_sessions() {
    let app = TestApp::spawn().await;
    let boss_id = app.add_manager("boss", "admin").await["id"]
        .as_u64()
        .unwrap();
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let anna = app.login("anna").await;
    let anna2 = app.login("anna").await;

    let (st, v) = anna
        .post(
            "/api/v1/session/password",
            json!({"current_password": "wrong", "new_password": "a new long password"}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    let (st, _) = anna
        .post(
            "/api/v1/session/password",
            json!({"current_password": PASSWORD, "new_password": "a new long password"}),
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(
        anna2.get("/api/v1/session").await.0,
        401,
        "other devices signed out"
    );
    let c = app.client();
    let (st, _) = c
        .post(
            "/api/v1/session",
            json!({"login": "anna", "password": "a new long password"}),
        )
        .await;
    assert_eq!(st, 200);

    let (st, v) = boss
        .send(
            "PATCH",
            &format!("/api/v1/managers/{anna_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        c.get("/api/v1/session").await.0,
        401,
        "disabled manager is signed out"
    );
    let (st, _) = c
        .post(
            "/api/v1/session",
            json!({"login": "anna", "password": "a new long password"}),
        )
        .await;
    assert_eq!(st, 401);
    // The last admin cannot lock everyone out (the first admin, id 1, goes first).
    let (st, v) = boss
        .send(
            "PATCH",
            "/api/v1/managers/1",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = boss
        .send(
            "PATCH",
            &format!("/api/v1/managers/{boss_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    app.stop().await;
}
