//! Assignment (T1): a client's responsible manager set through the API, the "mine" and
//! "unassigned" lists, the system message, the client log and the assignee's notification.

use serde_json::{Value, json};

use crate::support::{TestApp, api_channel};

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_client_gets_one_responsible_manager_and_the_lists_follow() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    let boss_id = app.add_manager("boss", "admin").await["id"]
        .as_u64()
        .unwrap();
    let anna_id = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let anna = app.login("anna").await;
    let olga = app.client_says("o", "Olga", "m1", "hello").await;
    let petr = app.client_says("p", "Petr", "m2", "hi").await;
    app.client_says("r", "Rita", "m3", "hey").await;
    let (olga_id, petr_id) = (olga["contact_id"].clone(), petr["contact_id"].clone());

    let (st, c) = boss
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{olga_id}"),
            Some(json!({"assignee": anna_id})),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["assignee"], anna_id);
    let (st, _) = anna
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{petr_id}"),
            Some(json!({"assignee": anna_id})),
        )
        .await;
    assert_eq!(st, 200);
    // "Mine" comes from the store: no wait for the search index.
    let (st, mine) = anna.get("/api/v1/chats?section=all&assigned=me").await;
    assert_eq!(st, 200, "{mine}");
    assert_eq!(names(&mine), vec!["Olga", "Petr"]);
    let (_, unread_mine) = anna
        .get("/api/v1/chats?section=unread&assigned=me&limit=1")
        .await;
    assert_eq!(
        (
            unread_mine["total"].clone(),
            unread_mine["items"].as_array().unwrap().len()
        ),
        (json!(2), 1)
    );
    assert!(unread_mine["next_cursor"].is_string(), "{unread_mine}");
    app.wait_search().await;

    let (st, mine) = anna.get("/api/v1/chats?section=all&assigned=me").await;
    assert_eq!(st, 200, "{mine}");
    assert_eq!(names(&mine), vec!["Olga", "Petr"]);
    assert_eq!(mine["total"], 2);
    let (_, boss_mine) = boss.get("/api/v1/chats?section=all&assigned=me").await;
    assert!(names(&boss_mine).is_empty(), "{boss_mine}");
    let (_, none) = boss.get("/api/v1/chats?section=all&assigned=none").await;
    assert_eq!(names(&none), vec!["Rita"]);
    let (_, by_id) = boss
        .get(&format!(
            "/api/v1/chats?section=all&assigned={anna_id}&q=olga"
        ))
        .await;
    assert_eq!(names(&by_id), vec!["Olga"], "with search text too");
    let (st, e) = boss.get("/api/v1/chats?assigned=someone").await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["field"], "assigned");

    // The history, the client log and the notification.
    let (_, h) = boss
        .get(&format!("/api/v1/chats/{}/messages", olga["chat_id"]))
        .await;
    let sys: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "system")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        sys.contains(&"boss name assigned the client to anna name"),
        "{sys:?}"
    );
    let (_, log) = boss.get(&format!("/api/v1/contacts/{olga_id}/log")).await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "assigned"),
        "{log}"
    );
    let (_, n) = anna.get("/api/v1/notifications").await;
    let items = n["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "Petr was taken by Anna herself: {n}");
    assert_eq!(items[0]["contact_id"], olga_id);
    assert_eq!(items[0]["from"]["name"], "boss name");

    // Unassign, and an unknown manager is refused naming the field.
    let (st, c) = boss
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{olga_id}"),
            Some(json!({"assignee": null})),
        )
        .await;
    assert_eq!((st.as_u16(), c["assignee"].clone()), (200, Value::Null));
    let (st, e) = boss
        .send(
            "PATCH",
            &format!("/api/v1/contacts/{olga_id}"),
            Some(json!({"assignee": 999})),
        )
        .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(e["field"], "assignee");
    // No wait for the index: a filtered list reads the writes made before it.
    let (_, none) = boss.get("/api/v1/chats?section=all&assigned=none").await;
    assert_eq!(names(&none), vec!["Olga", "Rita"]);
    let _ = boss_id;
}

/// An API channel with automatic assignment.
fn assigning(mode: &str, cap: u32) -> String {
    api_channel("crm", None).replace(
        "kind = \"api\"\n",
        &format!("kind = \"api\"\nassign = \"{mode}\"\nassign_cap = {cap}\n"),
    )
}

/// Each client's responsible manager's id (0 for nobody).
async fn assignees(b: &crate::support::Browser, ids: &[Value]) -> Vec<u64> {
    let mut out = Vec::new();
    for id in ids {
        let (_, c) = b.get(&format!("/api/v1/contacts/{id}")).await;
        out.push(c["contact"]["assignee"].as_u64().unwrap_or(0));
    }
    out
}

/// `assignees` once `done` holds for them (or after 5 s, for the assertion to report).
async fn assignees_when(
    b: &crate::support::Browser,
    ids: &[Value],
    done: impl Fn(&[u64]) -> bool,
) -> Vec<u64> {
    let mut got = assignees(b, ids).await;
    for _ in 0..50 {
        if done(&got) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        got = assignees(b, ids).await;
    }
    got
}

/// Round robin among managers online, with the cap holding when clients arrive at once;
/// the ones nobody could take go to the next manager to come online.
#[tokio::test]
async fn round_robin_among_managers_online_holds_the_cap_and_waits_for_the_next() {
    let app = TestApp::spawn_with(&assigning("round_robin", 2)).await;
    app.add_manager("boss", "admin").await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let ivan = app.add_manager("ivan", "manager").await["id"]
        .as_u64()
        .unwrap();
    let olga = app.add_manager("olga", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let (a, i, o) = (
        app.login("anna").await,
        app.login("ivan").await,
        app.login("olga").await,
    );
    // Nobody online yet: the first client waits.
    let early = app.client_says("early", "Early", "e1", "hello?").await["contact_id"].clone();
    assert_eq!(
        assignees(&boss, std::slice::from_ref(&early)).await,
        vec![0]
    );

    let _wa = crate::support::ws::connect(&app, &a.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    // Anna came online and took the waiting client.
    let got = assignees_when(&boss, std::slice::from_ref(&early), |g| g[0] != 0).await;
    assert_eq!(
        got,
        vec![anna],
        "the first manager online takes the waiting client"
    );
    let _wi = crate::support::ws::connect(&app, &i.cookie(), Some(&app.url), "")
        .await
        .unwrap();

    // Six clients at once: Anna has 1 open, so she can take 1 more, Ivan 2; 3 wait.
    let mut set = tokio::task::JoinSet::new();
    for n in 0..6 {
        let url = format!("{}/webhooks/api/crm", app.url);
        set.spawn(async move {
            let r: Value = crate::support::client()
                .post(url)
                .bearer_auth(crate::support::TOKEN)
                .json(&json!({"contact": {"external_id": format!("c{n}"), "name": format!("Client {n}")},
                              "message": {"external_id": format!("m{n}"), "text": "hi"}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["contact_id"].clone()
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = set.join_next().await {
        ids.push(r.unwrap());
    }
    let got = assignees(&boss, &ids).await;
    let count = |m: u64| got.iter().filter(|x| **x == m).count();
    assert_eq!((count(anna), count(ivan), count(0)), (1, 2, 3), "{got:?}");

    // Olga comes online: she takes two of the waiting three (her cap).
    let _wo = crate::support::ws::connect(&app, &o.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let got = assignees_when(&boss, &ids, |g| {
        g.iter().filter(|x| **x == olga).count() == 2
    })
    .await;
    let count = |m: u64| got.iter().filter(|x| **x == m).count();
    assert_eq!(
        (count(anna), count(ivan), count(olga), count(0)),
        (1, 2, 2, 1),
        "{got:?}"
    );
    app.wait_search().await;
    let (_, h) = boss
        .get(&format!("/api/v1/chats?section=all&assigned={olga}"))
        .await;
    assert_eq!(h["total"], 2, "{h}");
    let chat = h["items"][0]["default_chat_id"].clone();
    let (_, msgs) = boss.get(&format!("/api/v1/chats/{chat}/messages")).await;
    assert!(msgs["items"].is_array(), "{h} {msgs}");
    assert!(
        msgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "Assigned to olga name automatically (came online)"),
        "{msgs}"
    );
}

/// Fewest open: the manager online with the fewest open conversations gets the next client;
/// reading a client's messages closes the conversation for the count.
#[tokio::test]
async fn fewest_open_goes_to_the_least_busy_manager_online() {
    let app = TestApp::spawn_with(&assigning("fewest_open", 100)).await;
    app.add_manager("boss", "admin").await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let ivan = app.add_manager("ivan", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let (a, i) = (app.login("anna").await, app.login("ivan").await);
    let _wa = crate::support::ws::connect(&app, &a.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let c1 = app.client_says("f1", "One", "m1", "hi").await;
    let c2 = app.client_says("f2", "Two", "m2", "hi").await;
    // Only Anna online: both hers.
    assert_eq!(
        assignees(&boss, &[c1["contact_id"].clone(), c2["contact_id"].clone()]).await,
        vec![anna, anna]
    );
    let _wi = crate::support::ws::connect(&app, &i.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let c3 = app.client_says("f3", "Three", "m3", "hi").await;
    let c4 = app.client_says("f4", "Four", "m4", "hi").await;
    // Ivan had none open: he gets both (2 vs 0, then 2 vs 1).
    assert_eq!(
        assignees(&boss, &[c3["contact_id"].clone(), c4["contact_id"].clone()]).await,
        vec![ivan, ivan]
    );
    // Anna reads her two: her open count drops to 0, so the next is hers.
    for c in [&c1, &c2] {
        a.post(&format!("/api/v1/chats/{}/read", c["chat_id"]), json!({}))
            .await;
    }
    let c5 = app.client_says("f5", "Five", "m5", "hi").await;
    assert_eq!(
        assignees(&boss, &[c5["contact_id"].clone()]).await,
        vec![anna]
    );
}

/// A funnel's assign step without a manager uses the channel's rule; with the rule off it
/// says that nobody was assigned.
#[tokio::test]
async fn an_automatic_assign_step_follows_the_channel_rule() {
    let app = TestApp::spawn_with(&assigning("round_robin", 10)).await;
    app.add_manager("boss", "admin").await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let a = app.login("anna").await;
    let _wa = crate::support::ws::connect(&app, &a.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let r = app.client_says("s1", "Sofia", "m1", "hi").await;
    let cid = r["contact_id"].clone();
    assert_eq!(
        assignees(&boss, std::slice::from_ref(&cid)).await,
        vec![anna]
    );
    boss.send(
        "PATCH",
        &format!("/api/v1/contacts/{cid}"),
        Some(json!({"assignee": null})),
    )
    .await;
    let (st, f) = boss
        .post(
            "/api/v1/funnels",
            json!({"name": "Route", "trigger": {"kind": "manual"},
                   "steps": [{"kind": "assign", "manager_id": null}]}),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    let (st, _) = boss
        .post(
            &format!("/api/v1/funnels/{}/start", f["id"]),
            json!({"contact_id": cid}),
        )
        .await;
    assert_eq!(st.as_u16() / 100, 2);
    let got = assignees_when(&boss, std::slice::from_ref(&cid), |g| g[0] != 0).await;
    assert_eq!(got, vec![anna]);
    let (_, msgs) = boss
        .get(&format!("/api/v1/chats/{}/messages", r["chat_id"]))
        .await;
    let texts: Vec<&str> = msgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"Assigned to anna name automatically (round robin)"),
        "{texts:?}"
    );
}

/// Presence (T4): a manager with the app open is online, away when the page reports them
/// idle, offline when it closes; every manager's socket hears each change, the managers
/// list shows it, and automatic assignment passes an away manager by until they are back.
#[tokio::test]
async fn presence_follows_sockets_and_idle_reports() {
    let app = TestApp::spawn_with(&assigning("round_robin", 10)).await;
    app.add_manager("boss", "admin").await;
    let anna = app.add_manager("anna", "manager").await["id"]
        .as_u64()
        .unwrap();
    let boss = app.login("boss").await;
    let a = app.login("anna").await;
    let presence_of = |v: &Value, id: u64| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| m["presence"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let (_, list) = boss.get("/api/v1/managers").await;
    assert_eq!(presence_of(&list, anna), "offline");
    let mut watch = crate::support::ws::connect(&app, &boss.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let mut wa = crate::support::ws::connect(&app, &a.cookie(), Some(&app.url), "")
        .await
        .unwrap();
    let is = |state: &'static str| {
        move |v: &Value| {
            v["type"] == "presence"
                && v["data"]["manager_id"] == anna
                && v["data"]["state"] == state
        }
    };
    assert!(watch.until(5, is("online")).await.is_some());
    // The watching admin is idle too, so nobody is online once Anna is away.
    watch.send(json!({"type": "idle", "idle": true})).await;
    let (_, list) = boss.get("/api/v1/managers").await;
    assert_eq!(presence_of(&list, anna), "online");

    wa.send(json!({"type": "idle", "idle": true})).await;
    assert!(watch.until(5, is("away")).await.is_some());
    let said = app.client_says("p1", "Pavel", "m1", "hi").await;
    let waiting = said["contact_id"].clone();
    assert_eq!(
        assignees(&boss, std::slice::from_ref(&waiting)).await,
        vec![0],
        "nobody online: away managers get no new clients"
    );
    wa.send(json!({"type": "idle", "idle": false})).await;
    assert!(watch.until(5, is("online")).await.is_some());
    let got = assignees_when(&boss, std::slice::from_ref(&waiting), |g| g[0] != 0).await;
    assert_eq!(
        got,
        vec![anna],
        "back online, Anna takes the waiting client"
    );
    drop(wa);
    assert!(watch.until(5, is("offline")).await.is_some());
}
