//! Audience (A1) through the real server: CSV import (other phone forms, bad rows, BOM, `;`,
//! dry run, re-import), the export's round trip, merging two clients with chats on two
//! channels, duplicates and bulk jobs.

use serde_json::{Value, json};

use crate::support::{Browser, TOKEN, TestApp, api_channel, client};

async fn import(b: &Browser, query: &str, csv: &str) -> (u16, Value) {
    let r = b
        .request("POST", &format!("/api/v1/contacts/import?{query}"), None)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn export(b: &Browser, query: &str) -> String {
    let r = b
        .request("GET", &format!("/api/v1/contacts/export?{query}"), None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    r.text().await.unwrap()
}

async fn all_contacts(b: &Browser) -> Vec<Value> {
    let (st, v) = b.get("/api/v1/contacts?limit=200").await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn import_matches_phone_forms_reports_bad_rows_and_changes_nothing_the_second_time() {
    let app = TestApp::spawn_with(&api_channel("crm", None)).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    // A client who already wrote in, with a phone the file writes in another form.
    let (st, v) = app
        .inbound(
            "crm",
            json!({"external_id": "ivan", "name": "Ivan", "phone": "+7 912 345-67-89"}),
            json!({"external_id": "m1", "text": "hi"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let ivan = v["contact_id"].as_u64().unwrap();

    // BOM, `;` separators, a quoted field with `;` and a line break, bad rows.
    let csv = "\u{feff}Name;Phone;E-mail;Tags;City\r\n\
               Ivan Petrov;8 (912) 345-67-89;;vip;Omsk\r\n\
               \"Smith; Anna\";+44 20 7946 0958;anna@example.com;\"a, b\";\"London\nUK\"\r\n\
               Bad Phone;12ab;;;\r\n\
               No Contact;;;;Riga\r\n\
               Bad Mail;;not-an-address;;\r\n\
               Anna Again;0044 20 7946 0958;;c;\r\n";
    let (st, dry) = import(&b, "dry_run=true", csv).await;
    assert_eq!(st, 200, "{dry}");
    assert_eq!(
        (&dry["created"], &dry["updated"], &dry["skipped"]),
        (&json!(1), &json!(2), &json!(0)),
        "Ivan is updated, Anna created, then matched again by 0044…: {dry}"
    );
    let lines: Vec<u64> = dry["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![5, 6, 7], "the quoted line break counts: {dry}");
    assert!(
        dry["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("12ab")
    );
    assert_eq!(all_contacts(&b).await.len(), 1, "a dry run writes nothing");

    let (st, real) = import(&b, "dry_run=false", csv).await;
    assert_eq!(st, 200, "{real}");
    assert_eq!(
        (&real["created"], &real["updated"], &real["errors"]),
        (&dry["created"], &dry["updated"], &dry["errors"]),
        "the dry run predicted the import"
    );
    let all = all_contacts(&b).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let iv = all.iter().find(|c| c["id"] == ivan).unwrap();
    assert_eq!(iv["name"], "Ivan Petrov");
    assert_eq!(iv["tags"], json!(["vip"]));
    assert_eq!(iv["custom_fields"]["City"], "Omsk");
    assert_eq!(
        iv["phones"],
        json!(["79123456789"]),
        "one number in two forms"
    );
    let anna = all.iter().find(|c| c["id"] != ivan).unwrap();
    assert_eq!(
        anna["name"], "Smith; Anna",
        "the first row matching a client names it"
    );
    assert_eq!(anna["tags"], json!(["a", "b", "c"]));
    assert_eq!(anna["custom_fields"]["City"], "London\nUK");
    let (_, log) = b.get(&format!("/api/v1/contacts/{ivan}/log")).await;
    assert!(log.to_string().contains("imported"), "{log}");

    let (st, again) = import(&b, "dry_run=false", csv).await;
    assert_eq!(st, 200);
    assert_eq!(
        (&again["created"], &again["updated"], &again["skipped"]),
        (&json!(0), &json!(0), &json!(3)),
        "the same file again changes nothing: {again}"
    );

    // A mapping names columns the guess would get wrong; a file without phone or e-mail
    // column is refused as a whole.
    let csv = "Client,Mobile number,Note\nOlga,+15550100009,call after 6\n";
    let map = urlencode(r#"{"Client":"name","Mobile number":"phone","Note":"field:Comment"}"#);
    let (st, r) = import(&b, &format!("map={map}&job=imp-1"), csv).await;
    assert_eq!((st, &r["created"]), (200, &json!(1)), "{r}");
    let (st, job) = b.get("/api/v1/jobs/imp-1").await;
    assert_eq!(
        (st.as_u16(), &job["state"], &job["done"]),
        (200, &json!("done"), &json!(1)),
        "{job}"
    );
    let (st, e) = import(&b, "", "Client,Note\nOlga,x\n").await;
    assert_eq!(st, 422, "{e}");
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn export_streams_the_filter_and_imports_back_unchanged() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let csv = "name,phone,email,tags,Size\n\
               \"Kim, Jo\",+15550100001,kim@example.com,\"vip, new\",L\n\
               =Evil(),+15550100002,,,\n\
               Lee,,lee@example.com,,M\n";
    let (st, r) = import(&b, "", csv).await;
    assert_eq!((st, &r["created"]), (200, &json!(3)), "{r}");
    app.wait_search().await;

    let all = export(&b, "").await;
    let mut lines = all.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,name,phone,email,tags,channels,sales_plan,stage,assignee,created,last_activity,archived,blacklisted,Size"
    );
    assert_eq!(all.lines().count(), 4, "{all}");
    assert!(
        all.contains("\"Kim, Jo\",+15550100001,kim@example.com,\"vip, new\""),
        "{all}"
    );
    assert!(all.contains(",'=Evil(),"), "a formula is defused: {all}");

    // The filter narrows the export.
    let f = urlencode(r#"{"has_email":true}"#);
    let some = export(&b, &format!("filter={f}")).await;
    assert_eq!(some.lines().count(), 3, "{some}");
    assert!(!some.contains("Evil"));
    let by_text = export(&b, "q=lee").await;
    assert_eq!(by_text.lines().count(), 2, "{by_text}");

    // Round trip: the export imports back with nothing to change.
    let (st, r) = import(&b, "", &all).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            &r["created"],
            &r["updated"],
            &r["skipped"],
            &r["error_count"]
        ),
        (&json!(0), &json!(0), &json!(3), &json!(0)),
        "{r}"
    );
    app.stop().await;
}

fn two_channels() -> String {
    format!("{}{}", api_channel("crm", None), api_channel("shop", None))
        .replace(
            &format!("id = \"shop\"\nkind = \"api\"\nname = \"shop channel\"\ntoken = \"{TOKEN}\""),
            "id = \"shop\"\nkind = \"api\"\nname = \"shop channel\"\ntoken = \"shop-channel-token-987654321\"",
        )
}

#[tokio::test]
async fn merging_two_clients_with_chats_on_two_channels_moves_everything_in_one_step() {
    let app = TestApp::spawn_with(&two_channels()).await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let (st, a) = app
        .inbound(
            "crm",
            json!({"external_id": "a1", "name": "Maria", "phone": "+15550123000"}),
            json!({"external_id": "m1", "text": "from crm"}),
        )
        .await;
    assert_eq!(st, 200, "{a}");
    let r = client()
        .post(format!("{}/webhooks/api/shop", app.url))
        .bearer_auth("shop-channel-token-987654321")
        .json(&json!({"contact": {"external_id": "b1", "name": "Maria S", "email": "maria@example.com"},
                      "message": {"external_id": "m2", "text": "from shop about the parcel"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bv: Value = r.json().await.unwrap();
    let (pa, pb) = (
        a["contact_id"].as_u64().unwrap(),
        bv["contact_id"].as_u64().unwrap(),
    );
    assert_ne!(pa, pb);
    // Things hanging off the merged-away client: a tag, a field, a task, an order.
    b.post(
        &format!("/api/v1/contacts/{pb}/tags"),
        json!({"tag": "shop"}),
    )
    .await;
    b.send(
        "PATCH",
        &format!("/api/v1/contacts/{pb}"),
        Some(json!({"custom_fields": {"size": "M"}})),
    )
    .await;
    let (st, _) = b
        .post(
            &format!("/api/v1/contacts/{pb}/tasks"),
            json!({"title": "call back"}),
        )
        .await;
    assert_eq!(st, 201);
    b.post(
        "/api/v1/sales_plans",
        json!({"name": "Retail", "stages": ["Lead", "Won"]}),
    )
    .await;
    let (st, o) = b
        .post("/api/v1/orders", json!({"contact_id": pb, "plan": "Retail", "title": "Shoes", "amount": 59.9, "currency": "eur"}))
        .await;
    assert_eq!(st, 201, "{o}");
    app.wait_search().await;
    let (_, dups) = b.get(&format!("/api/v1/contacts/{pa}/duplicates")).await;
    assert!(
        dups["items"].as_array().unwrap().is_empty(),
        "nothing in common yet: {dups}"
    );

    let (st, m) = b
        .post(
            &format!("/api/v1/contacts/{pa}/merge"),
            json!({"from": [pb]}),
        )
        .await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["phones"], json!(["15550123000"]));
    assert_eq!(m["emails"], json!(["maria@example.com"]));
    assert_eq!(m["tags"], json!(["shop"]));
    assert_eq!(m["custom_fields"]["size"], "M");
    assert_eq!(m["name"], "Maria", "the primary's name stays");

    let (st, gone) = b.get(&format!("/api/v1/contacts/{pb}")).await;
    assert_eq!(
        (st.as_u16(), &gone["merged_into"]),
        (404, &json!(pa)),
        "{gone}"
    );
    let (_, card) = b.get(&format!("/api/v1/contacts/{pa}")).await;
    let channels: Vec<&str> = card["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel_id"].as_str().unwrap())
        .collect();
    assert_eq!(channels.len(), 2, "{card}");
    assert!(channels.contains(&"crm") && channels.contains(&"shop"));
    assert_eq!(card["tasks"][0]["title"], "call back");
    let (_, orders) = b.get(&format!("/api/v1/contacts/{pa}/orders")).await;
    assert_eq!(orders["items"][0]["title"], "Shoes");
    assert_eq!(orders["items"][0]["amount"], 59.9);
    let (_, log) = b.get(&format!("/api/v1/contacts/{pa}/log")).await;
    let log = log.to_string();
    assert!(log.contains("merged Maria S"), "{log}");
    assert!(
        log.contains("added the tag"),
        "the other client's log moved too: {log}"
    );

    app.wait_search().await;
    let (_, list) = b.get("/api/v1/chats?section=all").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "one row: {list}"
    );
    assert_eq!(list["counts"]["all"], 1);
    for q in ["maria@example", "15550123000"] {
        let (_, found) = b.get(&format!("/api/v1/contacts?q={q}")).await;
        let ids: Vec<&Value> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(ids, vec![&json!(pa)], "{q}: {found}");
    }
    // Message search names the primary for the merged-away client's messages.
    let (_, hits) = b.get("/api/v1/search/messages?q=parcel").await;
    let items = hits["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{hits}");
    assert!(items.iter().all(|h| h["contact_id"] == json!(pa)), "{hits}");
    // A client already merged away cannot be merged again; the primary into itself neither.
    let (st, _) = b
        .post(
            &format!("/api/v1/contacts/{pa}/merge"),
            json!({"from": [pb]}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, _) = b
        .post(
            &format!("/api/v1/contacts/{pa}/merge"),
            json!({"from": [pa]}),
        )
        .await;
    assert_eq!(st, 422);
    // New messages on the moved chat still reach the primary.
    let (_, again) = app
        .inbound(
            "crm",
            json!({"external_id": "a1"}),
            json!({"external_id": "m3", "text": "again"}),
        )
        .await;
    assert_eq!(again["contact_id"], json!(pa));
    let r = client()
        .post(format!("{}/webhooks/api/shop", app.url))
        .bearer_auth("shop-channel-token-987654321")
        .json(&json!({"contact": {"external_id": "b1"}, "message": {"external_id": "m4", "text": "more"}}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["contact_id"], json!(pa), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn duplicates_and_bulk_jobs_on_a_selection_or_a_filter() {
    let app = TestApp::spawn().await;
    app.add_manager("boss", "admin").await;
    let b = app.login("boss").await;
    let csv = "name,phone,email\nAnna Berg,+15550100001,\nberg anna,,anna@example.com\nOther,+15550100003,\n";
    import(&b, "", csv).await;
    app.wait_search().await;
    let all = all_contacts(&b).await;
    let id = |n: &str| {
        all.iter().find(|c| c["name"] == n).unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    let (_, d) = b
        .get(&format!("/api/v1/contacts/{}/duplicates", id("Anna Berg")))
        .await;
    assert_eq!(d["items"][0]["contact"]["id"], id("berg anna"), "{d}");
    assert_eq!(d["items"][0]["reasons"], json!(["similar name"]));

    let (st, j) = b
        .post(
            "/api/v1/contacts/bulk",
            json!({"ids": [id("Other")], "action": "tag_add", "tag": "picked"}),
        )
        .await;
    assert_eq!(st, 202, "{j}");
    let job = wait_job(&b, j["job"].as_str().unwrap()).await;
    assert_eq!(
        (&job["done"], &job["failed"]),
        (&json!(1), &json!(0)),
        "{job}"
    );
    let (st, j) = b
        .post(
            "/api/v1/contacts/bulk",
            json!({"filter": {"has_phone": true}, "action": "archive"}),
        )
        .await;
    assert_eq!(st, 202, "{j}");
    let job = wait_job(&b, j["job"].as_str().unwrap()).await;
    assert_eq!(job["total"], 2, "{job}");
    let all = all_contacts(&b).await;
    let archived: Vec<&str> = all
        .iter()
        .filter(|c| c["archived"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert!(!archived.contains(&"berg anna"));
    assert!(all.iter().any(|c| c["tags"] == json!(["picked"])));
    let (st, _) = b
        .post("/api/v1/contacts/bulk", json!({"action": "archive"}))
        .await;
    assert_eq!(st, 422, "no selection and no filter is not \"everyone\"");

    // The Audience table: a window of every client with the total.
    app.wait_search().await;
    let (st, t) = b.get("/api/v1/audience?offset=1&limit=1").await;
    assert_eq!((st.as_u16(), &t["total"]), (200, &json!(3)), "{t}");
    assert_eq!(t["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn wait_job(b: &Browser, id: &str) -> Value {
    for _ in 0..200 {
        let (st, j) = b.get(&format!("/api/v1/jobs/{id}")).await;
        assert_eq!(st, 200, "{j}");
        if j["state"] != "running" {
            assert_eq!(j["state"], "done", "{j}");
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

/// What a crash in the middle of jobs leaves in the store: a bulk action with batches still
/// to do (and one already done), an import half way. After a restart the bulk action
/// finishes exactly the batches left, the import says it stopped and how to finish it, and a
/// finished job is still there for the browser that polls it.
#[tokio::test]
async fn a_restart_resumes_a_bulk_job_and_ends_an_interrupted_import() {
    use parley::domain::job::{BulkAction, Job, JobState};
    let app = TestApp::spawn().await;
    let boss = app.add_manager("boss", "admin").await;
    let owner = boss["id"].as_u64().unwrap();
    let b = app.login("boss").await;
    let csv = "name,phone\nA One,+15550100001\nB Two,+15550100002\nC Three,+15550100003\n";
    import(&b, "", csv).await;
    app.wait_search().await;
    let all = all_contacts(&b).await;
    let ids: Vec<u64> = all.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    let (st, j) = b
        .post(
            "/api/v1/contacts/bulk",
            json!({"ids": [ids[0]], "action": "tag_add", "tag": "before"}),
        )
        .await;
    assert_eq!(st, 202, "{j}");
    let finished = j["job"].as_str().unwrap().to_string();
    wait_job(&b, &finished).await;

    let job = |id: &str, kind: &str, total: u64, done: u64, action| Job {
        id: id.into(),
        owner,
        kind: kind.into(),
        total,
        done,
        failed: 0,
        state: JobState::Running,
        started_ms: 1,
        finished_ms: None,
        action,
    };
    let bulk = job(
        "crashed-bulk",
        "tag_add",
        3,
        1,
        Some(BulkAction::TagAdd("resumed".into())),
    );
    let import_job = job("crashed-import", "import", 900, 500, None);
    let rest = vec![ids[1], ids[2]];
    app.running()
        .state
        .inbox
        .store
        .write(move |w| {
            use parley::store::jobs;
            // Batch 0 committed before the crash (its row is gone); batch 1 is left.
            jobs::put_batch(w, "crashed-bulk", 1, &rest)?;
            jobs::put_job(w, &bulk)?;
            jobs::put_job(w, &import_job)?;
            // Batches whose job row was never written (a crash while storing the ids).
            jobs::put_batch(w, "never-started", 0, &[1, 2, 3])
        })
        .await
        .unwrap();

    let app = app.restart().await;
    let b = app.login("boss").await;
    let j = wait_job(&b, "crashed-bulk").await;
    assert_eq!((&j["done"], &j["total"]), (&json!(3), &json!(3)), "{j}");
    app.wait_search().await;
    let all = all_contacts(&b).await;
    let tagged: Vec<u64> = all
        .iter()
        .filter(|c| c["tags"].as_array().unwrap().contains(&json!("resumed")))
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        tagged,
        vec![ids[1], ids[2]],
        "only the batch not yet done ran after the restart"
    );
    let (st, j) = b.get("/api/v1/jobs/crashed-import").await;
    assert_eq!(st, 200, "{j}");
    assert_eq!(j["state"], "failed", "{j}");
    let why = j["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("500 of 900") && why.contains("same file again"),
        "{j}"
    );
    let (st, j) = b.get(&format!("/api/v1/jobs/{finished}")).await;
    assert_eq!((st.as_u16(), &j["state"]), (200, &json!("done")), "{j}");
    let left = app
        .running()
        .state
        .inbox
        .store
        .query(|r| parley::store::jobs::next_batch(r, "never-started"))
        .await
        .unwrap();
    assert!(left.is_none(), "orphaned batches are removed");
    app.stop().await;
}
