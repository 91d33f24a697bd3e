//! Unit tests for funnels: the stored shape through postcard, the wire shape through JSON,
//! 422s that name the step, and moving through the step tree.

use serde_json::json;

use super::*;
use crate::error::Error;

fn funnel(body: serde_json::Value) -> Funnel {
    validate(&parse(&body).expect("parses")).expect("valid")
}

/// The field a refused body is refused for.
fn refused(body: serde_json::Value) -> String {
    let e = parse(&body)
        .and_then(|i| validate(&i))
        .expect_err("refused");
    assert_eq!(e.status(), 422, "{e}");
    match e {
        Error::Invalid { field, .. } => field,
        other => panic!("not Invalid: {other}"),
    }
}

fn every_step() -> serde_json::Value {
    json!({
        "name": "Everything", "channels": ["crm", "tg"],
        "trigger": {"kind": "keyword", "keywords": ["price", "Цена"]},
        "steps": [
            {"kind": "send", "text": "Hi {client.name}", "template": "welcome"},
            {"kind": "delay", "seconds": 7200},
            {"kind": "delay_until", "at": "09:30"},
            {"kind": "delay_business_hours"},
            {"kind": "condition",
             "filter": {"has_phone": true, "conditions": [{"field": "tag", "op": "is", "value": "VIP"},
                         {"field": "created", "op": "between", "value": {"from": 1, "to": 2}}]},
             "yes": [{"kind": "tag", "add": ["warm"], "remove": ["cold"]},
                     {"kind": "condition", "filter": {"has_email": false},
                      "no": [{"kind": "stop"}]}],
             "no": [{"kind": "set_field", "name": "Source", "value": "funnel"}]},
            {"kind": "task", "title": "Call back", "due_seconds": 3600},
            {"kind": "assign", "manager_id": 7},
            {"kind": "assign"},
            {"kind": "open_dialog"},
            {"kind": "webhook", "url": "https://example.com/hook?x=1"},
            {"kind": "stop"}
        ]
    })
}

#[test]
fn a_funnel_round_trips_through_postcard_and_json() {
    let mut f = funnel(every_step());
    f.id = 42;
    f.created_ms = 1_700_000_000_000;
    let bytes = postcard::to_allocvec(&f).expect("postcard");
    assert_eq!(postcard::from_bytes::<Funnel>(&bytes).expect("decodes"), f);

    // The wire form of a stored funnel parses back to the same funnel.
    let wire = serde_json::to_value(FunnelInput::from(&f)).expect("json");
    assert_eq!(wire["steps"][4]["kind"], "condition");
    assert_eq!(wire["steps"][4]["filter"]["conditions"][0]["value"], "VIP");
    assert_eq!(wire["steps"][2]["at"], "09:30");
    let mut back = funnel(wire);
    (back.id, back.created_ms) = (f.id, f.created_ms);
    assert_eq!(back, f);

    let run = Run {
        id: 1,
        funnel_id: 42,
        contact_id: 9,
        chat_id: None,
        path: "4.yes.1.no.0".parse().expect("path"),
        state: RunState::Cancelled {
            reason: "chat disabled".into(),
        },
        started_ms: 5,
        updated_ms: 6,
    };
    let bytes = postcard::to_allocvec(&run).expect("postcard");
    assert_eq!(postcard::from_bytes::<Run>(&bytes).expect("decodes"), run);
}

#[test]
fn the_contract_funnel_is_accepted_with_defaults() {
    let f = funnel(
        json!({"name": " Welcome ", "enabled": true, "channels": ["crm"],
        "trigger": {"kind": "keyword", "keywords": ["hello"]},
        "steps": [{"kind": "send", "text": "Hi there"}]}),
    );
    assert_eq!(f.name, "Welcome");
    assert_eq!(f.trigger.matches_text("Hello!"), Some("hello"));
    assert_eq!(
        f.steps,
        vec![Step::Send {
            text: "Hi there".into(),
            template: None
        }]
    );
    let f = funnel(json!({"name": "W", "trigger": {"kind": "first_message"},
        "steps": [{"kind": "stop"}]}));
    assert!(f.enabled && f.channels.is_empty());
}

#[test]
fn refusals_name_the_step() {
    let with_steps = |steps: serde_json::Value| json!({"name": "F", "trigger": {"kind": "manual"}, "steps": steps});
    assert_eq!(
        refused(with_steps(json!([{"kind": "teleport", "text": "?"}]))),
        "steps[0].kind"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "stop"},
            {"kind": "condition", "filter": {"has_phone": true}, "yes": [{"kind": "stop"}],
             "no": [{"kind": "send", "text": "x"}, {"kind": "warp"}]}]))),
        "steps[1].no[1].kind"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "condition",
            "filter": {"conditions": [{"field": "shoe_size", "op": "is", "value": 1}]}}]))),
        "steps[0].filter.conditions[0].field"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "condition", "filter": {}}]))),
        "steps[0].filter"
    );
    assert_eq!(
        refused(with_steps(
            json!([{"kind": "condition", "filter": {"bogus": 1}}])
        )),
        "steps[0].filter"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "send", "text": "  "}]))),
        "steps[0].text"
    );
    assert_eq!(
        refused(with_steps(
            json!([{"kind": "send", "text": "Hi {client.nmae}"}])
        )),
        "steps[0].text"
    );
    assert_eq!(
        refused(with_steps(
            json!([{"kind": "send", "text": "x", "colour": "red"}])
        )),
        "steps[0].colour"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "delay"}]))),
        "steps[0].seconds"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "delay", "seconds": 0}]))),
        "steps[0].seconds"
    );
    assert_eq!(
        refused(with_steps(
            json!([{"kind": "delay", "seconds": 366 * 86400}])
        )),
        "steps[0].seconds"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "delay_until", "at": "25:00"}]))),
        "steps[0].at"
    );
    assert_eq!(
        refused(with_steps(
            json!([{"kind": "webhook", "url": "ftp://example.com/x"}])
        )),
        "steps[0].url"
    );
    assert_eq!(
        refused(with_steps(
            json!([{"kind": "webhook", "url": "https:///path"}])
        )),
        "steps[0].url"
    );
    assert_eq!(
        refused(with_steps(json!([{"kind": "tag"}]))),
        "steps[0].add"
    );
    assert_eq!(refused(with_steps(json!([]))), "steps");
    assert_eq!(refused(with_steps(json!({"kind": "stop"}))), "steps");
    assert_eq!(refused(with_steps(json!(["stop"]))), "steps[0]");
    let too_many: Vec<_> = (0..201).map(|_| json!({"kind": "stop"})).collect();
    assert_eq!(refused(with_steps(json!(too_many))), "steps[200]");
    let mut deep = json!([{"kind": "stop"}]);
    for _ in 0..9 {
        deep = json!([{"kind": "condition", "filter": {"has_phone": true}, "yes": deep}]);
    }
    assert!(refused(with_steps(deep)).starts_with("steps[0].yes[0]"));

    assert_eq!(
        refused(json!({"name": " ", "trigger": {"kind": "manual"}, "steps": [{"kind": "stop"}]})),
        "name"
    );
    assert_eq!(
        refused(json!({"trigger": {"kind": "manual"}, "steps": [{"kind": "stop"}]})),
        "name"
    );
    assert_eq!(
        refused(
            json!({"name": "F", "trigger": {"kind": "keyword", "keywords": []},
            "steps": [{"kind": "stop"}]})
        ),
        "trigger.keywords"
    );
    assert_eq!(
        refused(
            json!({"name": "F", "trigger": {"kind": "keyword", "keywords": ["?!"]},
            "steps": [{"kind": "stop"}]})
        ),
        "trigger.keywords[0]"
    );
    assert_eq!(
        refused(json!({"name": "F", "trigger": {"kind": "birthday"}, "steps": [{"kind": "stop"}]})),
        "trigger.kind"
    );
    assert_eq!(
        refused(
            json!({"name": "F", "trigger": {"kind": "tag_added", "tag": ""},
            "steps": [{"kind": "stop"}]})
        ),
        "trigger.tag"
    );
    assert_eq!(
        refused(
            json!({"name": "F", "trigger": {"kind": "manual"}, "steps": [{"kind": "stop"}],
            "colour": "red"})
        ),
        "colour"
    );
    assert_eq!(refused(json!([1, 2])), "funnel");
}

#[test]
fn keywords_match_whole_words_in_any_case_and_script() {
    let t = Trigger::Keyword {
        keywords: vec!["цена".into(), "price list".into(), "ёлка".into()],
    };
    assert_eq!(t.matches_text("Какая ЦЕНА?"), Some("цена"));
    assert_eq!(
        t.matches_text("Send me the Price  List, please"),
        Some("price list")
    );
    assert_eq!(t.matches_text("ЕЛКА"), Some("ёлка"));
    assert_eq!(t.matches_text("ценами"), None);
    assert_eq!(t.matches_text("price, list"), Some("price list"));
    assert_eq!(t.matches_text("list price"), None);
    assert_eq!(t.matches_text(""), None);
    assert_eq!(Trigger::Manual.matches_text("цена"), None);
}

#[test]
fn paths_walk_into_branches_and_out_again() {
    // 0 send · 1 condition(yes: [0 tag, 1 condition(no: [0 stop])], no: [0 set_field]) · 2 task …
    let f = funnel(every_step());
    let p = |s: &str| s.parse::<StepPath>().expect(s);
    assert_eq!(f.first(), Some(p("0")));
    assert_eq!(f.step_at(&p("4")).map(Step::kind), Some("condition"));
    assert_eq!(f.step_at(&p("4.yes.1.no.0")).map(Step::kind), Some("stop"));
    assert_eq!(f.step_at(&p("4.no.0")).map(Step::kind), Some("set_field"));
    assert_eq!(f.step_at(&p("4.yes.5")), None);
    assert_eq!(f.step_at(&p("0.yes.0")), None);
    assert_eq!(f.step_at(&p("99")), None);

    assert_eq!(f.next_after(&p("0")), Some(p("1")));
    assert_eq!(f.next_after(&p("4.yes.0")), Some(p("4.yes.1")));
    // The end of a branch continues after its condition, outwards as far as needed.
    assert_eq!(f.next_after(&p("4.yes.1.no.0")), Some(p("5")));
    assert_eq!(f.next_after(&p("4.no.0")), Some(p("5")));
    assert_eq!(f.next_after(&p("10")), None);
    assert_eq!(f.next_after(&p("4.yes.9")), None);

    assert_eq!(f.enter(&p("4"), Branch::Yes), Some(p("4.yes.0")));
    // An empty branch goes straight past the condition.
    assert_eq!(f.enter(&p("4.yes.1"), Branch::Yes), Some(p("5")));
    assert_eq!(f.enter(&p("4.yes.1"), Branch::No), Some(p("4.yes.1.no.0")));
    assert_eq!(f.enter(&p("0"), Branch::Yes), None);

    let all: Vec<String> = f.walk().iter().map(|(q, _)| q.to_string()).collect();
    assert_eq!(
        all[3..10],
        [
            "3",
            "4",
            "4.yes.0",
            "4.yes.1",
            "4.yes.1.no.0",
            "4.no.0",
            "5"
        ]
    );
    assert_eq!(p("4.yes.1.no.0").field(), "steps[4].yes[1].no[0]");
    for bad in ["", "x", "1.maybe.0", "1.yes", "1.yes.-1"] {
        assert!(bad.parse::<StepPath>().is_err(), "{bad}");
    }
}

#[test]
fn a_patch_changes_only_what_it_names() {
    let mut f = funnel(every_step());
    (f.id, f.created_ms, f.updated_ms) = (3, 10, 20);
    let off = f.patched(&json!({"enabled": false})).expect("patched");
    assert!(!off.enabled);
    assert_eq!(
        (off.id, off.created_ms, off.steps.len()),
        (3, 10, f.steps.len())
    );
    let e = f
        .patched(&json!({"steps": [{"kind": "teleport"}]}))
        .expect_err("bad step");
    assert!(e.to_string().starts_with("steps[0].kind"), "{e}");
}

#[test]
fn summaries_and_durations_read_like_system_messages() {
    assert_eq!(duration(45), "45 s");
    assert_eq!(duration(7200), "2 h");
    assert_eq!(duration(5400), "1 h 30 min");
    assert_eq!(duration(97_200), "1 d 3 h");
    assert_eq!(duration(86_400 + 300), "1 d 5 min");
    assert_eq!(duration(90_061), "1 d 1 h");
    assert_eq!(duration(0), "0 s");
    let f = funnel(every_step());
    let s: Vec<String> = f.steps.iter().map(Step::summary).collect();
    assert_eq!(s[0], "send template \u{2018}welcome\u{2019}");
    assert_eq!(s[1], "waiting 2 h");
    assert_eq!(s[2], "waiting until 09:30");
    assert_eq!(s[10], "stop");
}
