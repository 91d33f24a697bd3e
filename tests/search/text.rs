use std::time::Duration;

use serde_json::{Value, json};

use crate::support::process::{self, Logs, Serve};
use crate::support::session::sign_in;
use crate::support::{Browser, PASSWORD, TestApp, api_channel, parley, text as out};

/// Seed clients through the API channel (the real ingest path).
async fn seed(app: &TestApp) {
    let people = [
        (
            "p1",
            "Anna Kuznetsova",
            Some("+7 912 345-67-89"),
            Some("anna.k@example.com"),
        ),
        ("p2", "Анна Кузнецова", Some("+7 (495) 111-22-33"), None),
        (
            "p3",
            "José Álvarez",
            Some("+34 612 345 678"),
            Some("jose@shop.example.org"),
        ),
        ("p4", "Алёна Смирнова", None, Some("alena@mail.example.ru")),
        ("p5", "Annabel Lee", Some("+1 415 555 0100"), None),
        ("p6", "Boris Ann", None, None),
    ];
    for (ext, name, phone, email) in people {
        let (st, v) = app
            .inbound(
                "crm",
                json!({"external_id": ext, "name": name, "phone": phone, "email": email}),
                json!({"external_id": format!("{ext}-m"), "text": format!("hello from {name}")}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    app.wait_search().await;
}

async fn names(b: &Browser, q: &str) -> Vec<String> {
    let url = format!("/api/v1/chats?q={}", urlencode(q));
    let (st, v) = b.get(&url).await;
    assert_eq!(st, 200, "{q}: {v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Poll until the search sees what the store has (the indexer commits within a second).
pub async fn eventually(b: &Browser, q: &str, want: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = names(b, q).await;
        if n.iter().any(|x| x == want) || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn typeahead_finds_names_phones_and_emails_the_way_people_type() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    seed(&app).await;
    eventually(&b, "Boris", "Boris Ann").await;
    let cases: &[(&str, &str)] = &[
        ("+7 912", "Anna Kuznetsova"),
        ("8 912", "Anna Kuznetsova"),
        ("912-34", "Anna Kuznetsova"),
        ("(912) 345", "Anna Kuznetsova"),
        ("79123456789", "Anna Kuznetsova"),
        ("ann", "Anna Kuznetsova"),
        ("Anna K", "Anna Kuznetsova"),
        ("ANNA kuz", "Anna Kuznetsova"),
        ("кузн", "Анна Кузнецова"),
        ("анна к", "Анна Кузнецова"),
        ("anna.k@", "Anna Kuznetsova"),
        ("@example.co", "Anna Kuznetsova"),
        ("shop.example", "José Álvarez"),
        ("jose", "José Álvarez"),
        ("álvarez", "José Álvarez"),
        ("алена", "Алёна Смирнова"),
        ("Алёна", "Алёна Смирнова"),
        ("612 345", "José Álvarez"),
        ("415", "Annabel Lee"),
    ];
    for (q, want) in cases {
        let got = names(&b, q).await;
        assert!(
            got.iter().any(|n| n == want),
            "{q:?} should find {want:?}, got {got:?}"
        );
    }
    // Multi-word input: every word must match.
    assert_eq!(names(&b, "anna kuz").await, ["Anna Kuznetsova"]);
    assert!(names(&b, "zzzz").await.is_empty());
    // Exact word before prefix: "ann" is a whole word of Boris Ann and a prefix of the others.
    let ranked = names(&b, "ann").await;
    assert_eq!(
        ranked.first().map(String::as_str),
        Some("Boris Ann"),
        "{ranked:?}"
    );
    assert!(ranked.contains(&"Annabel Lee".to_string()));
    // The Audience API uses the same search.
    let (_, v) = b.get("/api/v1/contacts?q=8%20912").await;
    assert_eq!(v["items"][0]["name"], "Anna Kuznetsova");
    app.stop().await;
}

#[tokio::test]
async fn hostile_input_gets_a_normal_answer_or_400() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    seed(&app).await;
    for q in [
        "*",
        "\"",
        "\\",
        "a*b?",
        ".*",
        "(((",
        "[a-z]+",
        "'; DROP TABLE contacts; --",
        "{\"$gt\": \"\"}",
        "AND OR NOT",
        "+",
        "-",
        "@",
        "..",
        "\u{0}",
    ] {
        let (st, v) = b.get(&format!("/api/v1/chats?q={}", urlencode(q))).await;
        assert_eq!(st, 200, "{q:?}: {v}");
        let (st, _) = b
            .get(&format!("/api/v1/search/messages?q={}", urlencode(q)))
            .await;
        assert_eq!(st, 200, "{q:?}");
    }
    let long = "a".repeat(10_000);
    let (st, v) = b.get(&format!("/api/v1/chats?q={long}")).await;
    assert_eq!(st, 400, "{v}");
    let (st, _) = b.get(&format!("/api/v1/search/messages?q={long}")).await;
    assert_eq!(st, 400);
    let many = vec!["an"; 500].join(" ");
    let (st, _) = b
        .get(&format!("/api/v1/chats?q={}", urlencode(&many)))
        .await;
    assert_eq!(st, 400, "over the length limit");
    app.stop().await;
}

#[tokio::test]
async fn edits_are_searchable_within_a_second_and_the_index_is_rebuilt_when_lost() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let v = app.client_says("x", "Old Name", "m1", "hi").await;
    eventually(&b, "old", "Old Name").await;
    let cid = v["contact_id"].as_u64().unwrap();
    let t = std::time::Instant::now();
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{cid}"),
        Some(json!({"name": "Zinaida Renamed", "emails": ["zina@new.example"]})),
    )
    .await;
    let got = eventually(&b, "zinai", "Zinaida Renamed").await;
    assert!(got.contains(&"Zinaida Renamed".to_string()), "{got:?}");
    eprintln!("rename searchable after {:?}", t.elapsed());
    assert!(names(&b, "old").await.is_empty(), "the old name is gone");
    assert_eq!(
        eventually(&b, "zina@new", "Zinaida Renamed").await,
        ["Zinaida Renamed"]
    );

    // Delete the index directory; the next start rebuilds it from the store.
    let dir = app.dir.clone();
    let tmp = app.stop().await;
    std::fs::remove_dir_all(dir.join("search")).unwrap();
    let mut app = TestApp::start_in(&dir, &api_channel("crm", None)).await;
    let b = app.login("boss").await;
    // The server serves at once and rebuilds in the background (search says 503 meanwhile).
    app.wait_search().await;
    assert_eq!(
        names(&b, "zinaida").await,
        ["Zinaida Renamed"],
        "rebuilt after start"
    );
    // A corrupt index is rebuilt too.
    app.running.take().unwrap().stop().await.unwrap();
    std::fs::write(dir.join("search/contacts/meta.json"), "{ not json").unwrap();
    let app = TestApp::start_in(&dir, &api_channel("crm", None)).await;
    let b = app.login("boss").await;
    app.wait_search().await;
    assert_eq!(names(&b, "zinaida").await, ["Zinaida Renamed"]);
    // `parley reindex` needs the server stopped, then rebuilds by hand.
    let o = parley(&["reindex", "--data-dir", dir.to_str().unwrap()], None);
    assert!(!o.status.success());
    app.stop().await;
    let o = parley(&["reindex", "--data-dir", dir.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("reindexed 1 clients"), "{}", out(&o));
    drop(tmp);
}

#[tokio::test]
async fn a_crash_before_the_indexer_commits_is_caught_up_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, api_channel("crm", None)).unwrap();
    process::add_admin(process::BIN, dir.path(), Some(&cfg), "boss", PASSWORD);
    // A fixed port, so the restart answers where the first run did.
    let serve = Serve::new(process::BIN, dir.path())
        .config(&cfg)
        .port(process::free_port())
        .logs(Logs::Discard);
    let mut server = serve.spawn();
    let url = server.url();
    let http = crate::support::client();
    server.ready(Duration::from_secs(60)).await.unwrap();
    let r = http
        .post(format!("{url}/webhooks/api/crm"))
        .bearer_auth(crate::support::TOKEN)
        .json(&json!({"contact": {"external_id": "k1", "name": "Kirill Crashtest"}, "message": {"external_id": "k1m", "text": "before the crash"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Killed right after the acknowledged commit, before the indexer's ~200 ms batching delay.
    server.kill().await;
    let mut server = serve.spawn();
    server
        .ready(Duration::from_secs(60))
        .await
        .expect("restarted");
    let session = sign_in(&http, &url, "boss", PASSWORD).await;
    let v: Value = http
        .get(format!("{url}/api/v1/chats?q=crashtest"))
        .header("cookie", session.cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found = v["items"].as_array().unwrap().len();
    server.kill().await;
    assert_eq!(
        found, 1,
        "found right after the restart, without waiting for the indexer"
    );
}

#[tokio::test]
async fn message_history_search_highlights_matches() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let v = app
        .client_says("c1", "Olga", "m1", "Где мой заказ №7781? Очень жду")
        .await;
    app.client_says("c2", "Ivan", "m2", "Hello, is my order shipped?")
        .await;
    let chat = v["chat_id"].as_u64().unwrap();
    b.post(
        &format!("/api/v1/chats/{chat}/notes"),
        json!({"text": "заказ на складе", "mentions": []}),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let res = loop {
        let (st, v) = b
            .get(&format!("/api/v1/search/messages?q={}", urlencode("заказ")))
            .await;
        assert_eq!(st, 200);
        if v["total"] == 2 || std::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(res["total"], 2, "{res}");
    let hit = res["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "client")
        .unwrap();
    assert_eq!(hit["chat_id"], chat);
    assert_eq!(hit["contact_name"], "Olga");
    let snippet = hit["snippet"].as_str().unwrap();
    let (s, e) = (
        hit["highlights"][0][0].as_u64().unwrap() as usize,
        hit["highlights"][0][1].as_u64().unwrap() as usize,
    );
    assert_eq!(
        snippet.chars().skip(s).take(e - s).collect::<String>(),
        "заказ"
    );
    // Prefixes and Latin words.
    let (_, v) = b.get("/api/v1/search/messages?q=ship").await;
    assert_eq!(v["items"][0]["contact_name"], "Ivan", "{v}");
    let (_, v) = b
        .get(&format!(
            "/api/v1/search/messages?q={}",
            urlencode("мой зак")
        ))
        .await;
    assert_eq!(v["total"], 1, "{v}");
    app.stop().await;
}

/// Best match first: the whole name, phone or e-mail, then a whole word, then a prefix, then
/// digits inside a phone; among equals, who wrote last. Punctuation inside a name or an
/// e-mail's local part is found by each part and by the joined form.
#[tokio::test]
async fn best_match_first_then_recent_and_punctuated_names_by_every_part() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let people = [
        (
            "z",
            "Zoë O'Brien",
            Some("+1 415 555 0199"),
            Some("zoe.obrien@example.com"),
        ),
        ("j", "Jean-Luc Picard", None, Some("captain@example.org")),
        (
            "a1",
            "Anna Smith",
            Some("+1 202 555 0101"),
            Some("anna@example.com.au"),
        ),
        ("a2", "Anna", Some("+1 202 555 0102"), None),
        (
            "a3",
            "Annabel Lee",
            Some("+1 202 555 0103"),
            Some("anna@example.com"),
        ),
        ("a4", "Lee Anna-Maria", Some("+1 202 555 0104"), None),
    ];
    for (ext, name, phone, email) in people {
        let (st, v) = app
            .inbound(
                "crm",
                json!({"external_id": ext, "name": name, "phone": phone, "email": email}),
                json!({"external_id": format!("{ext}-m"), "text": "hi"}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        // Distinct activity times, so "who wrote last" is well defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.wait_search().await;
    for q in [
        "obrien",
        "O'Brien",
        "o’brien",
        "brien",
        "zoe obrien",
        "zoë",
        "zoe.obrien",
        "zoe.obrien@",
    ] {
        let got = names(&b, q).await;
        assert_eq!(
            got.first().map(String::as_str),
            Some("Zoë O'Brien"),
            "{q:?}: {got:?}"
        );
    }
    // An initial with a dot is a name's part, not an e-mail being typed.
    let got = names(&b, "Jean-Luc P.").await;
    assert_eq!(got, ["Jean-Luc Picard"], "{got:?}");
    for q in [
        "jean-luc",
        "jeanluc",
        "jean luc",
        "luc",
        "Jean-Luc Picard",
        "picard",
    ] {
        let got = names(&b, q).await;
        assert_eq!(got, ["Jean-Luc Picard"], "{q:?}");
    }
    // The whole name beats a word of a name that was active later.
    assert_eq!(
        names(&b, "anna").await.first().map(String::as_str),
        Some("Anna")
    );
    // A whole word beats a prefix ("anna" is a word of Lee Anna-Maria and Anna Smith, only a
    // prefix of Annabel), and among whole words the last active comes first.
    let ranked = names(&b, "anna").await;
    assert_eq!(
        ranked,
        ["Anna", "Lee Anna-Maria", "Anna Smith", "Annabel Lee"],
        "{ranked:?}"
    );
    // The whole e-mail first, although another client's address starts with it.
    let got = names(&b, "anna@example.com").await;
    assert_eq!(got, ["Annabel Lee", "Anna Smith"], "{got:?}");
    // The whole phone first; digits shared by many rank by who wrote last.
    assert_eq!(
        names(&b, "+1 202 555 0102")
            .await
            .first()
            .map(String::as_str),
        Some("Anna")
    );
    assert_eq!(
        names(&b, "555 01").await,
        [
            "Lee Anna-Maria",
            "Annabel Lee",
            "Anna",
            "Anna Smith",
            "Zoë O'Brien"
        ]
    );
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": "a1", "name": "Anna Smith"}),
            json!({"external_id": "a1-m2", "text": "me again"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    app.wait_search().await;
    assert_eq!(
        names(&b, "555 01").await.first().map(String::as_str),
        Some("Anna Smith"),
        "the client who just wrote comes first among equal matches"
    );
    app.stop().await;
}
