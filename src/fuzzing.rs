//! One entry point per fuzz target (`tests/fuzz`), shared with the corpus replay test
//! (`tests/reliability/fuzz_corpus.rs`). Each takes untrusted bytes, runs the same parsing code
//! the server runs on them (no network, no store), and panics only when an invariant the
//! server relies on is broken; an `Err` for bad input is the expected outcome, not a finding.

use std::sync::OnceLock;

use crate::channels::adapter::Item;
use crate::channels::{api, telegram, viber, whatsapp};
use crate::config::{Config, Overrides};
use crate::domain::{filter, inbox as dom, manager};
use crate::search::{query, schema};
use crate::store::{codec, events, saved, search_log, sessions};

/// The phone number id the WhatsApp seeds use (the fixture's); other ids are skipped early.
pub const WHATSAPP_PHONE_NUMBER_ID: &str = "106540352242922";

/// One target: untrusted bytes in, a panic only on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its fuzz target and corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("telegram_update", telegram_update),
    ("whatsapp_payload", whatsapp_payload),
    ("viber_event", viber_event),
    ("api_body", api_body),
    ("search_query", search_query),
    ("filter_json", filter_json),
    ("config_toml", config_toml),
    ("store_codec", store_codec),
];

/// `POST /webhooks/telegram/{id}`: body → what goes to the inbox.
pub fn telegram_update(data: &[u8]) {
    let Ok(items) = telegram::parse_update("tg", data) else {
        return;
    };
    assert!(items.len() <= 1, "one update is at most one item");
    for item in items {
        match item {
            Item::Message(d) => {
                let ext = d.inbound.message_id.unwrap_or_default();
                assert!(ext.contains(':'), "message key {ext:?} is chat:message");
                assert_eq!(d.inbound.channel_kind, "telegram");
                assert!(
                    !d.inbound.text.is_empty() || !d.files.is_empty(),
                    "a message without text or file is skipped"
                );
            }
            Item::ClientEvent(inb, _) => assert_eq!(inb.channel_kind, "telegram"),
            Item::Edited { external_id, .. } => assert!(external_id.contains(':')),
            Item::Receipt { .. } => panic!("Telegram sends no receipts"),
        }
    }
}

/// `POST /webhooks/whatsapp/{id}`: the signature check over the raw body, then body → events.
pub fn whatsapp_payload(data: &[u8]) {
    let header = std::str::from_utf8(data).ok();
    // A body is never its own valid signature; this only drives the header parsing.
    assert!(!whatsapp::signature_ok("app-secret", header, data));
    let Ok(events) = whatsapp::parse_body(data, WHATSAPP_PHONE_NUMBER_ID) else {
        return;
    };
    for ev in events {
        if let whatsapp::Event::Message(m) = ev {
            assert!(!m.wamid.trim().is_empty() && !m.from.trim().is_empty());
            assert!(
                m.media.is_some() || !m.text.trim().is_empty(),
                "a message without text or file is skipped"
            );
        }
    }
}

/// `POST /webhooks/viber/{id}` after the signature check: body → items; a message gets
/// the same final touch as on the server when its file could not be fetched.
pub fn viber_event(data: &[u8]) {
    for item in viber::parse_callback("vb", data) {
        match item {
            Item::Message(mut d) => {
                let token = d.inbound.message_id.clone().unwrap_or_default();
                assert!(
                    !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                );
                viber::finish(&d.kind, &mut d.inbound);
                assert!(
                    !d.inbound.text.trim().is_empty(),
                    "a stored message always shows something"
                );
            }
            Item::ClientEvent(inb, _) => assert_eq!(inb.channel_kind, "viber"),
            Item::Receipt { external_id, .. } => assert!(!external_id.is_empty()),
            Item::Edited { .. } => panic!("Viber sends no edits"),
        }
    }
}

/// `POST /webhooks/api/{id}` after the token check: body → checked message → attachments.
pub fn api_body(data: &[u8]) {
    let Ok(b) = api::parse_inbound(data) else {
        return;
    };
    assert!(b.message.attachments.len() <= 10);
    for (i, a) in b.message.attachments.iter().enumerate() {
        let m = a.media(i);
        let _ = api::source(&m.handle, &m.what);
    }
}

struct Fields {
    contacts: schema::ContactFields,
    messages: schema::MessageFields,
}

fn fields() -> &'static Fields {
    static F: OnceLock<Fields> = OnceLock::new();
    F.get_or_init(|| Fields {
        contacts: schema::contacts_schema().1,
        messages: schema::messages_schema().1,
    })
}

/// What a person types into contact and message search, and the highlighting of a hit.
pub fn search_query(data: &[u8]) {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let f = fields();
    let _ = query::contact_text(&f.contacts, q);
    if let Ok(Some((_, words))) = query::message_text(&f.messages, q) {
        let (snippet, ranges) = query::highlight(q, &words);
        let n = snippet.chars().count();
        for (s, e) in ranges {
            assert!(s < e && e <= n, "range {s}..{e} outside a {n}-char snippet");
        }
    }
}

/// The `filter` JSON of list and audience requests and saved filters → index query.
pub fn filter_json(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(f) = filter::parse(json) {
        let _ = query::contact_filter(&fields().contacts, &f);
    }
}

/// A config file's text → validated config, and what `check-config` prints of it.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Config::from_text(Some(text), "fuzz.toml", &[], &Overrides::default()) else {
        return;
    };
    c.listen_addr().expect("validated listen address parses");
    c.http_listen_addr()
        .expect("validated http_listen address parses");
    let shown = c.redacted_toml();
    if let Err(e) = shown.parse::<toml::Table>() {
        panic!("check-config output is not TOML ({e}):\n{shown}");
    }
}

/// Decode as `V`; what decodes must encode and decode again to the same bytes.
fn round_trip<V: codec::Record>(data: &[u8]) {
    let Ok(v) = codec::decode::<V>(data) else {
        return;
    };
    let once = codec::encode(&v).expect("a decoded value encodes");
    let again: V = match codec::decode(&once) {
        Ok(v) => v,
        Err(e) => panic!("{} does not decode its own encoding: {e}", V::NAME),
    };
    let twice = codec::encode(&again).expect("a decoded value encodes");
    assert_eq!(once, twice, "{} changes on a round trip", V::NAME);
}

/// Arbitrary bytes read as every stored value type (and the raw event and search-log rows):
/// an error, never a panic; anything that decodes survives encode → decode unchanged.
pub fn store_codec(data: &[u8]) {
    round_trip::<dom::Contact>(data);
    round_trip::<dom::Chat>(data);
    round_trip::<dom::Message>(data);
    round_trip::<dom::Task>(data);
    round_trip::<dom::Dialog>(data);
    round_trip::<dom::Notification>(data);
    round_trip::<dom::LogEntry>(data);
    round_trip::<dom::Draft>(data);
    round_trip::<dom::ApiToken>(data);
    round_trip::<dom::Delivery>(data);
    round_trip::<dom::Blob>(data);
    round_trip::<dom::Visitor>(data);
    round_trip::<manager::Manager>(data);
    round_trip::<sessions::Session>(data);
    round_trip::<saved::SavedFilter>(data);
    round_trip::<saved::Plan>(data);
    let (key, value) = data.split_at(data.len().min(8));
    let _ = events::decode(key, value);
    let _ = events::decode(data, data);
    let _ = search_log::decode(data);
    let _ = codec::read_u64(data, data.first().map_or(0, |b| usize::from(*b)));
    if let Some(end) = codec::prefix_end(data) {
        assert!(end.as_slice() > data, "prefix end sorts after the prefix");
    }
}
