//! The authorisation matrix run against a real server: every route of the routes table ×
//! every kind of caller gets its documented outcome, refused calls change nothing, webhooks
//! take only their channel's own secret, and a manager cannot reach another manager's
//! private objects (drafts, notifications, unshared saved filters).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::matrix::{Access, Body, CALLERS, Caller, Expect, Fresh, MATRIX, Row, expect};
use crate::support::telegram::{self as tg, FakeTelegram};
use crate::support::viber::{self as vb, ViberFake};
use crate::support::whatsapp::{self as wa, WaFake};
use crate::support::{Browser, PASSWORD, TOKEN, TestApp, api_channel, routes, ws};

#[test]
fn every_route_has_exactly_one_matrix_row() {
    let table: Vec<String> = routes::all().iter().map(routes::Route::key).collect();
    let rows: Vec<&str> = MATRIX.iter().map(|r| r.route).collect();
    let missing: Vec<_> = table
        .iter()
        .filter(|k| !rows.contains(&k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in tests/security/matrix.rs (say who may call them): {missing:#?}"
    );
    let stale: Vec<_> = rows
        .iter()
        .filter(|r| !table.iter().any(|k| k == *r))
        .collect();
    assert!(
        stale.is_empty(),
        "matrix rows for routes that do not exist: {stale:#?}"
    );
    let mut dup = rows.clone();
    dup.sort_unstable();
    dup.dedup();
    assert_eq!(dup.len(), rows.len(), "a route has two matrix rows");
}

/// One concrete caller: what it sends.
#[derive(Clone, Default)]
struct Who {
    login: String,
    cookie: Option<String>,
    csrf: Option<String>,
    bearer: Option<String>,
    /// An Origin header to send (a page on some site).
    origin: Option<String>,
}

impl Who {
    fn of(b: &Browser, login: &str) -> Who {
        Who {
            login: login.into(),
            cookie: b.cookie.clone(),
            csrf: b.csrf.clone(),
            bearer: None,
            origin: None,
        }
    }
}

type Fx = HashMap<String, String>;

/// The server, its callers and their fixtures.
struct World {
    app: TestApp,
    http: reqwest::Client,
    who: HashMap<&'static str, Who>,
    /// Fixture per account (anna: manager, boss: admin, root: owner of the API token).
    fx: HashMap<&'static str, Fx>,
    boss: Browser,
    _fakes: (FakeTelegram, ViberFake, WaFake),
}

static UNIQ: AtomicU64 = AtomicU64::new(1);

fn render(t: &str, fx: &Fx, who: &Who) -> String {
    let mut s = t
        .replace("<login>", &who.login)
        .replace("<password>", PASSWORD);
    if s.contains("<uniq>") {
        s = s.replace("<uniq>", &UNIQ.fetch_add(1, Ordering::Relaxed).to_string());
    }
    for (k, v) in fx {
        s = s.replace(&format!("<{k}>"), v);
    }
    if let Some(i) = s.find('<')
        && s[i + 1..]
            .split('>')
            .next()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        panic!("unfilled placeholder in {s}");
    }
    s
}

fn caller_name(c: Caller) -> &'static str {
    match c {
        Caller::Anonymous => "anonymous",
        Caller::ForgedCookie => "forged",
        Caller::BogusBearer => "bogus",
        Caller::Manager => "anna",
        Caller::Admin => "boss",
        Caller::Bearer => "bearer",
        Caller::ManagerNoCsrf => "anna-nocsrf",
        Caller::AdminWrongCsrf => "boss-wrongcsrf",
        Caller::Visitor => "visitor",
    }
}

/// Whose objects a caller aims at.
fn account(c: Caller) -> &'static str {
    match c {
        Caller::Admin | Caller::AdminWrongCsrf => "boss",
        Caller::Bearer => "root",
        _ => "anna",
    }
}

fn methods(row: &Row) -> Vec<&'static str> {
    match row.method() {
        "ANY" => vec!["GET", "POST", "DELETE"],
        m => vec![m],
    }
}

impl World {
    async fn build() -> World {
        let (t, v, w) = (
            FakeTelegram::start().await,
            ViberFake::start().await,
            WaFake::start().await,
        );
        let config = format!(
            "[server]\npublic_url = \"https://parley.example.com\"\n\n{}\
             [[channels]]\nid = \"tg\"\nkind = \"telegram\"\nname = \"Bot\"\ntoken = \"{}\"\n\
             webhook_secret = \"{}\"\nmode = \"webhook\"\napi_base = \"{}\"\n\n{}\n{}",
            api_channel("crm", None),
            tg::TOKEN,
            tg::SECRET,
            t.api_base(),
            vb::config(&v, None),
            wa::channel("wa", &w.base(), ""),
        ) + &format!("\n{}\n{}", widget_channel("site"), widget_channel("site2"));
        let app = TestApp::spawn_with(&config).await;
        let mut ids = HashMap::new();
        for (login, role) in [
            ("anna", "manager"),
            ("boss", "admin"),
            ("root", "admin"),
            ("helper", "manager"),
            ("victim", "manager"),
        ] {
            ids.insert(
                login,
                app.add_manager(login, role).await["id"].as_u64().unwrap(),
            );
        }
        let anna = app.login("anna").await;
        let boss = app.login("boss").await;
        let root = app.login("root").await;
        let helper = app.login("helper").await;
        let (st, tok) = root
            .post(
                "/api/v1/tokens",
                json!({"name": "matrix", "scope": "admin"}),
            )
            .await;
        assert_eq!(st, 201, "{tok}");
        let bearer = tok["token"].as_str().unwrap().to_string();
        let boss2 = app.login("boss").await;

        let mut who = HashMap::new();
        let anon = Who {
            login: "helper".into(),
            ..Who::default()
        };
        who.insert("anonymous", anon.clone());
        who.insert(
            "forged",
            Who {
                cookie: Some(format!("__Host-parley={}", "ab".repeat(32))),
                ..anon.clone()
            },
        );
        who.insert(
            "bogus",
            Who {
                bearer: Some("pt_not-a-real-token".into()),
                ..anon
            },
        );
        who.insert("anna", Who::of(&anna, "anna"));
        who.insert("boss", Who::of(&boss, "boss"));
        who.insert(
            "bearer",
            Who {
                login: "root".into(),
                bearer: Some(bearer),
                ..Who::default()
            },
        );
        who.insert(
            "anna-nocsrf",
            Who {
                csrf: None,
                ..Who::of(&anna, "anna")
            },
        );
        who.insert(
            "boss-wrongcsrf",
            Who {
                csrf: boss2.csrf.clone(),
                ..Who::of(&boss, "boss")
            },
        );

        let (visitor, vsha) = visitor_fixture(&app).await;
        who.insert(
            "visitor",
            Who {
                login: "helper".into(),
                bearer: Some(visitor),
                ..Who::default()
            },
        );
        let mut shared = shared_fixture(&app, &boss, ids["victim"]).await;
        shared.insert("vsha".into(), vsha);
        let mut fx = HashMap::new();
        for (login, own) in [("anna", &anna), ("boss", &boss), ("root", &root)] {
            let mut f = shared.clone();
            f.extend(account_fixture(&app, login, ids[login], own, &boss, &root, &helper).await);
            fx.insert(login, f);
        }
        World {
            app,
            http: crate::support::tls::http_client()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            who,
            fx,
            boss,
            _fakes: (t, v, w),
        }
    }

    async fn call(
        &self,
        who: &Who,
        method: &str,
        path: &str,
        body: Body,
        fx: &Fx,
    ) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, format!("{}{}", self.app.url, render(path, fx, who)));
        if let Some(c) = &who.cookie {
            rb = rb.header("cookie", c);
        }
        if let Some(c) = &who.csrf {
            rb = rb.header("x-csrf-token", c);
        }
        if let Some(b) = &who.bearer {
            rb = rb.bearer_auth(b);
        }
        if let Some(o) = &who.origin {
            rb = rb.header("origin", o);
        }
        match body {
            Body::None => {}
            Body::Json(t) => {
                rb = rb
                    .header("content-type", "application/json")
                    .body(render(t, fx, who));
            }
            Body::Raw(mime, t) => rb = rb.header("content-type", mime).body(t),
        }
        let r = rb.send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.text().await.unwrap_or_default())
    }

    /// The WebSocket handshake on `path` as this caller: 101 (and, for the managers'
    /// socket, its hello frame), or the refusal.
    async fn socket(&self, who: &Who, path: &str) -> u16 {
        let mut h: Vec<(&str, String)> = Vec::new();
        if let Some(c) = &who.cookie {
            h.push(("cookie", c.clone()));
            // The managers' page origin; the widget's socket is judged on its token alone here
            // (origins are checked below).
            if path.starts_with("/api/v1/") && who.origin.is_none() {
                h.push(("origin", self.app.url.clone()));
            }
        }
        if let Some(b) = &who.bearer {
            h.push(("authorization", format!("Bearer {b}")));
        }
        if let Some(o) = &who.origin {
            h.push(("origin", o.clone()));
        }
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match ws::connect_headers(&self.app, path, &h).await {
            Ok(_) if !path.starts_with("/api/v1/") => 101,
            Ok(mut s) => {
                let hello = s.next(5).await.unwrap_or(Value::Null);
                if hello["type"] == "hello" { 101 } else { 599 }
            }
            Err(st) => st,
        }
    }

    async fn check(
        &self,
        row: &Row,
        method: &str,
        who: &Who,
        fx: &Fx,
        e: Expect,
        label: &str,
    ) -> Option<String> {
        let (st, body) = self.run(row, method, who, row.path, fx).await;
        let good = match e {
            Expect::Ok(set) => set.contains(&st),
            Expect::Refused(want, text) => {
                st == want && body.to_lowercase().contains(&text.to_lowercase())
            }
            Expect::Skip => true,
        };
        (!good).then(|| {
            let shown: String = body.chars().take(160).collect();
            let path = row.route.split_once(' ').map_or(row.route, |(_, p)| p);
            format!("{label} {method} {path}: expected {e:?}, got {st} {shown}")
        })
    }

    /// Call `row` (a request or a WebSocket handshake) on `path` instead of its own.
    async fn run(&self, row: &Row, method: &str, who: &Who, path: &str, fx: &Fx) -> (u16, String) {
        if row.socket {
            (
                self.socket(who, &render(path, fx, who)).await,
                String::new(),
            )
        } else {
            self.call(who, method, path, row.body, fx).await
        }
    }

    /// What refused calls must not change, read as the owners see it.
    async fn snapshot(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (account, caller) in [("anna", "anna"), ("boss", "boss"), ("root", "bearer")] {
            let fx = &self.fx[account];
            let who = &self.who[caller];
            for p in [
                "/api/v1/managers",
                "/api/v1/tokens",
                "/api/v1/filters",
                "/api/v1/sales_plans",
                "/api/v1/notifications",
                "/api/v1/chats/counts",
                "/api/v1/chats/<chat>",
                "/api/v1/chats/<chat>/messages",
                "/api/v1/chats/<chat>/draft",
                "/api/v1/contacts/<contact>",
                "/api/v1/contacts/<contact>/log",
            ] {
                let (st, body) = self.call(who, "GET", p, Body::None, fx).await;
                let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
                out.push((format!("{caller} {p} {st}"), v));
            }
        }
        let (st, body) = self
            .call(
                &self.who["visitor"],
                "GET",
                "/widget/v1/site/messages",
                Body::None,
                &self.fx["anna"],
            )
            .await;
        out.push((
            format!("visitor history {st}"),
            serde_json::from_str(&body).unwrap_or(Value::Null),
        ));
        out
    }

    /// A throwaway caller for calls that end the caller's session.
    async fn fresh(&self, caller: Caller, f: Fresh) -> Who {
        let base = self.who[caller_name(caller)].clone();
        let signed_in = matches!(caller, Caller::Manager | Caller::Admin | Caller::Bearer);
        match f {
            Fresh::No => base,
            _ if !signed_in => base,
            Fresh::Session if caller == Caller::Bearer => base,
            Fresh::Session => Who::of(&self.app.login(&base.login).await, &base.login),
            Fresh::Account => {
                let login = format!("fresh{}", UNIQ.fetch_add(1, Ordering::Relaxed));
                let role = if caller == Caller::Manager {
                    "manager"
                } else {
                    "admin"
                };
                self.app.add_manager(&login, role).await;
                let b = self.app.login(&login).await;
                if caller != Caller::Bearer {
                    return Who::of(&b, &login);
                }
                let (_, t) = b
                    .post("/api/v1/tokens", json!({"name": "fresh", "scope": "admin"}))
                    .await;
                Who {
                    login,
                    bearer: t["token"].as_str().map(String::from),
                    ..Who::default()
                }
            }
        }
    }
}

fn widget_channel(id: &str) -> String {
    format!(
        "[[channels]]\nid = \"{id}\"\nkind = \"widget\"\nname = \"Site\"\n\
         allowed_origins = [\"https://shop.example\"]\n"
    )
}

/// A website visitor of channel `site` who wrote once with a file: (token, the file's id).
async fn visitor_fixture(app: &TestApp) -> (String, String) {
    let c = crate::support::client();
    let url = |p: &str| format!("{}/widget/v1/site/{p}", app.url);
    let r = c.post(url("sessions")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(url("uploads?name=v.txt"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("visitor's file")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sha = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(url("messages"))
        .bearer_auth(&token)
        .json(&json!({"id": "first", "text": "hello", "attachments": [{"id": sha}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    (token, sha)
}

async fn shared_fixture(app: &TestApp, boss: &Browser, victim: u64) -> Fx {
    let r = boss
        .request("PUT", "/api/v1/uploads?name=a.txt", None)
        .header("content-type", "text/plain")
        .body("matrix blob")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let sha = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = &app.running().state.channels.link_key;
    let expires = parley::store::now_ms() / 1000 + 3600;
    let sig = parley::channels::blob_link_signature(key, &sha, expires);
    let past = expires - 7200;
    let old_sig = parley::channels::blob_link_signature(key, &sha, past);
    let mut fx = Fx::new();
    fx.insert(
        "link".into(),
        format!("/public/blobs/{sha}/{expires}/{sig}/a.txt"),
    );
    fx.insert(
        "tampered".into(),
        format!("/public/blobs/{sha}/{expires}/{}/a.txt", "0".repeat(32)),
    );
    fx.insert(
        "expired".into(),
        format!("/public/blobs/{sha}/{past}/{old_sig}/a.txt"),
    );
    fx.insert("sha".into(), sha);
    fx.insert("victim".into(), victim.to_string());
    for (k, v) in channel_bodies() {
        fx.insert(k.into(), v);
    }
    fx
}

fn channel_bodies() -> [(&'static str, String); 4] {
    [
        ("api_body", json!({"contact": {"external_id": "hook"}, "message": {"external_id": "hook-1", "text": "hello"}}).to_string()),
        ("tg_body", tg::message_update(1, 777, 1, json!({"text": "hello"})).to_string()),
        ("vb_body", vb::message(vb::FIRST_TOKEN, "vb-user", "Vic", json!({"type": "text", "text": "hello"})).to_string()),
        ("wa_body", wa::body(wa::messages("15550001111", "Wanda", vec![wa::msg("15550001111", "wamid.M1", "text", json!({"body": "hello"}))])).to_string()),
    ]
}

/// An account's own objects: a client chat, a failed reply, a task, an open dialog, a
/// notification for it, its saved filter, a sales plan and an API token to delete.
async fn account_fixture(
    app: &TestApp,
    login: &str,
    id: u64,
    own: &Browser,
    boss: &Browser,
    root: &Browser,
    helper: &Browser,
) -> Fx {
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": format!("c-{login}"), "name": format!("Client of {login}")}),
            json!({"external_id": format!("m-{login}"), "text": "hello"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (chat, contact) = (
        v["chat_id"].as_u64().unwrap(),
        v["contact_id"].as_u64().unwrap(),
    );
    let ok = |st: reqwest::StatusCode, v: &Value, what: &str| {
        assert!(st.is_success(), "fixture {what} for {login}: {st} {v}");
    };
    let (st, m) = boss
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            json!({"text": "will fail"}),
        )
        .await;
    ok(st, &m, "message");
    let (st, task) = boss
        .post(
            &format!("/api/v1/contacts/{contact}/tasks"),
            json!({"title": "t"}),
        )
        .await;
    ok(st, &task, "task");
    let (st, dialog) = boss
        .post(&format!("/api/v1/contacts/{contact}/dialogs"), json!({}))
        .await;
    ok(st, &dialog, "dialog");
    let (st, n) = helper
        .post(
            &format!("/api/v1/chats/{chat}/notes"),
            json!({"text": "look", "mentions": [id]}),
        )
        .await;
    ok(st, &n, "note");
    let (_, notes) = own.get("/api/v1/notifications").await;
    let (st, filter) = own
        .post(
            "/api/v1/filters",
            json!({"name": format!("{login}'s"), "filter": {"has_phone": true}}),
        )
        .await;
    ok(st, &filter, "filter");
    let plan = format!("plan-{login}");
    let (st, p) = boss
        .post("/api/v1/sales_plans", json!({"name": plan}))
        .await;
    ok(st, &p, "plan");
    let (st, token) = root
        .post("/api/v1/tokens", json!({"name": format!("doomed-{login}")}))
        .await;
    ok(st, &token, "token");
    // The reply fails (the channel has no callback); wait for it so the state is settled.
    let mid = m["id"].as_u64().unwrap();
    let mut settled = false;
    for _ in 0..200 {
        let (_, h) = boss.get(&format!("/api/v1/chats/{chat}/messages")).await;
        if h["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == mid && x["status"] == "failed")
        {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(settled, "the fixture reply did not fail");
    let id_of = |v: &Value, k: &str| v[k].to_string().trim_matches('"').to_string();
    Fx::from([
        ("chat".into(), chat.to_string()),
        ("contact".into(), contact.to_string()),
        ("message".into(), mid.to_string()),
        ("task".into(), id_of(&task, "id")),
        ("dialog".into(), id_of(&dialog, "id")),
        ("notification".into(), id_of(&notes["items"][0], "id")),
        ("filter".into(), id_of(&filter, "id")),
        ("plan".into(), plan),
        ("token".into(), id_of(&token, "id")),
        ("tag".into(), format!("tag-{login}")),
    ])
}

/// A request to a channel route carrying that channel's own secret: accepted (positive
/// control, so the refusals above are about the secret and not the body).
fn authentic(row: &Row, fx: &Fx) -> (String, Vec<(&'static str, String)>, Option<String>) {
    let body = |k: &str| fx[k].clone();
    match row.route {
        "POST /webhooks/api/{id}" => (
            row.path.into(),
            vec![("authorization", format!("Bearer {TOKEN}"))],
            Some(body("api_body")),
        ),
        "POST /webhooks/telegram/{id}" => (
            row.path.into(),
            vec![("x-telegram-bot-api-secret-token", tg::SECRET.into())],
            Some(body("tg_body")),
        ),
        "POST /webhooks/viber/{id}" => {
            let b = body("vb_body");
            (
                row.path.into(),
                vec![(
                    "x-viber-content-signature",
                    parley::channels::viber::signature(vb::TOKEN, b.as_bytes()),
                )],
                Some(b),
            )
        }
        "POST /webhooks/whatsapp/{id}" => {
            let b = body("wa_body");
            (
                row.path.into(),
                vec![("x-hub-signature-256", wa::sign(b.as_bytes()))],
                Some(b),
            )
        }
        "GET /webhooks/whatsapp/{id}" => (
            row.path.replace(
                "verify_token=guess",
                &format!("verify_token={}", wa::VERIFY_TOKEN),
            ),
            vec![],
            None,
        ),
        other => panic!("no positive control for channel route {other}: add one to authentic()"),
    }
}

#[tokio::test]
async fn authorisation_matrix() {
    let w = World::build().await;
    let mut failures = Vec::new();
    let mut checks = 0;

    // Phase 1: every call that must be refused. None of them may change anything.
    let before = w.snapshot().await;
    for &caller in CALLERS {
        let who = &w.who[caller_name(caller)];
        let fx = &w.fx[account(caller)];
        for row in MATRIX {
            for method in methods(row) {
                let e = expect(row, method, caller);
                if !(matches!(e, Expect::Refused(..)) || row.access == Access::Channel) {
                    continue;
                }
                checks += 1;
                failures.extend(w.check(row, method, who, fx, e, caller_name(caller)).await);
            }
        }
    }
    // Channel routes: garbage without the secret, and another channel's id, are refused too;
    // signed links with a wrong signature or a past expiry are refused.
    let fx = &w.fx["anna"];
    let anon = &w.who["anonymous"];
    for row in MATRIX {
        if row.access == Access::Channel && row.method() == "POST" {
            let (st, body) = w
                .call(
                    anon,
                    "POST",
                    row.path,
                    Body::Raw("application/json", "{not json"),
                    fx,
                )
                .await;
            checks += 1;
            if ![401, 403, 404].contains(&st) {
                failures.push(format!("garbage to {}: got {st} {body}", row.route));
            }
            let (path, headers, body) = authentic(row, fx);
            let other = format!("{}-other", path);
            let (st, _) = send_raw(&w, row.method(), &other, &headers, body).await;
            checks += 1;
            if st != 404 {
                failures.push(format!(
                    "{} with the secret but an unknown channel id: got {st}",
                    row.route
                ));
            }
        }
        if row.access == Access::Signed {
            for bad in ["<tampered>", "<expired>"] {
                let (st, _) = w.call(anon, row.method(), bad, Body::None, fx).await;
                checks += 1;
                if st != 403 {
                    failures.push(format!("{} {bad} link: expected 403, got {st}", row.route));
                }
            }
        }
    }
    // The widget API: a page on a site the channel does not allow is refused whatever it
    // carries, a visitor's token is good for its own channel only, unknown channels are 404.
    let visitor = &w.who["visitor"];
    let evil = Who {
        origin: Some("https://evil.example".into()),
        ..visitor.clone()
    };
    for row in MATRIX
        .iter()
        .filter(|r| r.path.starts_with("/widget/v1/site/"))
    {
        let mut tries = vec![(&evil, row.path.to_string(), 403)];
        if row.access == Access::Visitor {
            tries.push((visitor, row.path.replacen("/site/", "/site2/", 1), 401));
        }
        tries.push((visitor, row.path.replacen("/site/", "/nope/", 1), 404));
        for (who, path, want) in tries {
            let (st, body) = w.run(row, row.method(), who, &path, fx).await;
            checks += 1;
            if st != want {
                failures.push(format!(
                    "{} as {path}: expected {want}, got {st} {body}",
                    row.route
                ));
            }
        }
    }
    let after = w.snapshot().await;
    for ((k, a), (_, b)) in before.iter().zip(&after) {
        if a != b {
            failures.push(format!(
                "a refused call changed {k}:\n  before {a}\n  after  {b}"
            ));
        }
    }
    let refused = checks;

    // Phase 2: every permitted call succeeds for real.
    for &caller in CALLERS {
        let fx = &w.fx[account(caller)];
        for row in MATRIX {
            for method in methods(row) {
                let e = expect(row, method, caller);
                if !matches!(e, Expect::Ok(_)) || row.access == Access::Channel {
                    continue;
                }
                let who = w.fresh(caller, row.fresh).await;
                checks += 1;
                failures.extend(w.check(row, method, &who, fx, e, caller_name(caller)).await);
            }
        }
    }
    for row in MATRIX.iter().filter(|r| r.access == Access::Channel) {
        let (path, headers, body) = authentic(row, fx);
        let (st, text) = send_raw(&w, row.method(), &path, &headers, body).await;
        checks += 1;
        if st != 200 {
            failures.push(format!(
                "{} with its own secret: expected 200, got {st} {text}",
                row.route
            ));
        }
    }
    // The admin's renames and new managers really happened (the permitted calls were not no-ops).
    let (_, managers) = w.boss.get("/api/v1/managers").await;
    assert!(
        managers.to_string().contains("\"name\":\"Victim "),
        "{managers}"
    );
    assert!(
        failures.is_empty(),
        "{} of {checks} checks failed ({refused} refusals):\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "authorisation matrix: {checks} checks, {refused} of them refusals, all as documented"
    );
    w.app.stop().await;
}

async fn send_raw(
    w: &World,
    method: &str,
    path: &str,
    headers: &[(&'static str, String)],
    body: Option<String>,
) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = w.http.request(m, format!("{}{}", w.app.url, path));
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b);
    }
    let r = rb.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.text().await.unwrap_or_default())
}
