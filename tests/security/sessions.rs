//! Guessing passwords and ending sessions. tests/foundation/auth.rs already proves the
//! per-account limit (401 then 429 with Retry-After, the right password refused while
//! limited) and that sign-out closes the WebSocket; this adds the per-address limit, the
//! X-Forwarded-For rules, and that every other kind of revocation closes live sockets.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::ws::{Ws, connect, connect_with};
use crate::support::{Browser, PASSWORD, TestApp, api_channel, client};

/// Sign in as `login` from `forwarded` (an X-Forwarded-For value, if any): status and
/// Retry-After.
async fn sign_in(
    app: &TestApp,
    login: &str,
    password: &str,
    forwarded: Option<&str>,
) -> (u16, Option<u64>) {
    let mut rb = client()
        .post(format!("{}/api/v1/session", app.url))
        .json(&json!({"login": login, "password": password}));
    if let Some(f) = forwarded {
        rb = rb.header("x-forwarded-for", f);
    }
    let r = rb.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (r.status().as_u16(), retry)
}

/// Fail once for each of many accounts (never twice for one, so no account limit is hit)
/// until the address is limited; returns how many failures that took.
async fn exhaust_address(app: &TestApp, forwarded: Option<&str>) -> usize {
    for i in 0..40 {
        let (st, retry) = sign_in(app, &format!("nobody{i}"), "guess", forwarded).await;
        match st {
            401 => continue,
            429 => {
                assert!(retry.is_some_and(|s| s >= 1), "429 without Retry-After");
                return i;
            }
            other => panic!("unexpected {other} while guessing"),
        }
    }
    panic!("40 failed sign-ins from one address were never limited");
}

// login_burst = 2: two failures lock an account, eight (4×) lock an address.
const LIMITS: &str = "[limits]\nlogin_burst = 2\n";

#[tokio::test]
async fn guessing_across_many_accounts_locks_the_address() {
    let app = TestApp::spawn_with(LIMITS).await;
    app.add_manager("anna", "manager").await;
    let failures = exhaust_address(&app, None).await;
    eprintln!("sign-in limit: the address was limited after {failures} failed sign-ins");
    assert!(
        (3..=8).contains(&failures),
        "the address bucket, not an account bucket, stopped it after {failures} failures"
    );
    // anna's account was never attacked, but this address is limited: her right password is
    // refused here too.
    assert_eq!(sign_in(&app, "anna", PASSWORD, None).await.0, 429);
    // Without server.trust_proxy, X-Forwarded-For is the attacker's to write: ignored.
    assert_eq!(
        sign_in(&app, "anna", PASSWORD, Some("198.51.100.7"))
            .await
            .0,
        429
    );
    assert_eq!(
        sign_in(&app, "nobody99", "guess", Some("198.51.100.8"))
            .await
            .0,
        429
    );
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited_and_accounts_stay_locked() {
    let app = TestApp::spawn_with(&format!("[server]\ntrust_proxy = true\n\n{LIMITS}")).await;
    app.add_manager("anna", "manager").await;
    app.add_manager("ivan", "manager").await;
    let attacker = Some("203.0.113.1");
    let office = Some("203.0.113.2");
    exhaust_address(&app, attacker).await;
    assert_eq!(sign_in(&app, "ivan", PASSWORD, attacker).await.0, 429);
    // Another client address behind the same proxy is not punished for the attacker.
    assert_eq!(sign_in(&app, "ivan", PASSWORD, office).await.0, 200);
    // An account under attack stays locked from every address, even for the right password.
    for _ in 0..2 {
        assert_eq!(
            sign_in(&app, "anna", "wrong password", Some("203.0.113.3"))
                .await
                .0,
            401
        );
    }
    let (st, retry) = sign_in(&app, "anna", PASSWORD, office).await;
    assert_eq!((st, retry.is_some()), (429, true));
    app.stop().await;
}

async fn socket(app: &TestApp, b: &Browser) -> Ws {
    let mut ws = connect(app, &b.cookie(), Some(&app.url), "").await.unwrap();
    assert_eq!(ws.next(5).await.unwrap()["type"], "hello");
    ws
}

/// The socket still delivers: a client message sent now arrives on it.
async fn still_live(app: &TestApp, ws: &mut Ws, text: &str) {
    app.client_says("c1", "Olga", text, text).await;
    let got = ws
        .until(5, |e| {
            e["type"] == "message.created" && e["data"]["message"]["text"] == text
        })
        .await;
    assert!(got.is_some(), "the unaffected socket stopped delivering");
}

#[tokio::test]
async fn every_revocation_closes_open_websockets() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let root_id = app.add_manager("root", "admin").await["id"]
        .as_u64()
        .unwrap();
    app.add_manager("boss", "admin").await;
    let boss = app.login("boss").await;
    let mut bystander = socket(&app, &boss).await;

    // A password change ends every session of the manager, on every device.
    let (a1, a2) = (app.login("anna").await, app.login("anna").await);
    let (mut w1, mut w2) = (socket(&app, &a1).await, socket(&app, &a2).await);
    let (st, _) = a1
        .post(
            "/api/v1/session/password",
            json!({"current_password": PASSWORD, "new_password": "second passphrase"}),
        )
        .await;
    assert_eq!(st, 204);
    assert!(w1.closed(5).await, "the changing device's socket closes");
    assert!(w2.closed(5).await, "the other device's socket closes");
    assert_eq!(
        connect(&app, &a2.cookie(), Some(&app.url), "").await.err(),
        Some(401)
    );
    still_live(&app, &mut bystander, "after the password change").await;

    // An admin setting a new password does the same.
    let a3 = login_with(&app, "anna", "second passphrase").await;
    let mut w3 = socket(&app, &a3).await;
    let (st, v) = boss
        .send(
            "PATCH",
            &format!("/api/v1/managers/{anna_id}"),
            Some(json!({"password": "third passphrase"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        w3.closed(5).await,
        "an admin's password reset closes the socket"
    );

    // Disabling the manager.
    let a4 = login_with(&app, "anna", "third passphrase").await;
    let mut w4 = socket(&app, &a4).await;
    let (st, _) = boss
        .send(
            "PATCH",
            &format!("/api/v1/managers/{anna_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 200);
    assert!(w4.closed(5).await, "disabling closes the socket");
    assert_eq!(
        connect(&app, &a4.cookie(), Some(&app.url), "").await.err(),
        Some(401)
    );

    // An API token's socket: deleting the token, or disabling the admin it acts as, ends it.
    let root = app.login("root").await;
    for end in ["delete the token", "disable its admin"] {
        let (_, t) = root.post("/api/v1/tokens", json!({"name": end})).await;
        let auth = format!("Bearer {}", t["token"].as_str().unwrap());
        let mut wt = connect_with(&app, &[("authorization", &auth)], "")
            .await
            .unwrap();
        assert_eq!(wt.next(5).await.unwrap()["type"], "hello");
        let (st, v): (StatusCode, Value) = if end == "delete the token" {
            boss.send("DELETE", &format!("/api/v1/tokens/{}", t["id"]), None)
                .await
        } else {
            boss.send(
                "PATCH",
                &format!("/api/v1/managers/{root_id}"),
                Some(json!({"disabled": true})),
            )
            .await
        };
        assert!(st.is_success(), "{end}: {st} {v}");
        assert!(wt.closed(5).await, "{end}: the token's socket closes");
        assert_eq!(
            connect_with(&app, &[("authorization", &auth)], "")
                .await
                .err(),
            Some(401),
            "{end}"
        );
    }
    still_live(&app, &mut bystander, "after all revocations").await;
    app.stop().await;
}

async fn login_with(app: &TestApp, login: &str, password: &str) -> Browser {
    let mut b = app.client();
    let r = b
        .request(
            "POST",
            "/api/v1/session",
            Some(json!({"login": login, "password": password})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    b.csrf = r.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .map(String::from);
    b
}

/// A WebSocket does not outlive its session: when the session expires the socket is closed,
/// without any request or revocation to trigger it.
#[tokio::test]
async fn a_socket_closes_when_its_session_expires() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let cookie = b.cookie();
    let token = cookie.split_once('=').unwrap().1.to_string();
    let hash = parley::accounts::sha256(token.as_bytes());
    let store = app.running().state.inbox.store.clone();
    store
        .write(move |w| {
            let mut s = parley::store::sessions::get(w, &hash)?.unwrap();
            s.expires_ms = parley::store::now_ms() + 1500;
            parley::store::sessions::create(w, &hash, &s)
        })
        .await
        .unwrap();
    let mut ws = connect(&app, &cookie, Some(&app.url), "").await.unwrap();
    let hello = ws.next(5).await.expect("hello");
    assert_eq!(hello["type"], "hello");
    let t0 = std::time::Instant::now();
    assert!(
        ws.closed(6).await,
        "the socket was closed when the session expired"
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    let (st, _) = b.get("/api/v1/chats").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}
